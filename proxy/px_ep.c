/*
 * px_ep: one side of a proxied connection as a byte stream. The socket is a
 * libuv TCP handle; TLS, when on, runs mbedTLS over memory BIOs: received
 * records collect in `raw` and the receive callback hands them out, records
 * mbedTLS produces collect in `out` and are written in one uv_write. The
 * decrypted (or plain) bytes land in `in` for px_conn.c to parse. Writes are
 * counted in `wpending` so the connection can pause the other side when a
 * peer reads slowly (back-pressure). Nothing here knows about HTTP.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/net_sockets.h>

#include "px_int.h"

struct wreq {
	uv_write_t req;
	struct px_ep *ep;
	size_t len;
	char data[];
};

static void buf_consume(struct sl_buf *b, size_t *off, size_t n)
{
	*off += n;
	if (*off >= b->len) {
		sl_buf_reset(b);
		*off = 0;
	} else if (*off > 65536 && *off > b->len / 2) {
		memmove(b->p, b->p + *off, b->len - *off);
		b->len -= *off;
		b->p[b->len] = '\0';
		*off = 0;
	}
}

void px__ep_consume(struct px_ep *ep, size_t n)
{
	buf_consume(&ep->in, &ep->in_off, n);
}

/* mbedTLS BIO: hand out buffered records, or WANT_READ. */
static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	struct px_ep *ep = ctx;
	size_t avail = ep->raw.len - ep->raw_off;
	if (!avail)
		return ep->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	if (n > avail)
		n = avail;
	memcpy(p, ep->raw.p + ep->raw_off, n);
	buf_consume(&ep->raw, &ep->raw_off, n);
	return (int)n;
}

/* mbedTLS BIO: always accept; px__ep_flush writes them out. */
static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	struct px_ep *ep = ctx;
	if (ep->shut)
		return MBEDTLS_ERR_NET_CONN_RESET;
	sl_buf_add(&ep->out, p, n);
	return (int)n;
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct px_ep *ep = w->ep;
	ep->wpending -= w->len;
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		ep->shut = 1;
	px__on_ep_drain(ep);
}

static int raw_write(struct px_ep *ep, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (!ep->open || ep->shut)
		return SL_EIO;
	struct wreq *w = sl_xmalloc(sizeof(*w) + n);
	memcpy(w->data, p, n);
	w->ep = ep;
	w->len = n;
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
	int rc = uv_write(&w->req, (uv_stream_t *)&ep->tcp, &b, 1, on_write);
	if (rc) {
		free(w);
		ep->shut = 1;
		return SL_EIO;
	}
	ep->wpending += n;
	return 0;
}

static int flush_out(struct px_ep *ep)
{
	if (!ep->out.len)
		return 0;
	int rc = raw_write(ep, ep->out.p, ep->out.len);
	sl_buf_reset(&ep->out);
	return rc;
}

/* ---- the TLS lifecycle ---------------------------------------------- */

static const char *const tls_states[] = {
#define XX(n) #n,
	PX_TLS_STATE_MAP(XX)
#undef XX
};
static const char *const tls_events[] = {
#define XX(n) #n,
	PX_TLS_EVENT_MAP(XX)
#undef XX
};

struct tls_start {
	mbedtls_ssl_config *conf;
	const char *hostname;
};

static int bio_send(void *ctx, const unsigned char *p, size_t n);
static int bio_recv(void *ctx, unsigned char *p, size_t n);

/* START: a TLS context over the memory BIOs; bytes already read in plain
 * mode (a ClientHello sent right after CONNECT) are TLS records. */
static int act_tls_setup(void *obj, void *data)
{
	struct px_ep *ep = obj;
	const struct tls_start *ts = data;
	mbedtls_ssl_init(&ep->ssl);
	ep->ssl_init = 1;
	if (mbedtls_ssl_setup(&ep->ssl, ts->conf))
		return -1;
	if (ts->hostname && mbedtls_ssl_set_hostname(&ep->ssl, ts->hostname))
		return -1;
	mbedtls_ssl_set_bio(&ep->ssl, ep, bio_send, bio_recv, NULL);
	if (ep->in.len > ep->in_off)
		sl_buf_add(&ep->raw, ep->in.p + ep->in_off, ep->in.len - ep->in_off);
	sl_buf_reset(&ep->in);
	ep->in_off = 0;
	return 0;
}

