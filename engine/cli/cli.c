/*
 * Argument parsing and dispatch (cli.md 2): long options only (plus -h, -V
 * and -o), `--opt value` and `--opt=value`, options and positionals
 * interleaved, a bare `--` ends options, a single-valued option given twice
 * is a usage error (exit 2).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct cli_opt run_opts[] = {
	{ "workspace", 1, 0, "PATH", "workspace directory (must be locked unless --create)" },
	{ "create", 0, 0, NULL, "lock the workspace first (new, empty or unlocked directory)" },
	{ "config", 1, 0, "FILE.lua", "static harness settings (cli.md 3.1)" },
	{ "policy", 1, 1, "FILE.lua", "security policy; repeatable, a later file wins per key" },
	{ "frontend", 1, 0, "KIND", "interactive | headless | mock (default interactive)" },
	{ "prompt", 1, 0, "TEXT", "the task, for the headless frontend" },
	{ "listen", 1, 0, "IP:PORT", "interactive server address (default 127.0.0.1:0)" },
	{ "tls-cert", 1, 0, "PEM", "interactive server certificate (with --tls-key)" },
	{ "tls-key", 1, 0, "PEM", "interactive server key (with --tls-cert)" },
	{ "pairing-code", 0, 0, NULL, "print a one-time pairing code" },
	{ "llm", 1, 0, "BACKEND", "anthropic | openai | openai-ws | local | mock" },
	{ "model", 1, 0, "NAME", "model name (default per backend)" },
	{ "api-key-env", 1, 0, "VAR", "environment variable holding the API key" },
	{ "base-url", 1, 0, "URL", "provider base URL" },
	{ "quota-tokens", 1, 0, "N", "session token quota (all agents)" },
	{ "quota-usd", 1, 0, "USD", "session dollar quota (all agents)" },
	{ "sandbox", 1, 0, "KIND", "auto | native | gvisor | microvm | mock (default auto)" },
	{ "allow-read", 1, 1, "PATH", "extra read-only path inside the sandbox; repeatable" },
	{ "allow-risky-path", 1, 1, "PATH", "accept one risky --allow-read entry; repeatable" },
	{ "allow-domain", 1, 1, "PATTERN", "allowed egress domain (exact or *.suffix); repeatable" },
	{ "inject-credential", 1, 1, "HOST:HEADER:ENV[:FORMAT]",
	  "credential injected by the proxy; repeatable" },
	{ "script", 1, 0, "FIXTURE.lua", "fixture for mock components" },
	{ "journal", 1, 0, "PATH", "journal database (default <state>/journals/<id>.db)" },
	{ "deterministic", 0, 0, NULL, "fake clock, no signal handling, byte-stable journals" },
	{ "mock-proxy", 0, 0, NULL, "use the mock proxy (implied by --sandbox mock)" },
	{ "print-access", 0, 0, NULL, "print the access report and exit" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt out_opts[] = {
	{ "o", 1, 0, "OUT", "output file" },
	{ "name", 1, 0, "NAME", "fixture name (default: the journal's file stem)" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt export_opts[] = {
	{ "o", 1, 0, "OUT.jsonl", "output file (default stdout)" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt dot_opts[] = {
	{ "dot", 0, 0, NULL, "print Graphviz dot instead of Markdown" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt json_opts[] = {
	{ "json", 0, 0, NULL, "machine-readable output" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt shell_opts[] = {
	{ "workspace", 1, 0, "PATH", "locked workspace to enter" },
	{ "allow-read", 1, 1, "PATH", "extra read-only path; repeatable" },
	{ "allow-risky-path", 1, 1, "PATH", "accept one risky --allow-read entry; repeatable" },
	{ "allow-domain", 1, 1, "PATTERN", "allowed egress domain; repeatable" },
	{ "inject-credential", 1, 1, "HOST:HEADER:ENV[:FORMAT]", "credential injected by the proxy" },
	{ "sandbox", 1, 0, "KIND", "auto | native (default auto)" },
	{ "policy", 1, 1, "FILE.lua", "security policy; repeatable" },
	{ NULL, 0, 0, NULL, NULL },
};
static const struct cli_opt no_opts[] = { { NULL, 0, 0, NULL, NULL } };

const struct cli_cmd cli_commands[] = {
	{ "run", "silo run [OPTIONS]", "run one harness session", run_opts, cmd_run, 0, 0, 0, 0 },
	{ "workspace", "silo workspace lock|unlock|status|list|review ...",
	  "lock, unlock and review workspaces", no_opts, cmd_workspace, 0, 1, 0, -1 },
	{ "shell", "silo shell [OPTIONS] --workspace WS [-- CMD...]",
	  "a shell in a sandbox of the same confinement", shell_opts, cmd_shell, 0, 0, 0, 0 },
	{ "replay-test", "silo replay-test [--name N] -o OUT.lua JOURNAL",
	  "turn a journal into a Lua fixture", out_opts, cmd_replay_test, 0, 0, 1, 1 },
	{ "journal export", "silo journal export [-o OUT.jsonl] JOURNAL",
	  "write a journal as JSON Lines", export_opts, cmd_journal_export, 0, 0, 1, 1 },
	{ "journal list", "silo journal list", "list the journals in the state directory",
	  no_opts, cmd_journal_list, 0, 0, 0, 0 },
	{ "harnesses list", "silo harnesses list", "list running interactive harnesses", no_opts,
	  cmd_harnesses_list, 0, 0, 0, 0 },
	{ "doctor", "silo doctor [--json]", "which sandbox backends and kernel features work here",
	  json_opts, cmd_doctor, 0, 0, 0, 0 },
	{ "debug fsm", "silo debug fsm [NAME] [--dot]", "print the state machine tables", dot_opts,
	  cmd_debug_fsm, 0, 0, 0, 1 },
	{ "debug seccomp", "silo debug seccomp", "print the sandbox's seccomp filter table",
	  no_opts, cmd_debug_seccomp, 0, 0, 0, 0 },
	{ "debug sandbox-exec", "silo debug sandbox-exec --workspace DIR [--allow-read P]... -- CMD...",
	  "run one command in a native sandbox (testing aid)", no_opts, cmd_debug_sandbox_exec, 1, 1,
	  0, -1 },
	{ "debug proxy", "silo debug proxy [OPTIONS]", "serve the egress proxy standalone (testing aid)",
	  no_opts, cmd_debug_proxy, 1, 1, 0, -1 },
	{ "manpages", "silo manpages DIR", "write man pages", no_opts, cmd_manpages, 1, 0, 1, 1 },
};
const int cli_n_commands = (int)SL_ARRAY_LEN(cli_commands);

static void print_top_usage(FILE *out)
{
	fputs("usage: silo <command> [options]\n\ncommands:\n", out);
	for (int i = 0; i < cli_n_commands; i++)
		if (!cli_commands[i].hidden)
			fprintf(out, "  %-20s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fputs("\nsilo <command> --help shows a command's options.\n", out);
}

void cli_print_usage(const struct cli_cmd *c, FILE *out)
{
	fprintf(out, "usage: %s\n\n%s\n", c->synopsis, c->summary);
	if (c->opts && c->opts[0].name) {
		fputs("\noptions:\n", out);
		for (const struct cli_opt *o = c->opts; o->name; o++) {
			char left[64];
			snprintf(left, sizeof left, "%s%s%s%s", strlen(o->name) == 1 ? "-" : "--",
				 o->name, o->arg ? " " : "", o->arg ? o->metavar : "");
			fprintf(out, "  %-34s %s\n", left, o->help);
		}
	}
}

int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
{
	va_list ap;
	fputs("silo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	if (a && a->cmd)
		cli_print_usage(a->cmd, stderr);
	return 2;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("silo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return 1;
}

static int opt_index(const struct cli_cmd *c, const char *name, size_t n)
{
	for (int i = 0; c->opts && c->opts[i].name; i++)
		if (strlen(c->opts[i].name) == n && !strncmp(c->opts[i].name, name, n))
			return i;
	return -1;
}

const char *cli_get(const struct cli_args *a, const char *name)
{
	int i = opt_index(a->cmd, name, strlen(name));
	return i >= 0 && a->count[i] ? a->vals[i][a->count[i] - 1] : NULL;
}

int cli_has(const struct cli_args *a, const char *name)
{
	int i = opt_index(a->cmd, name, strlen(name));
	return i >= 0 && a->count[i] > 0;
}

char **cli_all(const struct cli_args *a, const char *name, int *n)
{
	int i = opt_index(a->cmd, name, strlen(name));
	*n = i >= 0 ? a->count[i] : 0;
	return i >= 0 ? a->vals[i] : NULL;
}

static int parse(struct cli_args *a, int argc, char **argv)
{
	const struct cli_cmd *c = a->cmd;
	int nopt = 0;
	while (c->opts && c->opts[nopt].name)
		nopt++;
	a->count = sl_xcalloc((size_t)nopt + 1, sizeof *a->count);
	a->vals = sl_xcalloc((size_t)nopt + 1, sizeof *a->vals);
	a->pos = sl_xcalloc((size_t)argc + 1, sizeof *a->pos);
	for (int i = 0; i < argc; i++) {
		char *s = argv[i];
		if (!strcmp(s, "--")) {
			a->tail = argv + i + 1;
			a->ntail = argc - i - 1;
			break;
		}
		if (s[0] != '-' || !s[1]) {
			a->pos[a->npos++] = s;
			continue;
		}
		const char *name = s[1] == '-' ? s + 2 : s + 1;
		if (s[1] != '-' && strlen(name) != 1)
			return cli_usage_error(a, "unknown option '%s'", s);
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		int k = opt_index(c, name, n);
		if (k < 0 || (s[1] != '-') != (strlen(c->opts[k].name) == 1))
			return cli_usage_error(a, "unknown option '%s'", s);
		const struct cli_opt *o = &c->opts[k];
		char *val = NULL;
		if (o->arg) {
			if (eq)
				val = (char *)eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_usage_error(a, "option '--%s' needs a value (%s)", o->name,
						       o->metavar);
		} else if (eq) {
			return cli_usage_error(a, "option '--%s' takes no value", o->name);
		}
		if (a->count[k] && !o->repeat)
			return cli_usage_error(a, "option '--%s' given twice", o->name);
		a->vals[k] = sl_xrealloc(a->vals[k], (size_t)(a->count[k] + 1) * sizeof(char *));
		a->vals[k][a->count[k]++] = val;
	}
	if (a->npos < c->min_pos)
		return cli_usage_error(a, "missing argument");
	if (c->max_pos >= 0 && a->npos > c->max_pos)
		return cli_usage_error(a, "unexpected argument '%s'", a->pos[c->max_pos]);
	return 0;
}

static void args_free(struct cli_args *a)
{
	int nopt = 0;
	while (a->cmd && a->cmd->opts && a->cmd->opts[nopt].name)
		nopt++;
	for (int i = 0; i < nopt; i++)
		free(a->vals ? a->vals[i] : NULL);
	free(a->vals);
	free(a->count);
	free(a->pos);
}

static int is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static const struct cli_cmd *find_cmd(int argc, char **argv, int *used)
{
	/* Two-word commands first ("journal export"). */
	for (int i = 0; argc >= 2 && i < cli_n_commands; i++) {
		char two[128];
		snprintf(two, sizeof two, "%s %s", argv[0], argv[1]);
		if (!strcmp(cli_commands[i].name, two)) {
			*used = 2;
			return &cli_commands[i];
		}
	}
	for (int i = 0; argc >= 1 && i < cli_n_commands; i++)
		if (!strcmp(cli_commands[i].name, argv[0])) {
			*used = 1;
			return &cli_commands[i];
		}
	return NULL;
}

