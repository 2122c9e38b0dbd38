/*
 * fx.c: loading a Lua fixture (replay.md 5). The chunk runs in an
 * LH_FIXTURE state (only `json` and the safe base library, no clock, no
 * random), then the returned table is validated strictly — unknown keys and
 * wrong types are errors naming the file and the entry path, such as
 * `llm[2].response: missing content` — and converted: responses, tool
 * outputs and frontend steps become jv trees, `expect` predicates stay in
 * the state as registry refs. Matching lives in fx_match.c.
 *
 * Validation reads tables raw (lua_rawget, lua_next), so no fixture code
 * runs after the chunk itself returned.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luahost/lh.h"
#include "mock/fx.h"

struct fxb {
	struct fx *fx;
	lua_State *L;
	int root_ref;
	struct sl_err *err;
	struct sl_buf path; /* entry path of the value being checked */
	int failed;
};

static int fail(struct fxb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct fxb *b, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (b->failed)
		return -1;
	b->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->path.len)
		sl_err_set(b->err, SL_EPARSE, "%s: %s: %s", b->fx->path, b->path.p, msg);
	else
		sl_err_set(b->err, SL_EPARSE, "%s: %s", b->fx->path, msg);
	return -1;
}

static size_t path_push(struct fxb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t path_push(struct fxb *b, const char *fmt, ...)
{
	size_t saved = b->path.len;
	va_list ap;

	va_start(ap, fmt);
	sl_buf_vprintf(&b->path, fmt, ap);
	va_end(ap);
	return saved;
}

static void path_pop(struct fxb *b, size_t saved)
{
	b->path.len = saved;
	if (b->path.p)
		b->path.p[saved] = 0;
}

/* Pushes t[key] without metamethods. */
static int rawfield(lua_State *L, int idx, const char *key)
{
	lua_pushstring(L, key);
	return lua_rawget(L, idx < 0 ? idx - 1 : idx);
}

/* Every key of the table at idx must be a string in allowed. */
static int check_keys(struct fxb *b, int idx, const char *const *allowed)
{
	lua_State *L = b->L;

	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k;
		int ok = 0;

		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			const char *tn = luaL_typename(L, -1);

			lua_pop(L, 1);
			return fail(b, "unexpected %s key", tn);
		}
		k = lua_tostring(L, -1);
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(k, *a))
				ok = 1;
		if (!ok) {
			int rc = fail(b, "unknown key '%s'", k);

			lua_pop(L, 1);
			return rc;
		}
	}
	return 0;
}

/* The table at idx must be a list (keys exactly 1..n); returns n or -1. */
static long list_len(struct fxb *b, int idx)
{
	lua_State *L = b->L;
	long n = 0;
	lua_Integer max = 0;

	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		return fail(b, "must be a list (got %s)", luaL_typename(L, idx));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
			lua_pop(L, 1);
			return fail(b, "must be a list (keys 1..n)");
		}
		if (lua_tointeger(L, -1) > max)
			max = lua_tointeger(L, -1);
		n++;
	}
	if (max != n)
		return fail(b, "must be a list (keys 1..n)");
	return n;
}

/* Optional string field: *out = owned copy or NULL. */
static int opt_string(struct fxb *b, int idx, const char *key, char **out, int required)
{
	lua_State *L = b->L;
	size_t n;
	const char *s;
	int t = rawfield(L, idx, key);

	*out = NULL;
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return required ? fail(b, "missing %s", key) : 0;
	}
	if (t != LUA_TSTRING) {
		lua_pop(L, 1);
		return fail(b, "%s: must be a string (got %s)", key, lua_typename(L, t));
	}
	s = lua_tolstring(L, -1, &n);
	if (!jv_utf8_valid(s, n)) {
		lua_pop(L, 1);
		return fail(b, "%s: not valid UTF-8", key);
	}
	*out = sl_xstrndup(s, n);
	lua_pop(L, 1);
	return 0;
}

/* JSON value of field key (any type); *out NULL when absent. */
static int opt_json(struct fxb *b, int idx, const char *key, struct jv **out, int required)
{
	lua_State *L = b->L;
	struct sl_err e = { 0 };
	int t = rawfield(L, idx, key);

	*out = NULL;
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return required ? fail(b, "missing %s", key) : 0;
	}
	*out = lh_to_jv(L, -1, 0, &e);
	lua_pop(L, 1);
	if (!*out)
		return fail(b, "%s: %s", key, e.msg);
	return 0;
}

