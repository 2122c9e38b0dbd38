/*
 * px_conn: one sandbox connection as a table-driven state machine
 * (STYLE.md 5, run by fsm_step). I/O callbacks never change the state
 * themselves: they call drive(), which runs queued events through the
 * table and then px__pump(), which moves bytes for the current state (parse a
 * head, advance a handshake, relay bodies) and posts the next event when
 * something completes. Reading is switched on and off per side after every
 * step, which is where back-pressure lives: a side is read only while the
 * other side's write queue is below PX_HWM.
 *
 * The pumps that move bytes live in px_relay.c; policy decisions and the
 * rewritten request head in px_req.c; name resolution, the IP guard and
 * dialing in px_dial.c; socket and TLS byte plumbing in px_ep.c.
 */
#include <stdlib.h>
#include <string.h>

#include "px_int.h"


static const char *const state_names[] = {
#define XX(n) #n,
	PX_STATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(n) #n,
	PX_EVENT_MAP(XX)
#undef XX
};

static void drive(struct px_conn *c);

/* Posts without running: for use inside actions and pumps. A full queue
 * means the table and the pumps disagree; rather than lose an event
 * silently, what is queued is discarded with a note and FAULT closes the
 * connection. */
void px__post(struct px_conn *c, int ev)
{
	if (c->evn < (int)SL_ARRAY_LEN(c->evq)) {
		c->evq[c->evn++] = ev;
		return;
	}
	px__note(c->px, "proxy connection: event queue full in %s at %s (%d queued); closing",
		 state_names[c->state], event_names[ev], c->evn);
	c->evn = 0;
	c->evq[c->evn++] = PX_E_FAULT;
}

void px__conn_post(struct px_conn *c, int ev)
{
	px__post(c, ev);
	drive(c);
}

void px__reply(struct px_conn *c, int status, const char *reason, const char *body, int close)
{
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b,
		      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		      "Content-Length: %zu\r\n%s\r\n%s",
		      status, reason, strlen(body), close ? "Connection: close\r\n" : "", body);
	px__ep_write(&c->cl, b.p, b.len);
	sl_buf_free(&b);
}

/* ---- timers ----------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
	struct px_conn *c = t->data;
	px__conn_post(c, PX_E_TIMEOUT);
}

void px__arm(struct px_conn *c, unsigned ms)
{
	if (c->timer_open)
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void arm_for_state(struct px_conn *c)
{
	struct px *px = c->px;
	switch (c->state) {
	case PX_S_HEAD:
		c->head_timer = c->cl.in.len > c->cl.in_off;
		px__arm(c, c->head_timer ? px->head_ms : px->idle_ms);
		break;
	case PX_S_CL_TLS:
		px__arm(c, px->head_ms);
		break;
	case PX_S_RESOLVE:
	case PX_S_CONNECT:
	case PX_S_UP_TLS:
		px__arm(c, px->connect_ms);
		break;
	case PX_S_RELAY:
		px__arm(c, px->idle_ms);
		break;
	case PX_S_TUNNEL:
		px__arm(c, px->tunnel_ms);
		break;
	case PX_S_CLOSING:
		px__arm(c, 2000);
		break;
	default:
		if (c->timer_open)
			uv_timer_stop(&c->timer);
	}
}

/* ---- actions ---------------------------------------------------------- */

static int act_request(void *obj, void *data)
{
	struct px_conn *c = obj;
	int rc = px__req_prepare(c);
	if (rc)
		return rc; /* answered here: 1 keep-alive, -1 close */
	if (c->up.open && c->up.connected && !c->up.eof && c->ureuse &&
	    !strcmp(c->uhost, c->rq.host) && c->uport == c->rq.port && c->utls == c->rq.tls) {
		px__post(c, PX_E_REUSE);
		return 0;
	}
	c->ureuse = 0;
	px__ep_close(&c->up);
	px__resolve(c, c->rq.host, c->rq.port);
	return 0;
}

static int act_connect(void *obj, void *data)
{
	struct px_conn *c = obj;
	int rc = px__connect_prepare(c);
	if (rc < 0)
		return -1;
	if (c->passthrough) {
		px__resolve(c, c->chost, c->cport);
		return 1;
	}
	return 0;
}

static int act_tls_ok(void *obj, void *data)
{
	struct px_conn *c = obj;
	tl_leaf_put(c->leaf);
	c->leaf = NULL;
	px__ep_pump(&c->cl);
	return 0;
}

static int act_tls_fail(void *obj, void *data)
{
	struct px_conn *c = obj;
	tl_leaf_put(c->leaf);
	c->leaf = NULL;
	px__record(c->px, c->chost, c->cport, NULL, NULL, 0, 0, 0, 0, 0,
		   "tls handshake failed");
	return 0;
}

