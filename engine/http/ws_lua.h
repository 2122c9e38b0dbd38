/*
 * ws_lua: the silo.ws module of backend states and its engine side (the
 * "ws.wait" service). See ws_lua.c.
 */
#ifndef WS_LUA_H
#define WS_LUA_H

#include <uv.h>

#include "json/jv.h"
#include "luahost/lh.h"

/** Registers silo.ws with the Lua host (idempotent). */
void ws_lua_register(void);

/** Serves "ws.wait" {id, op = "open"|"recv", timeout_ms?} (args consumed):
 * "open" connects (first time) and answers {} or an error; "recv" answers
 * {text} or "closed <code>: <reason>" / "timeout". note gets one journal
 * line per connection with secrets redacted. */
int ws_lua_service(uv_loop_t *loop, void *owner, const char *ca_file, struct jv *args,
		   lh_done_fn done, void *token, void (*note)(void *, const char *),
		   void *note_ud, struct sl_err *err);

/** Closes every connection of owner (and unclaimed ones). */
void ws_lua_cancel_owner(void *owner);

#endif
