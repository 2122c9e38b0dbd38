/*
 * hc_lua: silo.http for backend states (SPEC.md 4, decisions 3).
 *
 *   resp, err = silo.http.request{method =, url =, headers = {{name, value}...},
 *                                 body =, timeout_ms =, on_chunk = function(data)}
 *
 * A header value is a string or a silo.secret handle; handles are rendered
 * here in C at send time (lh_secret_render) and never reach Lua again; the
 * journal note shows them as [redacted]. resp = {status, headers = {{name,
 * value}...}, body}; err is a transport error string. With on_chunk, the
 * body of a 2xx answer goes to on_chunk piece by piece (resp.body is then
 * ""); returning false from on_chunk aborts the transfer.
 *
 * How it yields: the Lua host's service primitives already know how to
 * suspend a task until the engine answers (lh_task.c). request() is a few
 * lines of Lua (GLUE below) around three C functions: start() renders and
 * parks the request in C and returns its id; wait{id} is a service
 * primitive ("http.wait") that yields until the next body piece or the end;
 * abort(id) drops it. The engine side of "http.wait" is hc_lua_service(),
 * called from the backend's services.call (llm_backend.c), which knows the
 * loop and the HTTP client to use. So on_chunk runs inside the backend's own
 * coroutine, under its instruction budget, never from a libuv callback.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "http/hc_lua.h"
#include "luahost/lh.h"

#define HC_MAX_HEADERS 64
#define HC_MAX_PARKED 64

/* A request between start() and its end. */
struct hc_call {
	int id;
	char *method, *url, *body; /* owned */
	size_t body_len;
	char **lines;              /* "Name: value", secrets rendered; owned */
	char *redacted;            /* the same headers for notes; owned */
	size_t nlines;
	long timeout_ms;
	int stream;
	/* Set once a wait arrives. */
	struct hc *client;         /* borrowed */
	void *owner;               /* the engine's call that awaited it */
	struct hc_req *req;        /* in flight, NULL before/after */
	void (*note)(void *, const char *);
	void *note_ud;
	/* The waiting Lua side. */
	lh_done_fn done;
	void *token;
	/* What arrived while nobody waited. */
	struct sl_buf pending;
	struct jv *final;          /* the end: {status, headers, body} */
	char *final_err;           /* or a transport error */
	int ended;
	struct hc_call *next;
};

static struct hc_call *calls;
static int next_id = 1;

static struct hc_call *find_call(int id)
{
	for (struct hc_call *c = calls; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void free_call(struct hc_call *c)
{
	for (struct hc_call **pp = &calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->req)
		hc_cancel(c->req);
	hc_free_lines(c->lines, c->nlines); /* they may hold a secret */
	free(c->redacted);
	free(c->method);
	free(c->url);
	free(c->body);
	sl_buf_free(&c->pending);
	jv_unref(c->final);
	free(c->final_err);
	free(c);
}

static int valid_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || *s == ':')
			return 0;
	return 1;
}

/* Checks and renders the header list at hidx (see hc_lua.h). */
void hc_l_headers(lua_State *L, int hidx, const char *fn, char ***lines_out, size_t *n_out,
		  char **redacted_out)
{
	int n = 0;
	if (!lua_isnil(L, hidx) && !lua_istable(L, hidx))
		luaL_error(L, "%s: headers must be a list of {name, value}", fn);
	if (lua_istable(L, hidx))
		n = (int)luaL_len(L, hidx);
	if (n > HC_MAX_HEADERS)
		luaL_error(L, "%s: more than %d headers", fn, HC_MAX_HEADERS);
	/* Check everything before allocating, so a raise leaks nothing. */
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(L, hidx, i);
		if (!lua_istable(L, -1))
			luaL_error(L, "%s: header %d is not {name, value}", fn, i);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		const char *name = lua_tostring(L, -2);
		if (lua_type(L, -2) != LUA_TSTRING || !valid_token(name))
			luaL_error(L, "%s: header %d has a bad name", fn, i);
		if (lua_type(L, -1) == LUA_TSTRING) {
			if (strpbrk(lua_tostring(L, -1), "\r\n"))
				luaL_error(L, "%s: header %s holds a line break", fn, name);
		} else if (!lh_secret_check(L, -1, NULL)) {
			luaL_error(L, "%s: header %s must be a string or a silo.secret", fn, name);
		}
		lua_pop(L, 3);
	}
	struct sl_buf red;
	sl_buf_init(&red);
	char **lines = sl_xcalloc((size_t)n + 1, sizeof *lines);
	size_t nl = 0;
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(L, hidx, i);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		const char *name = lua_tostring(L, -2);
		if (lua_type(L, -1) == LUA_TSTRING) {
			lines[nl++] = sl_xasprintf("%s: %s", name, lua_tostring(L, -1));
			sl_buf_printf(&red, "%s%s: %s", red.len ? ", " : "", name,
				      lua_tostring(L, -1));
		} else {
			char *v = lh_secret_render(L, -1);
			if (!v) {
				/* unset variable: send nothing, the server says 401 */
				sl_buf_printf(&red, "%s%s: [redacted, unset]", red.len ? ", " : "",
					      name);
			} else {
				lines[nl++] = sl_xasprintf("%s: %s", name, v);
				explicit_bzero(v, strlen(v));
				free(v);
				sl_buf_printf(&red, "%s%s: [redacted]", red.len ? ", " : "", name);
			}
		}
		lua_pop(L, 3);
	}
	*lines_out = lines;
	*n_out = nl;
	*redacted_out = sl_buf_steal(&red);
}

