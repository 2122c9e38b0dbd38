/*
 * hc_lua: the silo.http module of backend states and its engine side. The
 * backend's lh_services.call routes the service "http.wait" here; see
 * hc_lua.c for how a request yields and streams.
 */
#ifndef HC_LUA_H
#define HC_LUA_H

#include "http/hc.h"
#include "json/jv.h"
#include "luahost/lh.h"

/** Registers silo.http with the Lua host (before any backend state is
 * made; idempotent). */
void hc_lua_register(void);

/** Serves "http.wait": args {id} (owned, consumed). Starts the parked
 * request on client for owner (any pointer naming the engine's call) at the first wait (ca_file: extra trusted CA or NULL),
 * and answers done with {chunk = data}, then {status, headers, body}, or an
 * error string. note(note_ud, text) gets one journal line per exchange with
 * secrets redacted. */
int hc_lua_service(struct hc *client, void *owner, const char *ca_file, struct jv *args,
		   lh_done_fn done, void *token, void (*note)(void *, const char *),
		   void *note_ud, struct sl_err *err);

/** Drops every request started for owner (and unclaimed ones); a task
 * waiting on one gets "cancelled". Used on cancel and free. */
void hc_lua_cancel_owner(void *owner);

/** For silo.http and silo.ws: checks the list of {name, value} at stack
 * index hidx (raises "<fn>: ..." on misuse, before allocating) and renders
 * it into "Name: value" lines, secret handles substituted (an unset secret
 * leaves its header out). *redacted gets the same list for journal notes
 * with secrets as [redacted]. Free lines with hc_free_lines (wipes). */
void hc_l_headers(lua_State *L, int hidx, const char *fn, char ***lines, size_t *n,
		  char **redacted);
void hc_free_lines(char **lines, size_t n);

#endif
