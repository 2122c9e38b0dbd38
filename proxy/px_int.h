/*
 * px_int: what the proxy's files share. struct px is the instance (config
 * copy, listener, TLS configuration, session CA, live connections);
 * struct px_conn is one sandbox connection with its two endpoints (the
 * sandbox side and the upstream side), each plain TCP or TLS over TCP
 * through memory BIOs, and the per-connection state machine of px_conn.c.
 */
#ifndef PX_INT_H
#define PX_INT_H

#include <netinet/in.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "fsm/fsm.h"
#include "proxy/px.h"
#include "proxy/px_http.h"

#define PX_HWM (256 * 1024) /* queued write bytes that pause the other side */
#define PX_LWM (64 * 1024)  /* ... and resume it */
#define PX_MAX_ADDRS 16
#define PX_MAX_CONNS 1024 /* concurrent sandbox connections */

/* ---- session CA (px_ca.c, tl_ prefix) --------------------------------- */
struct tl_ca;
struct tl_leaf;
int tl_ca_new(struct tl_ca **out, mbedtls_ctr_drbg_context *drbg, struct sl_err *err);
void tl_ca_free(struct tl_ca *ca);
const char *tl_ca_pem(const struct tl_ca *ca);
mbedtls_pk_context *tl_ca_leaf_key(struct tl_ca *ca);
/* Leaf for host (minted on first use, cached); +1 reference held until
 * tl_leaf_put. NULL + err on failure. */
struct tl_leaf *tl_ca_leaf(struct tl_ca *ca, const char *host, struct sl_err *err);
mbedtls_x509_crt *tl_leaf_chain(struct tl_leaf *l);
void tl_leaf_put(struct tl_leaf *l);
size_t tl_ca_count(const struct tl_ca *ca);
size_t tl__san_der(const char *host, unsigned char *out);
/* For the key-never-on-disk test only: the CA key inside this process. */
mbedtls_pk_context *tl__ca_key(struct tl_ca *ca);

/* ---- credentials (px_cred.c) ------------------------------------------ */
struct px_secret {
	char host[PX_MAX_HOST + 3]; /* normalised */
	int port;
	char *header;               /* owned */
	char *value;                /* owned, secret: format applied; zeroed */
	size_t vlen;
	char *raw;                  /* owned, secret: the variable's value; zeroed */
};
struct px_dummy {
	char *env;                  /* owned */
	char host[PX_MAX_HOST + 3];
	int port;
	char *header;               /* owned */
	char *method, *path;        /* owned, optional */
	char *real;                 /* owned, secret; zeroed */
	char *dummy;                /* owned: what the sandbox sees */
	size_t len;
};

/* ---- the harness machine's own addresses (px_local.c) ----------------- */
struct px_local_addr {
	uint8_t b[16];
	int v6;
};
struct px_local {
	struct px_local_addr *a;
	size_t n, cap;
	int fd;                    /* netlink, address changes; -1 without */
	unsigned long reloads;
};
void px__local_init(struct px_local *l);
void px__local_free(struct px_local *l);
/* 1 when sa (or the literal s) is an address of a local interface. */
int px__local_is(struct px_local *l, const struct sockaddr *sa);
int px__local_is_str(struct px_local *l, const char *s);
#define PX_LOCAL_WHY "local interface address"

/* ---- instance --------------------------------------------------------- */
struct px_upca {               /* extra upstream trust for a host pattern */
	char *pattern;             /* owned */
	mbedtls_x509_crt roots;    /* system roots + the extra CA */
	mbedtls_ssl_config conf;
};

struct px {
	uv_loop_t *loop;           /* borrowed */
	uv_tcp_t listener;
	char addr[64];
	int started, stopping, listener_open;
	void (*stop_done)(void *ud);
	void *stop_ud;
	uv_timer_t stop_timer;
	int stop_timer_open;

	/* config (copied) */
	char **allowed, **tunnel;  /* owned, NULL-terminated */
	struct jv *hosts;          /* ref */
	struct px_secret *secrets; size_t n_secrets;
	struct px_dummy *dummies; size_t n_dummies;
	struct px_scrub scrub;     /* secrets -> masks or dummies, for responses */
	struct px_scrub_pat *scrub_pats; /* owned; from/to point into secrets */
	char **scrub_masks;        /* owned */
	struct px_config hooks;    /* only the hook/record fields are used */
	int mock;
	char *listen_addr;         /* owned */
	unsigned head_ms, idle_ms, connect_ms, tunnel_ms;

	/* TLS */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	struct tl_ca *ca;
	mbedtls_x509_crt sys_roots;
	int have_roots;
	mbedtls_ssl_config up_conf; /* upstream client, system roots */
	struct px_upca *upca; size_t n_upca;
	const int *ciphers;

