/*
 * lh_state.c: sandboxed Lua states. The counting allocator (cap, sticky
 * "memory limit exceeded"), the instruction budget (a count hook that, once
 * it has killed a call, fires on every instruction so pcall cannot swallow
 * the kill), the globals each kind of state gets, per-script _ENV tables
 * that read a frozen API and refuse new globals, the restricted load and
 * require, and the synchronous call API. The restricted base functions
 * live in lh_base.c, budgeted pattern matching in lh_match.c, the data
 * modules and JSON conversion in lh_conv.c, the small engine modules and
 * secrets in lh_mods.c, coroutine tasks and the async modules in lh_task.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>

#include "luahost/lh_int.h"

#define LH_DEFAULT_MEM (64u << 20)
#define LH_DEFAULT_INSTR 100000000ull
#define LH_DEFAULT_LOAD 10000000ull

const char lh__G_key = 0;      /* registry: the readable globals */
const char lh__envmt_key = 0;  /* registry: metatable of every _ENV */
const char lh__loaded_key = 0; /* registry: require cache */

/* ---- allocator --------------------------------------------------------- */

/* Any refused allocation sets the sticky flag (lauxlib's buffers do not
 * retry, and a script may catch the error). Lua itself retries a failed
 * allocation once after an emergency collection; when that identical retry
 * succeeds, the flag it set is withdrawn. */
long lh__fail_after = -1;

static void *lh_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lh_state *st = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		if (ptr) {
			st->mem_used -= osize;
			free(ptr);
		}
		return NULL;
	}
	if (lh__fail_after >= 0 && nsize > old) {
		if (lh__fail_after == 0)
			goto fail;
		lh__fail_after--;
	}
	if (nsize > old && (st->mem_used - old + nsize > st->mem_cap ||
			    st->mem_used - old + nsize < st->mem_used - old)) {
		goto fail;
	}
	p = realloc(ptr, nsize);
	if (!p)
		goto fail;
	st->mem_used = st->mem_used - old + nsize;
	if (st->mem_soft && ptr == st->fail_ptr && nsize == st->fail_size)
		st->mem_exceeded = 0; /* Lua's retry after an emergency GC worked */
	st->mem_soft = 0;
	st->fail_ptr = NULL;
	st->fail_size = 0;
	return p;
fail:
	if (!st->mem_exceeded) {
		st->mem_exceeded = 1;
		st->mem_soft = 1;
	}
	st->fail_ptr = ptr;
	st->fail_size = nsize;
	return NULL;
}

struct lh_state *lh__from_L(lua_State *L)
{
	void *ud = NULL;

	lua_getallocf(L, &ud);
	return ud;
}

static int lh_panic(lua_State *L)
{
	const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";

	SL_ERROR("lua", "unprotected Lua error: %s", m);
	abort();
}

/* ---- instruction budget ----------------------------------------------- */

static void lh_hook(lua_State *L, lua_Debug *ar)
{
	struct lh_state *st = lh__from_L(L);
	int cnt = lua_gethookcount(L);

	SL_UNUSED(ar);
	if (st->killed) {
		lua_sethook(L, lh_hook, LUA_MASKCOUNT, 1);
		luaL_error(L, "%s", st->kill_msg);
		return;
	}
	if (cnt != LH_HOOK_EVERY)
		lua_sethook(L, lh_hook, LUA_MASKCOUNT, LH_HOOK_EVERY);
	st->instr_used += (uint64_t)cnt;
	if (st->instr_budget && st->instr_used > st->instr_budget) {
		lh__kill(st, "%s: instruction budget exceeded",
			 st->script ? st->script : "script");
		lua_sethook(L, lh_hook, LUA_MASKCOUNT, 1);
		luaL_error(L, "%s", st->kill_msg);
	}
}

void lh__arm_hook(lua_State *L)
{
	lua_sethook(L, lh_hook, LUA_MASKCOUNT, LH_HOOK_EVERY);
}

