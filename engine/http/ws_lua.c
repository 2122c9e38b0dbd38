/*
 * ws_lua: silo.ws for backend states, the WebSocket client the realtime
 * backend uses (decisions 33).
 *
 *   local conn, err = silo.ws.connect{url = "wss://...", headers = {{n, v}...},
 *                                     timeout_ms = 30000}
 *   conn:send(text)                -> true | nil, err
 *   local msg, err = conn:receive([timeout_ms])  -- nil, "closed 1000: ..." at the end
 *   conn:close()
 *
 * Header values may be silo.secret handles, rendered in C (hc_l_headers).
 * Like silo.http, connect and receive yield through an engine service
 * ("ws.wait", served by ws_lua_service from the backend's services.call);
 * messages that arrive while the script is busy are queued in C.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "http/hc_lua.h"
#include "http/ws_client.h"
#include "http/ws_lua.h"

#define WS_MAX_CONNS 16
#define WS_MAX_QUEUE 4096

struct ws_conn {
	int id;
	char *url;              /* owned */
	char **lines;           /* rendered headers; owned, wiped */
	size_t nlines;
	char *redacted;         /* owned */
	long timeout_ms;
	void *owner;            /* set at the first wait */
	struct wsc *wsc;        /* NULL before open and after the end */
	int opened, ended;
	char *open_err;         /* owned */
	int close_code;
	char close_reason[128];
	char *close_err;        /* owned */
	struct jv *queue;       /* array of strings */
	size_t qhead;
	lh_done_fn done;        /* the waiting script */
	void *token;
	int wait_open;          /* the wait is for the handshake */
	uv_timer_t *timer;      /* receive deadline; owned, freed in close cb */
	void (*note)(void *, const char *);
	void *note_ud;
	struct ws_conn *next;
};

static struct ws_conn *conns;
static int next_id = 1;

