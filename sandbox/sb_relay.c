/*
 * sb_relay: the harness side of the egress relay (sandbox.md 5). It listens
 * on <scratch>/proxy.sock; each connection the helper opens there is piped
 * byte-for-byte to a fresh TCP connection to the proxy's loopback address.
 * Without a proxy (the proxy is configured elsewhere and may be absent), each
 * connection gets a 403 that says egress is refused, so tools see a clear
 * reason instead of a hang. Both directions are flow-controlled: a side stops
 * reading while the other side has more than RELAY_HIGH bytes queued.
 */
#include <stdlib.h>
#include <string.h>

#include "sandbox/sb_int.h"

#define RELAY_HIGH (256u << 10)
#define RELAY_HEAD_MAX (64u << 10)

const char sb__relay_stub_body[] =
	"proxy stub: all egress refused until the proxy is configured\n";

struct sb_relay {
	uv_pipe_t listener; /* embedded; freed in its close callback */
	char *proxy_addr;   /* owned, NULL = stub */
	struct sockaddr_storage addr;
	/* connections not yet freed: the sandbox must not be able to spend
	 * the harness's file descriptors (each costs one or two here, more in
	 * an in-process proxy); r is freed when this and the listener are gone */
	int live;
	int listener_closed;
};

/* One relayed connection: side 0 = sandbox (pipe), side 1 = proxy (tcp). */
struct rconn {
	struct sb_relay *r;
	union {
		uv_pipe_t pipe;
		uv_tcp_t tcp;
		uv_stream_t s;
	} side[2];
	uv_connect_t creq;
	uv_shutdown_t sreq[2];
	int eof[2];        /* side i sent EOF */
	int open_handles;
	int closing;
	int connected;
	struct sl_buf head; /* stub: the request head read so far */
};

struct rwrite {
	uv_write_t w;
	struct rconn *rc;
	int to;
	char *data;
};

static void rconn_closed(uv_handle_t *h)
{
	struct rconn *rc = h->data;
	if (--rc->open_handles == 0) {
		struct sb_relay *r = rc->r;
		sl_buf_free(&rc->head);
		free(rc);
		if (--r->live == 0 && r->listener_closed) {
			free(r->proxy_addr);
			free(r);
		}
	}
}

static void rconn_close(struct rconn *rc)
{
	if (rc->closing)
		return;
	rc->closing = 1;
	for (int i = 0; i < 2; i++)
		if (!uv_is_closing((uv_handle_t *)&rc->side[i]))
			uv_close((uv_handle_t *)&rc->side[i], rconn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	SL_UNUSED(h);
	SL_UNUSED(suggested);
	buf->base = sl_xmalloc(65536);
	buf->len = 65536;
}

static void on_pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static int side_of(struct rconn *rc, uv_stream_t *s)
{
	return s == &rc->side[0].s ? 0 : 1;
}

static void on_rwritten(uv_write_t *w, int status)
{
	struct rwrite *wr = (struct rwrite *)w;
	struct rconn *rc = wr->rc;
	free(wr->data);
	int to = wr->to;
	free(wr);
	if (rc->closing)
		return;
	if (status < 0) {
		rconn_close(rc);
		return;
	}
	/* resume the source once its destination drained */
	int from = !to;
	if (!rc->eof[from] && rc->side[to].s.write_queue_size < RELAY_HIGH)
		uv_read_start(&rc->side[from].s, on_alloc, on_pipe_read);
}

static void on_shut(uv_shutdown_t *r, int status)
{
	SL_UNUSED(status);
	struct rconn *rc = r->data;
	if (rc->eof[0] && rc->eof[1])
		rconn_close(rc);
}

static void on_pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rconn *rc = s->data;
	int from = side_of(rc, s), to = !from;
	if (n <= 0 || rc->closing) {
		free(buf->base);
		if (n == 0 || rc->closing)
			return;
		if (n != UV_EOF) {
			rconn_close(rc);
			return;
		}
		rc->eof[from] = 1;
		uv_read_stop(s);
		rc->sreq[to].data = rc;
		if (uv_shutdown(&rc->sreq[to], &rc->side[to].s, on_shut))
			rconn_close(rc);
		return;
	}
	struct rwrite *wr = sl_xmalloc(sizeof(*wr));
	wr->rc = rc;
	wr->to = to;
	wr->data = buf->base;
	uv_buf_t ub = uv_buf_init(buf->base, (unsigned)n);
	if (uv_write(&wr->w, &rc->side[to].s, &ub, 1, on_rwritten)) {
		free(wr->data);
		free(wr);
		rconn_close(rc);
		return;
	}
	if (rc->side[to].s.write_queue_size >= RELAY_HIGH)
		uv_read_stop(s);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct rconn *rc = req->data;
	if (rc->closing)
		return;
	if (status < 0) {
		SL_WARN("sandbox", "relay: cannot reach the proxy: %s", uv_strerror(status));
		rconn_close(rc);
		return;
	}
	rc->connected = 1;
	uv_read_start(&rc->side[0].s, on_alloc, on_pipe_read);
	uv_read_start(&rc->side[1].s, on_alloc, on_pipe_read);
}

