/*
 * lh_conv.c: Lua <-> JSON (replay.md 5.2) and the pure data modules built on
 * it: silo.json (the engine's jv codec, never lua-cjson, so [] and {} and
 * integers round-trip and output can be canonical), silo.b64, silo.utf8.
 *
 * lh_to_jv reads the Lua value without allocating Lua memory, so it may run
 * outside protected mode and never longjmps over the C tree it builds.
 * Object keys of converted tables are sorted: Lua tables have no order and
 * everything the engine records must be deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luahost/lh_int.h"

const char lh__null_key = 0, lh__array_key = 0, lh__object_key = 0;

void lh__push_null(lua_State *L)
{
	lua_pushlightuserdata(L, (void *)&lh__null_key);
}

int lh__is_null(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
	       lua_touserdata(L, idx) == (void *)&lh__null_key;
}

void lh__json_init(lua_State *L)
{
	lua_newtable(L);
	lua_pushliteral(L, "json.array");
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__array_key);
	lua_newtable(L);
	lua_pushliteral(L, "json.object");
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__object_key);
}

/* 1 array mark, 2 object mark, 0 none. Does not allocate. */
static int table_mark(lua_State *L, int idx)
{
	int m = 0;

	if (!lua_getmetatable(L, idx))
		return 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__array_key);
	if (lua_rawequal(L, -1, -2))
		m = 1;
	lua_pop(L, 1);
	if (!m) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__object_key);
		if (lua_rawequal(L, -1, -2))
			m = 2;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return m;
}

/* ---- Lua -> jv --------------------------------------------------------- */

struct conv {
	lua_State *L;
	int allow_fn;
	struct sl_err *err;
	struct sl_buf path;
	int failed;
};

static void conv_fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void conv_fail(struct conv *c, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->path.len)
		sl_err_set(c->err, SL_EINVAL, "%s (at %s)", msg, c->path.p);
	else
		sl_err_set(c->err, SL_EINVAL, "%s", msg);
}

static struct jv *conv_value(struct conv *c, int idx, int depth);

static int is_secret(lua_State *L, int idx)
{
	int r = 0;

	if (!lua_getmetatable(L, idx))
		return 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__secret_key);
	r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

static struct jv *conv_table(struct conv *c, int idx, int depth)
{
	lua_State *L = c->L;
	int mark = table_mark(L, idx);
	size_t n = 0, nint = 0, nstr = 0, saved = c->path.len;
	lua_Integer maxk = 0;
	struct jv *out;

	if (depth >= LH_MAX_DEPTH) {
		conv_fail(c, "nesting deeper than %d (cycle?)", LH_MAX_DEPTH);
		return NULL;
	}
	if (!lua_checkstack(L, 4)) {
		conv_fail(c, "Lua stack exhausted");
		return NULL;
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		if (lua_type(L, -2) == LUA_TSTRING) {
			nstr++;
		} else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
			nint++;
			if (lua_tointeger(L, -2) > maxk)
				maxk = lua_tointeger(L, -2);
		} else {
			const char *tn = luaL_typename(L, -2);

			lua_pop(L, 2);
			conv_fail(c, "table key of type %s cannot become JSON", tn);
			return NULL;
		}
		lua_pop(L, 1);
	}
	if (mark == 0) {
		if (n == 0 || nstr == n)
			mark = 2;
		else if (nint == n)
			mark = 1;
		else {
			conv_fail(c, "table mixes array and object keys");
			return NULL;
		}
	}
	if (mark == 1) {
		if (nstr || (lua_Integer)nint != maxk) {
			conv_fail(c, nstr ? "array table has string keys"
					  : "array table has holes (keys are not 1..n)");
			return NULL;
		}
		out = jv_arr();
		for (lua_Integer i = 1; i <= maxk; i++) {
			struct jv *v;

			sl_buf_printf(&c->path, "[%lld]", (long long)i);
			lua_rawgeti(L, idx, i);
			if (lua_type(L, -1) == LUA_TFUNCTION) {
				conv_fail(c, "function in an array");
				v = NULL;
			} else {
				v = conv_value(c, lua_gettop(L), depth + 1);
			}
			lua_pop(L, 1);
			c->path.len = saved;
			c->path.p[saved] = 0;
			if (!v) {
				jv_unref(out);
				return NULL;
			}
			jv_push(out, v);
		}
		return out;
	}
	if (nint) {
		conv_fail(c, "object table has integer keys");
		return NULL;
	}
	out = jv_obj();
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t kl;
		const char *k = lua_tolstring(L, -2, &kl); /* a string: no conversion */
		struct jv *v;

		if (lua_type(L, -1) == LUA_TFUNCTION && c->allow_fn) {
			lua_pop(L, 1);
			continue;
		}
		sl_buf_adds(&c->path, ".");
		sl_buf_add(&c->path, k, kl);
		if (!jv_utf8_valid(k, kl)) {
			conv_fail(c, "object key is not valid UTF-8");
			v = NULL;
		} else {
			v = conv_value(c, lua_gettop(L), depth + 1);
		}
		c->path.len = saved;
		c->path.p[saved] = 0;
		if (!v) {
			lua_pop(L, 2);
			jv_unref(out);
			return NULL;
		}
		jv_setn(out, k, kl, v);
		lua_pop(L, 1);
	}
	return out;
}

