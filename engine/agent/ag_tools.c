/*
 * The tool registry and tool-call dispatch (spec/tools.md 1). Tools are Lua
 * tables (decisions 1) loaded from lua/tools/ (one file a tool) and from policy files;
 * each call of `run(input, ctx)` is an lh_task whose engine primitives come
 * back here through the services router. The mock sandbox answers
 * sandbox-owned calls from the fixture before any Lua runs (decisions 17).
 */
#include "agent/ag.h"

#include <dirent.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"
#include "policy/pol.h"
#include "sandbox/sb.h"

/* ---- registry ------------------------------------------------------------- */

static char *field_str(lua_State *L, int idx, const char *k)
{
	lua_getfield(L, idx, k);
	char *v = lua_type(L, -1) == LUA_TSTRING ? sl_xstrdup(lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	return v;
}

void ag_tool_clear(struct ag_tool *t)
{
	free(t->name);
	free(t->description);
	free(t->owner);
	free(t->source);
	jv_unref(t->schema);
	if (t->frontends)
		for (char **f = t->frontends; *f; f++)
			free(*f);
	free(t->frontends);
	memset(t, 0, sizeof *t);
}

static int add_tool(struct ag_session *s, struct lh_state *st, int ref, const char *src,
		    struct sl_err *err)
{
	lua_State *L = lh_L(st);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref); /* tool */
	int t = lua_gettop(L);
	struct ag_tool tool = { 0 };
	tool.name = field_str(L, t, "name");
	tool.description = field_str(L, t, "description");
	tool.owner = field_str(L, t, "owner");
	char *agents = field_str(L, t, "agents");
	lua_getfield(L, t, "run");
	int has_run = lua_isfunction(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, t, "schema");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_getfield(L, t, "input_schema");
	}
	struct sl_err cerr = { 0 };
	tool.schema = lua_istable(L, -1) ? lh_to_jv(L, -1, 0, &cerr) : NULL;
	lua_pop(L, 1);
	lua_getfield(L, t, "frontends");
	if (lua_istable(L, -1)) {
		size_t n = lua_rawlen(L, -1);
		tool.frontends = sl_xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			tool.frontends[i] = sl_xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 2); /* frontends, tool */
	const char *bad = !tool.name ? "missing string field 'name'"
		: !tool.description ? "missing string field 'description'"
		: !tool.schema ? "missing table field 'schema'"
		: !has_run ? "missing function field 'run'"
		: !tool.owner || (strcmp(tool.owner, "sandbox") && strcmp(tool.owner, "frontend") &&
				  strcmp(tool.owner, "harness"))
			? "field 'owner' must be sandbox, frontend or harness"
		: !agents || (strcmp(agents, "top") && strcmp(agents, "sub") &&
			      strcmp(agents, "both"))
			? "field 'agents' must be top, sub or both"
			: NULL;
	if (bad) {
		sl_err_set(err, SL_EPARSE, "tool %s: %s", src, bad);
		free(agents);
		ag_tool_clear(&tool);
		return SL_EPARSE;
	}
	tool.avail = !strcmp(agents, "top") ? AG_AVAIL_TOP
		: !strcmp(agents, "sub") ? AG_AVAIL_SUB : AG_AVAIL_BOTH;
	free(agents);
	jv_sort_keys(tool.schema);
	tool.lua = st;
	tool.ref = ref;
	tool.source = sl_xstrdup(src);
	/* A later definition (policy) replaces a shipped tool of the same name. */
	for (size_t i = 0; i < s->n_tools; i++)
		if (!strcmp(s->tools[i].name, tool.name)) {
			ag_tool_clear(&s->tools[i]);
			s->tools[i] = tool;
			return 0;
		}
	s->tools = sl_xrealloc(s->tools, (s->n_tools + 1) * sizeof *s->tools);
	s->tools[s->n_tools++] = tool;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int services_call(void *ud, void *task_ctx, const char *service, struct jv *args,
			 lh_done_fn done, void *token, struct sl_err *err);
static void services_note(void *ud, const char *msg)
{
	ag_note(ud, "%s", msg);
}