static int upstream_failed(struct px_conn *c);

static int act_dial(void *obj, void *data)
{
	px__dial(obj);
	return 0;
}

static int act_next_addr(void *obj, void *data)
{
	struct px_conn *c = obj;
	px__ep_close(&c->up);
	if (++c->ai < c->naddrs) {
		c->dial_pending = 1;
		if (!c->up.closing)
			px__dial(c);
		return 0;
	}
	snprintf(c->rq.note, sizeof(c->rq.note), "connect failed: %s",
		 c->dial_err[0] ? c->dial_err : "timed out");
	c->rq.jnote = "connect failed";
	c->rq.allowed = 1;
	return upstream_failed(c) < 0 ? -1 : 1;
}

/* Upstream could not be reached: 502 with the detail, journaled. */
static int upstream_failed(struct px_conn *c)
{
	struct px_req *rq = &c->rq;
	char body[700];
	px__ep_close(&c->up);
	c->ureuse = 0;
	if (c->passthrough) {
		px__record(c->px, c->chost, c->cport, NULL, NULL, 0, 0, 0, rq->allowed, 0,
			   rq->jnote);
		snprintf(body, sizeof(body), "upstream error: %s\n", rq->note);
		px__reply(c, 502, "Bad Gateway", body, 1);
		return -1;
	}
	px__record(c->px, rq->host, rq->port, rq->method, rq->path, 0, rq->bytes_sent, 0,
		   rq->allowed, 0, rq->jnote);
	if (!rq->resp_started) {
		snprintf(body, sizeof(body), "upstream error: %s\n", rq->note);
		/* An unread request body cannot be skipped safely: close. */
		int close = !rq->keep_alive || !rq->body_done || c->px->stopping;
		px__reply(c, 502, "Bad Gateway", body, close);
		return close ? -1 : 0;
	}
	return -1; /* response already under way: only closing tells the client */
}

static int act_upfail(void *obj, void *data)
{
	return upstream_failed(obj);
}

static int act_connected(void *obj, void *data)
{
	struct px_conn *c = obj;
	snprintf(c->uhost, sizeof(c->uhost), "%s", c->passthrough ? c->chost : c->rq.host);
	c->uport = c->passthrough ? c->cport : c->rq.port;
	c->utls = c->passthrough ? 0 : c->rq.tls;
	if (c->utls && c->rq.is_ip) {
		/* mbedTLS 2.28 checks no iPAddress subjectAltName, so for an IP
		 * literal it would verify the chain but not whose certificate it
		 * is; refuse rather than intercept unverified. */
		snprintf(c->rq.note, sizeof(c->rq.note),
			 "upstream tls failed: the certificate of an IP address (%s) cannot be "
			 "verified here; use the host's name", c->uhost);
		c->rq.jnote = "upstream tls failed";
		c->rq.allowed = 1;
		px__post(c, PX_E_UP_TLS_FAIL);
		return 0;
	}
	if (c->utls) {
		mbedtls_ssl_config *conf = px__up_conf(c->px, c->uhost);
		if (!conf || px__ep_tls_start(&c->up, conf, c->uhost)) {
			snprintf(c->rq.note, sizeof(c->rq.note),
				 "upstream tls failed: no TLS configuration for %s", c->uhost);
			c->rq.jnote = "upstream tls failed";
			c->rq.allowed = 1;
			px__post(c, PX_E_UP_TLS_FAIL);
			return 0;
		}
		px__sess_apply(c->px, &c->up.ssl, c->uhost, c->uport);
		/* the ClientHello goes out now; the answer arrives in pump */
		struct sl_err e;
		int rc = px__ep_handshake(&c->up, &e);
		if (rc && rc != SL_EAGAIN) {
			snprintf(c->rq.note, sizeof(c->rq.note), "upstream tls failed: %s", e.msg);
			c->rq.jnote = "upstream tls failed";
			c->rq.allowed = 1;
			px__post(c, PX_E_UP_TLS_FAIL);
		} else if (!rc) {
			px__post(c, PX_E_UP_TLS_OK);
		}
		return 0;
	}
	px__post(c, PX_E_UP_TLS_OK);
	return 0;
}

static void start_relay(struct px_conn *c)
{
	struct px_req *rq = &c->rq;
	rq->body_done = rq->body == PX_BODY_NONE;
	px__ep_write(&c->up, c->head.p, c->head.len);
	if (c->head.p) /* may hold an injected credential */
		explicit_bzero(c->head.p, c->head.len);
	sl_buf_reset(&c->head);
}

