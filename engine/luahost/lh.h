/*
 * lh: the Lua host (SPEC.md 4, STYLE.md 6). Sandboxed Lua 5.4 states with a
 * memory cap (counting allocator) and an instruction budget per call that
 * pcall cannot swallow; per-script _ENV; the engine modules of decisions 3.
 *
 * Async model: a tool's run(input, ctx) or a backend's complete(req) runs in
 * a coroutine (an lh_task). An engine primitive that does I/O (silo.helper.*,
 * silo.agent.*, silo.frontend.*, silo.http.*) calls the engine through
 * lh_services.call(), yields, and is resumed when the engine calls the done
 * function it was handed. The Lua host knows nothing of agents or sandboxes.
 */
#ifndef LH_H
#define LH_H

#include <lua.h>
#include <stdint.h>
#include <uv.h>

#include "base/sl.h"
#include "json/jv.h"

/* What a state is for; decides which modules exist (decisions 3, 5). */
enum lh_kind {
	LH_TOOL,    /* tools: silo.* minus http/ws/secret; os time funcs */
	LH_BACKEND, /* LLM backends: + silo.http, silo.ws, silo.secret */
	LH_POLICY,  /* policies: no clock; policy-defined tools run here too */
	LH_FIXTURE, /* fixtures: only `json` (alias of silo.json); no clock */
	LH_CONFIG,  /* --config: empty environment, data only */
	LH_REVIEW,  /* review rules: silo.json, silo.utf8; no clock */
};

struct lh_limits {
	size_t mem_bytes;        /* 0 = 64 MiB */
	uint64_t instr_per_call; /* 0 = 100 million instructions */
	uint64_t instr_load;     /* budget for a chunk's top level; 0 = 10 million */
};

/* Completion handed to the engine with each service call. result is owned
 * by the callee (the Lua host unrefs it); err != NULL makes the primitive
 * return nil, err; fatal != 0 raises an error the script cannot catch and
 * fails the task with err (session-level failure). Safe to call after the
 * task was aborted (then it does nothing). */
typedef void (*lh_done_fn)(void *token, struct jv *result, const char *err, int fatal);

struct lh_services {
	void *ud;
	/* service: "helper.exec", "helper.read", ..., "agent.spawn",
	 * "agent.await", "frontend.ask", "frontend.send_file",
	 * "session.shutdown", "http.request" ... args owned by the callee.
	 * task_ctx is the pointer given to lh_task_start. Returns 0, or <0 with
	 * err (the primitive then returns nil, err without yielding). */
	int (*call)(void *ud, void *task_ctx, const char *service, struct jv *args,
		    lh_done_fn done, void *token, struct sl_err *err);
	/* silo.journal.note(msg) and silo.log.* land here. */
	void (*note)(void *ud, const char *msg);
	/* Session clock for os.time/os.clock/os.date and silo.clock (NULL: real). */
	int64_t (*now_ms)(void *ud);
	int deterministic;
};

struct lh_state;

struct lh_state *lh_new(enum lh_kind kind, const struct lh_limits *lim,
			const struct lh_services *svc, const char *lua_dir /* shipped lua/ */,
			struct sl_err *err);
void lh_free(struct lh_state *st);
lua_State *lh_L(struct lh_state *st);
/* (luahost) Replaces the services of a state created without them (the
 * policy state, whose extra tools run as tasks once the engine is up). */
void lh_set_services(struct lh_state *st, const struct lh_services *svc);

/* Loads a script file: a chunk in its own _ENV that must return a table
 * (decisions 1). Text only. Leaves nothing on the stack; returns a registry
 * ref to the table in *ref. Errors name the file and line. */
int lh_load_file(struct lh_state *st, const char *path, int *ref, struct sl_err *err);
int lh_load_string(struct lh_state *st, const char *chunkname, const char *src,
		   size_t n, int *ref, struct sl_err *err);
void lh_unref(struct lh_state *st, int ref);

/* Lua <-> JSON (replay.md 5.2: json.null, json.array/json.object marks;
 * unmarked empty table -> object; 1..n -> array; string keys -> object;
 * mixed -> error; functions -> error unless allow_fn, then skipped). */
void lh_push_jv(lua_State *L, const struct jv *v);
struct jv *lh_to_jv(lua_State *L, int idx, int allow_fn, struct sl_err *err);

/* Synchronous call of fn_ref(arg) under the instruction budget (policy
 * hooks, fixture predicates, review rules). *ret (may be NULL) receives the
 * first result as JSON (functions not allowed). */
int lh_call(struct lh_state *st, int fn_ref, const struct jv *arg, struct jv **ret,
	    struct sl_err *err);
/* Same with the function found as field `name` of table ref; SL_ENOENT when
 * absent. Up to 3 arguments. */
int lh_call_field(struct lh_state *st, int table_ref, const char *name,
		  const struct jv *const *args, int nargs, struct jv **ret,
		  struct sl_err *err);

/* One coroutine running table_ref[fn_name](arg, ctx). done() is called
 * exactly once (possibly before lh_task_start returns) with the returned
 * value as JSON (a new reference owned by done; NULL when nothing was
 * returned or on error), or errmsg on a Lua error / budget / memory
 * overrun. The task frees itself after done returns. A function that
 * returns `nil, e` (e not nil) delivers the array [null, e] (a backend's
 * soft failure). lh_task_start returns NULL when the task has already
 * finished (done was called). */
struct lh_task;
typedef void (*lh_task_done_fn)(void *ud, struct jv *result, const char *errmsg);
struct lh_task *lh_task_start(struct lh_state *st, int table_ref, const char *fn_name,
			      const struct jv *arg, const struct jv *ctx, void *task_ctx,
			      lh_task_done_fn done, void *ud);
/* Abandons a suspended task: done is not called; a pending service
 * completion for it becomes a no-op. */
void lh_task_abort(struct lh_task *t);

/* Secrets (decisions 6): names fixed before start; values stay in C. */
int lh_secret_allow(const char *env_name, struct sl_err *err);
/* Looks up a secret handle's value for header substitution in C (http). */
const char *lh_secret_value(const char *env_name);
void lh_secrets_wipe(void);
/* (luahost) For engine/http: the env name of the secret handle at idx (NULL
 * if it is not one) and its format ("{secret}" by default, e.g. "Bearer
 * {secret}"); lh_secret_render returns the malloc'd header value with the
 * secret substituted, NULL if not a handle or not allowed. */
const char *lh_secret_check(lua_State *L, int idx, const char **format);
char *lh_secret_render(lua_State *L, int idx);

/* (luahost) Adds module `name` (silo.http, silo.ws) to every LH_BACKEND
 * state created afterwards; opener pushes the module table. */
void lh_register_backend_module(const char *name, lua_CFunction opener);

/* For C modules of backend states (engine/http: silo.http, silo.ws),
 * registered with lh_register_backend_module: pushes a function that, called
 * in a task, converts its first argument to JSON, hands it to
 * services.call(service) and yields until done, exactly like silo.helper.*
 * (result, or nil + message). public_name appears in error messages. */
void lh_push_service_fn(lua_State *L, const char *public_name, const char *service);

#endif