void hc_free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		explicit_bzero(lines[i], strlen(lines[i]));
		free(lines[i]);
	}
	free(lines);
}

/* start(t) -> id | raises on misuse (bad argument is a script bug). */
static int hc_l_start(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *url, *method = NULL, *body = NULL;
	size_t body_len = 0;
	lua_Integer timeout = 0;
	lua_getfield(L, 1, "url");
	url = lua_tostring(L, -1);
	if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
		return luaL_error(L, "silo.http.request: url must be an http:// or https:// string");
	lua_getfield(L, 1, "method");
	if (!lua_isnil(L, -1)) {
		method = lua_tostring(L, -1);
		if (!method || !valid_token(method))
			return luaL_error(L, "silo.http.request: bad method");
	}
	lua_getfield(L, 1, "body");
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			return luaL_error(L, "silo.http.request: body must be a string");
		body = lua_tolstring(L, -1, &body_len);
	}
	lua_getfield(L, 1, "timeout_ms");
	if (!lua_isnil(L, -1)) {
		int ok;
		timeout = lua_tointegerx(L, -1, &ok);
		if (!ok || timeout < 0)
			return luaL_error(L, "silo.http.request: timeout_ms must be a non-negative integer");
	}
	lua_getfield(L, 1, "on_chunk");
	int stream = lua_isfunction(L, -1);
	if (!stream && !lua_isnil(L, -1))
		return luaL_error(L, "silo.http.request: on_chunk must be a function");
	int parked = 0;
	for (struct hc_call *c = calls; c; c = c->next)
		parked++;
	if (parked >= HC_MAX_PARKED)
		return luaL_error(L, "silo.http.request: too many requests in flight");
	lua_getfield(L, 1, "headers");
	char **lines, *redacted;
	size_t nlines;
	hc_l_headers(L, lua_gettop(L), "silo.http.request", &lines, &nlines, &redacted);

	struct hc_call *c = sl_xcalloc(1, sizeof *c);
	sl_buf_init(&c->pending);
	c->lines = lines;
	c->nlines = nlines;
	c->redacted = redacted;
	c->id = next_id++;
	if (next_id <= 0)
		next_id = 1;
	c->method = sl_xstrdup(method ? method : (body ? "POST" : "GET"));
	c->url = sl_xstrdup(url);
	if (body) {
		c->body = sl_xmalloc(body_len + 1);
		memcpy(c->body, body, body_len);
		c->body[body_len] = 0;
		c->body_len = body_len;
	}
	c->timeout_ms = (long)timeout;
	c->stream = stream;
	c->next = calls;
	calls = c;
	lua_pushinteger(L, c->id);
	return 1;
}

/* abort(id): drops a request (cancels the transfer). */
static int hc_l_abort(lua_State *L)
{
	struct hc_call *c = find_call((int)luaL_checkinteger(L, 1));
	if (c)
		free_call(c);
	return 0;
}

/* The Lua side of request(): start, then wait for pieces until the end. */
static const char GLUE[] =
	"local start, wait, abort, pcall, error, type = ...\n"
	"local function request(t)\n"
	"  if type(t) ~= 'table' then error('silo.http.request: table expected', 2) end\n"
	"  local id = start(t)\n"
	"  local on_chunk = t.on_chunk\n"
	"  while true do\n"
	"    local ev, err = wait({ id = id })\n"
	"    if not ev then abort(id) return nil, err end\n"
	"    if ev.chunk then\n"
	"      local ok, more = pcall(on_chunk, ev.chunk)\n"
	"      if not ok then abort(id) error(more, 0) end\n"
	"      if more == false then abort(id) return nil, 'aborted by on_chunk' end\n"
	"    else\n"
	"      return ev\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return { request = request }\n";