	struct px_tls_sess {       /* upstream TLS sessions for resumption */
		char host[PX_MAX_HOST + 3];
		int port, used;
		mbedtls_ssl_session s;
	} sess[32];
	unsigned sess_next;

	struct px_local local;     /* refused like loopback */
	struct px_conn *conns;     /* live connections */
	size_t n_conns;
	char rbuf[65536];          /* shared read buffer: reads copy out at once */
};

/* ---- connections ------------------------------------------------------ */
#define PX_STATE_MAP(XX)                                                       \
	XX(HEAD) XX(CL_TLS) XX(RESOLVE) XX(CONNECT) XX(UP_TLS) XX(RELAY)       \
	XX(TUNNEL) XX(CLOSING) XX(CLOSED)
#define PX_EVENT_MAP(XX)                                                       \
	XX(REQUEST) XX(CONNECT) XX(BAD) XX(TLS_OK) XX(TLS_FAIL) XX(REUSE)      \
	XX(RESOLVED) XX(RESOLVE_FAIL) XX(CONNECTED) XX(CONNECT_FAIL)           \
	XX(UP_TLS_OK) XX(UP_TLS_FAIL) XX(DONE) XX(UP_ERR) XX(EOF) XX(TIMEOUT)  \
	XX(STOP) XX(CLOSE) XX(DRAINED) XX(FAULT) XX(KILL)

enum px_state {
#define XX(n) PX_S_##n,
	PX_STATE_MAP(XX)
#undef XX
	PX_S__N
};
enum px_event {
#define XX(n) PX_E_##n,
	PX_EVENT_MAP(XX)
#undef XX
	PX_E__N
};

/* The TLS lifecycle of one endpoint (px_ep.c), run by fsm_step. */
#define PX_TLS_STATE_MAP(XX) XX(PLAIN) XX(HANDSHAKE) XX(ESTABLISHED) XX(FAILED)
#define PX_TLS_EVENT_MAP(XX) XX(START) XX(DONE) XX(FAIL) XX(RESET)
enum px_tls_state {
#define XX(n) PX_T_##n,
	PX_TLS_STATE_MAP(XX)
#undef XX
	PX_T__N
};
enum px_tls_event {
#define XX(n) PX_TE_##n,
	PX_TLS_EVENT_MAP(XX)
#undef XX
	PX_TE__N
};

struct px_ep {                 /* one side of a connection */
	uv_tcp_t tcp;
	struct px_conn *c;         /* borrowed: owner */
	int open;                  /* tcp handle initialised, not yet closed */
	int closing;               /* uv_close issued, callback pending */
	int connected, reading, eof, shut;
	int tls;                   /* enum px_tls_state, moved by fsm_step only */
	int ssl_init, sess_saved;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;   /* sandbox side only (per-tunnel leaf) */
	int conf_init;
	struct sl_buf raw;         /* TLS records received, not yet consumed */
	size_t raw_off;
	struct sl_buf in;          /* plaintext received, not yet consumed */
	size_t in_off;
	struct sl_buf out;         /* TLS records produced, not yet written */
	size_t wpending;           /* bytes in uv_write requests */
	uint64_t rx, tx;           /* plaintext bytes, for tunnels */
};

struct px_req {                /* the request being served */
	char host[PX_MAX_HOST + 3];
	int port, tls, is_ip;
	char method[40];
	char *path;                /* owned, without the query */
	enum px_body_kind body;    /* request framing */
	uint64_t left;             /* PX_BODY_LENGTH bytes still to forward */
	struct px_chunk ck;
	int body_done;
	uint64_t bytes_sent, bytes_received;
	int keep_alive, cred, status;
	int resp_head_done, resp_done, resp_started, resp_err;
	enum px_body_kind rbody;
	uint64_t rleft;
	struct px_chunk rck;
	char note[512];            /* failure detail for the 502 body */
	const char *jnote;         /* journal note, static */
	int allowed;
};

struct px_conn {
	struct px *px;             /* borrowed */
	struct px_conn *next, **pprev;
	struct px_ep cl, up;
	uv_timer_t timer;
	int timer_open, head_timer;
	int state;
	int evq[8], evn, stepping;
	int closing_handles;

	/* CONNECT */
	int in_tunnel, passthrough;
	char chost[PX_MAX_HOST + 3];
	int cport;
	char sni[PX_MAX_HOST + 3];
	int sni_mismatch;
	struct tl_leaf *leaf;      /* held during the handshake */

	/* upstream identity, for reuse across keep-alive requests */
	char uhost[PX_MAX_HOST + 3];
	int uport, utls, ureuse;

