/*
 * pol.c: policy files (cli.md 3.2, decisions 8-11, 14-15). Every --policy
 * file runs in one shared LH_POLICY state (no clock, no random, no io);
 * the table it returns is validated strictly (unknown keys are errors that
 * name the file) and merged on top of the previous files: a later file wins
 * per key, lists are replaced wholesale, never merged. Hooks and extra
 * tools stay in the Lua state as registry refs; pol_hook calls a hook under
 * the state's instruction budget and memory cap, and any failure comes
 * back as an error so the caller fails closed.
 *
 * A list field left NULL means "not set by any policy file", so the CLI
 * layering can fall back to --config. The risk list is in pol_risk.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luahost/lh.h"
#include "policy/pol.h"

static const char *const hook_names[] = {
	"allow_host",     "credential_for",   "on_request", "on_tool_call",
	"on_session_start", "on_session_end", NULL,
};

struct polb {
	struct pol *p;
	lua_State *L;
	const char *path;  /* the file, for messages */
	char *dir;         /* its directory, for relative paths (owned) */
	int root_ref;
	int hooks_ref;     /* out */
	int *tmp_refs;     /* apply_tools' array until handed over (owned) */
	struct sl_err *err;
	int failed;
};

static int fail(struct polb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct polb *b, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (b->failed)
		return -1;
	b->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_err_set(b->err, SL_EPARSE, "policy %s: %s", b->path, msg);
	return -1;
}

void pol_init(struct pol *p)
{
	memset(p, 0, sizeof(*p));
}

static void strv_free(char **v)
{
	for (char **s = v; s && *s; s++)
		free(*s);
	free(v);
}

static void creds_free(struct pol_credential *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].host);
		free(c[i].header);
		free(c[i].env);
		free(c[i].format);
	}
	free(c);
}

static void placeholders_free(struct pol_placeholder *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].env);
		free(c[i].host);
		free(c[i].header);
		free(c[i].method);
		free(c[i].path);
	}
	free(c);
}

static void tool_refs_free(struct pol *p)
{
	for (size_t i = 0; i < p->n_tool_refs; i++)
		lh_unref(p->lua, p->tool_refs[i]);
	free(p->tool_refs);
	p->tool_refs = NULL;
	p->n_tool_refs = 0;
}

void pol_free(struct pol *p)
{
	strv_free(p->read_allowlist);
	strv_free(p->allow_risky_paths);
	strv_free(p->allowed_domains);
	strv_free(p->tunnel_domains);
	strv_free(p->disable_tools);
	strv_free(p->review_rules);
	creds_free(p->credentials, p->n_credentials);
	placeholders_free(p->placeholders, p->n_placeholders);
	jv_unref(p->hosts);
	jv_unref(p->upstream_ca);
	jv_unref(p->prices);
	tool_refs_free(p);
	for (size_t i = 0; i < p->n_files; i++) {
		lh_unref(p->lua, p->files[i].ref);
		free(p->files[i].path);
	}
	free(p->files);
	lh_free(p->lua);
	memset(p, 0, sizeof(*p));
}

/* ---- reading the returned table (raw, no metamethods) -------------------- */

static int rawfield(lua_State *L, int idx, const char *key)
{
	idx = lua_absindex(L, idx);
	lua_pushstring(L, key);
	return lua_rawget(L, idx);
}

/* Length of the list at idx (keys exactly 1..n), or -1 after fail(). */
static long list_len(struct polb *b, int idx, const char *what)
{
	lua_State *L = b->L;
	long n = 0;
	lua_Integer max = 0;

	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		return fail(b, "%s: must be a list (got %s)", what, luaL_typename(L, idx));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
			lua_pop(L, 1);
			return fail(b, "%s: must be a list (keys 1..n)", what);
		}
		if (lua_tointeger(L, -1) > max)
			max = lua_tointeger(L, -1);
		n++;
	}
	if (max != n)
		return fail(b, "%s: must be a list (keys 1..n)", what);
	return n;
}