static int hc_l_open(lua_State *L)
{
	if (luaL_loadbuffer(L, GLUE, sizeof GLUE - 1, "=silo.http") != LUA_OK)
		return lua_error(L);
	lua_pushcfunction(L, hc_l_start);
	lh_push_service_fn(L, "silo.http.request", "http.wait");
	lua_pushcfunction(L, hc_l_abort);
	lua_getglobal(L, "pcall");
	lua_getglobal(L, "error");
	lua_getglobal(L, "type");
	lua_call(L, 6, 1);
	return 1;
}

void hc_lua_register(void)
{
	lh_register_backend_module("http", hc_l_open);
}

/* ---- the engine side ---------------------------------------------------- */

static void deliver(struct hc_call *c)
{
	if (!c->done)
		return;
	lh_done_fn done = c->done;
	void *token = c->token;
	struct jv *res = NULL;
	char *err = NULL;
	if (c->pending.len) {
		res = jv_obj();
		jv_set(res, "chunk", jv_strn(c->pending.p, c->pending.len));
		sl_buf_reset(&c->pending);
	} else if (c->ended) {
		if (c->final_err) {
			err = c->final_err;
			c->final_err = NULL;
		} else {
			res = c->final ? c->final : jv_null();
			c->final = NULL;
		}
	} else {
		return;
	}
	c->done = NULL;
	c->token = NULL;
	/* done may resume Lua, which may abort (free) this call. */
	done(token, res, err, 0);
	free(err);
}

static int on_chunk(void *ud, const char *p, size_t n)
{
	struct hc_call *c = ud;
	sl_buf_add(&c->pending, p, n);
	deliver(c);
	return 0;
}

static void on_done(void *ud, const struct hc_result *r)
{
	struct hc_call *c = ud;
	c->req = NULL;
	c->ended = 1;
	if (r->code) {
		c->final_err = sl_xasprintf("%s %s: %s", c->method, c->url, r->errmsg);
		if (c->note) {
			char *m = sl_xasprintf("http %s %s -> error: %s", c->method, c->url,
					       r->errmsg);
			c->note(c->note_ud, m);
			free(m);
		}
	} else {
		struct jv *o = jv_obj(), *hs = jv_arr();
		jv_set(o, "status", jv_int(r->status));
		for (size_t i = 0; i < r->nheaders; i++) {
			struct jv *pair = jv_arr();
			jv_push(pair, jv_str(r->headers[2 * i]));
			jv_push(pair, jv_str(r->headers[2 * i + 1]));
			jv_push(hs, pair);
		}
		jv_set(o, "headers", hs);
		jv_set(o, "body", jv_strn(r->body, r->body_len));
		c->final = o;
		if (c->note) {
			char *m = sl_xasprintf("http %s %s -> %ld (request headers: %s)", c->method,
					       c->url, r->status, c->redacted);
			c->note(c->note_ud, m);
			free(m);
		}
	}
	deliver(c);
}

int hc_lua_service(struct hc *client, void *owner, const char *ca_file, struct jv *args,
		   lh_done_fn done, void *token, void (*note)(void *, const char *),
		   void *note_ud, struct sl_err *err)
{
	struct hc_call *c = find_call((int)jv_get_int(args, "id", 0));
	jv_unref(args);
	if (!c)
		return sl_err_set(err, SL_ENOENT, "silo.http: no such request");
	if (c->done)
		return sl_err_set(err, SL_ESTATE, "silo.http: request already awaited");
	c->done = done;
	c->token = token;
	if (!c->client && !c->ended) {
		c->client = client;
		c->owner = owner;
		c->note = note;
		c->note_ud = note_ud;
		struct hc_opts o = {
			.method = c->method,
			.url = c->url,
			.headers = (const char *const *)c->lines,
			.nheaders = c->nlines,
			.body = c->body,
			.body_len = c->body_len,
			.timeout_ms = c->timeout_ms,
			.ca_file = ca_file,
			.on_chunk = c->stream ? on_chunk : NULL,
			.on_done = on_done,
			.ud = c,
		};
		c->req = hc_request(client, &o, err);
		if (!c->req) {
			c->done = NULL;
			return err ? err->code : SL_EIO;
		}
		return 0;
	}
	deliver(c);
	return 0;
}

void hc_lua_cancel_owner(void *owner)
{
	struct hc_call *c;
again:
	for (c = calls; c; c = c->next) {
		if (c->owner != owner && c->client)
			continue;
		lh_done_fn done = c->done;
		void *token = c->token;
		free_call(c);
		/* An aborted task waiting here is freed by its due completion. */
		if (done)
			done(token, NULL, "cancelled", 0);
		goto again;
	}
}
