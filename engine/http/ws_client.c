/*
 * ws_client: RFC 6455 client on libuv + mbedTLS (see ws_client.h).
 *
 * States: resolve -> connect -> tls (wss only) -> upgrade -> open ->
 * closing -> done. TLS runs over memory: mbedTLS's send callback queues a
 * uv_write, its receive callback reads what uv_read delivered (WANT_READ
 * when empty), so nothing ever blocks the loop. Only IPv4 addresses are
 * tried (the providers have them; it keeps one connect attempt simple).
 *
 * Lifetime: the handle is freed in the last close callback, never earlier,
 * so callbacks may abort or close it re-entrantly; every step re-checks
 * `done` after calling out.
 */
#include "http/ws_client.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/ws_frame.h"
#include "json/jv.h"

#define WSC_MAX_HTTP_HEAD (16u << 10)
#define WSC_MAX_MSG ((size_t)16 << 20)

enum wsc_state { W_RESOLVE, W_CONNECT, W_TLS, W_UPGRADE, W_OPEN, W_CLOSING, W_DONE };

struct wsc {
	uv_loop_t *loop;               /* borrowed */
	uv_tcp_t tcp;                  /* embedded; closed in finish */
	uv_timer_t timer;              /* handshake deadline */
	uv_getaddrinfo_t gai;
	uv_connect_t creq;
	int handles_open, gai_pending, tcp_inited;
	enum wsc_state state;
	int aborted;
	int tls;
	char *host, *port, *target;    /* owned */
	char **headers;                /* owned, wiped at free */
	size_t nheaders;
	char key[32];                  /* Sec-WebSocket-Key */
	struct wsc_cbs cbs;
	/* TLS */
	int tls_ready;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	struct sl_buf tls_in;          /* ciphertext not yet consumed */
	size_t tls_off;
	/* HTTP upgrade answer, then frames */
	struct sl_buf head;
	struct ws_parser ps;
	char rbuf[65536];
};

struct wreq {
	uv_write_t req;
	size_t n;
	char data[];
};

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int rng_ready;

static int rng_init(void)
{
	if (rng_ready)
		return 0;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)"silo-ws", 7) != 0)
		return -1;
	rng_ready = 1;
	return 0;
}

static void maybe_free(struct wsc *c)
{
	if (c->handles_open || c->gai_pending)
		return;
	for (size_t i = 0; i < c->nheaders; i++) {
		explicit_bzero(c->headers[i], strlen(c->headers[i]));
		free(c->headers[i]);
	}
	free(c->headers);
	free(c->host);
	free(c->port);
	free(c->target);
	if (c->tls_ready) {
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
		mbedtls_x509_crt_free(&c->ca);
	}
	sl_buf_free(&c->tls_in);
	sl_buf_free(&c->head);
	ws_parser_deinit(&c->ps);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct wsc *c = h->data;
	c->handles_open--;
	maybe_free(c);
}

/* Ends the connection once: reports (unless aborted) and closes handles. */
static void finish(struct wsc *c, int code, const char *reason, const char *err)
{
	if (c->state == W_DONE)
		return;
	c->state = W_DONE;
	uv_timer_stop(&c->timer);
	if (c->gai_pending)
		uv_cancel((uv_req_t *)&c->gai);
	if (!c->aborted && c->cbs.on_closed)
		c->cbs.on_closed(c->cbs.ud, code, reason ? reason : "", err);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	if (c->tcp_inited)
		uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

static void failf(struct wsc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct wsc *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->state < W_OPEN && !c->aborted && c->cbs.on_open) {
		/* the opener learns it failed; on_closed follows */
		c->cbs.on_open(c->cbs.ud, msg);
		if (c->state == W_DONE)
			return;
	}
	finish(c, 1006, "", msg);
}

static void write_done(uv_write_t *req, int status)
{
	SL_UNUSED(status); /* a failed write shows up as a read error */
	free(req->data);
}

static int raw_write(struct wsc *c, const void *p, size_t n)
{
	if (c->state == W_DONE || !c->tcp_inited)
		return -1;
	struct wreq *w = sl_xmalloc(sizeof *w + n);
	memcpy(w->data, p, n);
	w->n = n;
	w->req.data = w;
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0) {
		free(w);
		return -1;
	}
	return 0;
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	return raw_write(ctx, p, n) == 0 ? (int)n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	struct wsc *c = ctx;
	size_t avail = c->tls_in.len - c->tls_off;
	if (!avail)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n > avail)
		n = avail;
	memcpy(p, c->tls_in.p + c->tls_off, n);
	c->tls_off += n;
	if (c->tls_off == c->tls_in.len) {
		sl_buf_reset(&c->tls_in);
		c->tls_off = 0;
	}
	return (int)n;
}