int ag_tools_load(struct ag_session *s, struct sl_err *err)
{
	struct lh_services svc = { .ud = s, .call = services_call, .note = services_note,
				   .deterministic = s->opt.deterministic };
	s->tools_lua = lh_new(LH_TOOL, NULL, &svc, s->opt.lua_dir, err);
	if (!s->tools_lua)
		return SL_EINVAL;
	char *dir = sl_xasprintf("%s/tools", s->opt.lua_dir);
	DIR *d = opendir(dir);
	if (!d) {
		sl_err_set(err, SL_EIO, "cannot open tool directory %s", dir);
		free(dir);
		return SL_EIO;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".lua")) {
			names = sl_xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = sl_xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	free(dir);
	qsort(names, n, sizeof *names, cmp_str);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int ref;
		if (!rc && (rc = lh_load_file(s->tools_lua, names[i], &ref, err)) == 0)
			rc = add_tool(s, s->tools_lua, ref, names[i], err);
		free(names[i]);
	}
	free(names);
	if (rc)
		return rc;
	/* Policy tools run in the policy's state; route its primitives here. */
	if (s->policy && s->policy->lua)
		lh_set_services(s->policy->lua, &svc);
	if (s->policy && s->policy->lua)
		for (size_t i = 0; i < s->policy->n_tool_refs; i++)
			if ((rc = add_tool(s, s->policy->lua, s->policy->tool_refs[i], "policy",
					   err)))
				return rc;
	if (s->policy && s->policy->disable_tools)
		for (char **dn = s->policy->disable_tools; *dn; dn++)
			for (size_t i = 0; i < s->n_tools; i++)
				if (!strcmp(s->tools[i].name, *dn))
					s->tools[i].avail = 0;
	return 0;
}

const struct ag_tool *ag_tool_find(struct ag_session *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_tools; i++)
		if (!strcmp(s->tools[i].name, name))
			return &s->tools[i];
	return NULL;
}

int ag_tool_offered(const struct ag_session *s, const struct ag_tool *t, int top)
{
	if (!(t->avail & (top ? AG_AVAIL_TOP : AG_AVAIL_SUB)))
		return 0;
	if (!t->frontends)
		return 1;
	for (char **f = t->frontends; *f; f++)
		if (!strcmp(*f, s->opt.frontend_kind))
			return 1;
	return 0;
}

struct jv *ag_tool_defs(struct ag_session *s, int top)
{
	struct jv *defs = jv_arr();
	for (size_t i = 0; i < s->n_tools; i++) {
		const struct ag_tool *t = &s->tools[i];
		if (!ag_tool_offered(s, t, top))
			continue;
		struct jv *d = jv_obj();
		jv_set(d, "name", jv_str(t->name));
		jv_set(d, "description", jv_str(t->description));
		jv_set(d, "input_schema", jv_ref(t->schema));
		jv_set(d, "availability", jv_str(t->avail == AG_AVAIL_BOTH ? "both"
						 : t->avail == AG_AVAIL_TOP ? "top_level_only"
									    : "subagent_only"));
		jv_push(defs, d);
	}
	return defs;
}

/* ---- dispatch ------------------------------------------------------------- */

static struct jv *output(const char *content, int is_error)
{
	struct jv *o = jv_obj();
	jv_set(o, "content", jv_str(content));
	jv_set(o, "is_error", jv_bool(is_error));
	return o;
}

static void post_done(struct ag_agent *a, const struct jv *call, const char *owner,
		      struct jv *out)
{
	struct jv *d = jv_obj();
	jv_set(d, "call", jv_ref((struct jv *)call));
	jv_set(d, "owner", jv_str(owner));
	jv_set(d, "output", out);
	if (a->fatal) {
		jv_set(d, "fatal", jv_str(a->fatal));
		free(a->fatal);
		a->fatal = NULL;
	}
	ag_post(a->sess, a, AG_E_TOOL_DONE, d);
}

/* Normalises what run() returned: {content, is_error} or a string. */
static struct jv *normalize(struct jv *res, const char *errmsg)
{
	if (errmsg)
		return output(errmsg, 1);
	if (jv_is(res, JV_STRING))
		return output(jv_str_val(res), 0);
	if (jv_is(res, JV_OBJECT)) {
		const char *c = jv_get_str(res, "content");
		return output(c ? c : "", jv_get_bool(res, "is_error"));
	}
	return output("", 0);
}

struct run_ctx {
	struct ag_agent *a;
	struct jv *call;   /* owned ref */
	const char *owner; /* static */
	int seq;
	/* Set for internal runs (SendUserFile's Read, uploads). */
	void (*then)(struct run_ctx *rc, struct jv *out);
	struct ag_pending *outer;
	struct jv *extra;  /* owned */
};

static void run_ctx_free(struct run_ctx *rc)
{
	jv_unref(rc->call);
	jv_unref(rc->extra);
	free(rc);
}

