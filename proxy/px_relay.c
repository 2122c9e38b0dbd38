/*
 * px_relay: the byte-moving half of a proxied connection. For the state
 * px_conn.c's table has put a connection in, px__pump() parses a request
 * head, advances a TLS handshake, relays request and response bodies by
 * their framing (Content-Length, chunked, until close) or shovels tunnel
 * bytes, and posts the event that says what completed. It never changes
 * the state itself.
 */
#include <string.h>

#include "px_int.h"

#define MOD "proxy"

static size_t avail(const struct px_ep *ep)
{
	return ep->in.len - ep->in_off;
}

static const char *inp(const struct px_ep *ep)
{
	/* an empty buffer may have no storage yet: no arithmetic on NULL */
	return ep->in.p ? ep->in.p + ep->in_off : "";
}

static int pump_head(struct px_conn *c)
{
	struct sl_err e;
	size_t hl = 0, n = avail(&c->cl);
	/* an idle kept-alive upstream that talks or closes is dropped */
	if (c->up.open && (c->up.eof || avail(&c->up))) {
		c->ureuse = 0;
		px__ep_close(&c->up);
	}
	if (!n) {
		if (c->cl.eof || c->cl.shut) {
			px__post(c, PX_E_EOF);
			return 1;
		}
		return 0;
	}
	/* A client that pipelines requests answered here (403, 400) and never
	 * reads would have the answers queued without bound: take the next
	 * head only once the queue has drained (px__on_ep_drain resumes). */
	if (c->cl.wpending >= PX_HWM)
		return 0;
	if (!c->head_timer) {
		c->head_timer = 1;
		px__arm(c, c->px->head_ms);
	}
	int rc = px_http_head_end(inp(&c->cl), n, &hl, &e);
	if (rc == SL_EAGAIN) {
		if (c->cl.eof) {
			px__post(c, PX_E_EOF);
			return 1;
		}
		return 0;
	}
	if (!rc)
		rc = px_http_parse_request(inp(&c->cl), hl, &c->hp, &e);
	if (rc) {
		char body[600];
		snprintf(body, sizeof(body), "bad request: %s\n", e.msg);
		if (rc == SL_ELIMIT)
			px__reply(c, 431, "Request Header Fields Too Large", body, 1);
		else
			px__reply(c, 400, "Bad Request", body, 1);
		px__post(c, PX_E_BAD);
		return 1;
	}
	c->hp.head_len = hl;
	if (c->hp.mlen == 7 && !memcmp(c->hp.method, "CONNECT", 7))
		px__post(c, PX_E_CONNECT);
	else
		px__post(c, PX_E_REQUEST);
	return 1;
}

static int pump_handshake(struct px_conn *c, struct px_ep *ep, int ok, int fail)
{
	struct sl_err e;
	if (ep->tls == PX_T_ESTABLISHED)
		return 0;
	int rc = px__ep_handshake(ep, &e);
	if (rc == SL_EAGAIN)
		return 0;
	if (rc && ep == &c->up) {
		snprintf(c->rq.note, sizeof(c->rq.note), "upstream tls failed: %s", e.msg);
		c->rq.jnote = "upstream tls failed";
		c->rq.allowed = 1;
	} else if (rc) {
		SL_DEBUG(MOD, "sandbox handshake for %s failed: %s", c->chost, e.msg);
	}
	px__post(c, rc ? fail : ok);
	return 1;
}

/* Request body: client -> upstream, per the request framing. */
static int relay_request(struct px_conn *c)
{
	struct px_req *rq = &c->rq;
	struct sl_err e;
	int moved = 0;
	while (!rq->body_done && avail(&c->cl)) {
		size_t n = avail(&c->cl);
		if (rq->body == PX_BODY_LENGTH) {
			if (n > rq->left)
				n = (size_t)rq->left;
			rq->left -= n;
			rq->bytes_sent += n;
			rq->body_done = !rq->left;
		} else {
			ssize_t r = px_chunk_feed(&rq->ck, inp(&c->cl), n, &e);
			if (r < 0) {
				SL_DEBUG(MOD, "bad chunked request body: %s", e.msg);
				rq->keep_alive = 0;
				px__post(c, PX_E_CLOSE);
				return 1;
			}
			n = (size_t)r;
			rq->bytes_sent = rq->ck.payload;
			rq->body_done = rq->ck.done;
		}
		px__ep_write(&c->up, inp(&c->cl), n);
		px__ep_consume(&c->cl, n);
		moved = 1;
	}
	return moved;
}