static int act_forward(void *obj, void *data)
{
	struct px_conn *c = obj;
	if (c->up.tls == PX_T_ESTABLISHED && !c->up.sess_saved) {
		c->up.sess_saved = 1;
		px__sess_save(c->px, &c->up.ssl, c->uhost, c->uport);
	}
	if (c->passthrough) {
		static const char ok[] =
			"HTTP/1.1 200 Connection Established\r\nContent-Length: 0\r\n\r\n";
		px__ep_write(&c->cl, ok, sizeof(ok) - 1);
		c->cl.rx = c->cl.tx = 0;
		return 1;
	}
	start_relay(c);
	return 0;
}

static int act_done(void *obj, void *data)
{
	struct px_conn *c = obj;
	struct px_req *rq = &c->rq;
	px__record(c->px, rq->host, rq->port, rq->method, rq->path, rq->status, rq->bytes_sent,
		   rq->bytes_received, 1, rq->cred, NULL);
	if (!c->ureuse || c->up.eof) {
		c->ureuse = 0;
		px__ep_close(&c->up);
	}
	if (!rq->keep_alive || c->px->stopping || c->cl.eof)
		return 1;
	return 0;
}

static int act_relay_fail(void *obj, void *data)
{
	struct px_conn *c = obj;
	struct px_req *rq = &c->rq;
	if (!rq->note[0]) {
		snprintf(rq->note, sizeof(rq->note), "connect failed: upstream closed the connection");
		rq->jnote = "connect failed";
		rq->allowed = 1;
	}
	if (rq->resp_started) {
		/* The status line already went out: journal what was relayed. */
		px__record(c->px, rq->host, rq->port, rq->method, rq->path, rq->status,
			   rq->bytes_sent, rq->bytes_received, 1, rq->cred, "connect failed");
		px__ep_close(&c->up);
		return -1;
	}
	return upstream_failed(c);
}

static int act_tunnel_end(void *obj, void *data)
{
	struct px_conn *c = obj;
	px__record(c->px, c->chost, c->cport, NULL, NULL, 0, c->cl.rx, c->up.rx, 1, 0, "tunnel");
	return 0;
}

static int act_bad(void *obj, void *data)
{
	return 0;
}

static int act_close(void *obj, void *data)
{
	struct px_conn *c = obj;
	px__ep_read(&c->cl, 0);
	px__ep_read(&c->up, 0);
	return 0;
}

static int act_timeout_head(void *obj, void *data)
{
	struct px_conn *c = obj;
	if (c->cl.in.len > c->cl.in_off)
		px__reply(c, 408, "Request Timeout", "request head not received in time\n", 1);
	return act_close(obj, data);
}

static void conn_maybe_free(struct px_conn *c);

static void on_timer_closed(uv_handle_t *h)
{
	conn_maybe_free(h->data);
}

static int act_finish(void *obj, void *data)
{
	struct px_conn *c = obj;
	px__ep_close(&c->cl);
	px__ep_close(&c->up);
	if (c->gai_busy)
		uv_cancel((uv_req_t *)&c->gai);
	if (c->timer_open) {
		c->timer_open = 0;
		uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	}
	return 0;
}

/* ---- the table -------------------------------------------------------- */

