/*
 * px_req: the policy side of one request. For a CONNECT it checks the
 * target against the allowlist and the IP guard, then sets up the
 * sandbox-side TLS with a leaf for the CONNECT host (or marks the tunnel
 * as passthrough). For a request it checks the target (absolute-form
 * outside a tunnel, origin-form inside with Host and SNI equal to the
 * CONNECT host), refuses upgrades and stray placeholder credentials, asks
 * the on_request hook, and builds the head sent upstream: Host set to the
 * target, proxy headers dropped, placeholders swapped, the configured
 * credential header replaced rather than duplicated. Every refusal answers
 * with a short plain-text body that names what was refused and how a user
 * allows it (decisions 22, 29), and is journaled.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "px_int.h"

void px__req_reset(struct px_req *rq)
{
	free(rq->path);
	memset(rq, 0, sizeof(*rq));
}

static int is_ip_literal(const char *h)
{
	unsigned char b[16];
	return inet_pton(AF_INET, h, b) == 1 ? 4 : inet_pton(AF_INET6, h, b) == 1 ? 6 : 0;
}

static int hdr_is(const struct px_hdr *f, const char *name)
{
	size_t n = strlen(name);
	return f->nlen == n && !strncasecmp(f->name, name, n);
}

/* Host policy (sandbox.md 10.2) for a CONNECT or absolute-form target.
 * Returns 0 when allowed, else replies 403, journals and returns -1. */
static int check_host(struct px_conn *c, const char *host, int port, int is_ip, int close)
{
	struct px *px = c->px;
	char body[1200];
	char *hook_note = NULL;
	if (!px__host_allowed(px, host, port, &hook_note)) {
		snprintf(body, sizeof(body),
			 "silo proxy: access to %s denied: domain not allowlisted%s%s.\n"
			 "To allow it, run silo with --allow-domain %s or add \"%s\" to "
			 "allowed_domains in a policy file.\n",
			 host, hook_note ? ": " : "", hook_note ? hook_note : "", host, host);
		free(hook_note);
		px__record(px, host, port, NULL, NULL, 0, 0, 0, 0, 0, "domain not allowlisted");
		px__reply(c, 403, "Forbidden", body, close);
		return -1;
	}
	free(hook_note);
	const char *why = is_ip ? px_ipguard_str(host) : NULL;
	if (is_ip && !why && px__local_is_str(&px->local, host))
		why = PX_LOCAL_WHY;
	if (why) {
		snprintf(body, sizeof(body),
			 "silo proxy: access to %s denied: blocked address (%s).\n"
			 "The IP guard keeps the sandbox off loopback, private and other "
			 "internal networks; no flag or policy key relaxes it.\n",
			 host, why);
		px__record(px, host, port, NULL, NULL, 0, 0, 0, 0, 0, "blocked address");
		px__reply(c, 403, "Forbidden", body, close);
		return -1;
	}
	return 0;
}

static int on_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
	struct px_conn *c = p;
	if (len && name[len - 1] == '.')
		len--;
	if (len > PX_MAX_HOST) {
		c->sni_mismatch = 1;
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		c->sni[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	c->sni[len] = '\0';
	/* The handshake goes on with the CONNECT host's leaf; requests on a
	 * mismatched tunnel get 421 (no domain fronting). */
	if (strcmp(c->sni, c->chost))
		c->sni_mismatch = 1;
	return 0;
}

int px__cl_tls_setup(struct px_conn *c)
{
	static const char *const alpn[] = { "http/1.1", NULL };
	struct px *px = c->px;
	struct sl_err e;
	c->leaf = tl_ca_leaf(px->ca, c->chost, &e);
	if (!c->leaf)
		return -1;
	mbedtls_ssl_config *conf = &c->cl.conf;
	mbedtls_ssl_config_init(conf);
	c->cl.conf_init = 1;
	if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) ||
	    mbedtls_ssl_conf_own_cert(conf, tl_leaf_chain(c->leaf), tl_ca_leaf_key(px->ca)) ||
	    mbedtls_ssl_conf_alpn_protocols(conf, (const char **)alpn))
		return -1;
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &px->drbg);
	px__tls_prefs(conf);
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_sni(conf, on_sni, c);
	return 0;
}