static void finish_run(struct run_ctx *rc, struct jv *out)
{
	struct ag_agent *a = rc->a;
	if (rc->then) {
		rc->then(rc, out);
		run_ctx_free(rc);
		return;
	}
	if (a->tool_seq == rc->seq) {
		a->task = NULL;
		a->task_pending = 0;
	}
	post_done(a, rc->call, rc->owner, out);
	run_ctx_free(rc);
}

static void task_done(void *ud, struct jv *result, const char *errmsg)
{
	struct jv *out = normalize(result, errmsg);
	jv_unref(result);
	finish_run(ud, out);
}

static struct jv *tool_ctx(struct ag_agent *a, const struct jv *call)
{
	struct ag_session *s = a->sess;
	struct jv *c = jv_obj();
	jv_set(c, "agent", jv_str(a->id));
	jv_set(c, "call_id", jv_ref(jv_get(call, "id")));
	jv_set(c, "workspace", jv_str(s->opt.workspace_mount ? s->opt.workspace_mount
							      : "/workspace"));
	jv_set(c, "scratch", jv_str(s->opt.scratch ? s->opt.scratch : ""));
	jv_set(c, "depth", jv_int(a->depth));
	jv_set(c, "frontend", jv_str(s->opt.frontend_kind ? s->opt.frontend_kind : ""));
	return c;
}

/* Runs one tool call: by the mock sandbox or by the tool's Lua run().
 * Fails (SL_ESCRIPT, nothing will complete the call) when the mock sandbox's
 * script does not match. */
static int run_tool(struct run_ctx *rc, const struct ag_tool *t, const struct jv *input,
		    struct sl_err *err)
{
	struct ag_agent *a = rc->a;
	struct ag_session *s = a->sess;
	if (!strcmp(t->owner, "sandbox") && s->sandbox && s->sandbox->ops->intercept_tool) {
		struct jv *out = NULL;
		struct sl_err ierr = { 0 };
		if (s->sandbox->ops->intercept_tool(s->sandbox, t->name, input, &out, &ierr)) {
			run_ctx_free(rc);
			return sl_err_set(err, SL_ESCRIPT, "sandbox script mismatch: %s", ierr.msg);
		}
		finish_run(rc, out);
		return 0;
	}
	struct jv *ctx = tool_ctx(a, rc->call);
	int tracked = !rc->then;
	if (tracked)
		a->task_pending = 1;
	struct lh_task *task = lh_task_start(t->lua, t->ref, "run", input, ctx, a, task_done, rc);
	jv_unref(ctx);
	/* done may already have run (and freed rc) inside lh_task_start. */
	if (tracked && a->task_pending)
		a->task = task;
	return 0;
}

int ag_tool_dispatch(struct ag_agent *a, const struct jv *call, struct sl_err *err)
{
	struct ag_session *s = a->sess;
	const char *name = jv_get_str(call, "name");
	const struct jv *input = jv_get(call, "input");
	const struct ag_tool *t = ag_tool_find(s, name);
	a->cur_call = (struct jv *)call;
	a->tool_seq++;
	if (!t || !ag_tool_offered(s, t, a->num == 0)) {
		/* tools.md 1.2, ours: availability is checked too. */
		struct jv *out = jv_obj();
		jv_set(out, "content", jv_strf("unknown tool: %s", name ? name : ""));
		jv_set(out, "is_error", jv_bool(1));
		post_done(a, call, "harness", out);
		return 0;
	}
	if (s->policy) {
		struct jv *args[2] = { jv_str(a->id), jv_ref((struct jv *)call) };
		struct jv *ret = NULL;
		struct sl_err herr = { 0 };
		int rc = pol_hook(s->policy, "on_tool_call", (const struct jv *const *)args, 2,
				  &ret, &herr);
		jv_unref(args[0]);
		jv_unref(args[1]);
		const char *reason = rc == SL_ENOENT ? NULL
			: rc < 0 ? herr.msg
			: jv_str_val(ret);
		if (rc < 0 && rc != SL_ENOENT)
			ag_note(s, "policy hook on_tool_call failed: %s", herr.msg);
		if (reason) {
			struct jv *out = jv_obj();
			jv_set(out, "content", jv_strf("denied by policy: %s", reason));
			jv_set(out, "is_error", jv_bool(1));
			jv_unref(ret);
			post_done(a, call, "policy", out);
			return 0;
		}
		jv_unref(ret);
	}
	struct run_ctx *rc = sl_xcalloc(1, sizeof *rc);
	rc->a = a;
	rc->call = jv_ref((struct jv *)call);
	rc->owner = !strcmp(t->owner, "sandbox") ? "sandbox"
		: !strcmp(t->owner, "frontend") ? "frontend" : "harness";
	rc->seq = a->tool_seq;
	struct jv *empty = NULL;
	if (!input)
		input = empty = jv_obj();
	int ret = run_tool(rc, t, input, err);
	jv_unref(empty);
	return ret;
}