static struct ws_conn *find_conn(int id)
{
	for (struct ws_conn *c = conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void free_conn(struct ws_conn *c)
{
	for (struct ws_conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->wsc)
		wsc_abort(c->wsc);
	if (c->timer) {
		c->timer->data = NULL;
		uv_close((uv_handle_t *)c->timer, timer_closed);
	}
	hc_free_lines(c->lines, c->nlines);
	free(c->redacted);
	free(c->url);
	free(c->open_err);
	free(c->close_err);
	jv_unref(c->queue);
	free(c);
}

/* Answers the waiting script if there is something to tell it. */
static void deliver(struct ws_conn *c)
{
	if (!c->done)
		return;
	struct jv *res = NULL;
	char *err = NULL;
	if (c->wait_open) {
		if (c->open_err)
			err = sl_xstrdup(c->open_err);
		else if (c->opened)
			res = jv_obj();
		else if (c->ended)
			err = sl_xstrdup(c->close_err ? c->close_err : "connection closed");
		else
			return;
	} else if (c->qhead < jv_len(c->queue)) {
		res = jv_obj();
		jv_set(res, "text", jv_ref(jv_at(c->queue, c->qhead)));
		c->qhead++;
		if (c->qhead == jv_len(c->queue)) {
			jv_unref(c->queue);
			c->queue = jv_arr();
			c->qhead = 0;
		}
	} else if (c->ended) {
		if (c->close_err)
			err = sl_xasprintf("closed: %s", c->close_err);
		else
			err = sl_xasprintf("closed %d: %s", c->close_code, c->close_reason);
	} else {
		return;
	}
	lh_done_fn done = c->done;
	void *token = c->token;
	c->done = NULL;
	c->token = NULL;
	if (c->timer)
		uv_timer_stop(c->timer);
	done(token, res, err, 0); /* may resume Lua, which may close c */
	free(err);
}

static void on_open(void *ud, const char *err)
{
	struct ws_conn *c = ud;
	if (err) {
		c->open_err = sl_xstrdup(err);
	} else {
		c->opened = 1;
	}
	if (c->note) {
		char *m = sl_xasprintf("websocket %s -> %s (request headers: %s)", c->url,
				       err ? err : "open", c->redacted);
		c->note(c->note_ud, m);
		free(m);
	}
	deliver(c);
}

static void on_message(void *ud, const char *p, size_t n)
{
	struct ws_conn *c = ud;
	if (jv_len(c->queue) - c->qhead >= WS_MAX_QUEUE) {
		/* a script that stopped reading: drop the connection */
		wsc_abort(c->wsc);
		c->wsc = NULL;
		c->ended = 1;
		c->close_err = sl_xstrdup("too many unread messages");
		deliver(c);
		return;
	}
	jv_push(c->queue, jv_strn(p, n));
	deliver(c);
}

static void on_closed(void *ud, int code, const char *reason, const char *err)
{
	struct ws_conn *c = ud;
	c->wsc = NULL; /* freed by ws_client after this returns */
	c->ended = 1;
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
	if (err && !c->close_err)
		c->close_err = sl_xstrdup(err);
	deliver(c);
}

static void on_recv_timeout(uv_timer_t *t)
{
	struct ws_conn *c = t->data;
	if (!c || !c->done)
		return;
	lh_done_fn done = c->done;
	void *token = c->token;
	c->done = NULL;
	done(token, NULL, "timeout", 0);
}

/* start(t) -> id */
static int ws_l_start(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "url");
	const char *url = lua_tostring(L, -1);
	if (!url || (strncmp(url, "wss://", 6) && strncmp(url, "ws://", 5)))
		return luaL_error(L, "silo.ws.connect: url must be a ws:// or wss:// string");
	lua_getfield(L, 1, "timeout_ms");
	lua_Integer timeout = 0;
	if (!lua_isnil(L, -1)) {
		int ok;
		timeout = lua_tointegerx(L, -1, &ok);
		if (!ok || timeout < 0)
			return luaL_error(L, "silo.ws.connect: timeout_ms must be a non-negative integer");
	}
	int n = 0;
	for (struct ws_conn *c = conns; c; c = c->next)
		n++;
	if (n >= WS_MAX_CONNS)
		return luaL_error(L, "silo.ws.connect: too many connections");
	lua_getfield(L, 1, "headers");
	struct ws_conn *c = sl_xcalloc(1, sizeof *c);
	hc_l_headers(L, lua_gettop(L), "silo.ws.connect", &c->lines, &c->nlines, &c->redacted);
	c->url = sl_xstrdup(url);
	c->timeout_ms = (long)timeout;
	c->queue = jv_arr();
	c->id = next_id++;
	if (next_id <= 0)
		next_id = 1;
	c->next = conns;
	conns = c;
	lua_pushinteger(L, c->id);
	return 1;
}

/* send(id, text) -> true | nil, err */
static int ws_l_send(lua_State *L)
{
	struct ws_conn *c = find_conn((int)luaL_checkinteger(L, 1));
	size_t n;
	const char *p = luaL_checklstring(L, 2, &n);
	if (!c || !c->wsc || !c->opened || c->ended) {
		luaL_pushfail(L);
		lua_pushliteral(L, "silo.ws: connection is not open");
		return 2;
	}
	if (wsc_send_text(c->wsc, p, n) < 0) {
		luaL_pushfail(L);
		lua_pushliteral(L, "silo.ws: send failed");
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* close(id): ends and forgets the connection. */
static int ws_l_close(lua_State *L)
{
	struct ws_conn *c = find_conn((int)luaL_checkinteger(L, 1));
	if (c) {
		if (c->wsc) {
			/* polite close; the handle frees itself when done */
			wsc_release(c->wsc);
			c->wsc = NULL;
		}
		free_conn(c);
	}
	return 0;
}

static const char GLUE[] =
	"local start, wait, send, close, setmetatable, error, type = ...\n"
	"local Conn = {}\n"
	"Conn.__index = Conn\n"
	"function Conn:send(text)\n"
	"  if type(text) ~= 'string' then error('silo.ws: send(text): string expected', 2) end\n"
	"  return send(self.id, text)\n"
	"end\n"
	"function Conn:receive(timeout_ms)\n"
	"  local ev, err = wait({ id = self.id, op = 'recv', timeout_ms = timeout_ms })\n"
	"  if not ev then return nil, err end\n"
	"  return ev.text\n"
	"end\n"
	"function Conn:close() close(self.id) end\n"
	"local function connect(t)\n"
	"  if type(t) ~= 'table' then error('silo.ws.connect: table expected', 2) end\n"
	"  local id = start(t)\n"
	"  local ev, err = wait({ id = id, op = 'open' })\n"
	"  if not ev then close(id) return nil, err end\n"
	"  return setmetatable({ id = id }, Conn)\n"
	"end\n"
	"return { connect = connect }\n";

static int ws_l_open(lua_State *L)
{
	if (luaL_loadbuffer(L, GLUE, sizeof GLUE - 1, "=silo.ws") != LUA_OK)
		return lua_error(L);
	lua_pushcfunction(L, ws_l_start);
	lh_push_service_fn(L, "silo.ws", "ws.wait");
	lua_pushcfunction(L, ws_l_send);
	lua_pushcfunction(L, ws_l_close);
	lua_getglobal(L, "setmetatable");
	lua_getglobal(L, "error");
	lua_getglobal(L, "type");
	lua_call(L, 7, 1);
	return 1;
}

void ws_lua_register(void)
{
	lh_register_backend_module("ws", ws_l_open);
}

int ws_lua_service(uv_loop_t *loop, void *owner, const char *ca_file, struct jv *args,
		   lh_done_fn done, void *token, void (*note)(void *, const char *),
		   void *note_ud, struct sl_err *err)
{
	struct ws_conn *c = find_conn((int)jv_get_int(args, "id", 0));
	const char *op = jv_get_str(args, "op");
	int is_open = op && !strcmp(op, "open");
	int64_t tmo = jv_get_int(args, "timeout_ms", 0);
	if (!c) {
		jv_unref(args);
		return sl_err_set(err, SL_ENOENT, "silo.ws: no such connection");
	}
	jv_unref(args);
	if (c->done)
		return sl_err_set(err, SL_ESTATE, "silo.ws: already waiting");
	c->done = done;
	c->token = token;
	c->wait_open = is_open;
	if (is_open && !c->wsc && !c->ended && !c->opened) {
		c->owner = owner;
		c->note = note;
		c->note_ud = note_ud;
		struct wsc_cbs cbs = { on_open, on_message, on_closed, c };
		c->wsc = wsc_open(loop, c->url, (const char *const *)c->lines, c->nlines, ca_file,
				  c->timeout_ms, &cbs, err);
		if (!c->wsc) {
			c->done = NULL;
			return err ? err->code : SL_EIO;
		}
		return 0;
	}
	if (!is_open && tmo > 0) {
		if (!c->timer) {
			c->timer = sl_xmalloc(sizeof *c->timer);
			uv_timer_init(loop, c->timer);
			c->timer->data = c;
		}
		uv_timer_start(c->timer, on_recv_timeout, (uint64_t)tmo, 0);
	}
	deliver(c);
	return 0;
}

void ws_lua_cancel_owner(void *owner)
{
	struct ws_conn *c;
again:
	for (c = conns; c; c = c->next) {
		if (c->owner != owner && c->owner)
			continue;
		lh_done_fn done = c->done;
		void *token = c->token;
		free_conn(c);
		if (done)
			done(token, NULL, "cancelled", 0);
		goto again;
	}
}