void lh__kill(struct lh_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->killed)
		return;
	va_start(ap, fmt);
	vsnprintf(st->kill_msg, sizeof(st->kill_msg), fmt, ap);
	va_end(ap);
	st->killed = 1;
}

void lh__frame_enter(struct lh_state *st, struct lh_frame *f, uint64_t budget,
		     const char *script)
{
	f->instr_used = st->instr_used;
	f->instr_budget = st->instr_budget;
	f->killed = st->killed;
	f->mem_exceeded = st->mem_exceeded;
	memcpy(f->kill_msg, st->kill_msg, sizeof(f->kill_msg));
	memcpy(f->script_buf, st->script_buf, sizeof(f->script_buf));
	f->script = st->script;
	st->instr_used = 0;
	st->instr_budget = budget;
	st->killed = 0;
	st->mem_exceeded = 0;
	st->fail_ptr = NULL;
	st->fail_size = 0;
	st->mem_soft = 0;
	st->kill_msg[0] = 0;
	snprintf(st->script_buf, sizeof(st->script_buf), "%s", script ? script : "script");
	st->script = st->script_buf;
	st->depth++;
	lh__arm_hook(st->L);
}

void lh__frame_leave(struct lh_state *st, struct lh_frame *f)
{
	st->instr_used = f->instr_used;
	st->instr_budget = f->instr_budget;
	st->killed = f->killed;
	st->mem_exceeded = f->mem_exceeded;
	memcpy(st->kill_msg, f->kill_msg, sizeof(st->kill_msg));
	memcpy(st->script_buf, f->script_buf, sizeof(st->script_buf));
	st->script = f->script ? st->script_buf : NULL;
	st->depth--;
	if (!st->killed)
		lh__arm_hook(st->L);
}

static void set_script_name(struct lh_state *st, const char *src)
{
	if (src[0] == '@' || src[0] == '=')
		src++;
	snprintf(st->script_buf, sizeof(st->script_buf), "%s", src);
	st->script = st->script_buf;
}

void lh__set_script_from_fn(struct lh_state *st, lua_State *L, int idx)
{
	lua_Debug ar;

	if (lua_type(L, idx) != LUA_TFUNCTION)
		return;
	lua_pushvalue(L, idx);
	if (lua_getinfo(L, ">S", &ar) && ar.source)
		set_script_name(st, ar.source);
}

void lh__call_error(struct lh_state *st, lua_State *L, int rc, struct sl_err *err)
{
	if (st->killed) {
		sl_err_set(err, SL_ELIMIT, "%s", st->kill_msg);
	} else if (st->mem_exceeded || rc == LUA_ERRMEM) {
		sl_err_set(err, SL_ELIMIT, "%s: memory limit exceeded",
			   st->script ? st->script : "script");
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		sl_err_set(err, SL_ESCRIPT, "%s", lua_tostring(L, -1));
	} else if (lua_type(L, -1) == LUA_TNUMBER) {
		sl_err_set(err, SL_ESCRIPT, "%s: error %g",
			   st->script ? st->script : "script", lua_tonumber(L, -1));
	} else {
		sl_err_set(err, SL_ESCRIPT, "%s: (error object is a %s value)",
			   st->script ? st->script : "script", luaL_typename(L, -1));
	}
}

int lh__pcall_c(lua_State *L, lua_CFunction fn, void *ud, int nres)
{
	lua_pushcfunction(L, fn);
	lua_pushlightuserdata(L, ud);
	return lua_pcall(L, 1, nres, 0);
}

/* ---- frozen tables and _ENV -------------------------------------------- */

