/*
 * One tool call (spec/tools.md 1.2) as a static table, and what runs it:
 * the mock sandbox answers sandbox-owned calls from the fixture before any
 * Lua runs (decisions 17); otherwise `run(input, ctx)` is an lh_task whose
 * engine primitives come back through the services below. The call machine
 * only moves from the agent's actions, from the services and from the
 * task's completion, never from inside one of its own actions, so no step
 * nests in another. A finished call reaches the agent as TOOL_DONE with a
 * struct ag_tool_done.
 */
#include "agent/ag.h"

#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"
#include "policy/pol.h"
#include "sandbox/sb.h"

static const char *const state_names[] = {
#define XX(n) #n,
	AG_CALL_STATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(n) #n,
	AG_CALL_EVENT_MAP(XX)
#undef XX
};

static void call_step(struct ag_agent *a, enum ag_call_event ev, void *data)
{
	fsm_step(&ag_call_fsm, &a->call.state, ev, a, data);
}

/* ---- events to the agent ----------------------------------------------------- */

static struct jv *output(const char *content, int is_error)
{
	struct jv *o = jv_obj();
	jv_set(o, "content", jv_str(content));
	jv_set(o, "is_error", jv_bool(is_error));
	return o;
}

static void post_done(struct ag_agent *a, const struct jv *call, enum ag_owner owner,
		      struct jv *out, char *fatal /* stolen */)
{
	struct ag_tool_done *d = sl_xcalloc(1, sizeof *d);
	d->call = jv_ref((struct jv *)call);
	d->owner = owner;
	d->output = out;
	d->fatal = fatal;
	ag_post(a->sess, a, AG_E_TOOL_DONE, d);
}

void ag__ev_free(int event, void *data)
{
	if (event == AG_E_TOOL_DONE) {
		struct ag_tool_done *d = data;
		if (!d)
			return;
		jv_unref(d->call);
		jv_unref(d->output);
		free(d->fatal);
		free(d);
		return;
	}
	if (event == AG_E_LLM_ERROR) {
		free(data);
		return;
	}
	jv_unref(data);
}

/* ---- the run of one call -------------------------------------------------- */

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
	enum ag_owner owner;
	/* Set for internal runs (SendUserFile's Read, uploads), which the
	 * call machine does not track. */
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
	if (rc->then) {
		rc->then(rc, out);
	} else {
		struct ag_tool_done d = { .call = rc->call, .owner = rc->owner, .output = out };
		call_step(rc->a, AG_CLE_FINISH, &d);
	}
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
	if (t->owner == AG_OWNER_SANDBOX && s->sandbox && s->sandbox->ops->intercept_tool) {
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
	struct lh_task *task = lh_task_start(t->lua, t->ref, "run", input, ctx, a, task_done, rc);
	jv_unref(ctx);
	/* The task may have finished (and the call moved on) inside. */
	if (tracked && task && a->call.state != AG_CL_IDLE)
		a->call.task = task;
	return 0;
}

int ag_tool_dispatch(struct ag_agent *a, const struct jv *call, struct sl_err *err)
{
	struct ag_session *s = a->sess;
	const char *name = jv_get_str(call, "name");
	const struct jv *input = jv_get(call, "input");
	const struct ag_tool *t = ag_tool_find(s, name);
	call_step(a, AG_CLE_START, (void *)call);
	if (!t || !ag_tool_offered(s, t, a->kind)) {
		/* tools.md 1.2, ours: availability is checked too. */
		struct ag_tool_done d = { .call = (struct jv *)call, .owner = AG_OWNER_HARNESS,
					  .output = output("", 1) };
		jv_set(d.output, "content", jv_strf("unknown tool: %s", name ? name : ""));
		call_step(a, AG_CLE_FINISH, &d);
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
			struct ag_tool_done d = { .call = (struct jv *)call, .owner = AG_OWNER_POLICY,
						  .output = output("", 1) };
			jv_set(d.output, "content", jv_strf("denied by policy: %s", reason));
			jv_unref(ret);
			call_step(a, AG_CLE_FINISH, &d);
			return 0;
		}
		jv_unref(ret);
	}
	struct run_ctx *rc = sl_xcalloc(1, sizeof *rc);
	rc->a = a;
	rc->call = jv_ref((struct jv *)call);
	rc->owner = t->owner;
	struct jv *empty = NULL;
	if (!input)
		input = empty = jv_obj();
	int ret = run_tool(rc, t, input, err);
	jv_unref(empty);
	if (ret < 0)
		call_step(a, AG_CLE_ABORT, NULL);
	return ret;
}