/* Scrubs the next n raw body bytes of up.in (px_scrub.c) and returns how
 * many of them may go out now. A chunked body is scrubbed as its payload,
 * so a secret the upstream split over chunks is found too; the framing
 * around held-back payload waits with it. */
static size_t scrub_body(struct px_conn *c, size_t n, int last)
{
	const struct px_scrub *sc = &c->px->scrub;
	struct px_req *rq = &c->rq;
	char *p = c->up.in.p + c->up.in_off;
	if (!sc->n || !n)
		return n;
	if (rq->rbody != PX_BODY_CHUNKED)
		return px_scrub(sc, p, n, last);

	struct px_chunk ck = rq->rck;
	struct sl_buf pay;
	struct sl_err e;
	size_t spans[64][2], ns = 0, i = 0;
	int bad = 0;
	sl_buf_init(&pay);
	while (i < n && !ck.done && !bad) {
		uint64_t d = px_chunk_data_left(&ck);
		size_t step = d ? (d < n - i ? (size_t)d : n - i) : 1;
		if (d) {
			if (ns == SL_ARRAY_LEN(spans))
				break; /* the rest goes in the next round */
			spans[ns][0] = i;
			spans[ns++][1] = step;
			sl_buf_add(&pay, p + i, step);
		}
		ssize_t r = px_chunk_feed(&ck, p + i, step, &e);
		if (r <= 0)
			bad = 1; /* a framing error: the real decoder reports it */
		else
			i += (size_t)r;
	}
	int fin = bad || ck.done || (last && i == n);
	size_t keep = pay.len ? px_scrub(sc, pay.p, pay.len, fin) : 0;
	size_t safe = bad ? n : i, off = 0;
	for (size_t k = 0; k < ns; k++) {
		memcpy(p + spans[k][0], pay.p + off, spans[k][1]);
		if (safe == i && keep < off + spans[k][1])
			safe = spans[k][0] + (keep > off ? keep - off : 0);
		off += spans[k][1];
	}
	if (pay.p) /* may hold a secret's first bytes */
		explicit_bzero(pay.p, pay.len);
	sl_buf_free(&pay);
	return safe;
}

/* Response: upstream -> client, head first, then the body per its framing. */
static int relay_response(struct px_conn *c)
{
	struct px_req *rq = &c->rq;
	struct sl_err e;
	int moved = 0;
	while (!rq->resp_head_done) {
		size_t hl = 0;
		struct px_head h;
		int rc = px_http_head_end(inp(&c->up), avail(&c->up), &hl, &e);
		if (rc == SL_EAGAIN)
			return moved;
		if (!rc)
			rc = px_http_parse_response(inp(&c->up), hl, rq->method, strlen(rq->method),
						    &h, &e);
		if (rc || h.status == 101) {
			snprintf(rq->note, sizeof(rq->note), "connect failed: bad response: %s",
				 rc ? e.msg : "protocol switch");
			rq->jnote = "connect failed";
			rq->allowed = 1;
			rq->resp_err = 1;
			return moved;
		}
		px_scrub(&c->px->scrub, c->up.in.p + c->up.in_off, hl, 1);
		px__ep_write(&c->cl, inp(&c->up), hl);
		px__ep_consume(&c->up, hl);
		rq->resp_started = 1;
		moved = 1;
		if (h.status < 200)
			continue; /* 100 Continue and friends: the real head follows */
		rq->resp_head_done = 1;
		rq->status = h.status;
		rq->rbody = h.body;
		rq->rleft = h.content_length;
		px_chunk_init(&rq->rck);
		c->ureuse = h.keep_alive;
		if (h.body == PX_BODY_CLOSE)
			rq->keep_alive = 0;
		rq->resp_done = h.body == PX_BODY_NONE ||
				(h.body == PX_BODY_LENGTH && !h.content_length);
	}
	while (!rq->resp_done && avail(&c->up)) {
		size_t n = avail(&c->up);
		if (rq->rbody == PX_BODY_LENGTH && n > rq->rleft)
			n = (size_t)rq->rleft;
		n = scrub_body(c, n, c->up.eof || (rq->rbody == PX_BODY_LENGTH && n == rq->rleft));
		if (!n)
			break; /* the start of a secret, perhaps: wait for the rest */
		if (rq->rbody == PX_BODY_LENGTH) {
			rq->rleft -= n;
			rq->bytes_received += n;
			rq->resp_done = !rq->rleft;
		} else if (rq->rbody == PX_BODY_CHUNKED) {
			ssize_t r = px_chunk_feed(&rq->rck, inp(&c->up), n, &e);
			if (r < 0) {
				snprintf(rq->note, sizeof(rq->note), "bad chunked response: %s",
					 e.msg);
				rq->resp_err = 1;
				rq->keep_alive = 0;
				return moved;
			}
			n = (size_t)r;
			rq->bytes_received = rq->rck.payload;
			rq->resp_done = rq->rck.done;
		} else {
			rq->bytes_received += n;
		}
		px__ep_write(&c->cl, inp(&c->up), n);
		px__ep_consume(&c->up, n);
		moved = 1;
	}
	if (!rq->resp_done && rq->rbody == PX_BODY_CLOSE && c->up.eof && !avail(&c->up)) {
		rq->resp_done = 1;
		c->ureuse = 0;
	}
	return moved;
}

