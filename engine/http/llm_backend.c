/*
 * llm_backend: the engine's handle on one Lua LLM backend (llm.h). It owns
 * a backend Lua state, the HTTP client of that backend, and the calls in
 * flight. A call runs the script's complete(req, opts) as a Lua host task;
 * the script's silo.http requests come back here as the "http.wait"
 * service and go to hc_lua. What the script returns is checked for shape
 * only (a table with a content list, or nil + an error table with a known
 * class); usage validation, metering, quotas and retries are the engine's.
 */
#include "http/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "http/hc.h"
#include "http/hc_lua.h"
#include "http/llm_local.h"
#include "http/ws_lua.h"
#include "luahost/lh.h"

struct llm_call {
	struct llm *l;          /* borrowed */
	int id;
	struct lh_task *task;   /* NULL once finished */
	llm_done_fn done;
	void *ud;
	int returned;           /* llm_complete has returned */
	struct jv *early_resp, *early_err; /* finished before it returned */
	int early;
	uv_idle_t *kick;        /* delivers an early finish from the loop */
	struct jv *parked_req, *parked_opts; /* waiting for the local server */
	struct llm_call *next;
};

struct llm {
	uv_loop_t *loop;        /* borrowed */
	char *name, *model, *base_url, *key_env, *ca_file; /* owned */
	char *id;               /* owned */
	struct jv *pricing;     /* owned */
	struct lh_state *st;    /* owned */
	int ref;                /* the script's table */
	struct hc *hc;          /* owned */
	long timeout_ms;
	int stream;
	void (*note)(void *, const char *);
	void *note_ud;
	struct llm_call *calls;
	int next_id;
	struct llm_local *local; /* managed local server, or NULL */
};

static void default_note(void *ud, const char *msg)
{
	SL_UNUSED(ud);
	SL_INFO("llm", "%s", msg);
}

static void note_fwd(void *ud, const char *msg)
{
	struct llm *l = ud;
	l->note(l->note_ud, msg);
}

static int svc_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		    lh_done_fn done, void *token, struct sl_err *err)
{
	struct llm *l = ud;
	if (!strcmp(service, "http.wait"))
		return hc_lua_service(l->hc, task_ctx, l->ca_file, args, done, token, note_fwd,
				      l, err);
	if (!strcmp(service, "ws.wait"))
		return ws_lua_service(l->loop, task_ctx, l->ca_file, args, done, token, note_fwd,
				      l, err);
	jv_unref(args);
	return sl_err_set(err, SL_EDENIED, "%s: not available to LLM backends", service);
}

static void svc_note(void *ud, const char *msg)
{
	struct llm *l = ud;
	char *m = sl_xasprintf("backend %s: %s", l->name, msg);
	l->note(l->note_ud, m);
	free(m);
}

static const char *default_key_env(const char *name)
{
	if (!strcmp(name, "anthropic"))
		return "ANTHROPIC_API_KEY";
	if (!strcmp(name, "openai") || !strcmp(name, "openai-ws"))
		return "OPENAI_API_KEY";
	return NULL;
}

static int valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

