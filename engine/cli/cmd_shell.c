/*
 * `silo shell` (cli.md 6, sandbox.md 8): the user in a sandbox instance of
 * the same confinement the agent gets, on the shared workspace mount (a
 * secondary attachment), with its own proxy and journal
 * (journals/shell-<id>.db). The pty relay blocks, so it runs on a thread
 * while the loop keeps serving the egress relay and the proxy.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "harness/run.h"
#include "proxy/px.h"
#include "sandbox/sb.h"

struct shell_thread {
	struct run *r;
	char **argv;       /* borrowed, NULL = the user's shell */
	int status;
	struct sl_err err;
	uv_async_t done;
};

static void *shell_main(void *p)
{
	struct shell_thread *t = p;
	t->status = t->r->sb->ops->user_shell(t->r->sb, t->argv, &t->err);
	uv_async_send(&t->done);
	return NULL;
}

static void shell_done(uv_async_t *h)
{
	uv_stop(h->loop);
}

struct find_ws {
	const char *want;   /* canonical workspace */
	struct jv *found;   /* new reference */
};

static int match_ws(void *ud, const char *path, struct jv *rf)
{
	struct find_ws *f = ud;
	const char *w = jv_get_str(rf, "workspace");
	if (!w)
		return 0;
	char *wc = sl_canon_lenient(w);
	int hit = !strcmp(wc, f->want);
	free(wc);
	if (hit)
		f->found = jv_ref(rf);
	return hit;
}

/* The run file (cli.md 7.1) of a live harness on this workspace, or NULL. */
static struct jv *live_harness(const char *state, const char *ws)
{
	char *want = sl_canon_lenient(ws);
	struct find_ws f = { want, NULL };
	cli_run_files(state, match_ws, &f);
	free(want);
	return f.found;
}

static char **jv_strv(const struct jv *a)
{
	char **v = sl_xcalloc(jv_len(a) + 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < jv_len(a); i++)
		if (jv_str_val(jv_at(a, i)))
			v[k++] = sl_xstrdup(jv_str_val(jv_at(a, i)));
	return v;
}

/* sandbox.md 8: mirror a live harness's confinement unless flags say
 * otherwise; credentials are never mirrored. Returns 1 when mirrored. */
static int mirror(struct cli_args *a, struct run_opts *o, const char *state, const char *ws)
{
	struct jv *rf = live_harness(state, ws);
	if (!rf)
		return 0;
	const char *id = jv_get_str(rf, "harness_id");
	int explicit_flags = cli_has(a, "allow-read") || cli_has(a, "allow-domain") ||
			     cli_has(a, "sandbox") || cli_has(a, "policy");
	const char *kind = jv_get_str(rf, "sandbox_kind");
	int rc = 0;
	if (explicit_flags) {
		printf("note: the policy of this shell differs from harness %s (flags given)\n",
		       id ? id : "?");
	} else if (!kind) {
		/* Nothing recorded to mirror. */
	} else if (strcmp(kind, "linux-native") && strcmp(kind, "native")) {
		fprintf(stderr, "warning: harness %s records sandbox kind '%s', which this silo "
				"does not know; not mirroring its policy\n", id ? id : "?", kind);
	} else {
		strv_free(o->read_allowlist);
		strv_free(o->allowed_domains);
		o->read_allowlist = jv_strv(jv_get(rf, "read_allowlist"));
		o->allowed_domains = jv_strv(jv_get(rf, "allowed_domains"));
		free(o->cfg.sandbox);
		o->cfg.sandbox = sl_xstrdup("native");
		printf("note: mirroring harness %s: sandbox %s, %d readable path(s), %d allowed "
		       "domain(s); credentials are not mirrored\n", id ? id : "?", kind,
		       strv_len(o->read_allowlist), strv_len(o->allowed_domains));
		rc = 1;
	}
	jv_unref(rf);
	return rc;
}

static struct sb *signal_sb;
static void on_term(uv_signal_t *h, int signum)
{
	if (signal_sb && signal_sb->ops->terminate_user_shell)
		signal_sb->ops->terminate_user_shell(signal_sb);
}

