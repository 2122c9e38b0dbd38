/*
 * lh_mods.c: the small synchronous engine modules — silo.log (and print),
 * silo.journal, silo.clock, the time-only `os` table of tool and backend
 * states — plus opaque secrets (decisions 6) and the registry through which
 * engine/http adds silo.http and silo.ws to backend states without the Lua
 * host depending on it.
 *
 * Secret values are read from the environment once, when the engine allows
 * a name, and live only here in C. Lua holds a handle naming the variable;
 * C code that sends a request renders the handle (lh_secret_render).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "luahost/lh_int.h"

const char lh__secret_key = 0;

int64_t lh__now_ms(struct lh_state *st)
{
	struct timespec ts;

	if (st && st->has_svc && st->svc.now_ms)
		return st->svc.now_ms(st->svc.ud);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- silo.log, print, silo.journal ------------------------------------- */

/* Joins the arguments like print does (tostring, tab-separated). */
static const char *join_args(lua_State *L, size_t *len)
{
	int n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	return lua_tolstring(L, -1, len);
}

static void emit_note(lua_State *L, const char *level, const char *msg)
{
	struct lh_state *st = lh__from_L(L);

	if (st->has_svc && st->svc.note) {
		char *line = NULL;

		if (level) {
			/* note() copies; the line lives only for the call. */
			size_t n = strlen(level) + strlen(msg) + 8;

			line = lua_newuserdatauv(L, n, 0);
			snprintf(line, n, "%s: %s", level, msg);
			st->svc.note(st->svc.ud, line);
			lua_pop(L, 1);
		} else {
			st->svc.note(st->svc.ud, msg);
		}
		return;
	}
	if (level && !strcmp(level, "error"))
		SL_ERROR("lua", "%s", msg);
	else if (level && !strcmp(level, "warn"))
		SL_WARN("lua", "%s", msg);
	else
		SL_INFO("lua", "%s", msg);
}

static int log_at(lua_State *L, const char *level)
{
	const char *msg = join_args(L, NULL);

	emit_note(L, level, msg);
	return 0;
}

static int log_info(lua_State *L)
{
	return log_at(L, "info");
}

static int log_warn(lua_State *L)
{
	return log_at(L, "warn");
}

static int log_error(lua_State *L)
{
	return log_at(L, "error");
}

int lh__l_print(lua_State *L)
{
	return log_at(L, "info");
}

int lh__open_log(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "info", log_info }, { "warn", log_warn }, { "error", log_error }, { NULL, NULL },
	};

	luaL_newlib(L, f);
	return 1;
}

static int journal_note(lua_State *L)
{
	const char *msg = luaL_checkstring(L, 1);

	emit_note(L, NULL, msg);
	return 0;
}

int lh__open_journal(lua_State *L)
{
	static const luaL_Reg f[] = { { "note", journal_note }, { NULL, NULL } };

	luaL_newlib(L, f);
	return 1;
}

/* ---- silo.clock and os -------------------------------------------------- */

static int clock_now_ms(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lh__now_ms(lh__from_L(L)));
	return 1;
}

int lh__open_clock(lua_State *L)
{
	static const luaL_Reg f[] = { { "now_ms", clock_now_ms }, { NULL, NULL } };

	luaL_newlib(L, f);
	return 1;
}

static int get_field(lua_State *L, const char *k, int dflt, int required)
{
	int isnum;
	lua_Integer v;

	lua_getfield(L, 1, k);
	v = lua_tointegerx(L, -1, &isnum);
	if (!isnum) {
		if (!lua_isnil(L, -1) || required)
			return luaL_error(L, "os.time: field '%s' missing or not an integer", k);
		v = dflt;
	}
	lua_pop(L, 1);
	if (v < -1000000 || v > 1000000)
		return luaL_error(L, "os.time: field '%s' out of range", k);
	return (int)v;
}

/* The session clock, always UTC: a replay must not depend on the host's
 * time zone. */
