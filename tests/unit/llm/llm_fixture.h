/*
 * Shared fixture of the llm unit tests: a throwaway test CA, the three fake
 * provider servers (tests/integration/fake_providers/fake_provider.py) on
 * loopback over HTTPS, the API keys in the environment, and a helper that
 * runs one llm_complete on a private loop until it finishes.
 */
#ifndef LLM_FIXTURE_H
#define LLM_FIXTURE_H

#include <uv.h>

#include "http/llm.h"
#include "json/jv.h"

#define FX_ANTHROPIC_KEY "sk-ant-test-K3Y-0123456789abcdef"
#define FX_OPENAI_KEY "sk-openai-test-K3Y-fedcba9876543210"

enum fx_kind { FX_ANTHROPIC, FX_OPENAI, FX_LOCAL, FX_REALTIME, FX_NKINDS };

/* Starts everything once per process; 0, or -1 when python3 / openssl are
 * missing (tests then skip with a note). */
int fx_setup(void);
const char *fx_url(enum fx_kind k);    /* https://127.0.0.1:<port> (realtime: wss://localhost:<port>) */
const char *fx_lua_dir(void);
const char *fx_src(void);
/* The requests the server logged so far (array of {method, path, headers,
 * body, key_leaks}); owned by the caller. */
struct jv *fx_log(enum fx_kind k);
/* The last logged request (owned) or NULL. */
struct jv *fx_last(enum fx_kind k);
/* Value of a header in a logged request. */
const char *fx_header(const struct jv *rec, const char *name);

struct fx_result {
	int finished;
	struct jv *resp, *err; /* owned */
	char *text;            /* resp or err as JSON text (owned) */
};

/* Runs one call to completion on the llm's loop. */
int fx_run(struct llm *l, uv_loop_t *loop, const struct jv *req, struct fx_result *r);
void fx_result_free(struct fx_result *r);

/* A canonical request: system + one user text + the Read tool. */
struct jv *fx_request(const char *model, int with_tools);
/* Appends a message {role, content} to req's messages (steals content). */
void fx_add_message(struct jv *req, const char *role, struct jv *content);

/* Closes the loop after llm_free, asserting nothing stays open. */
int fx_loop_close(uv_loop_t *loop);

#endif
