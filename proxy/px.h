/*
 * px: the egress proxy (sandbox.md 10). One instance per session (and per
 * `silo shell`), on the session's libuv loop (or its own thread if measured
 * necessary). The engine gives it the merged policy; the proxy journals one
 * network record per request through the record hook and never sees Lua
 * directly except through the hook callbacks below.
 */
#ifndef PX_H
#define PX_H

#include <uv.h>

#include "base/sl.h"
#include "json/jv.h"

struct px;
struct fsm_def;

/* The connection lifecycle table (px_conn.c), for `silo debug fsm`. */
extern const struct fsm_def px_conn_fsm;
extern const struct fsm_def px_ep_tls_fsm;

/* Credentials and placeholders are bound to one host and port: `host` is
 * "name" (port 443) or "name:port" ("[v6]:port"). A placeholder is swapped
 * only in its header. */
struct px_credential {
	const char *host, *header, *env, *format; /* format default "{secret}" */
};

struct px_placeholder {
	const char *env, *host, *header, *method, *path; /* method/path optional */
};

struct px_config {
	const char *const *allowed_domains; /* NULL-terminated patterns */
	const char *const *tunnel_domains;
	const struct px_credential *credentials; size_t n_credentials;
	const struct px_placeholder *placeholders; size_t n_placeholders;
	const struct jv *hosts;     /* policy `hosts` object name -> address, or NULL */
	const struct jv *upstream_ca; /* host pattern -> PEM path, or NULL */
	const char *listen_addr;    /* default "127.0.0.1:0" */
	int mock;                   /* --mock-proxy: close every connection at once */
	/* Policy hooks (may be NULL). allow_host returns 1/0 and a note;
	 * on_request returns NULL (allow) or a malloc'd deny reason. */
	int (*allow_host)(void *ud, const char *host, int port, char **note);
	char *(*on_request)(void *ud, const struct jv *req);
	int (*credential_for)(void *ud, const struct jv *req);
	void *hook_ud;
	/* One NetworkRecord object (replay.md 2.5) per decision; borrowed. */
	void (*record)(void *ud, const struct jv *network_record);
	void (*note)(void *ud, const char *lifecycle_msg);
	void *record_ud;
};

struct px *px_new(uv_loop_t *loop, const struct px_config *cfg, struct sl_err *err);
int px_start(struct px *px, struct sl_err *err);
const char *px_addr(const struct px *px);      /* "127.0.0.1:port" once started */
const char *px_ca_pem(const struct px *px);    /* session CA certificate, PEM */
/* The dummy value the sandbox gets for placeholder `env` (decisions 31),
 * or NULL when env is not a configured placeholder. Borrowed. */
const char *px_placeholder_value(const struct px *px, const char *env);
void px_stop(struct px *px, void (*done)(void *ud), void *ud);
void px_free(struct px *px);

#endif