#define R(from, on, act, to, alt, err)                                         \
	{ PX_S_##from, PX_E_##on, act, #act, PX_S_##to, PX_S_##alt, PX_S_##err }

/* Sorted by `from`; tests/unit/proxy checks order and reachability. */
static const struct fsm_row px_rows[] = {
	/* from      event         action            to        alt      on_err */
	R(HEAD,    REQUEST,      act_request,      RESOLVE,  HEAD,    CLOSING),
	R(HEAD,    CONNECT,      act_connect,      CL_TLS,   RESOLVE, CLOSING),
	R(HEAD,    BAD,          act_bad,          CLOSING,  CLOSING, CLOSING),
	R(HEAD,    EOF,          act_close,        CLOSING,  CLOSING, CLOSING),
	R(HEAD,    TIMEOUT,      act_timeout_head, CLOSING,  CLOSING, CLOSING),
	R(HEAD,    STOP,         act_close,        CLOSING,  CLOSING, CLOSING),
	R(HEAD,    CLOSE,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(HEAD,     FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(HEAD,     KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CL_TLS,  TLS_OK,       act_tls_ok,       HEAD,     HEAD,    CLOSING),
	R(CL_TLS,  TLS_FAIL,     act_tls_fail,     CLOSING,  CLOSING, CLOSING),
	R(CL_TLS,  EOF,          act_tls_fail,     CLOSING,  CLOSING, CLOSING),
	R(CL_TLS,  TIMEOUT,      act_tls_fail,     CLOSING,  CLOSING, CLOSING),
	R(CL_TLS,  STOP,         act_close,        CLOSING,  CLOSING, CLOSING),
	R(CL_TLS,   FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(CL_TLS,   KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(RESOLVE, REUSE,        act_forward,      RELAY,    TUNNEL,  CLOSING),
	R(RESOLVE, RESOLVED,     act_dial,         CONNECT,  CONNECT, CLOSING),
	R(RESOLVE, RESOLVE_FAIL, act_upfail,       HEAD,     HEAD,    CLOSING),
	R(RESOLVE, EOF,          act_close,        CLOSING,  CLOSING, CLOSING),
	R(RESOLVE, TIMEOUT,      act_upfail,       HEAD,     HEAD,    CLOSING),
	R(RESOLVE, STOP,         act_close,        CLOSING,  CLOSING, CLOSING),
	R(RESOLVE,  FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(RESOLVE,  KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CONNECT, CONNECTED,    act_connected,    UP_TLS,   UP_TLS,  CLOSING),
	R(CONNECT, CONNECT_FAIL, act_next_addr,    CONNECT,  HEAD,    CLOSING),
	R(CONNECT, EOF,          act_close,        CLOSING,  CLOSING, CLOSING),
	R(CONNECT, TIMEOUT,      act_next_addr,    CONNECT,  HEAD,    CLOSING),
	R(CONNECT, STOP,         act_close,        CLOSING,  CLOSING, CLOSING),
	R(CONNECT,  FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(CONNECT,  KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(UP_TLS,  UP_TLS_OK,    act_forward,      RELAY,    TUNNEL,  CLOSING),
	R(UP_TLS,  UP_TLS_FAIL,  act_upfail,       HEAD,     HEAD,    CLOSING),
	R(UP_TLS,  EOF,          act_close,        CLOSING,  CLOSING, CLOSING),
	R(UP_TLS,  TIMEOUT,      act_upfail,       HEAD,     HEAD,    CLOSING),
	R(UP_TLS,  STOP,         act_close,        CLOSING,  CLOSING, CLOSING),
	R(UP_TLS,   FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(UP_TLS,   KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(RELAY,   DONE,         act_done,         HEAD,     CLOSING, CLOSING),
	R(RELAY,   UP_ERR,       act_relay_fail,   HEAD,     HEAD,    CLOSING),
	R(RELAY,   EOF,          act_close,        CLOSING,  CLOSING, CLOSING),
	R(RELAY,   TIMEOUT,      act_relay_fail,   HEAD,     HEAD,    CLOSING),
	R(RELAY,   CLOSE,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(RELAY,   STOP,         NULL,             RELAY,    RELAY,   RELAY),
	R(RELAY,    FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(RELAY,    KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(TUNNEL,  EOF,          act_tunnel_end,   CLOSING,  CLOSING, CLOSING),
	R(TUNNEL,  TIMEOUT,      act_tunnel_end,   CLOSING,  CLOSING, CLOSING),
	R(TUNNEL,  STOP,         act_tunnel_end,   CLOSING,  CLOSING, CLOSING),
	R(TUNNEL,   FAULT,        act_close,        CLOSING,  CLOSING, CLOSING),
	R(TUNNEL,   KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CLOSING, DRAINED,      act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CLOSING, TIMEOUT,      act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CLOSING, FAULT,        act_finish,       CLOSED,   CLOSED,  CLOSED),
	R(CLOSING, KILL,         act_finish,       CLOSED,   CLOSED,  CLOSED),
};

static void undefined(void *obj, int state, int event)
{
	struct px_conn *c = obj;
	px__note(c->px, "proxy connection: no transition for %s x %s", state_names[state],
		 event_names[event]);
}

const struct fsm_def px_conn_fsm = {
	.name = "proxy connection",
	.doc = "One sandbox connection to the egress proxy (px_conn.c): a request "
	       "head, an optional CONNECT with TLS interception or passthrough, "
	       "resolution under the IP guard, the upstream dial and handshake, "
	       "then body relay in both directions; keep-alive returns to HEAD.",
	.states = state_names,
	.n_states = PX_S__N,
	.events = event_names,
	.n_events = PX_E__N,
	.rows = px_rows,
	.n_rows = (int)SL_ARRAY_LEN(px_rows),
	.undefined = undefined,
};

/* Which sides to read, given the state and the write queues. */
static void update_io(struct px_conn *c)
{
	int cl = 0, up = 0;
	switch (c->state) {
	case PX_S_HEAD:
		cl = c->cl.in.len - c->cl.in_off < PX_MAX_HEAD + 1;
		up = c->up.open; /* notice an idle upstream closing */
		break;
	case PX_S_CL_TLS:
		cl = 1;
		break;
	case PX_S_UP_TLS:
		up = 1;
		break;
	case PX_S_RELAY:
		cl = !c->rq.body_done && c->up.wpending < PX_HWM;
		up = !c->rq.resp_done && c->cl.wpending < PX_HWM;
		break;
	case PX_S_TUNNEL:
		cl = c->up.wpending < PX_HWM;
		up = c->cl.wpending < PX_HWM;
		break;
	default:
		break;
	}
	px__ep_read(&c->cl, cl);
	px__ep_read(&c->up, up);
}

static void drive(struct px_conn *c)
{
	if (c->stepping)
		return;
	c->stepping = 1;
	for (int guard = 0; guard < 10000; guard++) {
		if (c->evn) {
			int ev = c->evq[0];
			memmove(c->evq, c->evq + 1, (size_t)(--c->evn) * sizeof(int));
			int from = c->state;
			fsm_step(&px_conn_fsm, &c->state, ev, c, NULL);
			if (c->state != from)
				arm_for_state(c);
			continue;
		}
		if (c->state == PX_S_CLOSED || !px__pump(c))
			break;
	}
	if (c->state != PX_S_CLOSED)
		update_io(c);
	c->stepping = 0;
}

void px__on_ep_data(struct px_ep *ep)
{
	drive(ep->c);
}

void px__on_ep_drain(struct px_ep *ep)
{
	struct px_conn *c = ep->c;
	if (ep->wpending < PX_LWM || c->state == PX_S_CLOSING)
		drive(c);
}

/* ---- lifetime --------------------------------------------------------- */

static void conn_maybe_free(struct px_conn *c)
{
	if (c->state != PX_S_CLOSED || c->cl.open || c->cl.closing || c->up.open ||
	    c->up.closing || c->timer_open || c->gai_busy)
		return;
	struct px *px = c->px;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	px->n_conns--;
	tl_leaf_put(c->leaf);
	px__ep_deinit(&c->cl);
	px__ep_deinit(&c->up);
	px__req_reset(&c->rq);
	if (c->head.p) /* an unsent head may hold an injected credential */
		explicit_bzero(c->head.p, c->head.cap);
	sl_buf_free(&c->head);
	free(c);
	px__stop_check(px);
}

void px__on_ep_closed(struct px_ep *ep)
{
	struct px_conn *c = ep->c;
	if (ep == &c->up) {
		/* the handle is reusable now: a later request may dial again */
		px__ep_deinit(ep);
		if (c->dial_pending && c->state == PX_S_CONNECT) {
			px__dial(c);
			return;
		}
	}
	conn_maybe_free(c);
}

void px__conn_accept(struct px *px, uv_stream_t *server)
{
	struct px_conn *c = sl_xcalloc(1, sizeof(*c));
	c->px = px;
	px__ep_init(&c->cl, c);
	px__ep_init(&c->up, c);
	sl_buf_init(&c->head);
	uv_tcp_init(px->loop, &c->cl.tcp);
	c->cl.tcp.data = &c->cl;
	c->cl.open = 1;
	uv_timer_init(px->loop, &c->timer);
	c->timer.data = c;
	c->timer_open = 1;
	c->next = px->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &px->conns;
	px->conns = c;
	px->n_conns++;
	c->state = PX_S_HEAD;
	if (uv_accept(server, (uv_stream_t *)&c->cl.tcp) || px->mock || px->stopping ||
	    px->n_conns > PX_MAX_CONNS) {
		/* --mock-proxy: every connection is closed at once, unjournaled;
		 * over the cap, a sandbox flood gets the same */
		px__conn_post(c, PX_E_KILL);
		return;
	}
	c->cl.connected = 1;
	uv_tcp_nodelay(&c->cl.tcp, 1);
	arm_for_state(c);
	drive(c);
}

void px__conn_stop_all(struct px *px)
{
	for (struct px_conn *c = px->conns, *n; c; c = n) {
		n = c->next;
		if (c->state != PX_S_CLOSING && c->state != PX_S_CLOSED)
			px__conn_post(c, PX_E_STOP);
	}
}

void px__conn_kill_all(struct px *px)
{
	for (struct px_conn *c = px->conns, *n; c; c = n) {
		n = c->next;
		if (c->state != PX_S_CLOSED)
			px__conn_post(c, PX_E_KILL);
	}
}

void px__conn_gai_done(struct px_conn *c)
{
	conn_maybe_free(c);
}