static int check_keys(struct polb *b, int idx, const char *const *allowed, const char *what)
{
	lua_State *L = b->L;

	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int ok = 0;

		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING)
			for (const char *const *a = allowed; *a; a++)
				ok |= !strcmp(lua_tostring(L, -1), *a);
		if (!ok) {
			int rc = lua_type(L, -1) == LUA_TSTRING
					 ? fail(b, "%s%sunknown key '%s'", what, *what ? ": " : "",
						lua_tostring(L, -1))
					 : fail(b, "%s%sunexpected non-string key", what,
						*what ? ": " : "");

			lua_pop(L, 1);
			return rc;
		}
	}
	return 0;
}

/* String field of the record at idx: owned copy, NULL when absent. */
static int str_field(struct polb *b, int idx, const char *key, int required, const char *what,
		     char **out)
{
	lua_State *L = b->L;
	int t = rawfield(L, idx, key);

	*out = NULL;
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return required ? fail(b, "%s: missing %s", what, key) : 0;
	}
	if (t != LUA_TSTRING || !lua_rawlen(L, -1)) {
		lua_pop(L, 1);
		return fail(b, "%s.%s: must be a non-empty string", what, key);
	}
	*out = sl_xstrdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	return 0;
}

static int valid_env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int valid_header_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
			return 0;
	return 1;
}

/* A domain pattern: exact host name or "*.suffix" (sandbox.md 10.2). */
static int valid_pattern(const char *s)
{
	const char *h = !strncmp(s, "*.", 2) ? s + 2 : s;

	if (!*h || strlen(h) > 253)
		return 0;
	for (const char *c = h; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' ||
		      *c == ':' || *c == '[' || *c == ']'))
			return 0;
	return !strstr(h, "..") && h[0] != '.';
}

enum strkind { SK_PLAIN, SK_PATH, SK_REL_PATH, SK_PATTERN };

/* "~" and "~/..." expand with $HOME; other paths must be absolute. */
static char *expand_path(struct polb *b, const char *s, enum strkind kind)
{
	const char *home = getenv("HOME");

	if ((s[0] == '~' && (s[1] == '/' || !s[1])) && home && *home)
		return sl_xasprintf("%s%s", home, s + 1);
	if (s[0] == '/')
		return sl_xstrdup(s);
	if (kind == SK_REL_PATH)
		return sl_xasprintf("%s/%s", b->dir, s);
	return NULL;
}

/* A list of strings at the top of the stack -> NULL-terminated array. */
static char **str_list(struct polb *b, const char *key, enum strkind kind)
{
	lua_State *L = b->L;
	long n = list_len(b, -1, key);
	char **v;

	if (n < 0)
		return NULL;
	v = sl_xcalloc((size_t)n + 1, sizeof(*v));
	for (long i = 1; i <= n; i++) {
		const char *s;

		if (lua_rawgeti(L, -1, i) != LUA_TSTRING || !lua_rawlen(L, -1)) {
			lua_pop(L, 1);
			fail(b, "%s[%ld]: must be a non-empty string", key, i);
			goto bad;
		}
		s = lua_tostring(L, -1);
		if (kind == SK_PATH || kind == SK_REL_PATH) {
			v[i - 1] = expand_path(b, s, kind);
			if (!v[i - 1]) {
				lua_pop(L, 1);
				fail(b, "%s[%ld]: '%s' must be an absolute path or start with ~/", key,
				     i, s);
				goto bad;
			}
		} else if (kind == SK_PATTERN && !valid_pattern(s)) {
			lua_pop(L, 1);
			fail(b, "%s[%ld]: '%s' is not a host name or *.suffix pattern", key, i, s);
			goto bad;
		} else {
			v[i - 1] = sl_xstrdup(s);
		}
		lua_pop(L, 1);
	}
	return v;
bad:
	strv_free(v);
	return NULL;
}

static void set_strv(char ***dst, char **v)
{
	strv_free(*dst);
	*dst = v;
}