int px__connect_prepare(struct px_conn *c)
{
	struct px *px = c->px;
	struct px_target t;
	struct sl_err e;
	int rc = px_http_parse_authority(c->hp.target, c->hp.tlen, 443, &t, &e);
	px__ep_consume(&c->cl, c->hp.head_len);
	if (c->in_tunnel || rc) {
		char body[600];
		snprintf(body, sizeof(body), "bad request: %s\n",
			 rc ? e.msg : "CONNECT inside a CONNECT tunnel");
		px__reply(c, 400, "Bad Request", body, 1);
		return -1;
	}
	if (check_host(c, t.host, t.port, t.is_ip, 1))
		return -1;
	snprintf(c->chost, sizeof(c->chost), "%s", t.host);
	c->cport = t.port;
	c->in_tunnel = 1;
	snprintf(c->rq.host, sizeof(c->rq.host), "%s", t.host);
	c->rq.port = t.port;
	if (px__is_tunnel(px, t.host)) {
		c->passthrough = 1;
		return 0;
	}
	if (px__cl_tls_setup(c)) {
		px__reply(c, 500, "Internal Server Error", "silo proxy: TLS setup failed\n", 1);
		return -1;
	}
	static const char ok[] = "HTTP/1.1 200 Connection Established\r\nContent-Length: 0\r\n\r\n";
	px__ep_write(&c->cl, ok, sizeof(ok) - 1);
	if (px__ep_tls_start(&c->cl, &c->cl.conf, NULL))
		return -1;
	return 0;
}

static struct jv *req_jv(struct px_conn *c)
{
	struct jv *o = jv_obj(), *hs = jv_arr();
	jv_set(o, "method", jv_str(c->rq.method));
	jv_set(o, "host", jv_str(c->rq.host));
	jv_set(o, "port", jv_int(c->rq.port));
	jv_set(o, "path", jv_str(c->rq.path));
	for (size_t i = 0; i < c->hp.nhdrs; i++) {
		const struct px_hdr *f = &c->hp.hdrs[i];
		struct jv *pair = jv_arr();
		jv_push(pair, jv_strn(f->name, f->nlen));
		jv_push(pair, jv_strn(f->val, f->vlen));
		jv_push(hs, pair);
	}
	jv_set(o, "headers", hs);
	return o;
}

/* Refuses one request with a journaled status (403 unless said). */
static int refuse_status(struct px_conn *c, int status, const char *reason, const char *note,
			 const char *body, int close)
{
	struct px_req *rq = &c->rq;
	px__record(c->px, rq->host, rq->port, rq->method, rq->path, 0, 0, 0, 0, 0, note);
	px__reply(c, status, reason, body, close);
	return close ? -1 : 1;
}

static int refuse(struct px_conn *c, const char *note, const char *body, int close)
{
	return refuse_status(c, 403, "Forbidden", note, body, close);
}

static int method_is(const struct px_req *rq, const char *m)
{
	return !strcasecmp(rq->method, m); /* a server may ignore case */
}

/* Methods whose body has no defined meaning (RFC 9110 9.3): servers may
 * ignore it and read it as the next request on the connection. */
static int body_allowed(const char *method)
{
	static const char *const none[] = { "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", NULL };
	for (int i = 0; none[i]; i++)
		if (!strcasecmp(method, none[i]))
			return 0;
	return 1;
}

