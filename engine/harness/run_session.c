/*
 * Composition of one session (cli.md 4.5): fixture, --create, journal,
 * risk scan, workspace attach, proxy, sandbox, frontend, tools, backend;
 * then the loop; then the finish sequence and the exit code (cli.md 2,
 * replay.md 8, costs.md 5). The policy-to-proxy glue (the hooks), the
 * toolchain cache path and the access report's tunnel-domain note live
 * here too. The CLI above hands down the validated options, the state
 * directory and a constructor for the frontend it picked.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ag.h"
#include "harness/run.h"
#include "luahost/lh.h"
#include "mock/fx.h"
#include "proxy/px.h"
#include "sandbox/sb.h"
#include "workspace/ws.h"
#include "http/llm.h"

void run_opts_free(struct run_opts *o)
{
	run_config_free(&o->cfg);
	pol_free(&o->pol);
	free(o->lua_dir);
	free(o->state);
	strv_free(o->read_allowlist);
	strv_free(o->allowed_domains);
	strv_free(o->allow_risky);
	jv_unref(o->credentials);
}



void run_note(void *ud, const char *msg)
{
	struct run *r = ud;
	struct jv *b = jv_obj();
	jv_set(b, "message", jv_str(msg));
	if (r->jn)
		jn_append(r->jn, "lifecycle", b);
	jv_unref(b);
}

static void record_cb(void *ud, const struct jv *rec)
{
	struct run *r = ud;
	struct jv *b = jv_obj();
	jv_set(b, "record", jv_copy(rec));
	if (r->jn)
		jn_append(r->jn, "network", b);
	jv_unref(b);
}

static char *journal_path(struct run *r, struct sl_err *err)
{
	if (r->o->cfg.journal) {
		/* A user-named journal goes exactly where asked: a typo in its
		 * directory is an error, not a tree made in silence. */
		char *p = sl_xstrdup(r->o->cfg.journal);
		char *slash = strrchr(p, '/');
		struct stat st;
		if (slash && slash != p) {
			*slash = 0;
			if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
				sl_err_set(err, SL_EINVAL,
					   "journal %s: directory %s does not exist",
					   r->o->cfg.journal, p);
				free(p);
				return NULL;
			}
		}
		free(p);
		return sl_xstrdup(r->o->cfg.journal);
	}
	char *dir = sl_xasprintf("%s/journals", r->state);
	if (sl_mkdir_p(dir, 0700, err)) {
		free(dir);
		return NULL;
	}
	char *p = sl_xasprintf("%s/%s.db", dir, r->harness_id);
	struct stat st;
	/* A pinned harness id under --deterministic takes a -N suffix
	 * instead of refusing (decisions 36). */
	for (int n = 1; r->o->deterministic && !stat(p, &st); n++) {
		free(p);
		p = sl_xasprintf("%s/%s-%d.db", dir, r->harness_id, n);
	}
	free(dir);
	return p;
}

static void write_meta(struct run *r)
{
	struct run_opts *o = r->o;
	struct jv *m = jv_obj();
	jv_set(m, "harness_id", jv_str(r->harness_id));
	jv_set(m, "harness_version", jv_str(SILO_VERSION));
	jv_set(m, "config_summary",
	       jv_strf("workspace=%s llm=%s/%s sandbox=%s frontend=%s", o->cfg.workspace,
		       o->cfg.llm, o->cfg.model ? o->cfg.model : "", o->cfg.sandbox, o->cfg.frontend));
	/* policy_path names the last policy the user gave; `policies` lists
	 * every layer, the shipped default first. */
	const struct pol_file *last = o->pol.n_files ? &o->pol.files[o->pol.n_files - 1] : NULL;
	if (last && !last->builtin) {
		jv_set(m, "policy_path", jv_str(last->path));
		jv_set(m, "policy_sha256", jv_str(last->sha256));
	}
	if (o->pol.n_files) {
		struct jv *all = jv_arr();
		for (size_t i = 0; i < o->pol.n_files; i++) {
			struct jv *f = jv_obj();
			jv_set(f, "path", jv_str(o->pol.files[i].path));
			jv_set(f, "sha256", jv_str(o->pol.files[i].sha256));
			jv_push(all, f);
		}
		jv_set(m, "policies", all);
	}
	jn_append(r->jn, "meta", m);
	jv_unref(m);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct run *r = h->data;
	if (r->s)
		ag_request_shutdown(r->s, signum == SIGINT ? "interrupted by signal"
							   : "terminated by signal");
}