/* Application bytes out (through TLS when wss). */
static int app_write(struct wsc *c, const void *p, size_t n)
{
	if (!c->tls)
		return raw_write(c, p, n);
	const unsigned char *b = p;
	while (n) {
		int r = mbedtls_ssl_write(&c->ssl, b, n);
		if (r < 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_frame(struct wsc *c, int op, const void *p, size_t n)
{
	uint8_t mask[4];
	struct sl_buf f;
	if (sl_random(mask, sizeof mask) < 0)
		memset(mask, 0x5a, sizeof mask);
	sl_buf_init(&f);
	ws_frame_append(&f, op, p, n, mask);
	app_write(c, f.p, f.len);
	sl_buf_free(&f);
}

static int on_frame(void *ud, int op, const uint8_t *p, size_t n)
{
	struct wsc *c = ud;
	switch (op) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (c->cbs.on_message && !c->aborted)
			c->cbs.on_message(c->cbs.ud, (const char *)p, n);
		break;
	case WS_OP_PING:
		send_frame(c, WS_OP_PONG, p, n);
		break;
	case WS_OP_CLOSE: {
		int code;
		const char *r;
		size_t rl;
		char reason[128];
		ws_close_parse(p, n, &code, &r, &rl);
		snprintf(reason, sizeof reason, "%.*s", (int)(rl < 127 ? rl : 127), r);
		if (c->state == W_OPEN) {
			uint8_t echo[2] = { (uint8_t)((code == 1005 ? 1000 : code) >> 8),
					    (uint8_t)(code == 1005 ? 1000 : code) };
			send_frame(c, WS_OP_CLOSE, echo, 2);
		}
		finish(c, code, reason, NULL);
		break;
	}
	default:
		break;
	}
	return c->state == W_DONE;
}

/* The HTTP answer to the upgrade request; then frames. */
static void upgrade_bytes(struct wsc *c, const char *p, size_t n)
{
	sl_buf_add(&c->head, p, n);
	char *end = strstr(c->head.p, "\r\n\r\n");
	if (!end) {
		if (c->head.len > WSC_MAX_HTTP_HEAD)
			failf(c, "websocket upgrade: response head too large");
		return;
	}
	*end = 0;
	size_t rest_off = (size_t)(end + 4 - c->head.p);
	int status = 0;
	if (sscanf(c->head.p, "HTTP/1.%*d %d", &status) != 1) {
		failf(c, "websocket upgrade: not an HTTP answer");
		return;
	}
	if (status != 101) {
		/* the body (an API error) is often just after the head */
		const char *body = c->head.p + rest_off;
		failf(c, "websocket upgrade refused: HTTP %d %.200s", status,
		      rest_off < c->head.len ? body : "");
		return;
	}
	char want[29];
	ws_accept_key(c->key, want);
	int ok_accept = 0, ok_upgrade = 0;
	for (char *line = strstr(c->head.p, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (!strncasecmp(line, "sec-websocket-accept:", 21)) {
			const char *v = line + 21;
			while (*v == ' ')
				v++;
			ok_accept = !strncmp(v, want, 28);
		} else if (!strncasecmp(line, "upgrade:", 8)) {
			const char *v = line + 8;
			while (*v == ' ')
				v++;
			ok_upgrade = !strncasecmp(v, "websocket", 9);
		}
	}
	if (!ok_accept || !ok_upgrade) {
		failf(c, "websocket upgrade: bad %s", ok_accept ? "Upgrade header"
							       : "Sec-WebSocket-Accept");
		return;
	}
	c->state = W_OPEN;
	uv_timer_stop(&c->timer);
	if (c->cbs.on_open && !c->aborted)
		c->cbs.on_open(c->cbs.ud, NULL);
	if (c->state != W_OPEN)
		return;
	size_t rest = c->head.len - rest_off;
	if (rest) {
		struct sl_err err;
		char *tmp = sl_xmalloc(rest);
		memcpy(tmp, c->head.p + rest_off, rest);
		if (ws_parser_feed(&c->ps, (uint8_t *)tmp, rest, on_frame, c, &err) < 0)
			failf(c, "%s", err.msg);
		free(tmp);
	}
	sl_buf_free(&c->head);
}

static void app_bytes(struct wsc *c, const char *p, size_t n)
{
	struct sl_err err;
	if (c->state == W_UPGRADE) {
		upgrade_bytes(c, p, n);
		return;
	}
	if (c->state != W_OPEN && c->state != W_CLOSING)
		return;
	if (ws_parser_feed(&c->ps, (const uint8_t *)p, n, on_frame, c, &err) < 0) {
		uint8_t cc[2] = { (uint8_t)(c->ps.close_code >> 8), (uint8_t)c->ps.close_code };
		send_frame(c, WS_OP_CLOSE, cc, 2);
		finish(c, 1006, "", err.msg);
	}
}

static void send_upgrade(struct wsc *c)
{
	uint8_t nonce[16];
	struct sl_buf b;
	sl_random(nonce, sizeof nonce);
	sl_buf_init(&b);
	jv_b64_encode(&b, nonce, sizeof nonce);
	snprintf(c->key, sizeof c->key, "%s", b.p);
	sl_buf_reset(&b);
	sl_buf_printf(&b,
		      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		      "Sec-WebSocket-Version: 13\r\nUser-Agent: silo\r\n",
		      c->target, c->host, c->key);
	for (size_t i = 0; i < c->nheaders; i++)
		sl_buf_printf(&b, "%s\r\n", c->headers[i]);
	sl_buf_adds(&b, "\r\n");
	c->state = W_UPGRADE;
	app_write(c, b.p, b.len);
	explicit_bzero(b.p, b.len);
	sl_buf_free(&b);
}

static void tls_pump(struct wsc *c)
{
	if (c->state == W_TLS) {
		int r = mbedtls_ssl_handshake(&c->ssl);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (r != 0) {
			char e[160] = "";
			uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
			if (flags && flags != (uint32_t)-1)
				mbedtls_x509_crt_verify_info(e, sizeof e, "", flags);
			else
				mbedtls_strerror(r, e, sizeof e);
			e[strcspn(e, "\n")] = 0;
			failf(c, "tls handshake with %s: %s", c->host, e);
			return;
		}
		send_upgrade(c);
	}
	while (c->state == W_UPGRADE || c->state == W_OPEN || c->state == W_CLOSING) {
		int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)c->rbuf, sizeof c->rbuf);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			failf(c, "connection closed by the server");
			return;
		}
		if (r < 0) {
			char e[160];
			mbedtls_strerror(r, e, sizeof e);
			failf(c, "tls: %s", e);
			return;
		}
		app_bytes(c, c->rbuf, (size_t)r);
	}
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static char slab[65536];
	SL_UNUSED(h);
	SL_UNUSED(sz);
	*buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct wsc *c = s->data;
	if (nread == 0 || c->state == W_DONE)
		return;
	if (nread < 0) {
		failf(c, "%s", nread == UV_EOF ? "connection closed by the server"
					       : uv_strerror((int)nread));
		return;
	}
	if (c->tls) {
		sl_buf_add(&c->tls_in, buf->base, (size_t)nread);
		tls_pump(c);
	} else {
		app_bytes(c, buf->base, (size_t)nread);
	}
}