int cmd_shell(struct cli_args *a)
{
	struct run_opts o = { 0 };
	struct run r = { .o = &o, .is_shell = 1 };
	struct sl_err err = { 0 };
	int n, rc = 1;
	const char *ws = cli_get(a, "workspace");
	if (!ws)
		return cli_usage_error(a, "--workspace is required");
	const char *kind = cli_get(a, "sandbox");
	if (kind && !strcmp(kind, "mock"))
		return cli_fail("the mock sandbox executes nothing and needs a fixture; it only "
				"exists for scripted runs (silo run --script)");
	if (a->tail && !a->ntail)
		return cli_fail("silo shell: empty command after --");
	uv_loop_init(&r.loop); /* every exit path below closes it */
	if (!(o.lua_dir = sl_res_find(SL_RES_LUA, &err)))
		goto out;
	pol_init(&o.pol);
	if (pol_load_default(&o.pol, o.lua_dir, &err))
		goto out;
	char **pols = cli_all(a, "policy", &n);
	for (int i = 0; i < n; i++)
		if (pol_load_file(&o.pol, pols[i], o.lua_dir, &err))
			goto out;
	o.cfg.workspace = sl_xstrdup(ws);
	o.cfg.sandbox = sl_xstrdup(kind ? kind : "auto");
	char **fl = cli_all(a, "allow-read", &n);
	o.read_allowlist = n ? strv_dup(fl, n) : strv_dup(o.pol.read_allowlist, -1);
	fl = cli_all(a, "allow-domain", &n);
	o.allowed_domains = n ? strv_dup(fl, n) : strv_dup(o.pol.allowed_domains, -1);
	fl = cli_all(a, "allow-risky-path", &n);
	o.allow_risky = strv_dup(fl, n);
	/* Credentials come from this command's flags only: never mirrored. */
	fl = cli_all(a, "inject-credential", &n);
	if (!(o.credentials = run_parse_credentials(fl, n, &err)))
		goto out;
	char id[13];
	sl_random_id(id);
	r.harness_id = sl_xasprintf("shell-%s", id);
	if (!(r.state = cli_state_dir(&err)))
		goto out;
	int mirrored = mirror(a, &o, r.state, ws);
	r.journal_path = sl_xasprintf("%s/journals/%s.db", r.state, r.harness_id);
	if (!(r.jn = jn_open(r.journal_path, &r.clock, &err)))
		goto out;
	char *msg = sl_xasprintf("user shell starting in %s", ws);
	run_note(&r, msg);
	free(msg);
	/* Mirrored entries are accepted by inheritance (sandbox.md 8); the
	 * scan still names those it would flag. */
	if (pol_risk_check(o.read_allowlist, o.allow_risky, getenv("HOME"), r.state, &err)) {
		if (!mirrored)
			goto out;
		printf("note: inherited read allowlist entries the risk scan flags: %s\n", err.msg);
	}
	if (ws_attach(r.state, ws, r.harness_id, (int)getpid(), 1, &r.att, &err))
		goto out;
	r.attached = 1;
	if (run_start_components(&r, &err) || r.sb->ops->start(r.sb, &err))
		goto out_started;
	if (!r.sb->ops->user_shell) {
		sl_err_set(&err, SL_EUNAVAIL, "the %s sandbox has no user shell", r.sb->ops->name);
		goto out_started;
	}
	struct shell_thread t = { .r = &r, .argv = a->tail };
	uv_async_init(&r.loop, &t.done, shell_done);
	uv_signal_t sint, sterm;
	uv_signal_init(&r.loop, &sint);
	uv_signal_init(&r.loop, &sterm);
	signal_sb = r.sb;
	uv_signal_start(&sint, on_term, SIGINT);
	uv_signal_start(&sterm, on_term, SIGTERM);
	pthread_t th;
	pthread_create(&th, NULL, shell_main, &t);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	uv_close((uv_handle_t *)&t.done, NULL);
	uv_close((uv_handle_t *)&sint, NULL);
	uv_close((uv_handle_t *)&sterm, NULL);
	signal_sb = NULL;
	if (t.status < 0) {
		err = t.err;
		goto out_started;
	}
	rc = t.status > 255 ? 255 : t.status;
	run_teardown(&r);
	goto done;
out_started:
	run_teardown(&r);
out:
	fprintf(stderr, "silo: %s\n", err.msg);
	rc = 1;
done:
	if (r.jn)
		jn_close(r.jn);
	uv_run(&r.loop, UV_RUN_NOWAIT);
	uv_loop_close(&r.loop);
	strv_free(r.cred_hosts);
	strv_free(r.extra_env);
	free(r.cache_dir);
	free(r.state);
	free(r.journal_path);
	free(r.harness_id);
	run_opts_free(&o);
	return rc;
}
