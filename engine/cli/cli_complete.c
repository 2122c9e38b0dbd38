/*
 * Shell completion from the command table: `silo __complete WORD...` prints
 * the candidates for the last word, one a line. The shipped bash and zsh
 * scripts (completions/) only relay; ":file" and ":dir" ask the shell to
 * complete paths itself. Nothing here writes to the state directory.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "workspace/ws.h"

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void words_of(const char *choices, const char *pre, const char *cur, FILE *out)
{
	char *dup = sl_xstrdup(choices), *save = NULL;
	for (char *w = strtok_r(dup, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (starts(w, cur))
			fprintf(out, "%s%s\n", pre, w);
	free(dup);
}

static void locked_workspaces(const char *pre, const char *cur, FILE *out)
{
	const char *env = getenv("LLMDEVSILO_STATE_DIR"), *home = getenv("HOME");
	char *state = env && *env ? sl_xstrdup(env)
		      : home && *home ? sl_xasprintf("%s/.llmdevsilo", home) : NULL;
	char *db = state ? sl_xasprintf("%s/workspaces.db", state) : NULL;
	struct stat st;
	if (db && !stat(db, &st)) {
		struct sl_err err = { 0 };
		char **paths = ws_locked_paths(state, &err);
		for (size_t i = 0; paths && paths[i]; i++)
			if (starts(paths[i], cur))
				fprintf(out, "%s%s\n", pre, paths[i]);
		for (size_t i = 0; paths && paths[i]; i++)
			free(paths[i]);
		free(paths);
	}
	free(db);
	free(state);
}

static void value_of(const struct cli_opt *o, const char *pre, const char *cur, FILE *out)
{
	if (o->choices)
		words_of(o->choices, pre, cur, out);
	else if (o->kind == CLI_K_WORKSPACE)
		locked_workspaces(pre, cur, out);
	if (o->kind == CLI_K_FILE)
		fputs(":file\n", out);
	else if (o->kind == CLI_K_DIR || o->kind == CLI_K_WORKSPACE)
		fputs(":dir\n", out);
}

static void positional(enum cli_kind k, const char *cur, FILE *out)
{
	if (k == CLI_K_WORKSPACE)
		locked_workspaces("", cur, out);
	if (k == CLI_K_FILE)
		fputs(":file\n", out);
	else if (k == CLI_K_DIR || k == CLI_K_WORKSPACE)
		fputs(":dir\n", out);
}

static const struct cli_opt *find_opt(const struct cli_cmd *c, const char *word, size_t n)
{
	const char *name = word + (word[1] == '-' ? 2 : 1);
	n -= (size_t)(name - word);
	for (const struct cli_opt *o = c->opts; o && o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

/* Command words: the first, or the second of a group. */
static void commands(const char *group, const char *cur, FILE *out)
{
	size_t gl = group ? strlen(group) : 0;
	for (int i = 0; i < cli_n_commands; i++) {
		const struct cli_cmd *c = &cli_commands[i];
		if (c->hidden)
			continue;
		const char *w = c->name;
		if (group && (strncmp(w, group, gl) || w[gl] != ' '))
			continue;
		w += group ? gl + 1 : 0;
		size_t n = strcspn(w, " ");
		int dup = 0;
		for (int j = 0; j < i && !group; j++)
			dup |= !cli_commands[j].hidden && !strncmp(cli_commands[j].name, w, n) &&
			       (cli_commands[j].name[n] == ' ' || !cli_commands[j].name[n]);
		if (!dup && !strncmp(w, cur, strlen(cur)) && strlen(cur) <= n)
			fprintf(out, "%.*s\n", (int)n, w);
	}
	if (!group && starts("help", cur))
		fputs("help\n", out);
}

int cli_complete(int nw, char **w, FILE *out)
{
	if (nw < 1)
		return 0;
	const char *cur = w[nw - 1];
	if (nw == 1) {
		if (cur[0] == '-')
			words_of("--help --version", "", cur, out);
		else
			commands(NULL, cur, out);
		return 0;
	}
	const struct cli_cmd *c = NULL;
	int used = 0;
	for (int i = 0; i < cli_n_commands && !c; i++) {
		const char *name = cli_commands[i].name;
		size_t g = strcspn(name, " ");
		if (strlen(w[0]) != g || strncmp(name, w[0], g))
			continue;
		if (!name[g]) {
			c = &cli_commands[i];
			used = 1;
		} else if (nw > 2 && !strcmp(name + g + 1, w[1])) {
			c = &cli_commands[i];
			used = 2;
		}
	}
	if (!c) {
		if (nw == 2 && !strcmp(w[0], "help"))
			commands(NULL, cur, out);
		else if (nw == 2)
			commands(w[0], cur, out);
		return 0;
	}
	/* Walk the words before the current one: positionals given, options
	 * given, and whether the previous word wants a value. */
	int npos = 0;
	const struct cli_opt *want = NULL;
	int given[64] = { 0 };
	for (int i = used; i < nw - 1; i++) {
		const char *s = w[i];
		if (want) {
			want = NULL;
			continue;
		}
		if (!strcmp(s, "--")) {
			if (c->tail)
				return 0; /* a command vector: the shell's own completion */
			continue;
		}
		if (s[0] == '-' && s[1]) {
			const struct cli_opt *o = find_opt(c, s, strcspn(s, "="));
			if (o && o - c->opts < 64)
				given[o - c->opts] = 1;
			/* bash splits "--opt=value" into "--opt" "=" "value" */
			int split = i + 1 < nw - 1 && !strcmp(w[i + 1], "=");
			if (o && o->arg && !strchr(s, '='))
				want = o;
			if (split)
				i++;
			continue;
		}
		if (!strcmp(s, "="))
			continue;
		npos++;
	}
	if (want) {
		/* after "--opt" or after bash's "--opt" "=" */
		value_of(want, !strcmp(cur, "=") ? "=" : "", !strcmp(cur, "=") ? "" : cur, out);
		return 0;
	}
	if (cur[0] == '-' && strchr(cur, '=')) {
		size_t n = strcspn(cur, "=");
		const struct cli_opt *o = find_opt(c, cur, n);
		if (o && o->arg) {
			char *pre = sl_xasprintf("%.*s", (int)n + 1, cur);
			value_of(o, pre, cur + n + 1, out);
			free(pre);
		}
		return 0;
	}
	if (cur[0] == '-') {
		for (const struct cli_opt *o = c->opts; o && o->name; o++) {
			if (o - c->opts < 64 && given[o - c->opts] && !o->repeat)
				continue;
			char name[64];
			snprintf(name, sizeof name, "%s%s", strlen(o->name) == 1 ? "-" : "--",
				 o->name);
			if (starts(name, cur))
				fprintf(out, "%s\n", name);
		}
		if (starts("--help", cur))
			fputs("--help\n", out);
		return 0;
	}
	if (c->max_pos < 0 || npos < c->max_pos)
		positional(c->pos_kind, cur, out);
	return 0;
}