void ag_tool_abort(struct ag_agent *a)
{
	if (a->pending) {
		a->pending->live = 0;
	}
	if (a->task) {
		lh_task_abort(a->task);
		a->task = NULL;
	}
	a->task_pending = 0;
	a->tool_seq++;
}

/* ---- pending service calls and the services router -------------------------- */

void ag_pending_finish(struct ag_pending *p, struct jv *result, const char *err, int fatal)
{
	if (!p || !p->live) {
		jv_unref(result);
		return;
	}
	p->live = 0;
	if (fatal && p->agent && !p->agent->fatal)
		p->agent->fatal = sl_xstrdup(err ? err : "session failure");
	p->done(p->token, result, err, fatal);
}

static struct ag_pending *pending_new(struct ag_agent *a, const char *service,
				      lh_done_fn done, void *token)
{
	if (a->pending) {
		free(a->pending->service);
		free(a->pending);
	}
	struct ag_pending *p = sl_xcalloc(1, sizeof *p);
	p->agent = a;
	p->done = done;
	p->token = token;
	p->service = sl_xstrdup(service);
	p->live = 1;
	a->pending = p;
	return p;
}

struct helper_call {
	struct ag_agent *a;
	lh_done_fn done;
	void *token;
};

static void helper_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct helper_call *hc = ud;
	if (fatal && !hc->a->fatal)
		hc->a->fatal = sl_xstrdup(err ? err : "helper connection closed");
	hc->done(hc->token, result ? jv_ref(result) : NULL, err, fatal);
	free(hc);
}

static void send_file_read_done(struct run_ctx *rc, struct jv *out)
{
	struct ag_agent *a = rc->a;
	struct ag_session *s = a->sess;
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str(a->id));
	jv_set(body, "owner", jv_str("sandbox"));
	jv_set(body, "call", jv_ref(rc->call));
	jv_set(body, "output", jv_ref(out));
	ag_journal(s, "tool_exec", body);
	const char *path = jv_get_str(rc->extra, "path");
	const char *content = jv_get_str(out, "content");
	if (jv_get_bool(out, "is_error")) {
		char *msg = sl_xasprintf("SendUserFile: cannot read %s: %s", path,
					 content ? content : "");
		ag_pending_finish(rc->outer, NULL, msg, 0);
		free(msg);
		jv_unref(out);
		return;
	}
	const char *name = jv_get_str(rc->extra, "name");
	struct sl_buf b64;
	sl_buf_init(&b64);
	jv_b64_encode(&b64, content ? content : "", content ? jv_str_len(jv_get(out, "content")) : 0);
	struct jv *p = jv_obj();
	jv_set(p, "name", jv_str(name));
	jv_set(p, "content_b64", jv_strn(b64.p ? b64.p : "", b64.len));
	jv_set(p, "origin", jv_str("llm"));
	jv_set(p, "agent", jv_str(a->id));
	if (jv_get_str(rc->extra, "caption"))
		jv_set(p, "caption", jv_str(jv_get_str(rc->extra, "caption")));
	sl_buf_free(&b64);
	ag_emit(s, "file_shared", p);
	ag_pending_finish(rc->outer, jv_strf("sent %s to the user", name), NULL, 0);
	jv_unref(out);
}

static int send_file(struct ag_agent *a, struct jv *args, struct ag_pending *p,
		     struct sl_err *err)
{
	const struct ag_tool *read = ag_tool_find(a->sess, "Read");
	const char *path = jv_get_str(args, "path");
	if (!read || !path)
		return sl_err_set(err, SL_EINVAL, "SendUserFile requires a 'path' string");
	struct run_ctx *rc = sl_xcalloc(1, sizeof *rc);
	rc->a = a;
	rc->call = jv_obj();
	jv_set(rc->call, "id", jv_strf("%s-read", jv_get_str(a->cur_call, "id")));
	jv_set(rc->call, "name", jv_str("Read"));
	struct jv *in = jv_obj();
	jv_set(in, "path", jv_str(path));
	jv_set(rc->call, "input", in);
	rc->owner = "sandbox";
	rc->then = send_file_read_done;
	rc->outer = p;
	rc->extra = jv_ref(args);
	struct sl_err rerr = { 0 };
	if (run_tool(rc, read, in, &rerr) < 0)
		ag_script_failure(a->sess, "%s", rerr.msg);
	return 0;
}