void ag_tool_abort(struct ag_agent *a)
{
	call_step(a, AG_CLE_ABORT, NULL);
}

/* ---- the call machine ------------------------------------------------------ */

static int act_start(void *obj, void *data)
{
	struct ag_agent *a = obj;
	a->call.cur = data;
	return 0;
}

static int act_wait(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_pending *p = data;
	if (a->call.pending && a->call.pending != p) {
		a->call.pending->live = 0;
		free(a->call.pending);
	}
	a->call.pending = p;
	return 0;
}

static int act_fatal(void *obj, void *data)
{
	struct ag_agent *a = obj;
	a->call.fatal = sl_xstrdup(data ? data : "session failure");
	return 0;
}

/* The task is done: the agent gets TOOL_DONE (with the fatal error, if any). */
static int act_finish(void *obj, void *data)
{
	struct ag_agent *a = obj;
	const struct ag_tool_done *d = data;
	char *fatal = a->call.fatal;
	a->call.fatal = NULL;
	a->call.task = NULL;
	post_done(a, d->call, d->owner, d->output, fatal);
	return 0;
}

static int act_abort(void *obj, void *data)
{
	struct ag_agent *a = obj;
	if (a->call.pending)
		a->call.pending->live = 0;
	if (a->call.task)
		lh_task_abort(a->call.task);
	a->call.task = NULL;
	free(a->call.fatal);
	a->call.fatal = NULL;
	return 0;
}

/* A FINISH with no call running: its output is not wanted. */
static int act_drop_finish(void *obj, void *data)
{
	const struct ag_tool_done *d = data;
	jv_unref(d->output);
	return 0;
}

static void undefined_pair(void *obj, int state, int event)
{
	struct ag_agent *a = obj;
	ag_note(a->sess, "%s: tool call: undefined transition %s x %s", a->id, state_names[state],
		event_names[event]);
}

#define R(from, on, act, to, alt, err)                                         \
	{ AG_CL_##from, AG_CLE_##on, act, #act, AG_CL_##to, AG_CL_##alt, AG_CL_##err }
/* Sorted by `from`; test_fsm checks order, reachability and coverage. */
static const struct fsm_row rows[] = {
/*  from      on      act              to       alt      on_err */
  R(IDLE,     START,  act_start,       RUNNING, RUNNING, IDLE),
  R(IDLE,     FINISH, act_drop_finish, IDLE,    IDLE,    IDLE),
  R(IDLE,     ABORT,  NULL,            IDLE,    IDLE,    IDLE),
  R(RUNNING,  WAIT,   act_wait,        WAITING, WAITING, IDLE),
  R(RUNNING,  RESUME, NULL,            RUNNING, RUNNING, IDLE),
  R(RUNNING,  FATAL,  act_fatal,       FATAL,   FATAL,   IDLE),
  R(RUNNING,  FINISH, act_finish,      IDLE,    IDLE,    IDLE),
  R(RUNNING,  ABORT,  act_abort,       IDLE,    IDLE,    IDLE),
  R(WAITING,  WAIT,   act_wait,        WAITING, WAITING, IDLE),
  R(WAITING,  RESUME, NULL,            RUNNING, RUNNING, IDLE),
  R(WAITING,  FATAL,  act_fatal,       FATAL,   FATAL,   IDLE),
  R(WAITING,  FINISH, act_finish,      IDLE,    IDLE,    IDLE),
  R(WAITING,  ABORT,  act_abort,       IDLE,    IDLE,    IDLE),
  R(FATAL,    RESUME, NULL,            FATAL,   FATAL,   IDLE),
  R(FATAL,    FATAL,  NULL,            FATAL,   FATAL,   IDLE),
  R(FATAL,    FINISH, act_finish,      IDLE,    IDLE,    IDLE),
  R(FATAL,    ABORT,  act_abort,       IDLE,    IDLE,    IDLE),
};
#undef R

const struct fsm_def ag_call_fsm = {
	.name = "tool call",
	.doc = "One agent's running tool call. START when the agent dispatches "
	       "it; WAIT and RESUME around a service the coroutine waits for "
	       "(AwaitAgent, a question, SendUserFile); FATAL when a service "
	       "fails the session (the task is then killed); FINISH when the "
	       "task's result is in, which posts TOOL_DONE to the agent; ABORT "
	       "on interrupt or shutdown; a completion after ABORT is "
	       "dropped.",
	.states = state_names,
	.n_states = AG_CL__COUNT,
	.events = event_names,
	.n_events = AG_CLE__COUNT,
	.rows = rows,
	.n_rows = (int)SL_ARRAY_LEN(rows),
	.undefined = undefined_pair,
};

/* ---- pending service calls and the services router -------------------------- */

void ag_pending_finish(struct ag_pending *p, struct jv *result, const char *err, int fatal)
{
	if (!p || !p->live) {
		jv_unref(result);
		return;
	}
	p->live = 0;
	/* The move first: the coroutine resumes inside done(). */
	if (p->agent)
		call_step(p->agent, fatal ? AG_CLE_FATAL : AG_CLE_RESUME, (void *)err);
	p->done(p->token, result, err, fatal);
}

static struct ag_pending *pending_new(struct ag_agent *a, enum ag_wait what, lh_done_fn done,
				      void *token)
{
	struct ag_pending *p = sl_xcalloc(1, sizeof *p);
	p->agent = a;
	p->done = done;
	p->token = token;
	p->what = what;
	p->live = 1;
	call_step(a, AG_CLE_WAIT, p);
	return p;
}

/* The service refused synchronously: the primitive returns nil, err and
 * the coroutine runs on. */
static void pending_drop(struct ag_pending *p)
{
	if (p->live) {
		p->live = 0;
		call_step(p->agent, AG_CLE_RESUME, NULL);
	}
}

struct helper_call {
	struct ag_agent *a;
	lh_done_fn done;
	void *token;
};

static void helper_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct helper_call *hc = ud;
	if (fatal)
		call_step(hc->a, AG_CLE_FATAL, (void *)(err ? err : "helper connection closed"));
	hc->done(hc->token, result ? jv_ref(result) : NULL, err, fatal);
	free(hc);
}