/* An `expect` function: *ref = registry ref or LUA_NOREF. */
static int opt_fn(struct fxb *b, int idx, const char *key, int *ref)
{
	lua_State *L = b->L;
	int t = rawfield(L, idx, key);

	*ref = LUA_NOREF;
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	if (t != LUA_TFUNCTION) {
		lua_pop(L, 1);
		return fail(b, "%s: must be a function (got %s)", key, lua_typename(L, t));
	}
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int nonneg_int_field(struct fxb *b, int idx, const char *key, struct jv *obj,
			    int required)
{
	lua_State *L = b->L;
	int t = rawfield(L, idx, key);

	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return required ? fail(b, "missing %s", key) : 0;
	}
	if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0) {
		lua_pop(L, 1);
		return fail(b, "%s: must be a non-negative integer", key);
	}
	jv_set(obj, key, jv_int(lua_tointeger(L, -1)));
	lua_pop(L, 1);
	return 0;
}

/* ---- llm turns ----------------------------------------------------------- */

static struct jv *build_block(struct fxb *b, int idx)
{
	static const char *const k_text[] = { "type", "text", NULL };
	static const char *const k_use[] = { "type", "id", "name", "input", NULL };
	static const char *const k_prov[] = { "type", "backend", "data", NULL };
	struct jv *blk = jv_obj(), *input = NULL;
	char *type = NULL, *s1 = NULL, *s2 = NULL;

	if (!lua_istable(b->L, idx)) {
		fail(b, "must be a table (got %s)", luaL_typename(b->L, idx));
		goto bad;
	}
	if (opt_string(b, idx, "type", &type, 1))
		goto bad;
	jv_set(blk, "type", jv_str(type));
	if (!strcmp(type, "text")) {
		if (check_keys(b, idx, k_text) || opt_string(b, idx, "text", &s1, 1))
			goto bad;
		jv_set(blk, "text", jv_str(s1));
	} else if (!strcmp(type, "tool_use")) {
		if (check_keys(b, idx, k_use) || opt_string(b, idx, "id", &s1, 1) ||
		    opt_string(b, idx, "name", &s2, 1) || opt_json(b, idx, "input", &input, 0))
			goto bad;
		if (!input)
			input = jv_obj();
		if (!jv_is(input, JV_OBJECT)) {
			fail(b, "input: must be an object");
			goto bad;
		}
		jv_set(blk, "id", jv_str(s1));
		jv_set(blk, "name", jv_str(s2));
		jv_set(blk, "input", input);
		input = NULL;
	} else if (!strcmp(type, "provider")) {
		if (check_keys(b, idx, k_prov) || opt_string(b, idx, "backend", &s1, 1) ||
		    opt_json(b, idx, "data", &input, 1))
			goto bad;
		jv_set(blk, "backend", jv_str(s1));
		jv_set(blk, "data", input);
		input = NULL;
	} else {
		fail(b, "type: unknown block type '%s'", type);
		goto bad;
	}
	free(type);
	free(s1);
	free(s2);
	return blk;
bad:
	free(type);
	free(s1);
	free(s2);
	jv_unref(input);
	jv_unref(blk);
	return NULL;
}

static struct jv *build_response(struct fxb *b, int idx)
{
	static const char *const keys[] = { "content", "stop_reason", "usage", NULL };
	static const char *const k_usage[] = { "input_tokens", "output_tokens",
					       "cache_creation_input_tokens",
					       "cache_read_input_tokens", NULL };
	static const char *const k_other[] = { "other", NULL };
	lua_State *L = b->L;
	struct jv *resp = jv_obj(), *content = jv_arr();
	long n;
	int t;

