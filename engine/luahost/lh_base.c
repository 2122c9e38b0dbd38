/*
 * lh_base.c: the base functions a sandboxed state gets in place of Lua's
 * own — load (text only, own _ENV), collectgarbage (harmless options only),
 * xpcall and setmetatable (so no Lua code runs with hooks off), and require
 * (engine modules and <lua_dir>/lib/ only, through the same sandboxed
 * loader). lh_state.c installs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luahost/lh_int.h"

static const char lh_loading = 0; /* require cache marker during a load */

/* ---- restricted base functions ----------------------------------------- */

/* load(chunk [, chunkname [, mode [, env]]]): text only; without env the
 * chunk gets a fresh _ENV of its own. */
int lh__l_load(lua_State *L)
{
	size_t n;
	const char *s, *name, *mode;

	if (lua_type(L, 1) != LUA_TSTRING)
		return luaL_error(L, "load: chunk must be a string");
	s = lua_tolstring(L, 1, &n);
	name = luaL_optstring(L, 2, "=(load)");
	mode = luaL_optstring(L, 3, "t");
	if (strcmp(mode, "t") != 0 && strchr(mode, 'b') && !strchr(mode, 't'))
		return luaL_error(L, "load: binary chunks are not allowed");
	if (luaL_loadbufferx(L, s, n, name, "t") != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (!lua_isnone(L, 4))
		lua_pushvalue(L, 4);
	else
		lh__push_env(L);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	return 1;
}

int lh__l_collectgarbage(lua_State *L)
{
	static const char *const opts[] = { "collect", "count", "step", "isrunning", NULL };
	int o = luaL_checkoption(L, 1, "collect", opts);

	switch (o) {
	case 0:
		lua_gc(L, LUA_GCCOLLECT);
		lua_pushinteger(L, 0);
		return 1;
	case 1: {
		int k = lua_gc(L, LUA_GCCOUNT), b = lua_gc(L, LUA_GCCOUNTB);
		lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
		return 1;
	}
	case 2:
		lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, (int)luaL_optinteger(L, 2, 0)));
		return 1;
	default:
		lua_pushboolean(L, lua_gc(L, LUA_GCISRUNNING));
		return 1;
	}
}

/* Lua runs message handlers and __gc finalizers with hooks disabled, so a
 * loop in either would escape the instruction budget. xpcall therefore calls
 * its handler after the protected call has unwound (hooks on), and
 * setmetatable refuses __gc. */
static int xpcall_k(lua_State *L, int status, lua_KContext extra)
{
	if (status != LUA_OK && status != LUA_YIELD) {
		/* f h true err */
		lua_pushvalue(L, 2);
		lua_insert(L, -2);
		lua_pcall(L, 1, 1, 0);
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)extra;
}

int lh__l_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2); /* f h true f args... */
	return xpcall_k(L, lua_pcallk(L, n - 2, LUA_MULTRET, 0, 2, xpcall_k), 2);
}

int lh__l_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not allowed");
		lua_pop(L, 1);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* Reads a whole script file into a Lua userdata (so nothing C-owned leaks
 * if a later Lua allocation raises) and loads it as text. */
static int load_file_chunk(lua_State *L, const char *path, const char *chunkname)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd;

	if (stat(path, &sb) < 0)
		return luaL_error(L, "cannot open %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size > LH_MAX_SCRIPT)
		return luaL_error(L, "cannot load %s: not a regular file of at most 16 MiB", path);
	/* Allocate before opening: a raising allocation then leaks no fd. */
	buf = lua_newuserdatauv(L, (size_t)sb.st_size + 1, 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return luaL_error(L, "cannot open %s: %s", path, strerror(errno));
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (luaL_loadbufferx(L, buf, got, chunkname, "t") != LUA_OK)
		return lua_error(L);
	lua_remove(L, -2); /* the buffer */
	return 1;
}

/* (path, name) -> module value; runs in its own _ENV. */
static int require_load(lua_State *L)
{
	const char *path = lua_tostring(L, 1);

	lua_pushfstring(L, "@%s", path);
	load_file_chunk(L, path, lua_tostring(L, -1));
	lh__push_env(L);
	lua_setupvalue(L, -2, 1);
	lua_pushvalue(L, 2);
	lua_call(L, 1, 1);
	return 1;
}

static int valid_module_name(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 200)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && (p[1] == '.' || p[1] == 0))
			return 0;
		if (!(*p == '.' || *p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	}
	return 1;
}

/* require(name): engine modules ("silo", "silo.json", "json") from the
 * state's globals, else <lua_dir>/lib/<name with dots as slashes>.lua run in
 * its own _ENV, cached per state. */
