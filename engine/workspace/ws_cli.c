/*
 * ws_cli.c: `silo workspace lock|unlock|status|list|review` on arguments
 * the command line has parsed. Products go to stdout, diagnostics to stderr
 * as `silo: <message>`; exit 0 success, 1 runtime error, 2 usage error.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_int.h"

static void print_jv(const struct jv *v)
{
	char *s = jv_to_string(v, JV_EMIT_PRETTY);
	printf("%s\n", s);
	free(s);
}

static int fail(const struct sl_err *err)
{
	fprintf(stderr, "silo: %s\n", err->msg[0] ? err->msg : sl_strerror(err->code));
	return 1;
}

static int cmd_lock(struct ws_db *d, const struct ws_cli_args *a)
{
	enum ws_strategy s = WS_STRATEGY_AUTO;
	if (a->strategy && ws__strategy_parse(a->strategy, &s)) {
		fprintf(stderr, "silo: invalid --strategy '%s' (ext4_loop, ext4_fuse, directory)\n",
			a->strategy);
		return 2;
	}
	struct ws_lock_opts o = { .strategy = s, .create = a->create };
	if (a->size && (ws__parse_size(a->size, &o.image_size) || o.image_size < (64u << 20))) {
		fprintf(stderr, "silo: invalid --size '%s' (at least 64M; e.g. 512M, 8G, 1T)\n",
			a->size);
		return 2;
	}
	struct sl_err err = { 0 };
	char *canon = NULL, **w = NULL;
	if (ws__lock(d, a->path, &o, &canon, &w, &err))
		return fail(&err);
	printf("Locked %s\n", canon);
	for (size_t i = 0; w && w[i]; i++)
		printf("warning: %s\n", w[i]);
	ws__free_strv(w);
	free(canon);
	return 0;
}

static int cmd_unlock(struct ws_db *d, const struct ws_cli_args *a)
{
	struct sl_err err = { 0 };
	struct jv *rep = NULL;
	struct ws_review_opts o = { a->rules, a->color && !a->json };
	if (ws__unlock(d, a->path, &o, &rep, &err))
		return fail(&err);
	if (a->json) {
		jv_set(rep, "unlocked", jv_str(a->path));
		print_jv(rep);
	} else {
		struct sl_buf out;
		sl_buf_init(&out);
		sl_buf_printf(&out, "Unlocked %s\n\n", a->path);
		ws__review_render(rep, o.color, &out);
		fwrite(out.p, 1, out.len, stdout);
		sl_buf_free(&out);
	}
	jv_unref(rep);
	return 0;
}

/* Status of one path as JSON (pruning dead attachments). */
static struct jv *status_of(struct ws_db *d, const char *canon, struct sl_err *err)
{
	struct jv *s = jv_obj();
	jv_set(s, "workspace", jv_str(canon));
	if (ws__reg_begin(d, 0, err)) {
		jv_unref(s);
		return NULL;
	}
	struct ws_entry e;
	if (ws__entry_get(d, canon, &e, NULL)) {
		ws__reg_end(d, 0, NULL);
		jv_set(s, "locked", jv_bool(0));
		return s;
	}
	ws__att_prune(d, e.id, NULL);
	struct ws_att *v = NULL;
	size_t n = 0;
	ws__att_list(d, e.id, &v, &n, NULL);
	ws__reg_end(d, 1, NULL);
	jv_set(s, "locked", jv_bool(1));
	jv_set(s, "state", jv_str(ws__state_name(e.state)));
	jv_set(s, "strategy", jv_str(ws__strategy_name(e.strategy)));
	jv_set(s, "id", jv_str(e.id));
	struct jv *att = jv_null();
	int shells = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].secondary) {
			shells++;
		} else {
			jv_unref(att);
			att = jv_obj();
			jv_set(att, "harness", jv_str(v[i].owner));
			jv_set(att, "pid", jv_int(v[i].pid));
		}
	}
	free(v);
	jv_set(s, "attached", att);
	jv_set(s, "shells", jv_int(shells));
	struct jv *w = jv_arr();
	jv_push(w, jv_str(ws__strategy_warning(e.strategy)));
	char *save = NULL;
	for (char *l = e.warnings ? strtok_r(e.warnings, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		jv_push(w, jv_str(l));
	if (e.state == WS_ST_UNLOCKING && !ws__alive_hint(e.op_pid, e.op_hint))
		jv_push(w, jv_strf("an unlock was interrupted; re-run `silo workspace unlock %s` "
				   "to finish it",
				   canon));
	else if (e.state == WS_ST_UNLOCKING)
		jv_push(w, jv_strf("an unlock is in progress (pid %d)", e.op_pid));
	else if (e.state == WS_ST_LOCKING)
		jv_push(w, jv_strf("a lock is in progress (pid %d)", e.op_pid));
	jv_set(s, "warnings", w);
	ws__entry_free(&e);
	return s;
}

static void print_status(const struct jv *s)
{
	printf("workspace: %s\n", jv_get_str(s, "workspace"));
	int locked = jv_get_bool(s, "locked");
	printf("locked: %s\n", locked ? "yes" : "no");
	const struct jv *att = jv_get(s, "attached");
	if (jv_is(att, JV_OBJECT))
		printf("attached: harness %s\n", jv_get_str(att, "harness"));
	else
		printf("attached: no\n");
	printf("shells: %lld\n", (long long)jv_get_int(s, "shells", 0));
	if (locked) {
		printf("strategy: %s\n", jv_get_str(s, "strategy"));
		printf("state: %s\n", jv_get_str(s, "state"));
	}
	const struct jv *w = jv_get(s, "warnings");
	for (size_t i = 0; i < jv_len(w); i++)
		printf("warning: %s\n", jv_str_val(jv_at(w, i)));
}

static int cmd_status(struct ws_db *d, const struct ws_cli_args *a)
{
	struct sl_err err = { 0 };
	char *canon = ws__canon_lenient(a->path ? a->path : ".", &err);
	if (!canon)
		return fail(&err);
	ws__recover(d);
	struct jv *s = status_of(d, canon, &err);
	free(canon);
	if (!s)
		return fail(&err);
	if (a->json)
		print_jv(s);
	else
		print_status(s);
	jv_unref(s);
	return 0;
}

static int cmd_list(struct ws_db *d, const struct ws_cli_args *a)
{
	struct sl_err err = { 0 };
	ws__recover(d);
	char **paths = ws__entry_paths(d, &err);
	if (!paths)
		return fail(&err);
	struct jv *all = jv_arr();
	for (size_t i = 0; paths[i]; i++) {
		struct jv *s = status_of(d, paths[i], &err);
		if (s)
			jv_push(all, s);
	}
	ws__free_strv(paths);
	if (a->json) {
		print_jv(all);
	} else if (!jv_len(all)) {
		printf("no locked workspaces\n");
	} else {
		printf("%-10s %-10s %-8s %-6s %s\n", "STRATEGY", "STATE", "HARNESS", "SHELLS",
		       "WORKSPACE");
		for (size_t i = 0; i < jv_len(all); i++) {
			const struct jv *s = jv_at(all, i);
			const struct jv *att = jv_get(s, "attached");
			printf("%-10s %-10s %-8s %-6lld %s\n", jv_get_str(s, "strategy"),
			       jv_get_str(s, "state"), jv_is(att, JV_OBJECT) ? "yes" : "no",
			       (long long)jv_get_int(s, "shells", 0), jv_get_str(s, "workspace"));
		}
	}
	jv_unref(all);
	return 0;
}

static int cmd_review(struct ws_db *d, const struct ws_cli_args *a)
{
	struct sl_err err = { 0 };
	char *canon = ws__canon_lenient(a->path, &err);
	if (!canon)
		return fail(&err);
	struct jv *rep = ws__review_load(d, canon, &err);
	free(canon);
	if (!rep)
		return fail(&err);
	if (a->json) {
		print_jv(rep);
	} else {
		struct sl_buf out;
		sl_buf_init(&out);
		ws__review_render(rep, a->color, &out);
		fwrite(out.p, 1, out.len, stdout);
		sl_buf_free(&out);
	}
	jv_unref(rep);
	return 0;
}

int ws_cli(const char *state_dir, const char *verb, const struct ws_cli_args *a)
{
	static const struct {
		const char *name;
		int (*fn)(struct ws_db *, const struct ws_cli_args *);
	} cmds[] = {
		{ "lock", cmd_lock },	  { "unlock", cmd_unlock }, { "status", cmd_status },
		{ "list", cmd_list },	  { "review", cmd_review },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cmds); i++) {
		if (strcmp(verb, cmds[i].name))
			continue;
		struct ws_db d;
		struct sl_err err = { 0 };
		if (ws__db_open(state_dir, &d, &err))
			return fail(&err);
		int rc = cmds[i].fn(&d, a);
		ws__db_close(&d);
		fflush(stdout);
		return rc;
	}
	fprintf(stderr, "silo: unknown workspace command '%s'\n", verb);
	return 2;
}

char **ws_locked_paths(const char *state_dir, struct sl_err *err)
{
	struct ws_db d;
	if (ws__db_open(state_dir, &d, err))
		return NULL;
	char **paths = ws__entry_paths(&d, err);
	ws__db_close(&d);
	return paths;
}