static int frozen_newindex(lua_State *L)
{
	return luaL_error(L, "attempt to modify a read-only table (key '%s')",
			  lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int frozen_index(lua_State *L)
{
	lua_getiuservalue(L, 1, 1); /* ud key real */
	lua_pushvalue(L, 2);
	lua_rawget(L, -2);
	return 1;
}

/* pairs() over a proxy walks the real table but hands the script only the
 * proxy, so the real table never becomes reachable. */
static int frozen_next(lua_State *L)
{
	luaL_checkudata(L, 1, "silo.frozen");
	lua_settop(L, 2);
	lua_getiuservalue(L, 1, 1); /* proxy key real */
	lua_pushvalue(L, 2);        /* proxy key real key */
	if (lua_next(L, 3))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int frozen_pairs(lua_State *L)
{
	lua_pushcfunction(L, frozen_next);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static int frozen_len(lua_State *L)
{
	lua_getiuservalue(L, 1, 1);
	lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
	return 1;
}

static int frozen_tostring(lua_State *L)
{
	lua_pushfstring(L, "table: %p", lua_topointer(L, 1));
	return 1;
}

/* Replaces the table on top of the stack by a read-only proxy (a userdata,
 * so rawset cannot write into it either). */
static void freeze_top(lua_State *L)
{
	lua_newuserdatauv(L, 0, 1); /* t ud */
	lua_insert(L, -2);          /* ud t */
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, "silo.frozen");
}

static void frozen_meta(lua_State *L)
{
	static const luaL_Reg m[] = {
		{ "__index", frozen_index },   { "__newindex", frozen_newindex },
		{ "__pairs", frozen_pairs },   { "__len", frozen_len },
		{ "__tostring", frozen_tostring }, { NULL, NULL },
	};

	luaL_newmetatable(L, "silo.frozen");
	luaL_setfuncs(L, m, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

static int env_newindex(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "assignment to undeclared global '%s'", lua_tostring(L, 2));
	return luaL_error(L, "assignment to undeclared global");
}

/* Pushes a fresh _ENV: reads fall through to the state's globals, writes of
 * new names raise. */
void lh__push_env(lua_State *L)
{
	lua_newtable(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__envmt_key);
	lua_setmetatable(L, -2);
}

/* ---- state construction ------------------------------------------------ */

static const char *const base_names[] = {
	"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
	"rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring",
	"type", "xpcall", "_VERSION", NULL,
};

static void add_module(lua_State *L, const char *name, lua_CFunction opener)
{
	/* silo */
	lua_pushcfunction(L, opener);
	lua_call(L, 0, 1);
	freeze_top(L);
	lua_setfield(L, -2, name);
}

static int setup(lua_State *L)
{
	struct lh_state *st = lua_touserdata(L, 1);
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },      { LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_STRLIBNAME, luaopen_string }, { LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 },
		{ NULL, NULL },
	};
	static const char *const lib_names[] = { "coroutine", "string", "table", "math",
						 "utf8", NULL };
	static const char *const scrub[] = { "dofile", "loadfile", "load", "print", "require",
					     "collectgarbage", NULL };
	enum lh_kind k = st->kind;
	int tool_like = k == LH_TOOL || k == LH_BACKEND;

	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	/* Budgeted pattern matching (lh_match.c) in place of lstrlib's. */
	lua_getglobal(L, "string");
	lh__install_match(L);
	lua_pop(L, 1);
	lh__install_loop_guards(L);
	/* getmetatable("") must not hand out the shared string metatable. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	frozen_meta(L);
	lh__json_init(L);
	if (k == LH_BACKEND)
		lh__secret_meta(L);
	lua_getglobal(L, "math");
	if (!tool_like) {
		/* Fixtures, policies, config and review rules evaluate purely. */
		lua_pushnil(L);
		lua_setfield(L, -2, "random");
		lua_pushnil(L);
		lua_setfield(L, -2, "randomseed");
	} else if (st->svc.deterministic) {
		lua_getfield(L, -1, "randomseed");
		lua_pushinteger(L, 0);
		lua_call(L, 1, 0);
	}
	lua_pop(L, 1);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__loaded_key);

	lua_newtable(L); /* G */
	if (k != LH_CONFIG) {
		for (int i = 0; base_names[i]; i++) {
			lua_getglobal(L, base_names[i]);
			lua_setfield(L, -2, base_names[i]);
		}
		lua_pushcfunction(L, lh__l_print);
		lua_setfield(L, -2, "print");
		lua_pushcfunction(L, lh__l_load);
		lua_setfield(L, -2, "load");
		lua_pushcfunction(L, lh__l_require);
		lua_setfield(L, -2, "require");
		lua_pushcfunction(L, lh__l_collectgarbage);
		lua_setfield(L, -2, "collectgarbage");
		lua_pushcfunction(L, lh__l_xpcall);
		lua_setfield(L, -2, "xpcall");
		lua_pushcfunction(L, lh__l_setmetatable);
		lua_setfield(L, -2, "setmetatable");
		for (int i = 0; lib_names[i]; i++) {
			lua_getglobal(L, lib_names[i]);
			freeze_top(L);
			lua_setfield(L, -2, lib_names[i]);
		}
	}
	if (k == LH_FIXTURE) {
		lua_pushcfunction(L, lh__open_json);
		lua_call(L, 0, 1);
		freeze_top(L);
		lua_setfield(L, -2, "json");
	} else if (k != LH_CONFIG) {
		lua_newtable(L); /* G silo */
		add_module(L, "json", lh__open_json);
		add_module(L, "log", lh__open_log);
		add_module(L, "b64", lh__open_b64);
		add_module(L, "utf8", lh__open_utf8);
		if (tool_like)
			add_module(L, "clock", lh__open_clock);
		if (tool_like || k == LH_POLICY) {
			add_module(L, "journal", lh__open_journal);
			add_module(L, "helper", lh__open_helper);
			add_module(L, "agent", lh__open_agent);
			add_module(L, "frontend", lh__open_frontend);
			add_module(L, "session", lh__open_session);
		}
		if (k == LH_BACKEND) {
			lua_pushcfunction(L, lh__l_secret);
			lua_setfield(L, -2, "secret");
			for (size_t i = 0; i < lh__backend_module_count(); i++)
				add_module(L, lh__backend_module_name(i),
					   lh__backend_module_opener(i));
		}
		freeze_top(L);
		lua_setfield(L, -2, "silo");
	}
	if (tool_like) {
		lua_pushcfunction(L, lh__open_os);
		lua_call(L, 0, 1);
		freeze_top(L);
		lua_setfield(L, -2, "os");
	}
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__G_key);

	lua_newtable(L); /* the metatable of every _ENV */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__G_key);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, env_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__envmt_key);

	/* The real global table is unreachable from scripts; scrub it anyway. */
	for (int i = 0; scrub[i]; i++) {
		lua_pushnil(L);
		lua_setglobal(L, scrub[i]);
	}
	return 0;
}

