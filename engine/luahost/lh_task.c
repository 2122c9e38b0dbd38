/*
 * lh_task.c: coroutine tasks and the async engine primitives (silo.helper,
 * silo.agent, silo.frontend, silo.session). A task runs table[fn](arg, ctx)
 * in its own coroutine; a primitive hands a JSON request to
 * lh_services.call() and yields until the engine calls the done function.
 *
 * Completion may arrive three ways, and none of them resumes a coroutine
 * from inside another resume of the same state:
 *  - synchronously, inside services.call() of the very primitive waiting
 *    for it: the primitive returns the result without yielding;
 *  - while some Lua code of this state runs (depth > 0): the task is queued
 *    and resumed once the outermost call or resume returns;
 *  - from the event loop with the state idle: resumed at once.
 * The instruction budget of a task is the total over all its slices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sl_helper_ops.h"
#include "luahost/lh_int.h"

struct lh_task {
	struct lh_state *st;    /* borrowed */
	lua_State *co;          /* borrowed: kept alive by co_ref */
	int co_ref;
	void *task_ctx;
	lh_task_done_fn done;
	void *ud;
	uint64_t instr_used;    /* over all slices */
	int killed;
	char kill_msg[256];
	char script[256];
	/* The outstanding service call. */
	int pending, in_call, sync_done, has_res;
	struct jv *res;         /* owned until delivered */
	int res_is_err, res_fatal;
	char res_err[512];
	int aborted, finishing, queued, running;
	struct lh_task *next, *rnext;
};