static int apply_credentials(struct polb *b)
{
	static const char *const keys[] = { "host", "header", "env", "format", NULL };
	lua_State *L = b->L;
	long n = list_len(b, -1, "credentials");
	struct pol_credential *c;
	char what[64];

	if (n < 0)
		return -1;
	c = sl_xcalloc((size_t)n + 1, sizeof(*c));
	for (long i = 1; i <= n; i++) {
		struct pol_credential *e = &c[i - 1];

		snprintf(what, sizeof(what), "credentials[%ld]", i);
		if (lua_rawgeti(L, -1, i) != LUA_TTABLE) {
			lua_pop(L, 1);
			fail(b, "%s: must be a table", what);
			goto bad;
		}
		if (check_keys(b, -1, keys, what) || str_field(b, -1, "host", 1, what, &e->host) ||
		    str_field(b, -1, "header", 1, what, &e->header) ||
		    str_field(b, -1, "env", 1, what, &e->env) ||
		    str_field(b, -1, "format", 0, what, &e->format)) {
			lua_pop(L, 1);
			goto bad;
		}
		lua_pop(L, 1);
		if (!valid_env_name(e->env)) {
			fail(b, "%s.env: '%s' is not an environment variable name", what, e->env);
			goto bad;
		}
		if (!valid_header_name(e->header)) {
			fail(b, "%s.header: '%s' is not a header name", what, e->header);
			goto bad;
		}
		if (!e->format)
			e->format = sl_xstrdup("{secret}");
	}
	creds_free(b->p->credentials, b->p->n_credentials);
	b->p->credentials = c;
	b->p->n_credentials = (size_t)n;
	return 0;
bad:
	creds_free(c, (size_t)n);
	return -1;
}

static int apply_placeholders(struct polb *b)
{
	static const char *const keys[] = { "env", "host", "header", "method", "path", NULL };
	lua_State *L = b->L;
	long n = list_len(b, -1, "placeholders");
	struct pol_placeholder *c;
	char what[64];

	if (n < 0)
		return -1;
	c = sl_xcalloc((size_t)n + 1, sizeof(*c));
	for (long i = 1; i <= n; i++) {
		struct pol_placeholder *e = &c[i - 1];

		snprintf(what, sizeof(what), "placeholders[%ld]", i);
		if (lua_rawgeti(L, -1, i) != LUA_TTABLE) {
			lua_pop(L, 1);
			fail(b, "%s: must be a table", what);
			goto bad;
		}
		if (check_keys(b, -1, keys, what) || str_field(b, -1, "env", 1, what, &e->env) ||
		    str_field(b, -1, "host", 1, what, &e->host) ||
		    str_field(b, -1, "header", 1, what, &e->header) ||
		    str_field(b, -1, "method", 0, what, &e->method) ||
		    str_field(b, -1, "path", 0, what, &e->path)) {
			lua_pop(L, 1);
			goto bad;
		}
		lua_pop(L, 1);
		if (!valid_env_name(e->env)) {
			fail(b, "%s.env: '%s' is not an environment variable name", what, e->env);
			goto bad;
		}
		/* the dummy is swapped in this header only, never one the
		 * upstream may reflect */
		if (!valid_header_name(e->header)) {
			fail(b, "%s.header: '%s' is not a header name", what, e->header);
			goto bad;
		}
	}
	placeholders_free(b->p->placeholders, b->p->n_placeholders);
	b->p->placeholders = c;
	b->p->n_placeholders = (size_t)n;
	return 0;
bad:
	placeholders_free(c, (size_t)n);
	return -1;
}

static int apply_quota(struct polb *b)
{
	static const char *const keys[] = { "tokens", "usd", NULL };
	lua_State *L = b->L;
	struct pol *p = b->p;
	int t;

	if (!lua_istable(L, -1))
		return fail(b, "quota: must be a table");
	if (check_keys(b, -1, keys, "quota"))
		return -1;
	t = rawfield(L, -1, "tokens");
	if (t != LUA_TNIL) {
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0) {
			lua_pop(L, 1);
			return fail(b, "quota.tokens: must be a non-negative integer");
		}
		p->has_quota_tokens = 1;
		p->quota_tokens = (uint64_t)lua_tointeger(L, -1);
	}
	lua_pop(L, 1);
	t = rawfield(L, -1, "usd");
	if (t != LUA_TNIL) {
		double d = lua_tonumber(L, -1);

		if (t != LUA_TNUMBER || !isfinite(d) || d < 0) {
			lua_pop(L, 1);
			return fail(b, "quota.usd: must be a finite number >= 0");
		}
		p->has_quota_usd = 1;
		p->quota_usd = d;
	}
	lua_pop(L, 1);
	return 0;
}