static void send_file_read_done(struct run_ctx *rc, struct jv *out)
{
	struct ag_agent *a = rc->a;
	struct ag_session *s = a->sess;
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str(a->id));
	jv_set(body, "owner", jv_str(ag_owner_name(AG_OWNER_SANDBOX)));
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
	jv_set(rc->call, "id", jv_strf("%s-read", jv_get_str(a->call.cur, "id")));
	jv_set(rc->call, "name", jv_str("Read"));
	struct jv *in = jv_obj();
	jv_set(in, "path", jv_str(path));
	jv_set(rc->call, "input", in);
	rc->owner = AG_OWNER_SANDBOX;
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
		struct ag_pending *p = pending_new(a, AG_WAIT_AWAIT, done, token);
		rc = ag_sub_await(a, args, p, err);
		jv_unref(args);
		if (rc)
			pending_drop(p);
		return rc;
	}
	if (!strcmp(service, "frontend.ask")) {
		struct ag_pending *p = pending_new(a, AG_WAIT_ASK, done, token);
		if (!s->frontend->ops->ask) {
			pending_drop(p);
			jv_unref(args);
			return sl_err_set(err, SL_EUNAVAIL, "this frontend cannot ask questions");
		}
		rc = s->frontend->ops->ask(s->frontend, a->id, args, p, err);
		jv_unref(args);
		if (rc) {
			pending_drop(p);
			ag_frontend_error(s, err->msg);
		}
		return rc;
	}
	if (!strcmp(service, "frontend.send_file")) {
		struct ag_pending *p = pending_new(a, AG_WAIT_SEND_FILE, done, token);
		rc = send_file(a, args, p, err);
		jv_unref(args);
		if (rc)
			pending_drop(p);
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

static void services_note(void *ud, const char *msg)
{
	ag_note(ud, "%s", msg);
}

void ag__services(struct ag_session *s, struct lh_services *svc)
{
	*svc = (struct lh_services){ .ud = s, .call = services_call, .note = services_note,
				     .deterministic = s->opt.deterministic };
}

/* ---- uploads (replay.md 2.3) ------------------------------------------------ */

static void upload_done(struct run_ctx *rc, struct jv *out)
{
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str("harness"));
	jv_set(body, "owner", jv_str(ag_owner_name(AG_OWNER_SANDBOX)));
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
	rc->owner = AG_OWNER_SANDBOX;
	rc->then = upload_done;
	struct sl_err err = { 0 };
	if (run_tool(rc, w, in, &err) < 0)
		ag_script_failure(s, "%s", err.msg);
}
