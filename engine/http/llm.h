/*
 * llm: one LLM backend instance — a Lua script lua/backends/<name>.lua in
 * its own backend state (silo.http, silo.secret), driven on the engine's
 * libuv loop. One call of llm_complete is ONE attempt: the engine does the
 * quota check, the retries (decisions 33), metering and journaling around
 * it. Several calls may be in flight at once (subagents share the backend).
 *
 * The script's contract (decisions 3; docs/backends.md):
 *   id(model) -> "anthropic:<model>"     pricing(model) -> rows or nil
 *   complete(req, opts) -> resp | nil, {class, status?, message, retry_after?}
 * with opts = {base_url?, api_key_env?, timeout_ms, stream}. The script
 * makes its key handle with silo.secret(opts.api_key_env [, format]); the
 * key's value never enters Lua.
 */
#ifndef LLM_H
#define LLM_H

#include <uv.h>

#include "base/sl.h"
#include "json/jv.h"

struct llm;

/**
 * Creates a backend: loads <lua_dir>/backends/<backend_name>.lua.
 * model: NULL/"" lets the script pick its default (decisions 13).
 * base_url: NULL for the provider's own. api_key_env: the variable holding
 * the key; NULL means the backend's usual one (ANTHROPIC_API_KEY for
 * anthropic, OPENAI_API_KEY for openai and openai-ws, none for local).
 * Fails (SL_EUSAGE) when a paid backend's key variable is unset or empty,
 * SL_ENOENT for an unknown backend, SL_ESCRIPT for a broken script.
 */
struct llm *llm_new(uv_loop_t *loop, const char *backend_name, const char *model,
		    const char *base_url, const char *api_key_env, const char *lua_dir,
		    struct sl_err *err);

/** Optional settings (call before the first llm_complete). timeout_ms: 0 =
 * 600 s (costs.md 5); stream: 1 (default) streams over SSE; ca_file: extra
 * trusted CA (PEM), default env SILO_LLM_CA_FILE. */
void llm_set_options(struct llm *l, long timeout_ms, int stream, const char *ca_file);

/** Journal hook: one lifecycle line per HTTP exchange (method, url, status,
 * request headers with secrets as [redacted]) and per managed-server event
 * (decisions 35). Default: SL_INFO log. */
void llm_set_note(struct llm *l, void (*note)(void *ud, const char *msg), void *ud);

/** For the `local` backend: starts `command` (sh -c, its own process
 * group) as the managed server at the backend's base URL (default
 * http://127.0.0.1:8080), waits for its health check (GET /v1/models or
 * /health answering 200; ready_timeout_ms 0 = 60 s), restarts it at most
 * twice when it dies (the last 4 KiB of its stderr go into the final
 * error), stops it at llm_free. This is config key llm.local_server_command. Calls made meanwhile wait for it; once it
 * is given up, calls fail with class "transport". Its stderr lines, starts,
 * exits and restarts go to the note hook (journal lifecycle notes). */
int llm_manage_server(struct llm *l, const char *command, long ready_timeout_ms,
		      struct sl_err *err);

/* resp: {content, stop_reason, usage} (a new reference, yours), err NULL;
 * or resp NULL and err {class, message, status?, retry_after? (seconds)}
 * (yours). Called exactly once per call, never from inside llm_complete,
 * unless the call is cancelled (then never). */
typedef void (*llm_done_fn)(void *ud, struct jv *resp, struct jv *err);

/** Starts one attempt with the canonical request {model?, system, messages,
 * tools, max_tokens} (borrowed; "model" is filled in when absent). Returns
 * a call id > 0, or < 0 when the call could not even start (err filled). */
int llm_complete(struct llm *l, const struct jv *request, llm_done_fn done, void *ud);

/** Aborts one call (its HTTP transfer is cancelled; done is not called).
 * Returns the call's ud, so the caller can release it, or NULL when no such
 * call is in flight. */
void *llm_cancel_call(struct llm *l, int call_id);
/** Aborts every call in flight (interrupt). */
void llm_cancel(struct llm *l);

/** Backend id from the script's id(model), e.g. "anthropic:claude-sonnet-4-6". */
const char *llm_id(struct llm *l);
/** The script's price rows [{key, input, output, cache_read?, cache_write?}]
 * (borrowed; JSON null when the backend has none). */
struct jv *llm_pricing(struct llm *l);
/** Number of calls in flight. */
int llm_active(struct llm *l);

/** Cancels everything and frees; uv handles close in callbacks, so run the
 * loop once more before uv_loop_close. */
void llm_free(struct llm *l);

#endif