static int apply_max_turns(struct polb *b)
{
	lua_State *L = b->L;

	if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 1000000)
		return fail(b, "max_turns: must be an integer from 1 to 1000000");
	b->p->max_turns = (int)lua_tointeger(L, -1);
	return 0;
}

/* sandbox: limits and the Unix socket switch (docs/policy.md). */
static int apply_sandbox(struct polb *b)
{
	static const char *const keys[] = { "tmpfs_mb", "tmpfs_inodes", "memory_mb", "pids_max",
					    "unix_connect", NULL };
	static const struct {
		const char *key;
		lua_Integer min, max;
	} nums[] = {
		{ "tmpfs_mb", 1, 1 << 24 },
		{ "tmpfs_inodes", 64, 1ll << 32 },
		{ "memory_mb", 16, 1 << 26 },
		{ "pids_max", 8, 1 << 22 },
	};
	lua_State *L = b->L;
	struct pol_sandbox *s = &b->p->sandbox;

	if (!lua_istable(L, -1))
		return fail(b, "sandbox: must be a table");
	if (check_keys(b, -1, keys, "sandbox"))
		return -1;
	for (size_t i = 0; i < SL_ARRAY_LEN(nums); i++) {
		lua_Integer v;

		if (rawfield(L, -1, nums[i].key) == LUA_TNIL) {
			lua_pop(L, 1);
			continue;
		}
		v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
		lua_pop(L, 1);
		if (v < nums[i].min || v > nums[i].max)
			return fail(b, "sandbox.%s: must be an integer from %lld to %lld", nums[i].key,
				    (long long)nums[i].min, (long long)nums[i].max);
		if (i == 0)
			s->tmpfs_mb = (uint64_t)v;
		else if (i == 1)
			s->tmpfs_inodes = (uint64_t)v;
		else if (i == 2)
			s->memory_mb = (uint64_t)v;
		else
			s->pids_max = (int)v;
	}
	if (rawfield(L, -1, "unix_connect") != LUA_TNIL) {
		int ok = lua_isboolean(L, -1);

		s->unix_connect = lua_toboolean(L, -1);
		lua_pop(L, 1);
		if (!ok)
			return fail(b, "sandbox.unix_connect: must be a boolean");
	} else {
		lua_pop(L, 1);
	}
	return 0;
}

/* prices = { [model] = { input = N, output = N, cache_read? = N,
 * cache_write? = N } }: a model the backends have no row for gets one. */
static int apply_prices(struct polb *b)
{
	static const char *const keys[] = { "input", "output", "cache_read", "cache_write", NULL };
	lua_State *L = b->L;
	struct jv *o;

	if (!lua_istable(L, -1))
		return fail(b, "prices: must be a table of [model] = { input = N, output = N }");
	o = jv_obj();
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *model = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		struct jv *row;
		char what[160];

		if (!model || !*model || !lua_istable(L, -1)) {
			lua_pop(L, 2);
			fail(b, "prices: every entry must map a model name to { input = N, output = N }");
			goto bad;
		}
		snprintf(what, sizeof what, "prices[\"%s\"]", model);
		if (check_keys(b, -1, keys, what)) {
			lua_pop(L, 2);
			goto bad;
		}
		row = jv_obj();
		for (int i = 0; keys[i]; i++) {
			int t = rawfield(L, -1, keys[i]);
			double d = lua_tonumber(L, -1);

			lua_pop(L, 1);
			if (t == LUA_TNIL && i >= 2)
				continue;
			if (t != LUA_TNUMBER || !isfinite(d) || d < 0) {
				jv_unref(row);
				lua_pop(L, 2);
				fail(b, "prices[\"%s\"].%s: must be a finite number >= 0 (US dollars "
					"per million tokens)", model, keys[i]);
				goto bad;
			}
			jv_set(row, keys[i], jv_float(d));
		}
		jv_set(o, model, row);
		lua_pop(L, 1);
	}
	jv_sort_keys(o);
	jv_unref(b->p->prices);
	b->p->prices = o;
	return 0;