	/* name resolution and dialing */
	uv_getaddrinfo_t gai;
	int gai_busy;
	struct sockaddr_storage addrs[PX_MAX_ADDRS];
	int naddrs, ai;
	uv_connect_t creq;

	int dial_pending;          /* dial once the old upstream has closed */
	char dial_err[160];

	struct px_head hp;         /* current head; points into cl.in */
	struct px_req rq;
	struct sl_buf head;        /* rewritten request head for upstream */
	int timer_state;
};

/* px_listen.c */
/* A lifecycle note (journaled by the engine); never holds a secret. */
void px__note(struct px *px, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void px__record(struct px *px, const char *host, int port, const char *method,
		const char *path, int status, uint64_t sent, uint64_t recv, int allowed,
		int cred, const char *note);
int px__host_allowed(struct px *px, const char *host, int port, char **hook_note);
int px__is_tunnel(struct px *px, const char *host);
const char *px__hosts_lookup(struct px *px, const char *host);
mbedtls_ssl_config *px__up_conf(struct px *px, const char *host);
/* Upstream session cache: resume (abbreviated handshake) where possible. */
void px__sess_apply(struct px *px, mbedtls_ssl_context *ssl, const char *host, int port);
void px__sess_save(struct px *px, mbedtls_ssl_context *ssl, const char *host, int port);
/* Cipher suite and curve preferences shared by both TLS legs. */
void px__tls_prefs(mbedtls_ssl_config *conf);

/* px_conn.c */
void px__conn_accept(struct px *px, uv_stream_t *server);
void px__conn_post(struct px_conn *c, int ev);
void px__post(struct px_conn *c, int ev);      /* queue only (in actions, pumps) */
void px__arm(struct px_conn *c, unsigned ms);  /* (re)start the conn timer */
int px__pump(struct px_conn *c);               /* px_relay.c; 1 if it posted */
void px__conn_stop_all(struct px *px);
void px__conn_kill_all(struct px *px);
void px__stop_check(struct px *px); /* px_listen.c: finish a stop when idle */
/* Test and CLI knob: header and idle timeouts in ms (0 keeps the default). */
void px__set_timeouts(struct px *px, unsigned head_ms, unsigned idle_ms);
void px__conn_gai_done(struct px_conn *c);
/* Answers the sandbox with a short plain-text response. */
void px__reply(struct px_conn *c, int status, const char *reason, const char *body, int close);

/* px_req.c: per-request policy and the rewritten head.
 * Returns 0 to forward (c->head built), 1 when a reply was sent and the
 * connection may stay open, -1 when it must close. */
int px__req_prepare(struct px_conn *c);
int px__connect_prepare(struct px_conn *c);
/* Sandbox-side TLS for the CONNECT host c->chost (leaf, ALPN, SNI check). */
int px__cl_tls_setup(struct px_conn *c);
void px__req_reset(struct px_req *rq);

/* px_dial.c: resolution (hosts map, literals, getaddrinfo) under the IP
 * guard, then connects to exactly the checked addresses in order. */
void px__resolve(struct px_conn *c, const char *host, int port);
void px__dial(struct px_conn *c);

/* px_ep.c: endpoint I/O */
void px__ep_init(struct px_ep *ep, struct px_conn *c);
int px__ep_write(struct px_ep *ep, const void *p, size_t n);
int px__ep_tls_start(struct px_ep *ep, mbedtls_ssl_config *conf, const char *hostname);
int px__ep_handshake(struct px_ep *ep, struct sl_err *err); /* 0 done, SL_EAGAIN, <0 */
void px__ep_read(struct px_ep *ep, int on);
void px__ep_close(struct px_ep *ep);
void px__ep_deinit(struct px_ep *ep);
void px__ep_consume(struct px_ep *ep, size_t n);
void px__ep_pump(struct px_ep *ep);      /* decrypt buffered records */
void px__on_ep_data(struct px_ep *ep);  /* in px_conn.c */
void px__on_ep_drain(struct px_ep *ep); /* in px_conn.c */
void px__on_ep_closed(struct px_ep *ep);

/* px_cred.c */
int px__cred_load(struct px *px, const struct px_config *cfg, struct sl_err *err);
void px__cred_free(struct px *px);
const struct px_secret *px__cred_for(struct px *px, const char *host, int port);
/* Placeholder check of one header value: 0 = no dummy inside; 1 = swapped
 * (out holds the new value, malloc'd); -1 = a dummy where it is not bound. */
int px__dummy_header(struct px *px, const char *host, int port, const char *method,
		     const char *path, const char *name, size_t nlen, const char *val, size_t vlen,
		     char **out);
int px__dummy_in(struct px *px, const char *s, size_t n);

#endif