static int os_time(lua_State *L)
{
	struct tm tm = { 0 };
	time_t t;

	if (lua_isnoneornil(L, 1)) {
		lua_pushinteger(L, (lua_Integer)(lh__now_ms(lh__from_L(L)) / 1000));
		return 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	tm.tm_year = get_field(L, "year", 0, 1) - 1900;
	tm.tm_mon = get_field(L, "month", 0, 1) - 1;
	tm.tm_mday = get_field(L, "day", 0, 1);
	tm.tm_hour = get_field(L, "hour", 12, 0);
	tm.tm_min = get_field(L, "min", 0, 0);
	tm.tm_sec = get_field(L, "sec", 0, 0);
	t = timegm(&tm);
	lua_pushinteger(L, (lua_Integer)t);
	return 1;
}

static int os_clock(lua_State *L)
{
	struct lh_state *st = lh__from_L(L);

	lua_pushnumber(L, (lua_Number)(lh__now_ms(st) - st->clock_start_ms) / 1000.0);
	return 1;
}

static void set_int(lua_State *L, const char *k, int v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static int os_date(lua_State *L)
{
	const char *fmt = luaL_optstring(L, 1, "%c");
	time_t t;
	struct tm tm;
	char out[512];
	size_t n;

	if (lua_isnoneornil(L, 2))
		t = (time_t)(lh__now_ms(lh__from_L(L)) / 1000);
	else
		t = (time_t)luaL_checkinteger(L, 2);
	if (*fmt == '!')
		fmt++;
	if (!gmtime_r(&t, &tm))
		return luaL_error(L, "os.date: time out of range");
	if (!strcmp(fmt, "*t")) {
		lua_createtable(L, 0, 9);
		set_int(L, "year", tm.tm_year + 1900);
		set_int(L, "month", tm.tm_mon + 1);
		set_int(L, "day", tm.tm_mday);
		set_int(L, "hour", tm.tm_hour);
		set_int(L, "min", tm.tm_min);
		set_int(L, "sec", tm.tm_sec);
		set_int(L, "wday", tm.tm_wday + 1);
		set_int(L, "yday", tm.tm_yday + 1);
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "isdst");
		return 1;
	}
	if (strlen(fmt) > 200)
		return luaL_error(L, "os.date: format too long");
	n = strftime(out, sizeof(out), fmt, &tm);
	lua_pushlstring(L, out, n);
	return 1;
}

int lh__open_os(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "time", os_time }, { "clock", os_clock }, { "date", os_date }, { NULL, NULL },
	};

	luaL_newlib(L, f);
	return 1;
}

/* ---- secrets ------------------------------------------------------------ */

#define LH_MAX_SECRETS 32

static struct secret {
	char *name, *value; /* owned */
	size_t len;
} secrets[LH_MAX_SECRETS];
static size_t n_secrets;

struct secret_ud {
	char name[128];
	char format[512];
};

static struct secret *find_secret(const char *name)
{
	for (size_t i = 0; i < n_secrets; i++)
		if (!strcmp(secrets[i].name, name))
			return &secrets[i];
	return NULL;
}