static int check_request(struct px_conn *c, char **swapped, int close)
{
	struct px *px = c->px;
	struct px_req *rq = &c->rq;
	char body[1200];
	if (c->hp.upgrade)
		return refuse(c, "upgrade blocked",
			      "upgrade blocked: the silo proxy relays HTTP/1.1 only "
			      "(no WebSocket or h2c upgrades)\n",
			      close);
	if (method_is(rq, "TRACE") || method_is(rq, "TRACK")) {
		snprintf(body, sizeof(body),
			 "silo proxy: %s refused: it echoes the request, with any credential the "
			 "proxy adds, back to the sender\n",
			 rq->method);
		return refuse_status(c, 405, "Method Not Allowed", "method refused", body, close);
	}
	if (!body_allowed(rq->method) &&
	    (c->hp.body == PX_BODY_CHUNKED ||
	     (c->hp.body == PX_BODY_LENGTH && c->hp.content_length))) {
		snprintf(body, sizeof(body),
			 "silo proxy: %s with a body refused: a server that ignores the body "
			 "would read it as a second request\n",
			 rq->method);
		/* the unread body must not be taken as the next head: close */
		return refuse_status(c, 400, "Bad Request", "body refused", body, 1);
	}
	int bad = px__dummy_in(px, c->hp.target, c->hp.tlen);
	for (size_t i = 0; !bad && i < c->hp.nhdrs; i++) {
		const struct px_hdr *f = &c->hp.hdrs[i];
		int r = px__dummy_header(px, rq->tls ? rq->host : "", rq->port, rq->method,
					 rq->path, f->name, f->nlen, f->val, f->vlen, &swapped[i]);
		bad = r < 0;
	}
	if (bad) {
		snprintf(body, sizeof(body),
			 "silo proxy: request to %s refused: placeholder refused (a placeholder "
			 "credential may only be sent, over HTTPS, to the host it is bound to).\n",
			 rq->host);
		return refuse(c, "placeholder refused", body, close);
	}
	if (px->hooks.on_request) {
		struct jv *r = req_jv(c);
		char *reason = px->hooks.on_request(px->hooks.hook_ud, r);
		jv_unref(r);
		if (reason) {
			char note[300];
			snprintf(note, sizeof(note), "policy: %.280s", reason);
			snprintf(body, sizeof(body),
				 "denied by policy: %.600s\n(silo proxy: the on_request hook of a "
				 "policy file refused %s %s%s)\n",
				 reason, rq->method, rq->host, rq->path);
			free(reason);
			return refuse(c, note, body, close);
		}
	}
	return 0;
}

static void build_head(struct px_conn *c, const char *pathq, size_t pql, char **swapped,
		       const struct px_secret *sec)
{
	struct px_req *rq = &c->rq;
	struct sl_buf *b = &c->head;
	if (b->p) /* an earlier, unsent head may hold a credential */
		explicit_bzero(b->p, b->len);
	sl_buf_reset(b);
	/* The client's version goes upstream, so an HTTP/1.0 client never
	 * gets a chunked response it cannot read (the head is relayed as is). */
	sl_buf_printf(b, "%s %.*s HTTP/1.%d\r\n", rq->method, (int)pql, pathq, c->hp.minor);
	int v6 = strchr(rq->host, ':') != NULL;
	sl_buf_printf(b, "Host: %s%s%s", v6 ? "[" : "", rq->host, v6 ? "]" : "");
	if (rq->port != (rq->tls ? 443 : 80))
		sl_buf_printf(b, ":%d", rq->port);
	sl_buf_adds(b, "\r\n");
	for (size_t i = 0; i < c->hp.nhdrs; i++) {
		const struct px_hdr *f = &c->hp.hdrs[i];
		if (hdr_is(f, "host") || hdr_is(f, "proxy-connection") ||
		    hdr_is(f, "proxy-authorization") || hdr_is(f, "keep-alive"))
			continue;
		if (sec && f->nlen == strlen(sec->header) &&
		    !strncasecmp(f->name, sec->header, f->nlen))
			continue; /* replaced below, never duplicated */
		sl_buf_add(b, f->name, f->nlen);
		sl_buf_adds(b, ": ");
		if (swapped[i])
			sl_buf_adds(b, swapped[i]);
		else
			sl_buf_add(b, f->val, f->vlen);
		sl_buf_adds(b, "\r\n");
	}
	if (sec) {
		sl_buf_printf(b, "%s: ", sec->header);
		sl_buf_add(b, sec->value, sec->vlen);
		sl_buf_adds(b, "\r\n");
		rq->cred = 1;
	}
	sl_buf_adds(b, "\r\n");
}