struct lh_state *lh_new(enum lh_kind kind, const struct lh_limits *lim,
			const struct lh_services *svc, const char *lua_dir, struct sl_err *err)
{
	struct lh_state *st = sl_xcalloc(1, sizeof(*st));
	struct lh_frame f;
	int rc;

	st->kind = kind;
	if (svc) {
		st->svc = *svc;
		st->has_svc = 1;
	}
	st->lua_dir = lua_dir ? sl_xstrdup(lua_dir) : NULL;
	st->mem_cap = lim && lim->mem_bytes ? lim->mem_bytes : LH_DEFAULT_MEM;
	st->instr_per_call = lim && lim->instr_per_call ? lim->instr_per_call : LH_DEFAULT_INSTR;
	st->instr_load = lim && lim->instr_load ? lim->instr_load : LH_DEFAULT_LOAD;
	st->instr_budget = st->instr_per_call;
	st->L = lua_newstate(lh_alloc, st);
	if (!st->L) {
		free(st->lua_dir);
		free(st);
		sl_err_set(err, SL_ENOMEM, "cannot create a Lua state: out of memory");
		return NULL;
	}
	lua_atpanic(st->L, lh_panic);
	/* Threads copy the main thread's extra space: NULL means "no task". */
	memset(lua_getextraspace(st->L), 0, LUA_EXTRASPACE);
	st->clock_start_ms = lh__now_ms(st);
	lh__frame_enter(st, &f, 0, "setup");
	rc = lh__pcall_c(st->L, setup, st, 0);
	if (rc != LUA_OK) {
		lh__call_error(st, st->L, rc, err);
		sl_err_prefix(err, "cannot create a Lua state");
		lh__frame_leave(st, &f);
		lua_close(st->L);
		free(st->lua_dir);
		free(st);
		return NULL;
	}
	lh__frame_leave(st, &f);
	return st;
}