#define T(from, on, act, to, err)                                              \
	{ PX_T_##from, PX_TE_##on, act, #act, PX_T_##to, PX_T_##to, PX_T_##err }

static const struct fsm_row tls_rows[] = {
	/* from        event  action          to           on_err */
	T(PLAIN,       START, act_tls_setup,  HANDSHAKE,   FAILED),
	T(PLAIN,       RESET, NULL,           PLAIN,       PLAIN),
	T(HANDSHAKE,   DONE,  NULL,           ESTABLISHED, FAILED),
	T(HANDSHAKE,   FAIL,  NULL,           FAILED,      FAILED),
	T(HANDSHAKE,   RESET, NULL,           PLAIN,       PLAIN),
	T(ESTABLISHED, RESET, NULL,           PLAIN,       PLAIN),
	T(FAILED,      RESET, NULL,           PLAIN,       PLAIN),
};

static void tls_undefined(void *obj, int state, int event)
{
	struct px_ep *ep = obj;
	px__note(ep->c->px, "endpoint tls: no transition for %s x %s", tls_states[state],
		 tls_events[event]);
}

const struct fsm_def px_ep_tls_fsm = {
	.name = "proxy endpoint tls",
	.doc = "The TLS layer of one side of a proxied connection (px_ep.c): plain "
	       "bytes until a handshake starts over memory BIOs, then established "
	       "or failed; closing the endpoint resets it for the next dial.",
	.states = tls_states,
	.n_states = PX_T__N,
	.events = tls_events,
	.n_events = PX_TE__N,
	.rows = tls_rows,
	.n_rows = (int)SL_ARRAY_LEN(tls_rows),
	.undefined = tls_undefined,
};

static int tls_step(struct px_ep *ep, int ev, void *data)
{
	return fsm_step(&px_ep_tls_fsm, &ep->tls, ev, ep, data);
}

int px__ep_write(struct px_ep *ep, const void *p, size_t n)
{
	if (ep->tls != PX_T_ESTABLISHED)
		return raw_write(ep, p, n);
	const unsigned char *q = p;
	while (n) {
		int w = mbedtls_ssl_write(&ep->ssl, q, n);
		if (w <= 0) {
			ep->shut = 1;
			return SL_EIO;
		}
		q += w;
		n -= (size_t)w;
	}
	ep->tx += (size_t)(q - (const unsigned char *)p);
	return flush_out(ep);
}

void px__ep_init(struct px_ep *ep, struct px_conn *c)
{
	memset(ep, 0, sizeof(*ep));
	ep->c = c;
	sl_buf_init(&ep->raw);
	sl_buf_init(&ep->in);
	sl_buf_init(&ep->out);
}

int px__ep_tls_start(struct px_ep *ep, mbedtls_ssl_config *conf, const char *hostname)
{
	struct tls_start ts = { conf, hostname };
	return tls_step(ep, PX_TE_START, &ts) < 0 ? SL_EINVAL : 0;
}

int px__ep_handshake(struct px_ep *ep, struct sl_err *err)
{
	int rc = mbedtls_ssl_handshake(&ep->ssl);
	int frc = flush_out(ep);
	if (!rc) {
		tls_step(ep, PX_TE_DONE, NULL);
		return frc;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		if (!ep->eof)
			return SL_EAGAIN;
		tls_step(ep, PX_TE_FAIL, NULL);
		return sl_err_set(err, SL_EIO, "connection closed during handshake");
	}
	tls_step(ep, PX_TE_FAIL, NULL);
	char msg[160];
	mbedtls_strerror(rc, msg, sizeof(msg));
	uint32_t v = mbedtls_ssl_get_verify_result(&ep->ssl);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && v != (uint32_t)-1) {
		char vb[256];
		mbedtls_x509_crt_verify_info(vb, sizeof(vb), "", v);
		vb[strcspn(vb, "\n")] = '\0';
		return sl_err_set(err, SL_EIO, "certificate verify failed: %s", vb);
	}
	return sl_err_set(err, SL_EIO, "%s", msg);
}

/* Decrypts whatever complete records arrived into `in`. */
void px__ep_pump(struct px_ep *ep)
{
	unsigned char tmp[16384];
	for (;;) {
		int r = mbedtls_ssl_read(&ep->ssl, tmp, sizeof(tmp));
		if (r > 0) {
			sl_buf_add(&ep->in, tmp, (size_t)r);
			ep->rx += (size_t)r;
			continue;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		/* close_notify, EOF or a fatal alert: the stream ends here */
		ep->eof = 1;
		break;
	}
	flush_out(ep); /* alerts, renegotiation refusals */
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct px_ep *ep = h->data;
	b->base = ep->c->px->rbuf;
	b->len = sizeof(ep->c->px->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct px_ep *ep = s->data;
	if (n == 0)
		return;
	if (n < 0) {
		ep->eof = 1;
		px__ep_read(ep, 0);
	} else if (ep->tls != PX_T_PLAIN) {
		sl_buf_add(&ep->raw, b->base, (size_t)n);
	} else {
		sl_buf_add(&ep->in, b->base, (size_t)n);
		ep->rx += (size_t)n;
	}
	if (ep->tls == PX_T_ESTABLISHED)
		px__ep_pump(ep);
	px__on_ep_data(ep);
}

void px__ep_read(struct px_ep *ep, int on)
{
	if (!ep->open || !ep->connected || ep->eof)
		on = 0;
	if (on == ep->reading)
		return;
	if (on) {
		if (uv_read_start((uv_stream_t *)&ep->tcp, on_alloc, on_read))
			return;
	} else if (ep->open) {
		uv_read_stop((uv_stream_t *)&ep->tcp);
	}
	ep->reading = on;
}

static void on_close(uv_handle_t *h)
{
	struct px_ep *ep = h->data;
	ep->closing = 0;
	px__on_ep_closed(ep);
}

void px__ep_close(struct px_ep *ep)
{
	if (!ep->open)
		return;
	ep->open = 0;
	ep->closing = 1;
	ep->reading = 0;
	ep->shut = 1;
	uv_close((uv_handle_t *)&ep->tcp, on_close);
}

void px__ep_deinit(struct px_ep *ep)
{
	if (ep->ssl_init)
		mbedtls_ssl_free(&ep->ssl);
	if (ep->conf_init)
		mbedtls_ssl_config_free(&ep->conf);
	ep->ssl_init = ep->conf_init = 0;
	sl_buf_free(&ep->raw);
	sl_buf_free(&ep->in);
	sl_buf_free(&ep->out);
	ep->raw_off = ep->in_off = 0;
	tls_step(ep, PX_TE_RESET, NULL);
	ep->eof = ep->shut = ep->connected = 0;
	ep->rx = ep->tx = 0;
}