	if (check_keys(b, idx, keys))
		goto bad;
	if (rawfield(L, idx, "content") == LUA_TNIL) {
		lua_pop(L, 1);
		fail(b, "missing content");
		goto bad;
	}
	{
		size_t s = path_push(b, ".content");

		n = list_len(b, -1);
		for (long i = 1; i <= n; i++) {
			size_t s2 = path_push(b, "[%ld]", i);
			struct jv *blk;

			lua_rawgeti(L, -1, i);
			blk = build_block(b, lua_gettop(L));
			lua_pop(L, 1);
			if (!blk)
				break;
			jv_push(content, blk);
			path_pop(b, s2);
		}
		lua_pop(L, 1);
		if (b->failed)
			goto bad;
		path_pop(b, s);
	}
	jv_set(resp, "content", content);
	content = NULL;
	t = rawfield(L, idx, "stop_reason");
	if (t == LUA_TSTRING) {
		jv_set(resp, "stop_reason", jv_str(lua_tostring(L, -1)));
	} else if (t == LUA_TTABLE) {
		char *other = NULL;
		size_t s = path_push(b, ".stop_reason");

		if (check_keys(b, -1, k_other) || opt_string(b, lua_gettop(L), "other", &other, 1)) {
			lua_pop(L, 1);
			goto bad;
		}
		path_pop(b, s);
		struct jv *o = jv_obj();

		jv_set(o, "other", jv_str(other));
		free(other);
		jv_set(resp, "stop_reason", o);
	} else {
		lua_pop(L, 1);
		fail(b, t == LUA_TNIL ? "missing stop_reason"
				      : "stop_reason: must be a string or {other = ...}");
		goto bad;
	}
	lua_pop(L, 1);
	t = rawfield(L, idx, "usage");
	if (t == LUA_TTABLE) {
		struct jv *u = jv_obj();
		size_t s = path_push(b, ".usage");
		int top = lua_gettop(L);

		if (check_keys(b, top, k_usage) ||
		    nonneg_int_field(b, top, "input_tokens", u, 1) ||
		    nonneg_int_field(b, top, "output_tokens", u, 1) ||
		    nonneg_int_field(b, top, "cache_creation_input_tokens", u, 0) ||
		    nonneg_int_field(b, top, "cache_read_input_tokens", u, 0)) {
			jv_unref(u);
			lua_pop(L, 1);
			goto bad;
		}
		path_pop(b, s);
		jv_set(resp, "usage", u);
	} else if (t != LUA_TNIL) {
		lua_pop(L, 1);
		fail(b, "usage: must be a table");
		goto bad;
	}
	lua_pop(L, 1);
	return resp;
bad:
	jv_unref(content);
	jv_unref(resp);
	return NULL;
}

static int build_llm(struct fxb *b, int idx, struct fx_llm *e)
{
	static const char *const keys[] = { "expect_user_contains", "expect", "response", NULL };
	lua_State *L = b->L;
	size_t s;

	if (!lua_istable(L, idx))
		return fail(b, "must be a table (got %s)", luaL_typename(L, idx));
	if (check_keys(b, idx, keys) ||
	    opt_string(b, idx, "expect_user_contains", &e->expect_user_contains, 0) ||
	    opt_fn(b, idx, "expect", &e->expect_ref))
		return -1;
	if (rawfield(L, idx, "response") != LUA_TTABLE) {
		int t = lua_type(L, -1);

		lua_pop(L, 1);
		return fail(b, t == LUA_TNIL ? "missing response" : "response: must be a table");
	}
	s = path_push(b, ".response");
	e->response = build_response(b, lua_gettop(L));
	lua_pop(L, 1);
	if (!e->response)
		return -1;
	path_pop(b, s);
	return 0;
}

/* ---- tools and frontend steps ------------------------------------------- */

static int build_tool(struct fxb *b, int idx, struct fx_tool *e)
{
	static const char *const keys[] = { "expect_name", "expect_input", "expect", "output",
					     NULL };
	static const char *const k_out[] = { "content", "is_error", NULL };
	lua_State *L = b->L;
	char *content = NULL;
	int t, top;
	size_t s;

	if (!lua_istable(L, idx))
		return fail(b, "must be a table (got %s)", luaL_typename(L, idx));
	if (check_keys(b, idx, keys) || opt_string(b, idx, "expect_name", &e->expect_name, 1) ||
	    opt_fn(b, idx, "expect", &e->expect_ref))
		return -1;
	t = rawfield(L, idx, "expect_input");
	lua_pop(L, 1);
	if (t != LUA_TNIL && t != LUA_TTABLE)
		return fail(b, "expect_input: must be a table");
	if (opt_json(b, idx, "expect_input", &e->expect_input, 0))
		return -1;
	if (rawfield(L, idx, "output") != LUA_TTABLE) {
		t = lua_type(L, -1);
		lua_pop(L, 1);
		return fail(b, t == LUA_TNIL ? "missing output" : "output: must be a table");
	}
	s = path_push(b, ".output");
	top = lua_gettop(L);
	if (check_keys(b, top, k_out) || opt_string(b, top, "content", &content, 1)) {
		lua_pop(L, 1);
		return -1;
	}
	t = rawfield(L, top, "is_error");
	if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
		lua_pop(L, 2);
		free(content);
		return fail(b, "is_error: must be a boolean");
	}
	e->output = jv_obj();
	jv_set(e->output, "content", jv_str(content));
	jv_set(e->output, "is_error", jv_bool(lua_toboolean(L, -1)));
	free(content);
	lua_pop(L, 2);
	path_pop(b, s);
	return 0;
}

