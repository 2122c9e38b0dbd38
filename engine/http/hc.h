/*
 * hc: the engine's HTTP client, libcurl's multi interface driven by the
 * libuv loop (one uv_poll per socket, one uv_timer for curl's timeouts).
 * Nothing blocks the loop. Used by the LLM backends through silo.http
 * (hc_lua.c); tools never get it (decisions 3).
 *
 * Secrets: header values are given here already substituted; the caller
 * (hc_lua.c) keeps the redacted form for journals. Proxy variables in the
 * environment are ignored on purpose: backend traffic goes straight to the
 * provider, never through the sandbox's egress proxy.
 */
#ifndef HC_H
#define HC_H

#include <stddef.h>
#include <uv.h>

#include "base/sl.h"

struct hc;
struct hc_req;

/* What a finished transfer reports. Valid only during on_done. */
struct hc_result {
	int code;               /* 0, or SL_EIO / SL_ETIMEOUT / SL_ELIMIT */
	const char *errmsg;     /* transport error text when code != 0 */
	long status;            /* HTTP status; 0 when no response arrived */
	char **headers;         /* response header pairs: name, value, ...; */
	size_t nheaders;        /* number of pairs */
	const char *body;       /* whole body (not the streamed part) */
	size_t body_len;
	int streamed;           /* 1 when the body went to on_chunk */
};

struct hc_opts {
	const char *method;      /* "GET", "POST" ... ; NULL = GET, POST with body */
	const char *url;         /* http:// or https:// only */
	const char *const *headers; /* "Name: value" lines (values substituted) */
	size_t nheaders;
	const char *body;        /* borrowed until hc_request returns (copied) */
	size_t body_len;
	long timeout_ms;         /* whole transfer; 0 = 600 s (costs.md 5) */
	const char *ca_file;     /* extra trusted CA (PEM); NULL: env SILO_LLM_CA_FILE */
	size_t max_body;         /* 0 = 64 MiB */
	/* Body pieces of a 2xx response as they arrive; a non-2xx body is
	 * collected whole into the result instead (providers send JSON
	 * errors). Return non-zero to abort the transfer (then on_done gets
	 * SL_ECANCEL). NULL: the body is collected. */
	int (*on_chunk)(void *ud, const char *p, size_t n);
	/* Called exactly once unless hc_cancel() came first. */
	void (*on_done)(void *ud, const struct hc_result *res);
	void *ud;
};

/** Creates a client on loop. Never fails short of OOM (which aborts). */
struct hc *hc_new(uv_loop_t *loop);
/** Cancels every transfer (no on_done) and closes the uv handles; the
 * memory goes in the close callbacks, so run the loop once more. */
void hc_free(struct hc *c);

/** Starts a transfer. Returns the request (owned by the client until
 * on_done returns or hc_cancel) or NULL with err for bad options. */
struct hc_req *hc_request(struct hc *c, const struct hc_opts *o, struct sl_err *err);
/** Aborts a transfer; on_done is not called. Safe inside on_chunk. */
void hc_cancel(struct hc_req *r);

/** Number of transfers in flight (tests, benches). */
int hc_active(const struct hc *c);

#endif