static void finished_cb(struct ag_session *s, void *ud)
{
	struct run *r = ud;
	if (r->signals) {
		uv_signal_stop(&r->sigint);
		uv_signal_stop(&r->sigterm);
	}
	/* The proxy's listener keeps the loop alive; the session is over. */
	uv_stop(&r->loop);
}

static void stopped(void *ud)
{
	*(int *)ud = 1;
}

/* Step 8: each stop attempted even if another failed. */
void run_teardown(struct run *r)
{
	if (r->fe && r->fe->ops->free)
		r->fe->ops->free(r->fe);
	r->fe = NULL;
	if (r->sb) {
		int done = 0;
		if (r->sb->ops->shutdown)
			r->sb->ops->shutdown(r->sb, stopped, &done);
		else
			done = 1;
		while (!done && uv_run(&r->loop, UV_RUN_ONCE))
			;
		sb_free(r->sb);
		r->sb = NULL;
	}
	if (r->px) {
		int done = 0;
		px_stop(r->px, stopped, &done);
		while (!done && uv_run(&r->loop, UV_RUN_ONCE))
			;
		px_free(r->px);
		r->px = NULL;
	}
	if (r->attached) {
		struct sl_err err = { 0 };
		if (ws_detach(r->state, &r->att, &err))
			run_note(r, err.msg);
		ws_attachment_free(&r->att);
		r->attached = 0;
	}
	run_note(r, r->is_shell ? "user shell ended" : "shutdown");
}

/* ---- policy hooks for the proxy (cli.md 3.2; decisions 14, 15) -----------
 * A hook that errors or overruns its budget fails closed: deny, with a
 * lifecycle note. */

static void hook_failed(struct run *r, const char *name, const struct sl_err *e)
{
	char *m = sl_xasprintf("policy hook %s failed: %s", name, e->msg);
	run_note(r, m);
	free(m);
}

static int hook_allow_host(void *ud, const char *host, int port, char **note)
{
	struct run *r = ud;
	struct jv *ctx = jv_obj(), *doms = jv_arr(), *ret = NULL;
	for (char **d = r->o->allowed_domains; d && *d; d++)
		jv_push(doms, jv_str(*d));
	jv_set(ctx, "allowed_domains", doms);
	struct jv *args[3] = { jv_str(host), jv_int(port), ctx };
	struct sl_err err = { 0 };
	int rc = pol_hook(&r->o->pol, "allow_host", (const struct jv *const *)args, 3, &ret, &err);
	for (int i = 0; i < 3; i++)
		jv_unref(args[i]);
	int allow = rc == 0 && jv_bool_val(ret);
	if (rc) {
		hook_failed(r, "allow_host", &err);
		*note = sl_xasprintf("policy hook allow_host failed");
	} else if (!allow) {
		*note = sl_xstrdup("denied by policy hook allow_host");
	}
	jv_unref(ret);
	return allow;
}

static char *hook_on_request(void *ud, const struct jv *req)
{
	struct run *r = ud;
	struct jv *ret = NULL;
	struct sl_err err = { 0 };
	const struct jv *args[1] = { req };
	int rc = pol_hook(&r->o->pol, "on_request", args, 1, &ret, &err);
	char *reason = NULL;
	if (rc) {
		hook_failed(r, "on_request", &err);
		reason = sl_xstrdup("the policy's on_request hook failed");
	} else if (jv_str_val(ret)) {
		reason = sl_xstrdup(jv_str_val(ret));
	}
	jv_unref(ret);
	return reason;
}

static int hook_credential_for(void *ud, const struct jv *req)
{
	struct run *r = ud;
	struct jv *ret = NULL;
	struct sl_err err = { 0 };
	const struct jv *args[1] = { req };
	int rc = pol_hook(&r->o->pol, "credential_for", args, 1, &ret, &err);
	if (rc)
		hook_failed(r, "credential_for", &err);
	int inject = rc == 0 && jv_bool_val(ret);
	jv_unref(ret);
	return inject;
}

/* on_session_start(info) and on_session_end(outcome): told, not asked; a
 * failure is a lifecycle note and changes nothing. */
static void session_hook(struct run *r, const char *name, struct jv *arg)
{
	struct sl_err err = { 0 };
	struct jv *ret = NULL;
	const struct jv *args[1] = { arg };
	if (pol_has_hook(&r->o->pol, name) &&
	    pol_hook(&r->o->pol, name, args, 1, &ret, &err))
		hook_failed(r, name, &err);
	jv_unref(ret);
	jv_unref(arg);
}