int px__req_prepare(struct px_conn *c)
{
	struct px *px = c->px;
	struct px_head *h = &c->hp;
	struct px_req *rq = &c->rq;
	char *swapped[PX_MAX_HDRS] = { 0 };
	const char *pathq;
	size_t pql, noq;
	int ret = 0;
	char body[700];
	/* a local answer cannot skip an unread body safely, so it closes */
	int close = h->body != PX_BODY_NONE || !h->keep_alive || px->stopping;

	px__req_reset(rq);
	px_chunk_init(&rq->ck);
	rq->keep_alive = h->keep_alive;
	rq->body = h->body;
	rq->left = h->content_length;
	snprintf(rq->method, sizeof(rq->method), "%.*s", (int)h->mlen, h->method);

	if (c->in_tunnel) {
		if (h->target[0] != '/') {
			px__reply(c, 400, "Bad Request",
				  "bad request: requests inside a CONNECT tunnel use an origin-form "
				  "target (/path)\n",
				  1);
			ret = -1;
			goto done;
		}
		snprintf(rq->host, sizeof(rq->host), "%s", c->chost);
		rq->port = c->cport;
		rq->tls = 1;
		rq->is_ip = is_ip_literal(c->chost);
		pathq = h->target;
		pql = h->tlen;
		const char *q = memchr(pathq, '?', pql);
		noq = q ? (size_t)(q - pathq) : pql;
		rq->path = sl_xstrndup(pathq, noq);
		int hi = px_http_find(h, "host", 0);
		struct px_target ht;
		struct sl_err e;
		const char *claimed = c->sni_mismatch ? c->sni : NULL;
		if (!claimed && hi >= 0) {
			if (px_http_parse_authority(h->hdrs[hi].val, h->hdrs[hi].vlen, c->cport,
						    &ht, &e))
				claimed = "(an invalid name)";
			else if (strcmp(ht.host, c->chost))
				claimed = ht.host;
		}
		if (claimed) {
			snprintf(body, sizeof(body),
				 "misdirected request: %s names %s but the tunnel was opened to "
				 "%s (silo proxy refuses domain fronting)\n",
				 c->sni_mismatch ? "the TLS server name" : "the Host header",
				 claimed, c->chost);
			px__record(px, rq->host, rq->port, rq->method, rq->path, 0, 0, 0, 0, 0,
				   "host mismatch");
			px__reply(c, 421, "Misdirected Request", body, 1);
			ret = -1;
			goto done;
		}
	} else {
		struct px_target t;
		struct sl_err e;
		if (h->target[0] == '/' ||
		    px_http_parse_absolute(h->target, h->tlen, &t, &e)) {
			/* not journaled (sandbox.md 10.8) */
			px__reply(c, 400, "Bad Request",
				  "bad request: the silo proxy takes absolute http:// URLs or "
				  "CONNECT\n",
				  close);
			ret = close ? -1 : 1;
			goto done;
		}
		snprintf(rq->host, sizeof(rq->host), "%s", t.host);
		rq->port = t.port;
		rq->is_ip = t.is_ip;
		pathq = t.path;
		pql = t.plen;
		rq->path = sl_xstrndup(pathq, t.path_noq);
		if (check_host(c, t.host, t.port, t.is_ip, close)) {
			ret = close ? -1 : 1;
			goto done;
		}
	}
	if ((ret = check_request(c, swapped, close)))
		goto done;

	const struct px_secret *sec = rq->tls ? px__cred_for(px, rq->host, rq->port) : NULL;
	if (sec && px->hooks.credential_for) {
		struct jv *r = req_jv(c);
		if (!px->hooks.credential_for(px->hooks.hook_ud, r))
			sec = NULL;
		jv_unref(r);
	}
	build_head(c, pathq, pql, swapped, sec);
done:
	for (size_t i = 0; i < PX_MAX_HDRS; i++) {
		if (swapped[i]) /* holds a real secret */
			explicit_bzero(swapped[i], strlen(swapped[i]));
		free(swapped[i]);
	}
	px__ep_consume(&c->cl, h->head_len);
	return ret;
}
