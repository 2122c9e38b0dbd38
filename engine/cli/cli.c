/*
 * Argument parsing and dispatch, from the command table (cli_cmds.c): long
 * options (and -h, -V, -o), `--opt value` and `--opt=value`, options and
 * positionals interleaved, a bare `--` ends options, a single-valued option
 * given twice is a usage error. Usage errors print one line and a pointer
 * to --help (exit 2), as git does.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first word of a command ("workspace" of "workspace lock"). */
static size_t group_len(const char *name)
{
	const char *sp = strchr(name, ' ');
	return sp ? (size_t)(sp - name) : strlen(name);
}

static int in_group(const struct cli_cmd *c, const char *word)
{
	size_t n = strlen(word);
	return !strncmp(c->name, word, n) && c->name[n] == ' ';
}

static void print_top_usage(FILE *out)
{
	fputs("usage: silo <command> [options]\n\ncommands:\n", out);
	for (int i = 0; i < cli_n_commands; i++)
		if (!cli_commands[i].hidden)
			fprintf(out, "  %-20s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fputs("\n'silo <command> --help' shows a command's options and examples; 'man silo'\n"
	      "explains the whole tool.\n", out);
}

static void print_group_usage(const char *group, FILE *out)
{
	fprintf(out, "usage:\n");
	for (int i = 0; i < cli_n_commands; i++)
		if (in_group(&cli_commands[i], group) && !cli_commands[i].hidden)
			fprintf(out, "  silo %s\n", cli_commands[i].synopsis);
	fprintf(out, "\n");
	for (int i = 0; i < cli_n_commands; i++)
		if (in_group(&cli_commands[i], group) && !cli_commands[i].hidden)
			fprintf(out, "  %-20s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(out, "\n'silo %s <command> --help' shows a command's options.\n", group);
}

/* "--name METAVAR" (or "-o METAVAR") into buf. */
static void opt_left(const struct cli_opt *o, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s", strlen(o->name) == 1 ? "-" : "--", o->name, o->arg ? " " : "",
		 o->arg ? o->metavar : "");
}

/* Choices as "a, b, c" into buf. */
static void choices_list(const char *choices, char *buf, size_t n)
{
	size_t k = 0;
	for (const char *p = choices; *p && k + 3 < n; p++) {
		if (*p == ' ') {
			buf[k++] = ',';
			buf[k++] = ' ';
		} else {
			buf[k++] = *p;
		}
	}
	buf[k] = 0;
}

void cli_print_usage(const struct cli_cmd *c, FILE *out)
{
	fprintf(out, "usage: silo %s\n\n%s\n", c->synopsis, c->summary);
	fputs("\noptions:\n", out);
	for (const struct cli_opt *o = c->opts; o && o->name; o++) {
		char left[64], ch[160] = "";
		opt_left(o, left, sizeof left);
		if (o->choices) {
			char l[128];
			choices_list(o->choices, l, sizeof l);
			snprintf(ch, sizeof ch, "; one of: %s", l);
		}
		fprintf(out, "  %-32s %s%s%s\n", left, o->help, ch, o->repeat ? "; repeatable" : "");
	}
	fprintf(out, "  %-32s %s\n", "-h, --help", "show this help");
	const struct cli_page *p = cli_page_of(c);
	int shown = 0;
	char prefix[96];
	snprintf(prefix, sizeof prefix, "silo %s", c->name);
	for (const struct cli_pair *e = p ? p->examples : NULL; e && e->key; e++) {
		size_t n = strlen(prefix);
		if (strncmp(e->text, prefix, n) || (e->text[n] && e->text[n] != ' '))
			continue;
		fprintf(out, "%s  # %s\n  %s\n", shown++ ? "" : "\nexamples:\n", e->key, e->text);
	}
	if (p)
		fprintf(out, "\nmore: man %s\n", p->name);
}

static const char *cmd_of(const struct cli_args *a)
{
	return a && a->cmd ? a->cmd->name : NULL;
}