struct step_def {
	const char *step;
	const char *fields[3];
	unsigned required; /* bit i: fields[i] required */
};

static const struct step_def step_defs[] = {
	{ "send_prompt", { "text" }, 1 },
	{ "expect_event", { "kind", "contains" }, 1 },
	{ "answer_question", { "contains", "answer" }, 2 },
	{ "upload_file", { "name", "content_b64" }, 3 },
	{ "interrupt", { NULL }, 0 },
	{ "expect_shutdown", { "message_contains" }, 0 },
};

static int build_step(struct fxb *b, int idx, struct fx_step *e)
{
	const struct step_def *d = NULL;
	const char *keys[5];
	int nk = 0;

	if (!lua_istable(b->L, idx))
		return fail(b, "must be a table (got %s)", luaL_typename(b->L, idx));
	if (opt_string(b, idx, "step", &e->step, 1))
		return -1;
	for (size_t i = 0; i < SL_ARRAY_LEN(step_defs); i++)
		if (!strcmp(step_defs[i].step, e->step))
			d = &step_defs[i];
	if (!d)
		return fail(b, "step: unknown step '%s'", e->step);
	keys[nk++] = "step";
	for (int i = 0; i < 3 && d->fields[i]; i++)
		keys[nk++] = d->fields[i];
	keys[nk] = NULL;
	if (check_keys(b, idx, keys))
		return -1;
	e->fields = jv_obj();
	for (int i = 0; i < 3 && d->fields[i]; i++) {
		char *v = NULL;

		if (opt_string(b, idx, d->fields[i], &v, (d->required >> i) & 1))
			return -1;
		if (v)
			jv_set(e->fields, d->fields[i], jv_str(v));
		free(v);
	}
	return 0;
}

/* ---- the whole fixture -------------------------------------------------- */

/* Runs `each` over list field `key` of the root table. */
static int each_entry(struct fxb *b, const char *key, size_t elem, void **arr, size_t *count,
		      int (*each)(struct fxb *, int, void *))
{
	lua_State *L = b->L;
	long n;
	size_t s = path_push(b, "%s", key);

	if (rawfield(L, 1, key) == LUA_TNIL) {
		lua_pop(L, 1);
		path_pop(b, s);
		return 0;
	}
	n = list_len(b, -1);
	if (n < 0) {
		lua_pop(L, 1);
		return -1;
	}
	*arr = sl_xcalloc((size_t)n + 1, elem);
	for (long i = 1; i <= n; i++) {
		size_t s2 = path_push(b, "[%ld]", i);
		void *slot = (char *)*arr + (size_t)(i - 1) * elem;

		lua_rawgeti(L, -1, i);
		*count = (size_t)i; /* so fx_free sees partially built entries */
		if (each(b, lua_gettop(L), slot)) {
			lua_pop(L, 2);
			return -1;
		}
		lua_pop(L, 1);
		path_pop(b, s2);
	}
	lua_pop(L, 1);
	path_pop(b, s);
	return 0;
}

static int each_llm(struct fxb *b, int idx, void *slot)
{
	struct fx_llm *e = slot;

	e->expect_ref = LUA_NOREF;
	return build_llm(b, idx, e);
}

static int each_tool(struct fxb *b, int idx, void *slot)
{
	struct fx_tool *e = slot;

	e->expect_ref = LUA_NOREF;
	return build_tool(b, idx, e);
}

static int each_step(struct fxb *b, int idx, void *slot)
{
	return build_step(b, idx, slot);
}

static int each_network(struct fxb *b, int idx, void *slot)
{
	struct sl_err e = { 0 };
	struct jv **v = slot;

	if (!lua_istable(b->L, idx))
		return fail(b, "must be a table (got %s)", luaL_typename(b->L, idx));
	*v = lh_to_jv(b->L, idx, 0, &e);
	if (!*v)
		return fail(b, "%s", e.msg);
	return 0;
}

/* Every key rawfield() looks up. Interned (and anchored) before any C
 * memory is built, so the lookups never allocate and therefore never raise
 * while a C temporary is alive. */