static int services_call(void *ud, void *task_ctx, const char *service, struct jv *args,
			 lh_done_fn done, void *token, struct sl_err *err)
{
	struct ag_session *s = ud;
	struct ag_agent *a = task_ctx;
	int rc = 0;
	if (!strncmp(service, "helper.", 7)) {
		if (!s->sandbox || !s->sandbox->ops->helper_request) {
			jv_unref(args);
			return sl_err_set(err, SL_EUNAVAIL,
					  "the %s sandbox executes nothing", s->opt.sandbox_kind);
		}
		struct helper_call *hc = sl_xcalloc(1, sizeof *hc);
		hc->a = a;
		hc->done = done;
		hc->token = token;
		if (s->sandbox->ops->helper_request(s->sandbox, service + 7, args, helper_done,
						    NULL, hc, err) < 0) {
			free(hc);
			return SL_EIO;
		}
		return 0;
	}
	if (!strcmp(service, "agent.spawn")) {
		struct jv *res = NULL;
		rc = ag_sub_spawn(a, args, &res, err);
		jv_unref(args);
		if (rc)
			return rc;
		done(token, res, NULL, 0);
		return 0;
	}
	if (!strcmp(service, "agent.await")) {
		struct ag_pending *p = pending_new(a, service, done, token);
		rc = ag_sub_await(a, args, p, err);
		jv_unref(args);
		if (rc)
			p->live = 0;
		return rc;
	}
	if (!strcmp(service, "frontend.ask")) {
		struct ag_pending *p = pending_new(a, service, done, token);
		if (!s->frontend->ops->ask) {
			p->live = 0;
			jv_unref(args);
			return sl_err_set(err, SL_EUNAVAIL, "this frontend cannot ask questions");
		}
		rc = s->frontend->ops->ask(s->frontend, a->id, args, p, err);
		jv_unref(args);
		if (rc) {
			p->live = 0;
			ag_frontend_error(s, err->msg);
		}
		return rc;
	}
	if (!strcmp(service, "frontend.send_file")) {
		struct ag_pending *p = pending_new(a, service, done, token);
		rc = send_file(a, args, p, err);
		jv_unref(args);
		if (rc)
			p->live = 0;
		return rc;
	}
	if (!strcmp(service, "session.shutdown")) {
		const char *m = jv_get_str(args, "message");
		ag_request_shutdown(s, m);
		jv_unref(args);
		done(token, jv_bool(1), NULL, 0);
		return 0;
	}
	jv_unref(args);
	return sl_err_set(err, SL_EINVAL, "unknown engine service %s", service);
}

/* ---- uploads (replay.md 2.3) ------------------------------------------------ */

static void upload_done(struct run_ctx *rc, struct jv *out)
{
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str("harness"));
	jv_set(body, "owner", jv_str("sandbox"));
	jv_set(body, "call", jv_ref(rc->call));
	jv_set(body, "output", out);
	ag_journal(rc->a->sess, "tool_exec", body);
}

void ag_upload(struct ag_session *s, const char *name, const char *content_b64,
	       const char *client_id)
{
	struct jv *p = jv_obj();
	jv_set(p, "name", jv_str(name));
	jv_set(p, "content_b64", jv_str(content_b64));
	jv_set(p, "origin", jv_str("client"));
	if (client_id)
		jv_set(p, "client_id", jv_str(client_id));
	ag_emit(s, "file_shared", p);
	const struct ag_tool *w = ag_tool_find(s, "Write");
	if (!w)
		return;
	/* Only the last path component, without control bytes or slashes. */
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	struct sl_buf clean;
	sl_buf_init(&clean);
	for (const char *c = base; *c; c++)
		sl_buf_addc(&clean, (unsigned char)*c < 0x20 || *c == '\\' ? '_' : *c);
	if (!clean.len || !strcmp(clean.p, ".") || !strcmp(clean.p, ".."))
		sl_buf_adds(&clean, "_upload");
	struct run_ctx *rc = sl_xcalloc(1, sizeof *rc);
	rc->a = s->top;
	rc->call = jv_obj();
	jv_set(rc->call, "id", jv_strf("upload-%d", ++s->upload_n));
	jv_set(rc->call, "name", jv_str("Write"));
	struct jv *in = jv_obj();
	jv_set(in, "content_b64", jv_str(content_b64));
	jv_set(in, "path", jv_strf("_uploads/%s", clean.p));
	jv_set(rc->call, "input", in);
	sl_buf_free(&clean);
	rc->owner = "sandbox";
	rc->then = upload_done;
	struct sl_err err = { 0 };
	if (run_tool(rc, w, in, &err) < 0)
		ag_script_failure(s, "%s", err.msg);
}