static int pump_relay(struct px_conn *c)
{
	struct px_req *rq = &c->rq;
	if (c->cl.shut) {
		/* the sandbox went away: stop fetching what nobody reads */
		px__post(c, PX_E_CLOSE);
		return 1;
	}
	int moved = relay_request(c) | relay_response(c);
	if (moved)
		px__arm(c, c->px->idle_ms);
	if (rq->resp_done) {
		if (!rq->body_done) {
			/* answered before the body was sent: the rest is unread */
			rq->keep_alive = 0;
			c->ureuse = 0;
		}
		px__post(c, PX_E_DONE);
		return 1;
	}
	if (rq->resp_err || (c->up.eof && !avail(&c->up))) {
		c->ureuse = 0;
		px__post(c, PX_E_UP_ERR);
		return 1;
	}
	if (!rq->body_done && c->cl.eof && !avail(&c->cl)) {
		px__post(c, PX_E_EOF);
		return 1;
	}
	return 0;
}

static int pump_tunnel(struct px_conn *c)
{
	int moved = 0;
	if (avail(&c->cl)) {
		px__ep_write(&c->up, inp(&c->cl), avail(&c->cl));
		px__ep_consume(&c->cl, avail(&c->cl));
		moved = 1;
	}
	if (avail(&c->up)) {
		px__ep_write(&c->cl, inp(&c->up), avail(&c->up));
		px__ep_consume(&c->up, avail(&c->up));
		moved = 1;
	}
	if (moved)
		px__arm(c, c->px->tunnel_ms);
	if (c->cl.eof || c->up.eof || c->cl.shut || c->up.shut) {
		px__post(c, PX_E_EOF);
		return 1;
	}
	return 0;
}

int px__pump(struct px_conn *c)
{
	switch (c->state) {
	case PX_S_HEAD:
		return pump_head(c);
	case PX_S_CL_TLS:
		return pump_handshake(c, &c->cl, PX_E_TLS_OK, PX_E_TLS_FAIL);
	case PX_S_UP_TLS:
		if (c->up.tls == PX_T_HANDSHAKE)
			return pump_handshake(c, &c->up, PX_E_UP_TLS_OK, PX_E_UP_TLS_FAIL);
		return 0;
	case PX_S_RELAY:
		return pump_relay(c);
	case PX_S_TUNNEL:
		return pump_tunnel(c);
	case PX_S_RESOLVE:
	case PX_S_CONNECT:
		if (c->cl.eof && !avail(&c->cl)) {
			px__post(c, PX_E_EOF);
			return 1;
		}
		return 0;
	case PX_S_CLOSING:
		if (!c->cl.wpending && !c->up.wpending) {
			px__post(c, PX_E_DRAINED);
			return 1;
		}
		return 0;
	default:
		return 0;
	}
}