void lh_free(struct lh_state *st)
{
	if (!st)
		return;
	lh__tasks_free_all(st);
	/* Finalizers a script set up must not run Lua at close: kill first. */
	lh__kill(st, "state closing");
	lua_sethook(st->L, lh_hook, LUA_MASKCOUNT, 1);
	lua_close(st->L);
	free(st->lua_dir);
	free(st);
}

lua_State *lh_L(struct lh_state *st)
{
	return st->L;
}

void lh_set_services(struct lh_state *st, const struct lh_services *svc)
{
	if (svc) {
		st->svc = *svc;
		st->has_svc = 1;
	} else {
		memset(&st->svc, 0, sizeof(st->svc));
		st->has_svc = 0;
	}
}

void lh_unref(struct lh_state *st, int ref)
{
	if (st && ref != LUA_NOREF && ref != LUA_REFNIL)
		luaL_unref(st->L, LUA_REGISTRYINDEX, ref);
}

/* ---- loading scripts --------------------------------------------------- */

struct load_ctx {
	const char *chunkname, *src;
	size_t n;
	int ref;
};

static int do_load(lua_State *L)
{
	struct load_ctx *c = lua_touserdata(L, 1);

	if (luaL_loadbufferx(L, c->src, c->n, c->chunkname, "t") != LUA_OK)
		return lua_error(L);
	lh__push_env(L);
	lua_setupvalue(L, -2, 1);
	lua_call(L, 0, 1);
	if (!lua_istable(L, -1))
		return luaL_error(L, "%s: script must return a table (got %s)", c->chunkname + 1,
				  luaL_typename(L, -1));
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int lh_load_string(struct lh_state *st, const char *chunkname, const char *src, size_t n,
		   int *ref, struct sl_err *err)
{
	struct load_ctx c = { .src = src, .n = n, .ref = LUA_NOREF };
	struct lh_frame f;
	char *cn;
	int rc, ret = 0;

	*ref = LUA_NOREF;
	if (chunkname[0] == '@' || chunkname[0] == '=')
		cn = sl_xasprintf("@%s", chunkname + 1);
	else
		cn = sl_xasprintf("@%s", chunkname);
	c.chunkname = cn;
	if (n >= 4 && src[0] == 0x1b) {
		free(cn);
		return sl_err_set(err, SL_EPARSE, "%s: binary chunks are not allowed",
				  chunkname + (chunkname[0] == '@'));
	}
	lh__frame_enter(st, &f, st->instr_load, cn + 1);
	rc = lh__pcall_c(st->L, do_load, &c, 0);
	if (rc != LUA_OK || st->killed || st->mem_exceeded) {
		if (rc != LUA_OK) {
			lh__call_error(st, st->L, rc, err);
			lua_pop(st->L, 1);
		} else {
			lh__call_error(st, st->L, LUA_ERRRUN, err);
		}
		lh_unref(st, c.ref);
		ret = err ? err->code : SL_ESCRIPT;
		if (!ret)
			ret = SL_ESCRIPT;
	} else {
		*ref = c.ref;
	}
	lh__frame_leave(st, &f);
	free(cn);
	if (st->depth == 0)
		lh__drain_ready(st);
	return ret;
}

int lh_load_file(struct lh_state *st, const char *path, int *ref, struct sl_err *err)
{
	size_t n = 0;
	char *src = sl_read_file(path, &n, LH_MAX_SCRIPT, err);
	char *cn;
	int rc;

	*ref = LUA_NOREF;
	if (!src)
		return err && err->code ? err->code : SL_EIO;
	cn = sl_xasprintf("@%s", path);
	rc = lh_load_string(st, cn, src, n, ref, err);
	free(cn);
	free(src);
	return rc;
}

/* ---- synchronous calls ------------------------------------------------- */

struct call_ctx {
	struct lh_state *st;
	int ref;
	const char *name; /* NULL: ref is the function */
	const struct jv *const *args;
	int nargs;
	int want_ret, missing;
	struct jv *ret;
	struct sl_err conv_err;
	int conv_failed;
};

static int do_call(lua_State *L)
{
	struct call_ctx *c = lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
	if (c->name) {
		if (!lua_istable(L, -1)) {
			c->missing = 1;
			return 0;
		}
		lua_getfield(L, -1, c->name);
		if (!lua_isfunction(L, -1)) {
			c->missing = 1;
			return 0;
		}
	} else if (!lua_isfunction(L, -1)) {
		return luaL_error(L, "lh_call: not a function");
	}
	lh__set_script_from_fn(c->st, L, -1);
	luaL_checkstack(L, c->nargs + 4, "arguments");
	for (int i = 0; i < c->nargs; i++) {
		if (c->args[i])
			lh_push_jv(L, c->args[i]);
		else
			lua_pushnil(L);
	}
	lua_call(L, c->nargs, 1);
	if (c->want_ret) {
		c->ret = lh_to_jv(L, -1, 0, &c->conv_err);
		if (!c->ret)
			c->conv_failed = 1;
	}
	return 0;
}

static int run_call(struct lh_state *st, struct call_ctx *c, struct jv **ret, struct sl_err *err)
{
	struct lh_frame f;
	int rc, out = 0;

	lh__frame_enter(st, &f, st->instr_per_call, "script");
	rc = lh__pcall_c(st->L, do_call, c, 0);
	if (rc != LUA_OK) {
		lh__call_error(st, st->L, rc, err);
		lua_pop(st->L, 1);
		out = SL_ESCRIPT;
	} else if (st->killed || st->mem_exceeded) {
		lh__call_error(st, st->L, LUA_ERRRUN, err);
		out = SL_ELIMIT;
	} else if (c->missing) {
		out = sl_err_set(err, SL_ENOENT, "no function '%s'", c->name ? c->name : "?");
	} else if (c->conv_failed) {
		out = sl_err_set(err, SL_ESCRIPT, "%s: result: %s", st->script, c->conv_err.msg);
	}
	if (out == SL_ESCRIPT && err && err->code)
		out = err->code;
	lh__frame_leave(st, &f);
	if (out) {
		jv_unref(c->ret);
	} else if (ret) {
		*ret = c->ret;
	} else {
		jv_unref(c->ret);
	}
	if (st->depth == 0)
		lh__drain_ready(st);
	return out;
}

int lh_call(struct lh_state *st, int fn_ref, const struct jv *arg, struct jv **ret,
	    struct sl_err *err)
{
	const struct jv *args[1] = { arg };
	struct call_ctx c = { .st = st, .ref = fn_ref, .args = args, .nargs = 1,
			      .want_ret = ret != NULL };

	if (ret)
		*ret = NULL;
	return run_call(st, &c, ret, err);
}

int lh_call_field(struct lh_state *st, int table_ref, const char *name,
		  const struct jv *const *args, int nargs, struct jv **ret, struct sl_err *err)
{
	struct call_ctx c = { .st = st, .ref = table_ref, .name = name, .args = args,
			      .nargs = nargs < 0 ? 0 : nargs > 3 ? 3 : nargs,
			      .want_ret = ret != NULL };

	if (ret)
		*ret = NULL;
	return run_call(st, &c, ret, err);
}