int cli_main(int argc, char **argv)
{
	sl_log_init(getenv("SILO_LOG"));
	if (argc < 2) {
		print_top_usage(stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("silo %s\n", SILO_VERSION);
			return 0;
		}
	}
	if (is_help(argv[1])) {
		print_top_usage(stdout);
		return 0;
	}
	int help = !strcmp(argv[1], "help");
	int off = help ? 2 : 1, used = 0;
	const struct cli_cmd *c = find_cmd(argc - off, argv + off, &used);
	if (help) {
		if (!c && argc > 2) {
			fprintf(stderr, "silo: unknown command '%s'\n", argv[2]);
			return 2;
		}
		if (c)
			cli_print_usage(c, stdout);
		else
			print_top_usage(stdout);
		return 0;
	}
	if (!c) {
		/* A group word alone ("journal", "harnesses", "debug") lists its commands. */
		int shown = 0;
		for (int i = 0; i < cli_n_commands; i++) {
			size_t n = strlen(argv[1]);
			if (!strncmp(cli_commands[i].name, argv[1], n) && cli_commands[i].name[n] == ' ') {
				if (!shown++)
					fprintf(stderr, "silo: '%s' needs a subcommand:\n", argv[1]);
				fprintf(stderr, "  %s\n", cli_commands[i].synopsis);
			}
		}
		if (!shown) {
			fprintf(stderr, "silo: unknown command '%s'\n", argv[1]);
			print_top_usage(stderr);
		}
		return 2;
	}
	struct cli_args a = { .cmd = c, .argc = argc - off - used, .argv = argv + off + used };
	for (int i = 0; !c->raw && i < a.argc; i++) {
		if (!strcmp(a.argv[i], "--"))
			break;
		if (is_help(a.argv[i])) {
			cli_print_usage(c, stdout);
			return 0;
		}
	}
	int rc = c->raw ? 0 : parse(&a, a.argc, a.argv);
	if (!rc)
		rc = c->fn(&a);
	args_free(&a);
	return rc;
}