bad:
	jv_unref(o);
	return -1;
}

const struct jv *pol_price_for(const struct pol *p, const char *model)
{
	return p->prices && model ? jv_get(p->prices, model) : NULL;
}

/* hosts / upstream_ca: a map of string -> string. */
static struct jv *str_map(struct polb *b, const char *key, int paths)
{
	lua_State *L = b->L;
	struct jv *o;

	if (!lua_istable(L, -1)) {
		fail(b, "%s: must be a table of name = value", key);
		return NULL;
	}
	o = jv_obj();
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING ||
		    !lua_rawlen(L, -1)) {
			lua_pop(L, 2);
			fail(b, "%s: every entry must map a name to a non-empty string", key);
			jv_unref(o);
			return NULL;
		}
		if (paths) {
			char *v = expand_path(b, lua_tostring(L, -1), SK_REL_PATH);

			jv_set(o, lua_tostring(L, -2), jv_str(v));
			free(v);
		} else {
			jv_set(o, lua_tostring(L, -2), jv_str(lua_tostring(L, -1)));
		}
		lua_pop(L, 1);
	}
	jv_sort_keys(o);
	return o;
}

static int apply_tools(struct polb *b)
{
	lua_State *L = b->L;
	long n = list_len(b, -1, "tools");
	int *refs;

	if (n < 0)
		return -1;
	for (long i = 1; i <= n; i++) {
		int t = lua_rawgeti(L, -1, i), nt, rt;

		if (t != LUA_TTABLE) {
			lua_pop(L, 1);
			return fail(b, "tools[%ld]: must be a tool table", i);
		}
		nt = rawfield(L, -1, "name");
		rt = rawfield(L, -2, "run");
		lua_pop(L, 3);
		if (nt != LUA_TSTRING)
			return fail(b, "tools[%ld]: missing name", i);
		if (rt != LUA_TFUNCTION)
			return fail(b, "tools[%ld]: missing run function", i);
	}
	/* luaL_ref may raise (memory): keep the array reachable from b. */
	refs = b->tmp_refs = sl_xcalloc((size_t)n + 1, sizeof(*refs));
	for (long i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		refs[i - 1] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	b->tmp_refs = NULL;
	tool_refs_free(b->p);
	b->p->tool_refs = refs;
	b->p->n_tool_refs = (size_t)n;
	return 0;
}

static int check_hooks(struct polb *b)
{
	lua_State *L = b->L;

	if (!lua_istable(L, -1))
		return fail(b, "hooks: must be a table of functions");
	if (check_keys(b, -1, hook_names, "hooks"))
		return -1;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (!lua_isfunction(L, -1)) {
			int rc = fail(b, "hooks.%s: must be a function", lua_tostring(L, -2));

			lua_pop(L, 2);
			return rc;
		}
		lua_pop(L, 1);
	}
	lua_pushvalue(L, -1);
	b->hooks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* Runs protected (luaL_ref and table reads may raise on memory). */
static int apply_all(lua_State *L)
{
	static const char *const keys[] = {
		"read_allowlist", "allow_risky_paths", "allowed_domains", "credentials",
		"quota",          "tools",             "disable_tools",   "upstream_ca",
		"tunnel_domains", "placeholders",      "review_rules",    "hooks",
		"hosts",          "max_turns",         "sandbox",         "prices",
		NULL,
	};
	static const struct {
		const char *key;
		enum strkind kind;
		size_t off;
	} lists[] = {
		{ "read_allowlist", SK_PATH, offsetof(struct pol, read_allowlist) },
		{ "allowed_domains", SK_PATTERN, offsetof(struct pol, allowed_domains) },
		{ "tunnel_domains", SK_PATTERN, offsetof(struct pol, tunnel_domains) },
		{ "disable_tools", SK_PLAIN, offsetof(struct pol, disable_tools) },
		{ "review_rules", SK_REL_PATH, offsetof(struct pol, review_rules) },
	};
	/* Every key rawfield() looks up, interned and anchored first so the
	 * lookups never allocate (never raise) while C temporaries are alive. */
	static const char *const all_keys[] = {
		"read_allowlist", "allow_risky_paths", "allowed_domains", "tunnel_domains",
		"disable_tools", "review_rules", "credentials", "placeholders", "quota", "tools",
		"hooks", "hosts", "upstream_ca", "host", "header", "env", "format", "method",
		"path", "tokens", "usd", "name", "run", "max_turns", "sandbox", "tmpfs_mb",
		"tmpfs_inodes", "memory_mb", "pids_max", "unix_connect", "prices", "input", "output",
		"cache_read", "cache_write", NULL,
	};
	struct polb *b = lua_touserdata(L, 1);
	struct pol *p = b->p;

	lua_settop(L, 0);
	luaL_checkstack(L, 40, "policy");
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->root_ref); /* 1 */
	lua_newtable(L);                                /* 2: anchors the keys */
	for (int i = 0; all_keys[i]; i++) {
		lua_pushstring(L, all_keys[i]);
		lua_rawseti(L, 2, i + 1);
	}
	if (check_keys(b, 1, keys, ""))
		return 0;
	if (rawfield(L, 1, "allow_risky_paths") != LUA_TNIL) {
		/* decisions 9: only the --allow-risky-path flag can accept risk. */
		fail(b, "allow_risky_paths: not allowed in a policy; only the "
			"--allow-risky-path flag can accept a risky path");
		return 0;
	}
	lua_pop(L, 1);
	for (size_t i = 0; i < SL_ARRAY_LEN(lists); i++) {
		char **v;

		if (rawfield(L, 1, lists[i].key) == LUA_TNIL) {
			lua_pop(L, 1);
			continue;
		}
		v = str_list(b, lists[i].key, lists[i].kind);
		lua_pop(L, 1);
		if (!v)
			return 0;
		set_strv((char ***)((char *)p + lists[i].off), v);
	}
#define WITH(key, stmt)                                                        \
	do {                                                                   \
		if (rawfield(L, 1, key) != LUA_TNIL) {                         \
			int rc_ = (stmt);                                      \
			lua_settop(L, 2);                                      \
			if (rc_)                                               \
				return 0;                                      \
		} else {                                                       \
			lua_pop(L, 1);                                         \
		}                                                              \
	} while (0)
	WITH("credentials", apply_credentials(b));
	WITH("placeholders", apply_placeholders(b));
	WITH("quota", apply_quota(b));
	WITH("sandbox", apply_sandbox(b));
	WITH("max_turns", apply_max_turns(b));
	WITH("tools", apply_tools(b));
	WITH("hooks", check_hooks(b));
	WITH("prices", apply_prices(b));
	if (rawfield(L, 1, "hosts") != LUA_TNIL) {
		struct jv *o = str_map(b, "hosts", 0);

		lua_settop(L, 2);
		if (!o)
			return 0;
		jv_unref(p->hosts);
		p->hosts = o;
	} else {
		lua_pop(L, 1);
	}
	if (rawfield(L, 1, "upstream_ca") != LUA_TNIL) {
		struct jv *o = str_map(b, "upstream_ca", 1);

		lua_settop(L, 2);
		if (!o)
			return 0;
		jv_unref(p->upstream_ca);
		p->upstream_ca = o;
	} else {
		lua_pop(L, 1);
	}
#undef WITH
	return 0;
}

