/*
 * hp_http: the small HTTP/1.1 client under silo-helper's fetch (decisions
 * 32). URL parsing, one connection to the proxy (plain, or a CONNECT tunnel
 * with TLS by mbedTLS on top) and response parsing. Internal to the helper.
 */
#ifndef HP_HTTP_H
#define HP_HTTP_H

#include "hp.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

struct hp_url {
	int https;
	char host[256];   /* lowercase; IPv6 without brackets */
	int ipv6;
	unsigned port;
	char *target;     /* owned: path and query, starts with '/' */
};

/* Parses an absolute http(s) URL; -1 with err (detail only). */
int hp_url_parse(const char *s, size_t n, struct hp_url *u, struct sl_err *err);
/* Resolves a Location value against base into out (fresh). */
int hp_url_resolve(const struct hp_url *base, const char *loc, struct hp_url *out,
		   struct sl_err *err);
void hp_url_free(struct hp_url *u);
/* "host:port" / "[v6]:port" authority; with_default_port 0 omits :80/:443. */
void hp_url_authority(const struct hp_url *u, int with_default_port, struct sl_buf *b);

struct hp_conn {
	int fd;
	int tls;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_context entropy;
	char buf[16384];
	size_t off, len;
};

void hp_conn_init(struct hp_conn *c);
void hp_conn_close(struct hp_conn *c);
/* TCP connect to an IP literal host (or localhost). */
int hp_conn_dial(struct hp_conn *c, const char *host, unsigned port, struct sl_err *err);
/* Client TLS over the connected fd, verifying against ca for host. */
int hp_conn_tls(struct hp_conn *c, mbedtls_x509_crt *ca, const char *host, struct sl_err *err);
int hp_conn_write(struct hp_conn *c, const void *p, size_t n, struct sl_err *err);
/* >0 bytes, 0 EOF, -1 error with err. */
long hp_conn_read(struct hp_conn *c, void *p, size_t n, struct sl_err *err);

struct hp_resp {
	int status;
	struct hp_pair *hdrs; /* owned, as are the strings */
	size_t n_hdrs;
};

/* Reads a status line and headers (skipping 1xx interim responses). */
int hp_resp_read_head(struct hp_conn *c, struct hp_resp *r, struct sl_err *err);
const char *hp_resp_header(const struct hp_resp *r, const char *name);
void hp_resp_free(struct hp_resp *r);
/* Reads the body per its framing, keeping up to max bytes in out.
 * *truncated = more bytes existed. -1 with err on a broken body. */
int hp_resp_read_body(struct hp_conn *c, const struct hp_resp *r, int head_req,
		      uint64_t max, struct sl_buf *out, int *truncated, struct sl_err *err);

#endif