static void unlink_task(struct lh_task *t)
{
	struct lh_task **pp;

	for (pp = &t->st->tasks; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	if (t->queued) {
		struct lh_task *prev = NULL;

		for (struct lh_task *q = t->st->ready_head; q; prev = q, q = q->rnext) {
			if (q != t)
				continue;
			if (prev)
				prev->rnext = q->rnext;
			else
				t->st->ready_head = q->rnext;
			if (t->st->ready_tail == t)
				t->st->ready_tail = prev;
			break;
		}
		t->queued = 0;
	}
}

static void free_task(struct lh_task *t)
{
	unlink_task(t);
	if (t->co_ref != LUA_NOREF)
		luaL_unref(t->st->L, LUA_REGISTRYINDEX, t->co_ref);
	jv_unref(t->res);
	free(t);
}

void lh__tasks_free_all(struct lh_state *st)
{
	while (st->tasks)
		free_task(st->tasks);
	st->ready_head = st->ready_tail = NULL;
}

static struct lh_task *task_of(lua_State *L)
{
	return *(struct lh_task **)lua_getextraspace(L);
}

static void finish(struct lh_task *t, struct jv *result, const char *errmsg)
{
	t->finishing = 1;
	if (!t->aborted && t->done)
		t->done(t->ud, result, errmsg);
	else
		jv_unref(result);
	free_task(t);
}

/* Converts what the function returned (nres values on co). */
static struct jv *task_result(struct lh_task *t, int nres, struct sl_err *err)
{
	lua_State *co = t->co;
	int base = lua_gettop(co) - nres + 1;
	struct jv *a, *b;

	if (nres == 0)
		return NULL; /* nothing returned: result NULL, errmsg NULL */
	if (nres >= 2 && !lua_toboolean(co, base) && !lua_isnil(co, base + 1)) {
		/* return nil, err: a soft failure (a backend's nil, {class=...}). */
		b = lh_to_jv(co, base + 1, 0, err);
		if (!b)
			return NULL;
		a = jv_arr();
		jv_push(a, jv_null());
		jv_push(a, b);
		return a;
	}
	return lh_to_jv(co, base, 0, err);
}

static void resume_task(struct lh_task *t, int nargs)
{
	struct lh_state *st = t->st;
	struct lh_frame f;
	struct sl_err err = { 0 };
	struct jv *result = NULL;
	int rc, nres = 0, failed = 0;

	lh__frame_enter(st, &f, st->instr_per_call, t->script);
	st->instr_used = t->instr_used;
	st->killed = t->killed;
	memcpy(st->kill_msg, t->kill_msg, sizeof(st->kill_msg));
	t->running = 1;
	rc = lua_resume(t->co, st->L, nargs, &nres);
	t->running = 0;
	t->instr_used = st->instr_used;
	if (st->killed && !t->killed) {
		t->killed = 1;
		memcpy(t->kill_msg, st->kill_msg, sizeof(t->kill_msg));
	}
	if (t->aborted) {
		lh__frame_leave(st, &f);
		if (!t->pending)
			free_task(t);
		return;
	}
	if (rc == LUA_YIELD && !st->killed && !st->mem_exceeded) {
		lua_pop(t->co, nres);
		lh__frame_leave(st, &f);
		if (t->pending)
			return;
		sl_err_set(&err, SL_ESCRIPT, "%s: coroutine.yield outside a coroutine", t->script);
		failed = 1;
	} else if (rc == LUA_OK && !st->killed && !st->mem_exceeded) {
		result = task_result(t, nres, &err);
		if (!result && nres > 0) {
			sl_err_prefix(&err, "%s: result", t->script);
			failed = 1;
		}
		lh__frame_leave(st, &f);
	} else {
		lh__call_error(st, t->co, rc == LUA_YIELD ? LUA_ERRRUN : rc, &err);
		failed = 1;
		lh__frame_leave(st, &f);
	}
	if (failed && t->pending && !t->has_res) {
		/* A completion is still due: finish now, free when it comes. */
		t->finishing = 1;
		if (t->done)
			t->done(t->ud, NULL, err.msg);
		t->aborted = 1;
		return;
	}
	finish(t, failed ? NULL : result, failed ? err.msg : NULL);
}

void lh__drain_ready(struct lh_state *st)
{
	while (st->depth == 0 && st->ready_head) {
		struct lh_task *t = st->ready_head;

		st->ready_head = t->rnext;
		if (!st->ready_head)
			st->ready_tail = NULL;
		t->queued = 0;
		t->rnext = NULL;
		if (t->aborted)
			free_task(t);
		else
			resume_task(t, 0);
	}
}

/* ---- starting and aborting --------------------------------------------- */

struct start_ctx {
	struct lh_task *t;
	int table_ref;
	const char *fn_name;
	const struct jv *arg, *ctx;
	int missing;
};

static int task_create(lua_State *L)
{
	struct start_ctx *c = lua_touserdata(L, 1);
	struct lh_task *t = c->t;
	lua_Debug ar;

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->table_ref);
	if (!lua_istable(L, -1)) {
		c->missing = 1;
		return 0;
	}
	lua_getfield(L, -1, c->fn_name);
	if (!lua_isfunction(L, -1)) {
		c->missing = 1;
		return 0;
	}
	lua_pushvalue(L, -1);
	if (lua_getinfo(L, ">S", &ar) && ar.source)
		snprintf(t->script, sizeof(t->script), "%s",
			 ar.source + (ar.source[0] == '@' || ar.source[0] == '='));
	t->co = lua_newthread(L); /* tbl fn co */
	*(struct lh_task **)lua_getextraspace(t->co) = t;
	lua_insert(L, -2);        /* tbl co fn */
	lh_push_jv(L, c->arg);
	lh_push_jv(L, c->ctx);
	lua_xmove(L, t->co, 3);   /* tbl co */
	t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

struct lh_task *lh_task_start(struct lh_state *st, int table_ref, const char *fn_name,
			      const struct jv *arg, const struct jv *ctx, void *task_ctx,
			      lh_task_done_fn done, void *ud)
{
	struct lh_task *t = sl_xcalloc(1, sizeof(*t));
	struct start_ctx c = { .t = t, .table_ref = table_ref, .fn_name = fn_name,
			       .arg = arg, .ctx = ctx };
	struct lh_frame f;
	struct sl_err err = { 0 };
	int rc;

	t->st = st;
	t->co_ref = LUA_NOREF;
	t->task_ctx = task_ctx;
	t->done = done;
	t->ud = ud;
	snprintf(t->script, sizeof(t->script), "%s", fn_name);
	t->next = st->tasks;
	st->tasks = t;
	lh__frame_enter(st, &f, st->instr_per_call, t->script);
	rc = lh__pcall_c(st->L, task_create, &c, 0);
	if (rc != LUA_OK) {
		lh__call_error(st, st->L, rc, &err);
		lua_pop(st->L, 1);
	} else if (c.missing) {
		sl_err_set(&err, SL_ENOENT, "%s: no such function", fn_name);
	}
	lh__frame_leave(st, &f);
	if (rc != LUA_OK || c.missing) {
		finish(t, NULL, err.msg);
		return NULL;
	}
	resume_task(t, 2);
	{
		struct lh_task *q = st->tasks;
		int alive;

		while (q && q != t)
			q = q->next;
		alive = q && !t->aborted && !t->finishing;
		if (st->depth == 0)
			lh__drain_ready(st);
		for (q = st->tasks; alive && q && q != t; q = q->next)
			;
		return alive && q ? t : NULL;
	}
}

void lh_task_abort(struct lh_task *t)
{
	if (!t || t->aborted || t->finishing)
		return;
	t->aborted = 1;
	if (t->in_call || t->running)
		return; /* inside its own slice: resume_task frees it afterwards */
	if (t->pending && !t->has_res)
		return; /* the due completion frees it */
	free_task(t);
}

/* ---- completion --------------------------------------------------------- */

static void on_done(void *token, struct jv *result, const char *err, int fatal)
{
	struct lh_task *t = token;
	struct lh_state *st = t->st;

	if (t->aborted) {
		jv_unref(result);
		t->pending = 0;
		if (!t->in_call && !t->running)
			free_task(t);
		return;
	}
	if (!t->pending || t->has_res) {
		jv_unref(result); /* a second completion: ignored */
		return;
	}
	t->has_res = 1;
	t->res = err ? NULL : result;
	if (err) {
		jv_unref(result);
		t->res_is_err = 1;
		snprintf(t->res_err, sizeof(t->res_err), "%s", err);
	}
	t->res_fatal = fatal;
	if (t->in_call) {
		t->sync_done = 1;
		return;
	}
	if (st->depth > 0) {
		t->queued = 1;
		t->rnext = NULL;
		if (st->ready_tail)
			st->ready_tail->rnext = t;
		else
			st->ready_head = t;
		st->ready_tail = t;
		return;
	}
	resume_task(t, 0);
	lh__drain_ready(st);
}

/* Pushes the delivered completion: the result, or nil + message; a fatal
 * error kills the task (pcall cannot catch it). */
static int deliver(lua_State *L, struct lh_task *t)
{
	struct lh_state *st = t->st;
	struct jv *res = t->res;

	t->pending = t->has_res = t->sync_done = 0;
	t->res = NULL;
	if (t->res_fatal) {
		lh__kill(st, "%s", t->res_is_err ? t->res_err : "fatal service error");
		jv_unref(res);
		return luaL_error(L, "%s", st->kill_msg);
	}
	if (t->res_is_err) {
		t->res_is_err = 0;
		luaL_pushfail(L);
		lua_pushstring(L, t->res_err);
		return 2;
	}
	lh__push_jv_unref(L, res);
	return 1;
}

static int svc_k(lua_State *L, int status, lua_KContext ctx)
{
	SL_UNUSED(status);
	SL_UNUSED(ctx);
	return deliver(L, task_of(L));
}

/* Upvalues: 1 = public name ("silo.helper.exec"), 2 = service name. */
static int svc_prim(lua_State *L)
{
	const char *fn = lua_tostring(L, lua_upvalueindex(1));
	const char *service = lua_tostring(L, lua_upvalueindex(2));
	struct lh_task *t = task_of(L);
	struct sl_err err = { 0 };
	struct lh_state *st;
	struct jv *args;
	int rc;

	if (!t || t->co != L || !lua_isyieldable(L) || t->pending)
		return luaL_error(L, "%s: not allowed here", fn);
	st = t->st;
	if (!strcmp(service, "session.shutdown") && !lua_istable(L, 1)) {
		/* shutdown([message]) */
		args = jv_obj();
		if (lua_type(L, 1) == LUA_TSTRING) {
			size_t n;
			const char *m = lua_tolstring(L, 1, &n);

			if (!jv_utf8_valid(m, n)) {
				jv_unref(args);
				return luaL_error(L, "%s: message is not valid UTF-8", fn);
			}
			jv_set(args, "message", jv_strn(m, n));
		} else if (!lua_isnoneornil(L, 1)) {
			jv_unref(args);
			return luaL_error(L, "%s: message must be a string", fn);
		}
	} else {
		args = lh_to_jv(L, 1, 0, &err);
		if (!args)
			return luaL_error(L, "%s: bad argument: %s", fn, err.msg);
	}
	if (!st->has_svc || !st->svc.call) {
		jv_unref(args);
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: no engine service", fn);
		return 2;
	}
	t->pending = 1;
	t->in_call = 1;
	t->sync_done = t->has_res = 0;
	rc = st->svc.call(st->svc.ud, t->task_ctx, service, args, on_done, t, &err);
	t->in_call = 0;
	if (t->aborted)
		return lua_yield(L, 0); /* resume_task sees aborted and frees */
	if (rc < 0) {
		jv_unref(t->res);
		t->res = NULL;
		t->pending = t->has_res = t->sync_done = 0;
		luaL_pushfail(L);
		lua_pushstring(L, err.msg[0] ? err.msg : sl_strerror(rc));
		return 2;
	}
	if (t->sync_done)
		return deliver(L, t);
	return lua_yieldk(L, 0, 0, svc_k);
}

void lh_push_service_fn(lua_State *L, const char *public_name, const char *service)
{
	lua_pushstring(L, public_name);
	lua_pushstring(L, service);
	lua_pushcclosure(L, svc_prim, 2);
}

static void add_prim(lua_State *L, const char *mod, const char *fn, const char *service)
{
	char name[64];

	snprintf(name, sizeof(name), "silo.%s.%s", mod, fn);
	lh_push_service_fn(L, name, service);
	lua_setfield(L, -2, fn);
}

int lh__open_helper(lua_State *L)
{
	static const struct {
		const char *name;
		int pub;
	} ops[] = {
#define XX(name, eng, wire, payload, pub) { eng, pub },
		SL_HELPER_OP_MAP(XX)
#undef XX
	};

	lua_newtable(L);
	for (size_t i = 0; i < SL_ARRAY_LEN(ops); i++) {
		char svc[32];

		if (!ops[i].pub)
			continue;
		snprintf(svc, sizeof(svc), "helper.%s", ops[i].name);
		add_prim(L, "helper", ops[i].name, svc);
	}
	return 1;
}

int lh__open_agent(lua_State *L)
{
	lua_newtable(L);
	add_prim(L, "agent", "spawn", "agent.spawn");
	add_prim(L, "agent", "await", "agent.await");
	return 1;
}

int lh__open_frontend(lua_State *L)
{
	lua_newtable(L);
	add_prim(L, "frontend", "ask", "frontend.ask");
	add_prim(L, "frontend", "send_file", "frontend.send_file");
	return 1;
}

int lh__open_session(lua_State *L)
{
	lua_newtable(L);
	add_prim(L, "session", "shutdown", "session.shutdown");
	return 1;
}