static const char *const *cstrv(char **v)
{
	return (const char *const *)v;
}

int run_start_components(struct run *r, struct sl_err *err)
{
	struct run_opts *o = r->o;
	const char *kind = o->cfg.sandbox;
	if (!strcmp(kind, "auto")) {
		kind = "native"; /* cli.md 4.3; sb_new refuses when it cannot run */
		fprintf(stderr, "sandbox: native\n");
	}
	size_t nc = jv_len(o->credentials);
	r->cred_hosts = sl_xcalloc(nc + 1, sizeof(char *));
	for (size_t i = 0; i < nc; i++)
		r->cred_hosts[i] = sl_xstrdup(jv_get_str(jv_at(o->credentials, i), "host"));

	struct px_config pc = { 0 };
	pc.allowed_domains = cstrv(o->allowed_domains);
	pc.tunnel_domains = cstrv(o->pol.tunnel_domains);
	pc.mock = o->mock_proxy || !strcmp(kind, "mock");
	pc.record = record_cb;
	pc.note = run_note;
	pc.record_ud = r;
	struct px_credential *pcs = sl_xcalloc(nc + 1, sizeof *pcs);
	for (size_t i = 0; i < nc; i++) {
		const struct jv *c = jv_at(o->credentials, i);
		pcs[i] = (struct px_credential){ jv_get_str(c, "host"), jv_get_str(c, "header"),
						 jv_get_str(c, "env"), jv_get_str(c, "format") };
		if (!getenv(pcs[i].env)) {
			sl_err_set(err, SL_EINVAL,
				   "credential for %s: environment variable %s is not set",
				   pcs[i].host, pcs[i].env);
			free(pcs);
			return SL_EINVAL;
		}
	}
	pc.credentials = pcs;
	pc.n_credentials = nc;
	pc.hosts = o->pol.hosts;
	pc.upstream_ca = o->pol.upstream_ca;
	pc.hook_ud = r;
	if (pol_has_hook(&o->pol, "allow_host"))
		pc.allow_host = hook_allow_host;
	if (pol_has_hook(&o->pol, "on_request"))
		pc.on_request = hook_on_request;
	if (pol_has_hook(&o->pol, "credential_for"))
		pc.credential_for = hook_credential_for;
	/* Placeholders (decisions 31): the sandbox sees a dummy of the real
	 * value's shape; the proxy swaps it on the bound host only. */
	struct px_placeholder *phs = sl_xcalloc(o->pol.n_placeholders + 1, sizeof *phs);
	for (size_t i = 0; i < o->pol.n_placeholders; i++) {
		const struct pol_placeholder *p = &o->pol.placeholders[i];
		phs[i] = (struct px_placeholder){ p->env, p->host, p->header, p->method, p->path };
	}
	pc.placeholders = phs;
	pc.n_placeholders = o->pol.n_placeholders;
	r->px = px_new(&r->loop, &pc, err);
	free(phs);
	if (!r->px || px_start(r->px, err)) {
		free(pcs);
		return SL_EIO;
	}
	free(pcs);
	r->extra_env = sl_xcalloc(o->pol.n_placeholders + 1, sizeof(char *));
	for (size_t i = 0; i < o->pol.n_placeholders; i++) {
		const char *env = o->pol.placeholders[i].env;
		const char *dummy = px_placeholder_value(r->px, env);
		r->extra_env[i] = sl_xasprintf("%s=%s", env, dummy ? dummy : "");
	}

	struct sb_config sc = { 0 };
	sc.kind = kind;
	sc.workspace = r->attached ? r->att.mount : o->cfg.workspace;
	sc.read_allowlist = cstrv(o->read_allowlist);
	sc.allowed_domains = cstrv(o->allowed_domains);
	sc.credential_hosts = cstrv(r->cred_hosts);
	sc.tunnel_domains = cstrv(o->pol.tunnel_domains);
	sc.proxy_addr = pc.mock ? NULL : px_addr(r->px);
	sc.proxy_ca_pem = px_ca_pem(r->px);
	sc.notes = r->attached ? cstrv(r->att.notes) : NULL;
	sc.extra_env = cstrv(r->extra_env);
	sc.scratch_root = o->cfg.scratch_root;
	sc.limits.tmpfs_bytes = o->pol.sandbox.tmpfs_mb << 20;
	sc.limits.tmpfs_inodes = o->pol.sandbox.tmpfs_inodes;
	sc.limits.memory_bytes = o->pol.sandbox.memory_mb << 20;
	sc.limits.pids_max = o->pol.sandbox.pids_max;
	sc.unix_connect = o->pol.sandbox.unix_connect;
	/* Toolchain caches (decisions 24): one directory per workspace under the
	 * user's cache directory, never the state directory, shared by that
	 * workspace's harness and shells only. */
	if (r->attached && r->att.entry_id && strcmp(kind, "mock")) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		free(r->cache_dir);
		r->cache_dir = xdg && *xdg ? sl_xasprintf("%s/silo/%s", xdg, r->att.entry_id)
			: home && *home ? sl_xasprintf("%s/.cache/silo/%s", home, r->att.entry_id)
					: NULL;
		sc.cache_dir = r->cache_dir;
	}
	sc.deterministic = o->deterministic;
	r->sb = sb_new(&r->loop, &sc, err);
	if (!r->sb)
		return SL_EUNAVAIL;
	r->sb->note = run_note;
	r->sb->note_ud = r;
	if (r->fx && !strcmp(kind, "mock"))
		sb_mock_set_fixture(r->sb, r->fx);
	if (r->is_shell)
		return 0; /* the shell's own instance is started by user_shell */
	if (r->sb->ops->start(r->sb, err))
		return SL_EUNAVAIL;
	return 0;
}