struct llm *llm_new(uv_loop_t *loop, const char *backend_name, const char *model,
		    const char *base_url, const char *api_key_env, const char *lua_dir,
		    struct sl_err *err)
{
	if (!valid_name(backend_name)) {
		sl_err_set(err, SL_EINVAL, "llm: bad backend name '%s'",
			   backend_name ? backend_name : "");
		return NULL;
	}
	if (!lua_dir) {
		sl_err_set(err, SL_EINVAL, "llm: no Lua directory");
		return NULL;
	}
	char *path = sl_xasprintf("%s/backends/%s.lua", lua_dir, backend_name);
	if (access(path, R_OK) != 0) {
		sl_err_set(err, SL_ENOENT, "llm: unknown backend '%s' (no %s)", backend_name, path);
		free(path);
		return NULL;
	}
	const char *key_env = api_key_env && *api_key_env ? api_key_env
							   : default_key_env(backend_name);
	if (key_env && lh_secret_allow(key_env, err) < 0) {
		/* a backend without its key cannot work: say so at start */
		sl_err_prefix(err, "llm %s: API key", backend_name);
		if (err)
			err->code = SL_EUSAGE;
		free(path);
		return NULL;
	}
	hc_lua_register();
	ws_lua_register();
	struct llm *l = sl_xcalloc(1, sizeof *l);
	l->loop = loop;
	l->name = sl_xstrdup(backend_name);
	l->model = model && *model ? sl_xstrdup(model) : NULL;
	l->base_url = base_url && *base_url ? sl_xstrdup(base_url) : NULL;
	l->key_env = key_env ? sl_xstrdup(key_env) : NULL;
	l->stream = 1;
	l->note = default_note;
	l->next_id = 1;
	l->ref = LUA_NOREF;
	struct lh_services svc = { .ud = l, .call = svc_call, .note = svc_note };
	l->st = lh_new(LH_BACKEND, NULL, &svc, lua_dir, err);
	if (!l->st)
		goto fail;
	if (lh_load_file(l->st, path, &l->ref, err) < 0)
		goto fail;
	struct jv *m = l->model ? jv_str(l->model) : jv_null();
	const struct jv *args[1] = { m };
	struct jv *idv = NULL;
	int rc = lh_call_field(l->st, l->ref, "id", args, 1, &idv, err);
	if (rc < 0 || !jv_str_val(idv) || !*jv_str_val(idv)) {
		if (rc >= 0)
			sl_err_set(err, SL_ESCRIPT, "%s: id(model) must return a non-empty string",
				   path);
		jv_unref(m);
		jv_unref(idv);
		goto fail;
	}
	l->id = sl_xstrdup(jv_str_val(idv));
	jv_unref(idv);
	rc = lh_call_field(l->st, l->ref, "pricing", args, 1, &l->pricing, err);
	jv_unref(m);
	if (rc == SL_ENOENT) {
		l->pricing = jv_null();
	} else if (rc < 0) {
		goto fail;
	} else if (!l->pricing) {
		l->pricing = jv_null();
	} else if (!jv_is(l->pricing, JV_NULL) && !jv_is(l->pricing, JV_ARRAY)) {
		sl_err_set(err, SL_ESCRIPT, "%s: pricing(model) must return a list of rows or nil",
			   path);
		goto fail;
	}
	l->hc = hc_new(loop);
	free(path);
	return l;
fail:
	sl_err_prefix(err, "llm backend %s", backend_name);
	free(path);
	llm_free(l);
	return NULL;
}

void llm_set_options(struct llm *l, long timeout_ms, int stream, const char *ca_file)
{
	l->timeout_ms = timeout_ms;
	l->stream = stream;
	free(l->ca_file);
	l->ca_file = ca_file ? sl_xstrdup(ca_file) : NULL;
}

void llm_set_note(struct llm *l, void (*note)(void *ud, const char *msg), void *ud)
{
	l->note = note ? note : default_note;
	l->note_ud = ud;
}