static struct jv *conv_value(struct conv *c, int idx, int depth)
{
	lua_State *L = c->L;

	switch (lua_type(L, idx)) {
	case LUA_TNONE:
	case LUA_TNIL:
		return jv_null();
	case LUA_TBOOLEAN:
		return jv_bool(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return jv_int((int64_t)lua_tointeger(L, idx));
		if (!isfinite(lua_tonumber(L, idx))) {
			conv_fail(c, "non-finite number cannot become JSON");
			return NULL;
		}
		return jv_float(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);

		if (!jv_utf8_valid(s, n)) {
			conv_fail(c, "string is not valid UTF-8");
			return NULL;
		}
		return jv_strn(s, n);
	}
	case LUA_TLIGHTUSERDATA:
		if (lh__is_null(L, idx))
			return jv_null();
		break;
	case LUA_TUSERDATA:
		if (is_secret(L, idx))
			return jv_str("[redacted]");
		break;
	case LUA_TTABLE:
		return conv_table(c, idx, depth);
	default:
		break;
	}
	conv_fail(c, "a %s value cannot become JSON", luaL_typename(L, idx));
	return NULL;
}

struct jv *lh_to_jv(lua_State *L, int idx, int allow_fn, struct sl_err *err)
{
	struct conv c = { .L = L, .allow_fn = allow_fn, .err = err };
	struct jv *v;

	idx = lua_absindex(L, idx);
	sl_buf_init(&c.path);
	sl_buf_reserve(&c.path, 64);
	v = conv_value(&c, idx, 0);
	sl_buf_free(&c.path);
	if (v)
		jv_sort_keys(v);
	return v;
}

/* ---- jv -> Lua --------------------------------------------------------- */

static void push_jv(lua_State *L, const struct jv *v, int depth)
{
	size_t n;

	luaL_checkstack(L, 3, "JSON value too deep");
	if (depth > 4 * LH_MAX_DEPTH)
		luaL_error(L, "JSON value nested too deeply");
	switch (jv_type(v)) {
	case JV_NULL:
		lh__push_null(L);
		return;
	case JV_BOOL:
		lua_pushboolean(L, jv_bool_val(v));
		return;
	case JV_INT:
		lua_pushinteger(L, (lua_Integer)jv_int_val(v));
		return;
	case JV_FLOAT:
		lua_pushnumber(L, jv_num_val(v));
		return;
	case JV_STRING:
		lua_pushlstring(L, jv_str_val(v), jv_str_len(v));
		return;
	case JV_ARRAY:
		n = jv_len(v);
		lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
		lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__array_key);
		lua_setmetatable(L, -2);
		for (size_t i = 0; i < n; i++) {
			push_jv(L, jv_at(v, i), depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		return;
	case JV_OBJECT:
		n = jv_len(v);
		lua_createtable(L, 0, n > INT32_MAX ? 0 : (int)n);
		lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__object_key);
		lua_setmetatable(L, -2);
		for (size_t i = 0; i < n; i++) {
			lua_pushstring(L, jv_key_at(v, i));
			push_jv(L, jv_val_at(v, i), depth + 1);
			lua_rawset(L, -3);
		}
		return;
	}
	lua_pushnil(L);
}

void lh_push_jv(lua_State *L, const struct jv *v)
{
	if (!v) {
		lua_pushnil(L);
		return;
	}
	push_jv(L, v, 0);
}