static const char *const all_keys[] = {
	"name", "llm", "tools", "frontend", "network", "expect_user_contains", "expect",
	"response", "content", "stop_reason", "usage", "type", "text", "id", "input",
	"backend", "data", "other", "input_tokens", "output_tokens",
	"cache_creation_input_tokens", "cache_read_input_tokens", "expect_name",
	"expect_input", "output", "is_error", "step", "kind", "contains", "answer",
	"content_b64", "message_contains", NULL,
};

static int build_all(lua_State *L)
{
	static const char *const keys[] = { "name", "llm", "tools", "frontend", "network", NULL };
	struct fxb *b = lua_touserdata(L, 1);
	struct fx *fx = b->fx;
	struct jv **net = NULL;
	size_t n_net = 0;
	char *name = NULL;

	lua_settop(L, 0);
	luaL_checkstack(L, 60, "fixture");
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->root_ref); /* 1: the fixture table */
	lua_newtable(L);                                /* 2: anchors the keys */
	for (int i = 0; all_keys[i]; i++) {
		lua_pushstring(L, all_keys[i]);
		lua_rawseti(L, 2, i + 1);
	}
	if (check_keys(b, 1, keys) || opt_string(b, 1, "name", &name, 0))
		return 0;
	if (name) {
		free(fx->name);
		fx->name = name;
	}
	if (each_entry(b, "llm", sizeof(struct fx_llm), (void **)&fx->llm, &fx->n_llm,
		       each_llm) ||
	    each_entry(b, "tools", sizeof(struct fx_tool), (void **)&fx->tools, &fx->n_tools,
		       each_tool) ||
	    each_entry(b, "frontend", sizeof(struct fx_step), (void **)&fx->steps, &fx->n_steps,
		       each_step))
		return 0;
	if (each_entry(b, "network", sizeof(struct jv *), (void **)&net, &n_net, each_network)) {
		for (size_t i = 0; i < n_net; i++)
			jv_unref(net[i]);
		free(net);
		return 0;
	}
	for (size_t i = 0; i < n_net; i++)
		jv_push(fx->network, net[i]);
	free(net);
	return 0;
}

static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return sl_xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

struct fx *fx_load(const char *path, const char *lua_dir, struct sl_err *err)
{
	struct fx *fx = sl_xcalloc(1, sizeof(*fx));
	struct fxb b = { .fx = fx, .err = err, .root_ref = LUA_NOREF };
	int rc;

	fx->path = sl_xstrdup(path);
	fx->name = file_stem(path);
	fx->network = jv_arr();
	fx->lua = lh_new(LH_FIXTURE, NULL, NULL, lua_dir, err);
	if (!fx->lua)
		goto bad;
	if (lh_load_file(fx->lua, path, &b.root_ref, err))
		goto bad;
	b.L = lh_L(fx->lua);
	sl_buf_init(&b.path);
	sl_buf_reserve(&b.path, 64);
	lua_pushcfunction(b.L, build_all);
	lua_pushlightuserdata(b.L, &b);
	rc = lua_pcall(b.L, 1, 0, 0);
	if (rc != LUA_OK) {
		fail(&b, "%s", lua_type(b.L, -1) == LUA_TSTRING ? lua_tostring(b.L, -1)
								: "Lua error");
		lua_pop(b.L, 1);
	}
	sl_buf_free(&b.path);
	lh_unref(fx->lua, b.root_ref);
	if (b.failed)
		goto bad;
	return fx;
bad:
	fx_free(fx);
	return NULL;
}

void fx_free(struct fx *fx)
{
	if (!fx)
		return;
	for (size_t i = 0; i < fx->n_llm; i++) {
		free(fx->llm[i].expect_user_contains);
		jv_unref(fx->llm[i].response);
		lh_unref(fx->lua, fx->llm[i].expect_ref);
	}
	for (size_t i = 0; i < fx->n_tools; i++) {
		free(fx->tools[i].expect_name);
		jv_unref(fx->tools[i].expect_input);
		jv_unref(fx->tools[i].output);
		lh_unref(fx->lua, fx->tools[i].expect_ref);
	}
	for (size_t i = 0; i < fx->n_steps; i++) {
		free(fx->steps[i].step);
		jv_unref(fx->steps[i].fields);
	}
	free(fx->llm);
	free(fx->tools);
	free(fx->steps);
	jv_unref(fx->network);
	lh_free(fx->lua);
	free(fx->failure);
	free(fx->path);
	free(fx->name);
	free(fx);
}