static void call_unlink(struct llm_call *c)
{
	for (struct llm_call **pp = &c->l->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void kick_closed(uv_handle_t *h)
{
	free(h);
}

static void call_free(struct llm_call *c)
{
	call_unlink(c);
	jv_unref(c->parked_req);
	jv_unref(c->parked_opts);
	if (c->kick)
		uv_close((uv_handle_t *)c->kick, kick_closed);
	jv_unref(c->early_resp);
	jv_unref(c->early_err);
	free(c);
}

static struct jv *mk_err(const char *class, const char *msg)
{
	struct jv *e = jv_obj();
	jv_set(e, "class", jv_str(class));
	jv_set(e, "message", jv_str(msg));
	return e;
}

static int known_class(const char *c)
{
	static const char *const classes[] = { "transport", "api", "quota", "config",
					       "malformed", NULL };
	for (int i = 0; c && classes[i]; i++)
		if (!strcmp(c, classes[i]))
			return 1;
	return 0;
}

/* Sorts what the task produced into (resp, err). */
static void classify(struct llm *l, struct jv *result, const char *errmsg, struct jv **resp,
		     struct jv **err)
{
	char buf[600];
	*resp = *err = NULL;
	if (errmsg) {
		snprintf(buf, sizeof buf, "backend %s: script error: %s", l->name, errmsg);
		*err = mk_err("malformed", buf);
	} else if (jv_is(result, JV_ARRAY) && jv_len(result) == 2 &&
		   jv_is(jv_at(result, 0), JV_NULL)) {
		struct jv *e = jv_at(result, 1);
		if (jv_is(e, JV_OBJECT) && known_class(jv_get_str(e, "class")) &&
		    jv_get_str(e, "message")) {
			*err = jv_ref(e);
		} else if (jv_is(e, JV_STRING)) {
			*err = mk_err("malformed", jv_str_val(e));
		} else {
			snprintf(buf, sizeof buf,
				 "backend %s: complete returned nil with an error that has no "
				 "known class and message", l->name);
			*err = mk_err("config", buf);
		}
	} else if (jv_is(result, JV_OBJECT) && jv_is(jv_get(result, "content"), JV_ARRAY)) {
		*resp = jv_ref(result);
	} else {
		snprintf(buf, sizeof buf,
			 "backend %s: complete must return {content = {...}, ...} or nil, err",
			 l->name);
		*err = mk_err("config", buf);
	}
	jv_unref(result);
}

static void kick_cb(uv_idle_t *h)
{
	struct llm_call *c = h->data;
	uv_idle_stop(h);
	struct jv *resp = c->early_resp, *err = c->early_err;
	c->early_resp = c->early_err = NULL;
	llm_done_fn done = c->done;
	void *ud = c->ud;
	call_free(c);
	done(ud, resp, err);
}

static void task_done(void *ud, struct jv *result, const char *errmsg)
{
	struct llm_call *c = ud;
	struct jv *resp, *err;
	c->task = NULL;
	hc_lua_cancel_owner(c); /* anything the script left behind */
	ws_lua_cancel_owner(c);
	classify(c->l, result, errmsg, &resp, &err);
	if (!c->returned) {
		/* Never call back from inside llm_complete: defer to the loop. */
		c->early = 1;
		c->early_resp = resp;
		c->early_err = err;
		c->kick = sl_xmalloc(sizeof *c->kick);
		uv_idle_init(c->l->loop, c->kick);
		c->kick->data = c;
		uv_idle_start(c->kick, kick_cb);
		return;
	}
	llm_done_fn done = c->done;
	void *cud = c->ud;
	call_free(c);
	done(cud, resp, err);
}

/* Finishes c with an error from the loop (never inside llm_complete). */
static void fail_later(struct llm_call *c, const char *class, const char *msg)
{
	c->task = NULL;
	c->early_err = mk_err(class, msg);
	c->kick = sl_xmalloc(sizeof *c->kick);
	uv_idle_init(c->l->loop, c->kick);
	c->kick->data = c;
	uv_idle_start(c->kick, kick_cb);
}

static void call_run(struct llm_call *c, struct jv *req, struct jv *opts)
{
	struct llm *l = c->l;
	c->task = (struct lh_task *)1; /* running: task_done clears it */
	struct lh_task *t = lh_task_start(l->st, l->ref, "complete", req, opts, c, task_done, c);
	jv_unref(req);
	jv_unref(opts);
	/* c may have finished already (then it waits for kick_cb) */
	for (struct llm_call *q = l->calls; q; q = q->next) {
		if (q == c) {
			if (c->task)
				c->task = t;
			break;
		}
	}
}

int llm_complete(struct llm *l, const struct jv *request, llm_done_fn done, void *ud)
{
	if (!jv_is(request, JV_OBJECT) || !jv_is(jv_get(request, "messages"), JV_ARRAY))
		return SL_EINVAL;
	struct jv *req = jv_copy(request);
	if (!jv_get_str(req, "model") && l->model)
		jv_set(req, "model", jv_str(l->model));
	struct jv *opts = jv_obj();
	if (l->base_url)
		jv_set(opts, "base_url", jv_str(l->base_url));
	if (l->key_env && lh_secret_value(l->key_env))
		jv_set(opts, "api_key_env", jv_str(l->key_env));
	jv_set(opts, "timeout_ms", jv_int(l->timeout_ms > 0 ? l->timeout_ms : 600000));
	jv_set(opts, "stream", jv_bool(l->stream));
	struct llm_call *c = sl_xcalloc(1, sizeof *c);
	c->l = l;
	c->id = l->next_id++;
	if (l->next_id <= 0)
		l->next_id = 1;
	c->done = done;
	c->ud = ud;
	c->next = l->calls;
	l->calls = c;
	int id = c->id;
	const char *why = NULL;
	enum llm_local_state ls = l->local ? llm_local_state(l->local, &why) : LLM_LOCAL_READY;
	if (ls == LLM_LOCAL_STARTING) {
		c->parked_req = req; /* started when the server is ready */
		c->parked_opts = opts;
	} else if (ls == LLM_LOCAL_DEAD) {
		jv_unref(req);
		jv_unref(opts);
		char msg[400];
		snprintf(msg, sizeof msg, "transport: %s", why && *why ? why : "local server is down");
		fail_later(c, "transport", msg);
	} else {
		call_run(c, req, opts);
	}
	c->returned = 1;
	return id;
}

static void local_state(void *ud, enum llm_local_state st, const char *why)
{
	struct llm *l = ud;
	if (st == LLM_LOCAL_STARTING)
		return;
	/* run or fail what waited for the server */
	for (struct llm_call *c = l->calls; c; c = c->next) {
		if (!c->parked_req)
			continue;
		struct jv *req = c->parked_req, *opts = c->parked_opts;
		c->parked_req = c->parked_opts = NULL;
		if (st == LLM_LOCAL_READY) {
			call_run(c, req, opts);
		} else {
			char msg[400];
			jv_unref(req);
			jv_unref(opts);
			snprintf(msg, sizeof msg, "transport: %s", why ? why : "local server is down");
			fail_later(c, "transport", msg);
		}
	}
}

int llm_manage_server(struct llm *l, const char *command, long ready_timeout_ms,
		      struct sl_err *err)
{
	if (l->local)
		return sl_err_set(err, SL_ESTATE, "llm: a local server is already managed");
	const char *base = l->base_url ? l->base_url : "http://127.0.0.1:8080";
	l->local = llm_local_new(l->loop, l->hc, command, base, ready_timeout_ms, note_fwd,
				 local_state, l, err);
	return l->local ? 0 : (err ? err->code : SL_EINVAL);
}

static void cancel(struct llm_call *c)
{
	if (c->task) {
		lh_task_abort(c->task);
		c->task = NULL;
	}
	hc_lua_cancel_owner(c);
	ws_lua_cancel_owner(c);
	call_free(c);
}

void *llm_cancel_call(struct llm *l, int call_id)
{
	for (struct llm_call *c = l->calls; c; c = c->next) {
		if (c->id == call_id) {
			void *ud = c->ud;
			cancel(c);
			return ud;
		}
	}
	return NULL;
}

void llm_cancel(struct llm *l)
{
	while (l->calls)
		cancel(l->calls);
}

const char *llm_id(struct llm *l)
{
	return l->id;
}

struct jv *llm_pricing(struct llm *l)
{
	return l->pricing;
}

int llm_active(struct llm *l)
{
	int n = 0;
	for (struct llm_call *c = l->calls; c; c = c->next)
		n++;
	return n;
}

void llm_free(struct llm *l)
{
	if (!l)
		return;
	llm_cancel(l);
	llm_local_free(l->local);
	if (l->st) {
		if (l->ref != LUA_NOREF)
			lh_unref(l->st, l->ref);
		lh_free(l->st);
	}
	hc_free(l->hc);
	jv_unref(l->pricing);
	free(l->name);
	free(l->model);
	free(l->base_url);
	free(l->key_env);
	free(l->ca_file);
	free(l->id);
	free(l);
}