/* ---- the stub: read the request head, answer 403, close ---- */

static void on_stub_written(uv_write_t *w, int status)
{
	SL_UNUSED(status);
	struct rwrite *wr = (struct rwrite *)w;
	struct rconn *rc = wr->rc;
	free(wr->data);
	free(wr);
	rconn_close(rc);
}

static void stub_answer(struct rconn *rc)
{
	uv_read_stop(&rc->side[0].s);
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b,
		      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		      sizeof(sb__relay_stub_body) - 1, sb__relay_stub_body);
	struct rwrite *wr = sl_xmalloc(sizeof(*wr));
	wr->rc = rc;
	wr->to = 0;
	uv_buf_t ub = uv_buf_init(b.p, (unsigned)b.len);
	wr->data = sl_buf_steal(&b);
	if (uv_write(&wr->w, &rc->side[0].s, &ub, 1, on_stub_written)) {
		free(wr->data);
		free(wr);
		rconn_close(rc);
	}
}

static void on_stub_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rconn *rc = s->data;
	if (n > 0 && !rc->closing) {
		sl_buf_add(&rc->head, buf->base, (size_t)n);
		if (memmem(rc->head.p, rc->head.len, "\r\n\r\n", 4) ||
		    rc->head.len > RELAY_HEAD_MAX)
			stub_answer(rc);
	} else if (n < 0 && !rc->closing) {
		stub_answer(rc);
	}
	free(buf->base);
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct sb_relay *r = ls->data;
	if (status < 0)
		return;
	struct rconn *rc = sl_xcalloc(1, sizeof(*rc));
	rc->r = r;
	r->live++;
	sl_buf_init(&rc->head);
	uv_pipe_init(ls->loop, &rc->side[0].pipe, 0);
	rc->side[0].s.data = rc;
	rc->open_handles = 1;
	if (uv_accept(ls, &rc->side[0].s) || r->live > SB_RELAY_MAX_CONN) {
		/* over the limit: accepted only to be closed at once */
		rc->closing = 1;
		uv_close((uv_handle_t *)&rc->side[0], rconn_closed);
		return;
	}
	if (!r->proxy_addr) {
		/* side 1 is never used; count it as closed */
		rc->eof[1] = 1;
		uv_read_start(&rc->side[0].s, on_alloc, on_stub_read);
		/* rconn_close must not touch the uninitialized tcp side */
		uv_tcp_init(ls->loop, &rc->side[1].tcp);
		rc->side[1].s.data = rc;
		rc->open_handles++;
		return;
	}
	uv_tcp_init(ls->loop, &rc->side[1].tcp);
	rc->side[1].s.data = rc;
	rc->open_handles++;
	rc->creq.data = rc;
	int e = uv_tcp_connect(&rc->creq, &rc->side[1].tcp, (struct sockaddr *)&r->addr,
			       on_connected);
	if (e) {
		SL_WARN("sandbox", "relay: cannot connect to the proxy: %s", uv_strerror(e));
		rconn_close(rc);
	}
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	char host[64];
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (!uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss))
		return 0;
	if (!uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss))
		return 0;
	return -1;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct sb_relay *r = h->data;
	r->listener_closed = 1;
	if (r->live)
		return; /* the last connection frees r */
	free(r->proxy_addr);
	free(r);
}

struct sb_relay *sb__relay_open(uv_loop_t *loop, const char *path, const char *proxy_addr,
				struct sl_err *err)
{
	struct sb_relay *r = sl_xcalloc(1, sizeof(*r));
	if (proxy_addr && parse_addr(proxy_addr, &r->addr)) {
		sl_err_set(err, SL_EINVAL, "proxy address \"%s\" is not host:port", proxy_addr);
		free(r);
		return NULL;
	}
	r->proxy_addr = proxy_addr ? sl_xstrdup(proxy_addr) : NULL;
	uv_pipe_init(loop, &r->listener, 0);
	r->listener.data = r;
	int e = uv_pipe_bind(&r->listener, path);
	if (!e)
		e = uv_listen((uv_stream_t *)&r->listener, 64, on_connection);
	if (e) {
		sl_err_set(err, SL_EIO, "cannot listen on %s: %s", path, uv_strerror(e));
		uv_close((uv_handle_t *)&r->listener, on_listener_closed);
		return NULL;
	}
	return r;
}

void sb__relay_close(struct sb_relay *r)
{
	/* established connections run on until either side closes */
	if (r)
		uv_close((uv_handle_t *)&r->listener, on_listener_closed);
}