/* Pushing C-owned data can raise (memory); do it in protected mode so the
 * caller can free its buffers whatever happens, then re-raise. */
struct push_ctx {
	const struct sl_buf *buf;
	const struct jv *v;
};

static int push_protected(lua_State *L)
{
	struct push_ctx *p = lua_touserdata(L, 1);

	if (p->buf)
		lua_pushlstring(L, p->buf->p ? p->buf->p : "", p->buf->len);
	else
		lh_push_jv(L, p->v);
	return 1;
}

/* Pushes b's bytes as a string, frees b, raises on failure. */
static void push_buf_free(lua_State *L, struct sl_buf *b)
{
	struct push_ctx p = { .buf = b };
	int rc = lh__pcall_c(L, push_protected, &p, 1);

	sl_buf_free(b);
	if (rc != LUA_OK)
		lua_error(L);
}

void lh__push_jv_unref(lua_State *L, struct jv *v)
{
	struct push_ctx p = { .v = v };
	int rc = lh__pcall_c(L, push_protected, &p, 1);

	jv_unref(v);
	if (rc != LUA_OK)
		lua_error(L);
}

/* ---- silo.json --------------------------------------------------------- */

static int json_encode(lua_State *L)
{
	struct sl_err err = { 0 };
	unsigned flags = JV_EMIT_SORTED;
	struct sl_buf b;
	struct jv *v;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "sorted");
		if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
			flags &= ~(unsigned)JV_EMIT_SORTED;
		lua_getfield(L, 2, "pretty");
		if (lua_toboolean(L, -1))
			flags |= JV_EMIT_PRETTY;
		lua_pop(L, 2);
	} else if (!lua_isnoneornil(L, 2)) {
		return luaL_argerror(L, 2, "options table expected");
	}
	luaL_checkany(L, 1);
	v = lh_to_jv(L, 1, 0, &err);
	if (!v)
		return luaL_error(L, "json.encode: %s", err.msg);
	sl_buf_init(&b);
	jv_emit(v, &b, flags);
	jv_unref(v);
	push_buf_free(L, &b);
	return 1;
}

static int json_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct sl_err err = { 0 };
	struct jv *v = jv_parse(s, n, NULL, &err);

	if (!v) {
		luaL_pushfail(L);
		lua_pushfstring(L, "json.decode: %s", err.msg);
		return 2;
	}
	lh__push_jv_unref(L, v);
	return 1;
}

static int json_mark(lua_State *L, const char *key)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	} else {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_settop(L, 1);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	lua_setmetatable(L, 1);
	return 1;
}

static int json_array(lua_State *L)
{
	return json_mark(L, &lh__array_key);
}

static int json_object(lua_State *L)
{
	return json_mark(L, &lh__object_key);
}

int lh__open_json(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "encode", json_encode }, { "decode", json_decode },
		{ "array", json_array },   { "object", json_object },
		{ NULL, NULL },
	};

	luaL_newlib(L, f);
	lh__push_null(L);
	lua_setfield(L, -2, "null");
	return 1;
}

/* ---- silo.b64, silo.utf8 ------------------------------------------------ */

static int b64_encode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct sl_buf b;

	sl_buf_init(&b);
	jv_b64_encode(&b, s, n);
	push_buf_free(L, &b);
	return 1;
}

static int b64_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct sl_err err = { 0 };
	struct sl_buf b;

	sl_buf_init(&b);
	if (jv_b64_decode(&b, s, n, &err) < 0) {
		sl_buf_free(&b);
		luaL_pushfail(L);
		lua_pushstring(L, err.msg);
		return 2;
	}
	push_buf_free(L, &b);
	return 1;
}

int lh__open_b64(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "encode", b64_encode }, { "decode", b64_decode }, { NULL, NULL },
	};

	luaL_newlib(L, f);
	return 1;
}

static int utf8_valid(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);

	lua_pushboolean(L, jv_utf8_valid(s, n));
	return 1;
}

static int utf8_lossy(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	struct sl_buf b;

	sl_buf_init(&b);
	jv_utf8_lossy(&b, s, n);
	push_buf_free(L, &b);
	return 1;
}

int lh__open_utf8(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "valid", utf8_valid }, { "lossy", utf8_lossy }, { NULL, NULL },
	};

	luaL_newlib(L, f);
	return 1;
}