struct canary_wait {
	int done, passed;
	char *summary; /* owned */
};

static void canary_done(void *ud, int passed, struct jv *results)
{
	struct canary_wait *w = ud;
	w->done = 1;
	w->passed = passed;
	w->summary = jv_to_string(results, 0);
}

/* Issue 3 item 9: before the agent gets control, a short self-test inside
 * the fresh sandbox must see every canary blocked, or the session does not
 * start. The result is a lifecycle note (decisions 35). */
static int run_canaries(struct run *r, struct sl_err *err)
{
	if (!r->sb || r->sb->ops->intercept_tool)
		return 0; /* the mock sandbox executes nothing */
	struct canary_wait w = { 0 };
	if (sb_canaries(r->sb, canary_done, &w, err))
		return SL_EUNAVAIL;
	while (!w.done && uv_run(&r->loop, UV_RUN_ONCE))
		;
	char *msg = sl_xasprintf("startup canary results (%s): %s", w.passed ? "all blocked" : "FAILED",
				 w.summary ? w.summary : "{}");
	run_note(r, msg);
	free(msg);
	free(w.summary);
	if (!w.passed)
		return sl_err_set(err, SL_EDENIED,
				  "the sandbox failed its startup self-test (a canary got through); "
				  "refusing to start. See the journal and `silo doctor`.");
	return 0;
}

/* Prices, flag > policy > config > the backend's own rows (cli.md 3,
 * decisions 7). A dollar quota on a model nobody priced would never
 * trigger, so it is refused rather than silently metered at $0. */
static int price_backend(struct run *r, const char *model, const struct jv *rows,
			 struct sl_err *err)
{
	struct run_opts *o = r->o;
	const struct jv *row = pol_price_for(&o->pol, model);
	if (row) {
		ag_pricing_set(&r->backend, row);
	} else if (o->cfg.has_pricing) {
		struct jv *cr = jv_obj();
		jv_set(cr, "input", jv_float(o->cfg.price_in));
		jv_set(cr, "output", jv_float(o->cfg.price_out));
		ag_pricing_set(&r->backend, cr);
		jv_unref(cr);
	} else {
		ag_pricing_pick(rows, model, &r->backend);
	}
	if (o->has_quota_usd && !r->backend.priced)
		return sl_err_set(err, SL_EINVAL,
				  "a dollar quota needs a price, and model %s has none; give it one "
				  "in a --policy file: prices = { [\"%s\"] = { input = N, output = N, "
				  "cache_read = N, cache_write = N } } (US dollars per million tokens; "
				  "the cache rates are optional), or use --quota-tokens",
				  model ? model : "(default)", model ? model : "MODEL");
	return 0;
}