int lh__l_require(lua_State *L)
{
	struct lh_state *st = lh__from_L(L);
	const char *name = luaL_checkstring(L, 1);
	char path[4096];

	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__loaded_key); /* name loaded */
	lua_getfield(L, 2, name);
	if (lua_touserdata(L, -1) == (void *)&lh_loading)
		return luaL_error(L, "require: loop while loading '%s'", name);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	/* Engine modules: "silo" and "silo.<mod>" from the globals. */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__G_key); /* name loaded G */
	if (!strcmp(name, "silo") || !strcmp(name, "json")) {
		lua_getfield(L, -1, name);
		if (!lua_isnil(L, -1))
			return 1;
		return luaL_error(L, "require: module '%s' not available here", name);
	}
	if (!strncmp(name, "silo.", 5)) {
		lua_getfield(L, -1, "silo");
		if (!lua_isnil(L, -1)) {
			lua_getfield(L, -1, name + 5);
			if (!lua_isnil(L, -1))
				return 1;
		}
		return luaL_error(L, "require: module '%s' not available here", name);
	}
	lua_pop(L, 1);
	if (!valid_module_name(name))
		return luaL_error(L, "require: invalid module name '%s'", name);
	if (!st->lua_dir)
		return luaL_error(L, "require: module '%s' not found (no library directory)", name);
	{
		int n = snprintf(path, sizeof(path), "%s/lib/", st->lua_dir);
		size_t i;

		for (i = 0; name[i] && n + 5 < (int)sizeof(path); i++)
			path[n++] = name[i] == '.' ? '/' : name[i];
		snprintf(path + n, sizeof(path) - (size_t)n, ".lua");
	}
	if (access(path, R_OK) != 0)
		return luaL_error(L, "require: module '%s' not found (%s)", name, path);
	lua_pushlightuserdata(L, (void *)&lh_loading);
	lua_setfield(L, 2, name);
	lua_pushcfunction(L, require_load);
	lua_pushstring(L, path);
	lua_pushstring(L, name);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		lua_pushnil(L);
		lua_setfield(L, 2, name);
		return lua_error(L);
	}
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, 2, name);
	return 1;
}

/* ---- C loops the count hook cannot see ---------------------------------- */

/* Charges n instructions to the running call; raises past the budget. */
static void charge_n(lua_State *L, lua_Integer n)
{
	struct lh_state *st = lh__from_L(L);

	if (n > 0)
		st->instr_used += (uint64_t)n;
	if (!st->killed && st->instr_budget && st->instr_used > st->instr_budget)
		lh__kill(st, "%s: instruction budget exceeded", st->script ? st->script : "script");
	if (st->killed)
		luaL_error(L, "%s", st->kill_msg);
}

/* string.rep("", n) loops n times in C to build ""; its result is known. */
static int l_rep(lua_State *L)
{
	size_t l, lsep = 0;

	luaL_checklstring(L, 1, &l);
	luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* table.move(a1, f, e, t [, a2]) copies e - f + 1 slots in a C loop:
 * charge them up front. */
static int l_move(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

	if (e >= f)
		charge_n(L, e - f + 1 > 0 ? e - f + 1 : LUA_MAXINTEGER);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* table.insert / table.remove shift and table.sort orders #t slots in C;
 * #t may come from a __len metamethod, so charge it first (sort: n log n).
 * Upvalue 1: the original; 2: true for sort. */
static int l_by_len(lua_State *L)
{
	lua_Integer n;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = luaL_len(L, 1);
	if (lua_toboolean(L, lua_upvalueindex(2)) && n > 1) {
		lua_Integer lg = 1;

		for (lua_Integer m = n; m > 1; m >>= 1)
			lg++;
		n = n > LUA_MAXINTEGER / lg ? LUA_MAXINTEGER : n * lg;
	}
	charge_n(L, n);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static void wrap_by_len(lua_State *L, const char *name, int sort)
{
	lua_getfield(L, -1, name);
	lua_pushboolean(L, sort);
	lua_pushcclosure(L, l_by_len, 2);
	lua_setfield(L, -2, name);
}

void lh__install_loop_guards(lua_State *L)
{
	lua_getglobal(L, "string");
	lua_getfield(L, -1, "rep");
	lua_pushcclosure(L, l_rep, 1);
	lua_setfield(L, -2, "rep");
	lua_pop(L, 1);
	lua_getglobal(L, "table");
	lua_getfield(L, -1, "move");
	lua_pushcclosure(L, l_move, 1);
	lua_setfield(L, -2, "move");
	wrap_by_len(L, "insert", 0);
	wrap_by_len(L, "remove", 0);
	wrap_by_len(L, "sort", 1);
	lua_pop(L, 1);
}
