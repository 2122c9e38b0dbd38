/*
 * lh_int.h: what the Lua host's files share and nobody else sees — the
 * state struct, the per-call budget bookkeeping, the task record and the
 * registry keys of the JSON marks.
 */
#ifndef LH_INT_H
#define LH_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "luahost/lh.h"

#define LH_HOOK_EVERY 1000 /* instructions between count-hook calls */
#define LH_MAX_DEPTH 128   /* nesting of Lua <-> JSON conversion */

struct lh_task;

struct lh_state {
	lua_State *L;            /* owned */
	enum lh_kind kind;
	struct lh_services svc;  /* copy; all-NULL when none given */
	int has_svc;
	char *lua_dir;           /* owned or NULL */
	/* Allocator accounting (lh_alloc). */
	size_t mem_used, mem_cap;
	int mem_exceeded;        /* sticky for the current call */
	int mem_soft;            /* mem_exceeded set by the latest failure */
	void *fail_ptr;          /* last failed request (see lh_alloc) */
	size_t fail_size;
	uint64_t instr_per_call, instr_load; /* configured budgets */
	/* Budget of the call or task slice in progress. */
	uint64_t instr_used, instr_budget;
	int killed;              /* sticky: budget overrun or fatal service error */
	char kill_msg[256];
	const char *script;      /* name used in limit messages (borrowed) */
	char script_buf[256];
	int depth;               /* nesting of calls / resumes into Lua */
	int64_t clock_start_ms;  /* os.clock origin */
	struct lh_task *tasks;   /* live and zombie tasks */
	struct lh_task *ready_head, *ready_tail; /* completions to resume */
	lua_State *pending_L;    /* set while an async primitive waits for a
				    synchronous completion (see lh_task.c) */
};

/* Saved per-call bookkeeping, so nested calls into one state do not
 * clobber each other's budget. */
struct lh_frame {
	uint64_t instr_used, instr_budget;
	int killed, mem_exceeded;
	const char *script;
	char kill_msg[256];
	char script_buf[256];
};

/* Fault injection for tests (STYLE.md 7): when >= 0, that many more
 * growing allocations succeed, then every one fails. */
extern long lh__fail_after;

void lh__frame_enter(struct lh_state *st, struct lh_frame *f, uint64_t budget,
		     const char *script);
void lh__frame_leave(struct lh_state *st, struct lh_frame *f);
void lh__kill(struct lh_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lh__arm_hook(lua_State *L);
/* Error message for a failed call: kill / memory flags first, then the
 * Lua error value on top of the stack (not popped). */
void lh__call_error(struct lh_state *st, lua_State *L, int rc, struct sl_err *err);
/* Runs fn(L) with ud as its only light-userdata argument in protected mode
 * on L. Returns the lua_pcall code; the error value is left on the stack. */
int lh__pcall_c(lua_State *L, lua_CFunction fn, void *ud, int nres);

struct lh_state *lh__from_L(lua_State *L);
/* Script name from a function's source ("@path" -> "path"). */
void lh__set_script_from_fn(struct lh_state *st, lua_State *L, int idx);

/* The JSON mark metatables and null sentinel. */
extern const char lh__null_key, lh__array_key, lh__object_key, lh__secret_key;
void lh__push_null(lua_State *L);
int lh__is_null(lua_State *L, int idx);
void lh__json_init(lua_State *L);
/* Pushes v (protected), unrefs it, re-raises a push failure. */
void lh__push_jv_unref(lua_State *L, struct jv *v);

/* Registry keys and the restricted base functions (lh_base.c). */
#define LH_MAX_SCRIPT (16u << 20)
extern const char lh__G_key, lh__envmt_key, lh__loaded_key;
void lh__push_env(lua_State *L);
int lh__l_load(lua_State *L);
int lh__l_collectgarbage(lua_State *L);
int lh__l_require(lua_State *L);
int lh__l_xpcall(lua_State *L);
int lh__l_setmetatable(lua_State *L);

/* string.find/match/gmatch/gsub with budgeted matching (lh_match.c). */
void lh__install_match(lua_State *L);
/* string.rep / table.move wrappers for loops that run in C (lh_base.c). */
void lh__install_loop_guards(lua_State *L);

/* Module openers (each pushes one module table). */
int lh__open_json(lua_State *L);
int lh__open_log(lua_State *L);
int lh__open_clock(lua_State *L);
int lh__open_journal(lua_State *L);
int lh__open_b64(lua_State *L);
int lh__open_utf8(lua_State *L);
int lh__open_os(lua_State *L);
int lh__open_helper(lua_State *L);
int lh__open_agent(lua_State *L);
int lh__open_frontend(lua_State *L);
int lh__open_session(lua_State *L);
int lh__l_secret(lua_State *L);
int lh__l_print(lua_State *L);
void lh__secret_meta(lua_State *L);

/* Registered backend modules (lh_register_backend_module). */
size_t lh__backend_module_count(void);
const char *lh__backend_module_name(size_t i);
lua_CFunction lh__backend_module_opener(size_t i);

/* Tasks. */
void lh__tasks_free_all(struct lh_state *st);
void lh__drain_ready(struct lh_state *st);

int64_t lh__now_ms(struct lh_state *st);

#endif