int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
{
	va_list ap;
	fputs("silo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	const char *c = cmd_of(a);
	fprintf(stderr, "\nsee 'silo %s%s--help'\n", c ? c : "", c ? " " : "");
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

int cli_color(int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	if (nc && *nc)
		return 0;
	if (!term || !*term || !strcmp(term, "dumb"))
		return 0;
	return isatty(fd);
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

int cli_get_int(const struct cli_args *a, const char *name, long long min, long long max,
		long long *out)
{
	const char *v = cli_get(a, name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max) {
		cli_usage_error(a, "--%s needs an integer from %lld to %lld, not '%s'", name, min,
				max, v);
		return -1;
	}
	*out = n;
	return 1;
}

static int choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; *p;) {
		const char *e = strchr(p, ' ');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if (k == n && n && !strncmp(p, v, n))
			return 1;
		p += k + (e ? 1 : 0);
	}
	return 0;
}

static int nopts(const struct cli_cmd *c)
{
	int n = 0;
	while (c->opts && c->opts[n].name)
		n++;
	return n;
}

/* 0: parsed; 2: usage error (printed); -1: --help or --version answered. */
static int parse(struct cli_args *a, int argc, char **argv)
{
	const struct cli_cmd *c = a->cmd;
	int nopt = nopts(c);
	a->count = sl_xcalloc((size_t)nopt + 1, sizeof *a->count);
	a->vals = sl_xcalloc((size_t)nopt + 1, sizeof *a->vals);
	a->pos = sl_xcalloc((size_t)argc + 1, sizeof *a->pos);
	a->seq = sl_xcalloc((size_t)argc + 1, sizeof *a->seq);
	for (int i = 0; i < argc; i++) {
		char *s = argv[i];
		if (!strcmp(s, "--") && !c->tail) {
			/* the rest are positionals, even when they start with '-' */
			while (++i < argc)
				a->pos[a->npos++] = argv[i];
			break;
		}
		if (!strcmp(s, "--")) {
			a->tail = argv + i + 1;
			a->ntail = argc - i - 1;
			break;
		}
		if (s[0] != '-' || !s[1]) {
			a->pos[a->npos++] = s;
			continue;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			cli_print_usage(c, stdout);
			return -1;
		}
		if (!strcmp(s, "--version") || !strcmp(s, "-V")) {
			printf("silo %s\n", SILO_VERSION);
			return -1;
		}
		const char *name = s[1] == '-' ? s + 2 : s + 1;
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		int k = opt_index(c, name, n);
		/* one-letter options take one dash, long ones two */
		if (k < 0 || (s[1] != '-') != (n == 1))
			return cli_usage_error(a, "unknown option '%.*s'", (int)(name - s + n), s);
		const struct cli_opt *o = &c->opts[k];
		const char *dash = n == 1 ? "-" : "--";
		char *val = NULL;
		if (o->arg) {
			if (eq)
				val = (char *)eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_usage_error(a, "option '%s%s' needs a value (%s)", dash,
						       o->name, o->metavar);
			if (o->choices && !choice_ok(o->choices, val)) {
				char l[128];
				choices_list(o->choices, l, sizeof l);
				return cli_usage_error(a, "invalid %s%s '%s' (%s)", dash, o->name, val,
						       l);
			}
		} else if (eq) {
			return cli_usage_error(a, "option '%s%s' takes no value", dash, o->name);
		}
		if (a->count[k] && !o->repeat)
			return cli_usage_error(a, "option '%s%s' given twice", dash, o->name);
		a->vals[k] = sl_xrealloc(a->vals[k], (size_t)(a->count[k] + 1) * sizeof(char *));
		a->vals[k][a->count[k]++] = val;
		a->seq[a->nseq++] = (struct cli_seq){ k, val };
	}
	if (a->npos < c->min_pos)
		return cli_usage_error(a, "missing %s", c->pos_name ? c->pos_name : "argument");
	if (c->max_pos >= 0 && a->npos > c->max_pos)
		return cli_usage_error(a, "unexpected argument '%s'", a->pos[c->max_pos]);
	return 0;
}

static void args_free(struct cli_args *a)
{
	int nopt = a->cmd ? nopts(a->cmd) : 0;
	for (int i = 0; i < nopt && a->vals; i++)
		free(a->vals[i]);
	free(a->vals);
	free(a->count);
	free(a->pos);
	free(a->seq);
}

static int is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static const struct cli_cmd *find_cmd(int argc, char **argv, int *used)
{
	/* Two-word commands first ("journal export"). */
	for (int i = 0; argc >= 2 && i < cli_n_commands; i++) {
		const char *name = cli_commands[i].name;
		size_t g = group_len(name);
		if (name[g] && strlen(argv[0]) == g && !strncmp(name, argv[0], g) &&
		    !strcmp(name + g + 1, argv[1])) {
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

static int is_group(const char *word)
{
	for (int i = 0; i < cli_n_commands; i++)
		if (in_group(&cli_commands[i], word))
			return 1;
	return 0;
}

/* `silo help [CMD...]` */
static int help(int argc, char **argv)
{
	int used = 0;
	const struct cli_cmd *c = find_cmd(argc, argv, &used);
	if (c && used == argc) {
		cli_print_usage(c, stdout);
		return 0;
	}
	if (argc == 1 && is_group(argv[0])) {
		print_group_usage(argv[0], stdout);
		return 0;
	}
	if (argc == 0) {
		print_top_usage(stdout);
		return 0;
	}
	return cli_usage_error(NULL, "no command 'silo %s'", argv[0]);
}

int cli_main(int argc, char **argv)
{
	sl_log_init(getenv("SILO_LOG"));
	if (argc < 2) {
		print_top_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("silo %s\n", SILO_VERSION);
		return 0;
	}
	if (is_help(argv[1])) {
		print_top_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help"))
		return help(argc - 2, argv + 2);
	if (!strcmp(argv[1], "__complete"))
		return cli_complete(argc - 2, argv + 2, stdout);
	int used = 0;
	const struct cli_cmd *c = find_cmd(argc - 1, argv + 1, &used);
	if (!c) {
		if (!is_group(argv[1]))
			return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
		if (argc > 2 && (is_help(argv[2]) || !strcmp(argv[2], "--version") ||
				 !strcmp(argv[2], "-V"))) {
			if (is_help(argv[2]))
				print_group_usage(argv[1], stdout);
			else
				printf("silo %s\n", SILO_VERSION);
			return 0;
		}
		if (argc > 2)
			fprintf(stderr, "silo: unknown %s command '%s'\n", argv[1], argv[2]);
		else
			fprintf(stderr, "silo: '%s' needs a command\n", argv[1]);
		fprintf(stderr, "see 'silo %s --help'\n", argv[1]);
		return 2;
	}
	struct cli_args a = { .cmd = c };
	int rc = parse(&a, argc - 1 - used, argv + 1 + used);
	if (rc < 0)
		rc = 0;
	else if (!rc)
		rc = c->fn(&a);
	args_free(&a);
	return rc;
}

int cli_main_as(const char *words, int argc, char **argv)
{
	char *w = sl_xstrdup(words), *save = NULL;
	char **v = sl_xcalloc((size_t)argc + 8, sizeof *v);
	int n = 0;
	v[n++] = "silo";
	for (char *t = strtok_r(w, " ", &save); t && n < 7; t = strtok_r(NULL, " ", &save))
		v[n++] = t;
	for (int i = 0; i < argc; i++)
		v[n++] = argv[i];
	int rc = cli_main(n, v);
	free(v);
	free(w);
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