static int valid_env_name(const char *s)
{
	if (!*s || strlen(s) >= 128 || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static void wipe(struct secret *s)
{
	if (s->value) {
		explicit_bzero(s->value, s->len);
		free(s->value);
	}
	free(s->name);
	memset(s, 0, sizeof(*s));
}

int lh_secret_allow(const char *env_name, struct sl_err *err)
{
	const char *v;
	struct secret *s;

	if (!env_name || !valid_env_name(env_name))
		return sl_err_set(err, SL_EINVAL, "invalid environment variable name '%s'",
				  env_name ? env_name : "");
	v = getenv(env_name);
	if (!v || !*v)
		return sl_err_set(err, SL_ENOENT, "environment variable %s is not set or empty",
				  env_name);
	s = find_secret(env_name);
	if (s) {
		explicit_bzero(s->value, s->len);
		free(s->value);
	} else {
		if (n_secrets == LH_MAX_SECRETS)
			return sl_err_set(err, SL_ELIMIT, "too many secrets");
		s = &secrets[n_secrets++];
		s->name = sl_xstrdup(env_name);
	}
	s->len = strlen(v);
	s->value = sl_xstrndup(v, s->len);
	return 0;
}

const char *lh_secret_value(const char *env_name)
{
	struct secret *s = env_name ? find_secret(env_name) : NULL;

	return s ? s->value : NULL;
}

void lh_secrets_wipe(void)
{
	for (size_t i = 0; i < n_secrets; i++)
		wipe(&secrets[i]);
	n_secrets = 0;
}

static int secret_tostring(lua_State *L)
{
	lua_pushliteral(L, "[redacted]");
	return 1;
}

static int secret_concat(lua_State *L)
{
	return luaL_error(L, "silo.secret: a secret cannot be concatenated; "
			     "give silo.secret a format such as \"Bearer {secret}\"");
}

static int secret_index(lua_State *L)
{
	return luaL_error(L, "silo.secret: a secret handle has no fields");
}

void lh__secret_meta(lua_State *L)
{
	static const luaL_Reg m[] = {
		{ "__tostring", secret_tostring }, { "__concat", secret_concat },
		{ "__index", secret_index },       { "__newindex", secret_index },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, "silo.secret");
	luaL_setfuncs(L, m, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lh__secret_key);
}

/* silo.secret(NAME [, format]) -> opaque handle. */
int lh__l_secret(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *fmt = luaL_optstring(L, 2, "{secret}");
	struct secret_ud *u;

	if (!find_secret(name))
		return luaL_error(L, "silo.secret: '%s' is not an allowed secret", name);
	if (strlen(fmt) >= sizeof(u->format) || !strstr(fmt, "{secret}"))
		return luaL_error(L, "silo.secret: format must contain {secret} and be shorter "
				     "than 512 bytes");
	u = lua_newuserdatauv(L, sizeof(*u), 0);
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->format, sizeof(u->format), "%s", fmt);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__secret_key);
	lua_setmetatable(L, -2);
	return 1;
}

static struct secret_ud *secret_ud(lua_State *L, int idx)
{
	void *p = lua_touserdata(L, idx);
	int ok;

	if (!p || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
		return NULL;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lh__secret_key);
	ok = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return ok ? p : NULL;
}

const char *lh_secret_check(lua_State *L, int idx, const char **format)
{
	struct secret_ud *u = secret_ud(L, idx);

	if (!u)
		return NULL;
	if (format)
		*format = u->format;
	return u->name;
}

char *lh_secret_render(lua_State *L, int idx)
{
	const char *fmt = NULL, *name = lh_secret_check(L, idx, &fmt), *val, *p;
	struct sl_buf b;

	if (!name || !(val = lh_secret_value(name)))
		return NULL;
	sl_buf_init(&b);
	while ((p = strstr(fmt, "{secret}"))) {
		sl_buf_add(&b, fmt, (size_t)(p - fmt));
		sl_buf_adds(&b, val);
		fmt = p + 8;
	}
	sl_buf_adds(&b, fmt);
	return sl_buf_steal(&b);
}

/* ---- backend module registry ------------------------------------------- */

#define LH_MAX_BACKEND_MODS 8

static struct {
	char name[32];
	lua_CFunction opener;
} backend_mods[LH_MAX_BACKEND_MODS];
static size_t n_backend_mods;

void lh_register_backend_module(const char *name, lua_CFunction opener)
{
	for (size_t i = 0; i < n_backend_mods; i++) {
		if (!strcmp(backend_mods[i].name, name)) {
			backend_mods[i].opener = opener;
			return;
		}
	}
	if (n_backend_mods == LH_MAX_BACKEND_MODS || strlen(name) >= 32) {
		SL_ERROR("lua", "cannot register backend module '%s'", name);
		return;
	}
	snprintf(backend_mods[n_backend_mods].name, 32, "%s", name);
	backend_mods[n_backend_mods++].opener = opener;
}

size_t lh__backend_module_count(void)
{
	return n_backend_mods;
}

const char *lh__backend_module_name(size_t i)
{
	return backend_mods[i].name;
}

lua_CFunction lh__backend_module_opener(size_t i)
{
	return backend_mods[i].opener;
}