int pol_load_file(struct pol *p, const char *path, const char *lua_dir, struct sl_err *err)
{
	struct polb b = { .p = p, .path = path, .root_ref = LUA_NOREF, .hooks_ref = LUA_NOREF,
			  .err = err };
	struct pol_file *f;
	size_t n = 0;
	char *src, *cn, *slash;
	int rc;

	src = sl_read_file(path, &n, 16u << 20, err);
	if (!src) {
		sl_err_prefix(err, "policy %s", path);
		return err && err->code ? err->code : SL_EIO;
	}
	if (!p->lua && !(p->lua = lh_new(LH_POLICY, NULL, NULL, lua_dir, err))) {
		free(src);
		return err && err->code ? err->code : SL_ENOMEM;
	}
	cn = sl_xasprintf("@%s", path);
	rc = lh_load_string(p->lua, cn, src, n, &b.root_ref, err);
	free(cn);
	if (rc) {
		free(src);
		if (err) {
			char m[sizeof(err->msg)];

			snprintf(m, sizeof(m), "%s", err->msg);
			sl_err_set(err, rc, "policy %s", m);
		}
		return rc;
	}
	b.L = lh_L(p->lua);
	b.dir = sl_xstrdup(path);
	slash = strrchr(b.dir, '/');
	if (slash)
		*(slash == b.dir ? slash + 1 : slash) = 0;
	else
		strcpy(b.dir, ".");
	lua_pushcfunction(b.L, apply_all);
	lua_pushlightuserdata(b.L, &b);
	if (lua_pcall(b.L, 1, 0, 0) != LUA_OK) {
		fail(&b, "%s", lua_type(b.L, -1) == LUA_TSTRING ? lua_tostring(b.L, -1)
								: "Lua error");
		lua_pop(b.L, 1);
	}
	lh_unref(p->lua, b.root_ref);
	free(b.dir);
	free(b.tmp_refs); /* only set when apply_tools was cut short */
	if (b.failed) {
		lh_unref(p->lua, b.hooks_ref);
		free(src);
		return SL_EPARSE;
	}
	p->files = sl_xrealloc(p->files, (p->n_files + 1) * sizeof(*p->files));
	f = &p->files[p->n_files++];
	f->path = sl_xstrdup(path);
	sl_sha256_hex(src, n, f->sha256);
	f->ref = b.hooks_ref;
	free(src);
	return 0;
}

