/*
 * llm_local: start, health-wait, restart (at most twice) and stop a local
 * OpenAI-compatible server for the `local` backend. See llm_local.c.
 */
#ifndef LLM_LOCAL_H
#define LLM_LOCAL_H

#include <uv.h>

#include "base/sl.h"
#include "http/hc.h"

enum llm_local_state { LLM_LOCAL_STARTING, LLM_LOCAL_READY, LLM_LOCAL_DEAD };

struct llm_local;

/** Starts `cmd` (run by /bin/sh -c, in its own process group) and polls
 * base_url's /v1/models and /health until one answers 200 (ready_timeout_ms,
 * 0 = 60 s).
 * note gets every lifecycle line and the server's stderr lines; on_state
 * each change (why set for DEAD). hc is used for the health checks. */
struct llm_local *llm_local_new(uv_loop_t *loop, struct hc *hc, const char *cmd,
				const char *base_url, long ready_timeout_ms,
				void (*note)(void *, const char *),
				void (*on_state)(void *, enum llm_local_state, const char *),
				void *ud, struct sl_err *err);
enum llm_local_state llm_local_state(const struct llm_local *s, const char **why);
/** Stops the server (SIGTERM to its group) and frees; no callbacks after. */
void llm_local_free(struct llm_local *s);

#endif