static int tls_setup(struct wsc *c, const char *ca_file)
{
	if (rng_init() < 0)
		return -1;
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	c->tls_ready = 1;
	mbedtls_x509_crt_parse_path(&c->ca, "/etc/ssl/certs"); /* some may not parse */
	if (ca_file && *ca_file && mbedtls_x509_crt_parse_file(&c->ca, ca_file) != 0)
		return -2;
	if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	static const char *alpn[] = { "http/1.1", NULL };
	mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &drbg);
	if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, c->host) != 0)
		return -1;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct wsc *c = req->data;
	if (c->state == W_DONE)
		return;
	if (status < 0) {
		failf(c, "connect to %s:%s: %s", c->host, c->port, uv_strerror(status));
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	if (c->tls) {
		c->state = W_TLS;
		tls_pump(c);
	} else {
		send_upgrade(c);
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct wsc *c = req->data;
	c->gai_pending = 0;
	if (c->state == W_DONE) {
		uv_freeaddrinfo(ai);
		maybe_free(c);
		return;
	}
	if (status < 0 || !ai) {
		uv_freeaddrinfo(ai);
		failf(c, "cannot resolve %s: %s", c->host, uv_strerror(status));
		return;
	}
	uv_tcp_init(c->loop, &c->tcp);
	c->tcp.data = c;
	c->tcp_inited = 1;
	c->handles_open++;
	c->state = W_CONNECT;
	c->creq.data = c;
	int r = uv_tcp_connect(&c->creq, &c->tcp, ai->ai_addr, on_connect);
	uv_freeaddrinfo(ai);
	if (r < 0)
		failf(c, "connect to %s: %s", c->host, uv_strerror(r));
}

static void on_timeout(uv_timer_t *t)
{
	struct wsc *c = t->data;
	failf(c, "websocket: connect/handshake timed out");
}

/* Splits ws[s]://host[:port]/path into its parts. */
static int parse_url(struct wsc *c, const char *url, struct sl_err *err)
{
	const char *p;
	if (!strncmp(url, "wss://", 6)) {
		c->tls = 1;
		p = url + 6;
	} else if (!strncmp(url, "ws://", 5)) {
		p = url + 5;
	} else {
		return sl_err_set(err, SL_EINVAL, "websocket: url must start with ws:// or wss://");
	}
	size_t hl = strcspn(p, ":/?#");
	if (hl == 0 || hl > 253)
		return sl_err_set(err, SL_EINVAL, "websocket: no host in url");
	c->host = sl_xstrndup(p, hl);
	p += hl;
	if (*p == ':') {
		p++;
		size_t pl = strspn(p, "0123456789");
		if (pl == 0 || pl > 5 || atoi(p) > 65535)
			return sl_err_set(err, SL_EINVAL, "websocket: bad port in url");
		c->port = sl_xstrndup(p, pl);
		p += pl;
	} else {
		c->port = sl_xstrdup(c->tls ? "443" : "80");
	}
	if (*p == '#')
		return sl_err_set(err, SL_EINVAL, "websocket: fragment in url");
	if (*p && *p != '/' && *p != '?')
		return sl_err_set(err, SL_EINVAL, "websocket: bad url");
	if (strpbrk(p, " \r\n"))
		return sl_err_set(err, SL_EINVAL, "websocket: bad characters in url");
	c->target = *p == '/' ? sl_xstrdup(p) : sl_xasprintf("/%s", p);
	return 0;
}

struct wsc *wsc_open(uv_loop_t *loop, const char *url, const char *const *headers,
		     size_t nheaders, const char *ca_file, long timeout_ms,
		     const struct wsc_cbs *cbs, struct sl_err *err)
{
	struct wsc *c = sl_xcalloc(1, sizeof *c);
	c->loop = loop;
	c->cbs = *cbs;
	sl_buf_init(&c->tls_in);
	sl_buf_init(&c->head);
	ws_parser_init(&c->ps, 0, WSC_MAX_MSG);
	if (!url || parse_url(c, url, err) < 0)
		goto fail;
	for (size_t i = 0; i < nheaders; i++) {
		if (!strchr(headers[i], ':') || strpbrk(headers[i], "\r\n")) {
			sl_err_set(err, SL_EINVAL, "websocket: bad header line %zu", i + 1);
			goto fail;
		}
	}
	c->headers = sl_xcalloc(nheaders + 1, sizeof *c->headers);
	for (size_t i = 0; i < nheaders; i++)
		c->headers[c->nheaders++] = sl_xstrdup(headers[i]);
	if (!ca_file)
		ca_file = getenv("SILO_LLM_CA_FILE");
	if (c->tls) {
		int r = tls_setup(c, ca_file);
		if (r == -2) {
			sl_err_set(err, SL_EINVAL, "websocket: cannot read CA file %s", ca_file);
			goto fail;
		}
		if (r < 0) {
			sl_err_set(err, SL_EIO, "websocket: TLS setup failed");
			goto fail;
		}
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 1;
	uv_timer_start(&c->timer, on_timeout, timeout_ms > 0 ? (uint64_t)timeout_ms : 30000, 0);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	c->gai.data = c;
	c->state = W_RESOLVE;
	if (uv_getaddrinfo(loop, &c->gai, on_resolved, c->host, c->port, &hints) < 0) {
		sl_err_set(err, SL_EIO, "websocket: cannot resolve %s", c->host);
		c->aborted = 1;
		finish(c, 1006, "", NULL);
		return NULL;
	}
	c->gai_pending = 1;
	return c;
fail:
	maybe_free(c);
	return NULL;
}

int wsc_send_text(struct wsc *c, const char *p, size_t n)
{
	if (c->state != W_OPEN)
		return SL_ESTATE;
	send_frame(c, WS_OP_TEXT, p, n);
	return 0;
}

void wsc_close(struct wsc *c)
{
	if (c->state == W_OPEN) {
		static const uint8_t normal[2] = { 0x03, 0xe8 };
		send_frame(c, WS_OP_CLOSE, normal, 2);
		c->state = W_CLOSING;
		/* the server's close answer ends it; do not wait forever */
		uv_timer_start(&c->timer, on_timeout, 2000, 0);
		return;
	}
	if (c->state != W_DONE && c->state != W_CLOSING)
		finish(c, 1000, "", NULL);
}


void wsc_release(struct wsc *c)
{
	if (!c || c->aborted)
		return;
	c->aborted = 1; /* no callbacks from here on */
	wsc_close(c);
}

void wsc_abort(struct wsc *c)
{
	if (!c || c->aborted)
		return;
	c->aborted = 1;
	finish(c, 1006, "", NULL);
}