int pol_hook(struct pol *p, const char *name, const struct jv *const *args, int nargs,
	     struct jv **ret, struct sl_err *err)
{
	if (ret)
		*ret = NULL;
	if (!p || !p->lua)
		return sl_err_set(err, SL_ENOENT, "no policy hook %s", name);
	for (size_t i = p->n_files; i > 0; i--) {
		struct pol_file *f = &p->files[i - 1];
		int rc;

		if (f->ref == LUA_NOREF)
			continue;
		rc = lh_call_field(p->lua, f->ref, name, args, nargs, ret, err);
		if (rc == SL_ENOENT)
			continue;
		return rc;
	}
	return sl_err_set(err, SL_ENOENT, "no policy hook %s", name);
}

int pol_has_hook(struct pol *p, const char *name)
{
	if (!p || !p->lua)
		return 0;
	lua_State *L = lh_L(p->lua);
	int found = 0;
	for (size_t i = 0; i < p->n_files && !found; i++) {
		if (p->files[i].ref == LUA_NOREF)
			continue;
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->files[i].ref); /* hooks */
		if (lua_istable(L, -1)) {
			lua_getfield(L, -1, name); /* hooks, fn */
			found = lua_isfunction(L, -1);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	return found;
}

int pol_load_default(struct pol *p, const char *lua_dir, struct sl_err *err)
{
	char *dir = sl_res_find(SL_RES_POLICIES, err);
	if (!dir)
		return err && err->code ? err->code : SL_ENOENT;
	char *path = sl_xasprintf("%s/default.lua", dir);
	int rc = pol_load_file(p, path, lua_dir, err);
	if (!rc)
		p->files[p->n_files - 1].builtin = 1;
	free(path);
	free(dir);
	return rc;
}