static int make_backend(struct run *r, struct sl_err *err)
{
	struct run_opts *o = r->o;
	ag_backend_init(&r->backend, o->cfg.llm, o->cfg.model, err);
	if (!strcmp(o->cfg.llm, "mock"))
		return price_backend(r, r->backend.model, NULL, err);
	r->backend.llm = llm_new(&r->loop, o->cfg.llm, o->cfg.model, o->cfg.base_url,
				 o->cfg.api_key_env, o->lua_dir, err);
	if (!r->backend.llm)
		return SL_EINVAL;
	llm_set_note(r->backend.llm, run_note, r);
	free(r->backend.id);
	r->backend.id = sl_xstrdup(llm_id(r->backend.llm));
	/* The model the backend settled on is the part of its id after ':'. */
	const char *colon = strchr(r->backend.id, ':');
	const char *model = o->cfg.model ? o->cfg.model : colon ? colon + 1 : NULL;
	if (model && strcmp(model, r->backend.model)) {
		free(r->backend.model);
		r->backend.model = sl_xstrdup(model);
	}
	if (price_backend(r, model, llm_pricing(r->backend.llm), err))
		return SL_EINVAL;
	if (o->cfg.local_cmd && llm_manage_server(r->backend.llm, o->cfg.local_cmd, 0, err))
		return SL_EUNAVAIL;
	return 0;
}

static int exit_code(struct run *r)
{
	struct sl_buf msg;
	sl_buf_init(&msg);
	int rc = ag_session_exit(r->s, &msg);
	if (msg.len)
		fprintf(stderr, "silo: %s\n", msg.p);
	sl_buf_free(&msg);
	return rc;
}