/* ---- environment ----------------------------------------------------------- */

#define STATE_FORMAT "silo-state 1\n"

char *cli_state_dir(struct sl_err *err)
{
	const char *env = getenv("LLMDEVSILO_STATE_DIR");
	char *dir;
	if (env && *env) {
		dir = sl_xstrdup(env);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			sl_err_set(err, SL_EINVAL, "HOME is not set; set LLMDEVSILO_STATE_DIR");
			return NULL;
		}
		dir = sl_xasprintf("%s/.llmdevsilo", home);
	}
	struct stat st;
	if (stat(dir, &st)) {
		if (sl_mkdir_p(dir, 0700, err)) {
			free(dir);
			return NULL;
		}
		chmod(dir, 0700);
	} else if (!S_ISDIR(st.st_mode)) {
		sl_err_set(err, SL_EINVAL, "state directory %s is not a directory", dir);
		free(dir);
		return NULL;
	} else if (st.st_mode & 022) {
		sl_err_set(err, SL_EDENIED,
			   "state directory %s is group or world writable; run: chmod 700 %s", dir,
			   dir);
		free(dir);
		return NULL;
	}
	char *marker = sl_xasprintf("%s/FORMAT", dir);
	size_t n = 0;
	char *have = sl_read_file(marker, &n, 4096, NULL);
	if (!have) {
		if (sl_write_file(marker, STATE_FORMAT, strlen(STATE_FORMAT), 0600, err)) {
			free(marker);
			free(dir);
			return NULL;
		}
	} else if (strcmp(have, STATE_FORMAT)) {
		sl_err_set(err, SL_EINVAL,
			   "state directory %s has an unknown format (%s); refusing to touch it", dir,
			   marker);
		free(have);
		free(marker);
		free(dir);
		return NULL;
	}
	free(have);
	free(marker);
	return dir;
}

char *cli_lua_dir(void)
{
	const char *env = getenv("SILO_LUA_DIR");
	if (env && *env)
		return sl_xstrdup(env);
	char *exe = sl_exe_dir();
	const char *cands[] = { "%s/lua", "%s/../lua", "%s/../share/silo/lua", NULL };
	for (int i = 0; cands[i]; i++) {
		char *p = sl_xasprintf(cands[i], exe);
		char *tools = sl_xasprintf("%s/tools", p);
		struct stat st;
		int ok = !stat(tools, &st) && S_ISDIR(st.st_mode);
		free(tools);
		if (ok) {
			free(exe);
			return p;
		}
		free(p);
	}
	free(exe);
#ifdef SILO_SOURCE_DIR
	return sl_xstrdup(SILO_SOURCE_DIR "/lua");
#else
	return sl_xstrdup("lua");
#endif
}