int run_session(struct run_opts *o)
{
	struct run r = { .o = o };
	struct sl_err err = { 0 };
	int rc = 1;
	uv_loop_init(&r.loop);
	r.clock.fake = o->deterministic;
	char id[13];
	sl_random_id(id);
	r.harness_id = sl_xstrdup(o->cfg.harness_id ? o->cfg.harness_id : id);
	if (o->script && !(r.fx = fx_load(o->script, o->lua_dir, &err)))
		goto fail;
	if (!o->state) {
		sl_err_set(&err, SL_EINVAL, "no state directory");
		goto fail;
	}
	r.state = sl_xstrdup(o->state);
	if (!(r.journal_path = journal_path(&r, &err)))
		goto fail;
	/* before the file exists and before --create locks anything: a
	 * journal the sandbox could read is never written, not even with the
	 * refusal in it */
	if (pol_journal_check(r.journal_path, o->read_allowlist, &err))
		goto fail;
	if (o->create) {
		char **warns = NULL;
		if (ws_lock(r.state, o->cfg.workspace,
			    o->deterministic ? WS_STRATEGY_DIRECTORY : WS_STRATEGY_AUTO, &warns, &err))
			goto fail;
		for (char **w = warns; w && *w; w++)
			fprintf(stderr, "warning: %s\n", *w);
		strv_free(warns);
	}
	if (!(r.jn = jn_open(r.journal_path, &r.clock, &err)))
		goto fail;
	write_meta(&r);
	run_note(&r, "harness starting");
	if (pol_risk_check(o->read_allowlist, o->allow_risky, getenv("HOME"), r.state, &err))
		goto fail_journal;
	if (ws_attach(r.state, o->cfg.workspace, r.harness_id, (int)getpid(), 0, &r.att, &err))
		goto fail_journal;
	r.attached = 1;
	/* Policy review rules travel with the workspace to its unlock. */
	if (o->pol.review_rules &&
	    ws_set_review_rules(r.state, o->cfg.workspace, cstrv(o->pol.review_rules), &err))
		goto fail_started;
	if (run_start_components(&r, &err) || run_canaries(&r, &err) || make_backend(&r, &err))
		goto fail_started;

	struct jv *report = r.sb->ops->access_report(r.sb);
	if (o->pol.tunnel_domains && *o->pol.tunnel_domains) {
		/* Tunnel-only domains (decisions 30) are the harness's policy, not
		 * the backend's: the report says they pass uninspected and get no
		 * credentials. */
		struct jv *own = jv_copy(report), *t = jv_arr();
		jv_unref(report);
		report = own;
		for (char **d = o->pol.tunnel_domains; *d; d++)
			jv_push(t, jv_str(*d));
		jv_set(report, "tunnel_domains", t);
		struct jv *notes = jv_get(report, "notes");
		if (jv_is(notes, JV_ARRAY))
			jv_push(notes, jv_str("tunnel_domains pass through the proxy without TLS "
					      "interception and never get injected credentials"));
	}
	if (o->print_access) {
		char *txt = jv_to_string(report, JV_EMIT_PRETTY);
		printf("%s\n", txt);
		free(txt);
		jv_unref(report);
		rc = 0;
		goto stop;
	}
	char *sysprompt = o->cfg.system_prompt ? sl_xstrdup(o->cfg.system_prompt)
					       : ag_system_prompt(report);
	struct ag_options ao = {
		.harness_id = r.harness_id,
		.workspace = o->cfg.workspace,
		.workspace_mount = jv_get_str(report, "workspace_mount"),
		.scratch = jv_get_str(report, "scratch_dir"),
		.sandbox_kind = o->cfg.sandbox,
		.frontend_kind = o->cfg.frontend,
		.lua_dir = o->lua_dir,
		.system_prompt = sysprompt,
		.max_tokens = o->cfg.max_tokens > 0 ? (uint32_t)o->cfg.max_tokens : 8192,
		.has_quota_tokens = o->has_quota_tokens,
		.has_quota_usd = o->has_quota_usd,
		.quota_tokens = o->quota_tokens,
		.quota_usd = o->quota_usd,
		.deterministic = o->deterministic,
		.headless = !strcmp(o->cfg.frontend, "headless"),
		.max_turns = o->max_turns,
		.timeout_ms = o->timeout_ms,
		.max_reminders = o->cfg.has_reminders ? o->cfg.reminders : AG_DEFAULT_REMINDERS,
	};
	r.s = ag_session_new(&r.loop, &ao, &r.clock, r.jn);
	r.s->sandbox = r.sb;
	r.s->fixture = r.fx;
	r.s->policy = &o->pol;
	r.s->backend = &r.backend;
	r.s->on_finished = finished_cb;
	r.s->on_finished_ud = &r;
	if (o->frontend_new)
		r.fe = o->frontend_new(r.s, o, r.fx);
	if (!r.fe || ag_tools_load(r.s, &err)) {
		jv_unref(report);
		free(sysprompt);
		goto fail_session;
	}
	r.s->frontend = r.fe;
	if (!o->deterministic) {
		uv_signal_init(&r.loop, &r.sigint);
		uv_signal_init(&r.loop, &r.sigterm);
		r.sigint.data = r.sigterm.data = &r;
		uv_signal_start(&r.sigint, on_signal, SIGINT);
		uv_signal_start(&r.sigterm, on_signal, SIGTERM);
		r.signals = 1;
	}
	struct jv *info = jv_obj();
	jv_set(info, "harness_id", jv_str(r.harness_id));
	jv_set(info, "workspace", jv_str(o->cfg.workspace));
	jv_set(info, "llm", jv_str(o->cfg.llm));
	jv_set(info, "sandbox", jv_str(o->cfg.sandbox));
	jv_set(info, "frontend", jv_str(o->cfg.frontend));
	session_hook(&r, "on_session_start", info);
	ag_session_start(r.s, report);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	jv_unref(report); /* ao's workspace and scratch strings point into it */
	free(sysprompt);
	run_teardown(&r);
	rc = exit_code(&r);
	struct jv *outcome = jv_obj();
	jv_set(outcome, "harness_id", jv_str(r.harness_id));
	jv_set(outcome, "exit_code", jv_int(rc));
	session_hook(&r, "on_session_end", outcome);
	goto done;

fail_session:
	fprintf(stderr, "silo: %s\n", err.msg);
	run_teardown(&r);
	rc = 1;
	goto done;
stop:
	run_teardown(&r);
	goto done;
fail_started:
	fprintf(stderr, "silo: %s\n", err.msg);
	run_teardown(&r);
	rc = 1;
	goto done;
fail_journal:
	fprintf(stderr, "silo: %s\n", err.msg);
	run_note(&r, err.msg);
	rc = 1;
	goto done;
fail:
	fprintf(stderr, "silo: %s\n", err.msg);
	rc = 1;
done:
	if (r.s) {
		if (r.signals) {
			uv_close((uv_handle_t *)&r.sigint, NULL);
			uv_close((uv_handle_t *)&r.sigterm, NULL);
		}
		ag_session_free(r.s);
		r.s = NULL;
	}
	/* A managed local server journals its stop, so the backend goes before
	 * the journal; notes after the close are dropped, never written. */
	ag_backend_deinit(&r.backend);
	if (r.jn) {
		jn_close(r.jn);
		r.jn = NULL;
		fprintf(stderr, "journal: %s\n", r.journal_path);
	}
	if (r.fx)
		fx_free(r.fx);
	lh_secrets_wipe();
	uv_run(&r.loop, UV_RUN_NOWAIT);
	uv_loop_close(&r.loop);
	strv_free(r.cred_hosts);
	strv_free(r.extra_env);
	free(r.cache_dir);
	free(r.state);
	free(r.journal_path);
	free(r.harness_id);
	return rc;
}
