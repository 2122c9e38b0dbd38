/*
 * sb_conn: the harness end of one helper connection (protocol.md C) on the
 * session's libuv loop. The hello handshake is done blocking (bounded by a
 * deadline) before the socket joins the loop, because backend start is
 * synchronous; afterwards requests are written as JSON lines, many may be in
 * flight, and answers are matched by id. The helper is untrusted: a line
 * that is not a frame, an oversized line, or an answer of the wrong payload
 * variant closes the connection and fails every pending request.
 *
 * A helper that stops answering (stopped, wedged, or taken over) must not
 * hang the session: every request carries its own deadline (an exec's
 * timeout plus a grace, a fixed bound for the other ops), one timer watches
 * the earliest, and a missed deadline loses the connection, which ends the
 * sandbox (on_lost).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sb_int.h"

struct sb_req {
	uint64_t id;
	const char *wire_op; /* static string */
	long long deadline;  /* monotonic ms: the answer is due by then */
	sb_done_fn done;
	sb_chunk_fn chunk;
	void *ud;
	struct sb_req *next;
};

struct sb_conn {
	uv_pipe_t pipe;        /* embedded; c is freed when both handles closed */
	uv_timer_t timer;      /* embedded: the earliest request deadline */
	int open_handles;
	int grace_ms, op_ms;   /* answer deadlines, see deadline_for */
	uint64_t next_id;
	struct sb_req *reqs;   /* owned: pending requests */
	struct sb_lines lines; /* owned */
	int dead;              /* no new requests; pending already failed */
	int closing;
	void (*on_lost)(void *ud, const char *why);
	void *ud;
};

struct wreq {
	uv_write_t w;
	struct sb_conn *c;
	size_t n;
	char data[];
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sb__hello(int fd, int timeout_ms, char **version, int64_t *pid, struct sl_buf *leftover,
	      struct sl_err *err)
{
	struct sl_buf req;
	sl_buf_init(&req);
	sb__frame_request(&req, 0, "hello", NULL);
	int rc = write_all(fd, req.p, req.len);
	sl_buf_free(&req);
	if (rc)
		return sl_err_set(err, SL_EIO, "cannot send hello to the helper: %s",
				  strerror(errno));
	long long deadline = now_ms() + timeout_ms;
	struct sl_buf in;
	sl_buf_init(&in);
	rc = SL_ETIMEOUT;
	sl_err_set(err, rc, "helper did not answer hello within %d ms", timeout_ms);
	for (;;) {
		char *nl = in.len ? memchr(in.p, '\n', in.len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - in.p);
			struct sb_frame f;
			if (sb__frame_parse(in.p, n, &f, err)) {
				sl_err_prefix(err, "helper handshake");
				rc = SL_EPARSE;
				break;
			}
			rc = SL_EPARSE;
			if (f.kind != SB_FRAME_OK || f.id != 0) {
				sl_err_set(err, rc, "helper handshake: expected the hello answer, got %s",
					   f.kind == SB_FRAME_ERR ? f.err : "another frame");
			} else if (!sb__payload_check("hello", f.ok, err)) {
				*version = sl_xstrdup(jv_get_str(f.ok, "version"));
				*pid = jv_get_int(f.ok, "pid", -1);
				sl_buf_add(leftover, nl + 1, in.len - n - 1);
				rc = 0;
			} else {
				sl_err_prefix(err, "helper handshake");
			}
			sb__frame_clear(&f);
			break;
		}
		if (in.len > 65536) {
			rc = sl_err_set(err, SL_EPARSE, "helper handshake: hello answer too long");
			break;
		}
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		sl_buf_reserve(&in, 4096);
		ssize_t r = read(fd, in.p + in.len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = sl_err_set(err, SL_EIO, "helper closed the connection during the handshake");
			break;
		}
		in.len += (size_t)r;
		in.p[in.len] = 0;
	}
	sl_buf_free(&in);
	return rc;
}

/* ---- pending requests ---- */

static struct sb_req *take_req(struct sb_conn *c, uint64_t id)
{
	for (struct sb_req **pp = &c->reqs; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct sb_req *r = *pp;
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

static struct sb_req *find_req(struct sb_conn *c, uint64_t id)
{
	for (struct sb_req *r = c->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Marks the connection dead and fails every pending request. Callbacks may
 * re-enter (new requests are refused since dead is set). */
static void fail_all(struct sb_conn *c, const char *msg)
{
	c->dead = 1;
	uv_timer_stop(&c->timer);
	struct sb_req *r;
	while ((r = c->reqs)) {
		c->reqs = r->next;
		if (r->done)
			r->done(r->ud, NULL, msg ? msg : "helper connection closed", 1);
		free(r);
	}
}

static void on_closed(uv_handle_t *h)
{
	struct sb_conn *c = h->data;
	if (--c->open_handles)
		return;
	sb__lines_free(&c->lines);
	free(c);
}

static void lost_msg(struct sb_conn *c, const char *why, const char *msg)
{
	if (c->dead)
		return;
	SL_WARN("sandbox", "helper connection lost: %s", why);
	uv_read_stop((uv_stream_t *)&c->pipe);
	fail_all(c, msg);
	if (c->on_lost)
		c->on_lost(c->ud, why);
}

static void lost(struct sb_conn *c, const char *why)
{
	lost_msg(c, why, NULL);
}

/* ---- answer deadlines ---- */

/* Milliseconds the helper may take beyond an exec's own timeout: it kills
 * the group at the timeout and then waits up to HP_GRACE_MS (5 s) for
 * descendants holding the pipes. */
#define ANSWER_GRACE_MS 10000
/* Ops without a timeout of their own (file ops, fetch, cancel). The
 * helper's fetch gives up after 60 s without progress. */
#define OP_DEADLINE_MS 120000

static long long deadline_for(const struct sb_conn *c, const char *wire_op,
				const struct jv *args)
{
	long long t = c->op_ms;
	if (!strcmp(wire_op, "exec")) {
		int64_t ms = jv_get_int(args, "timeout_ms", 0);
		/* clamp: a huge timeout must not overflow the sum */
		t = (ms > 0 && ms < (1ll << 40) ? ms : 0) + c->grace_ms;
	}
	return now_ms() + t;
}

void sb__conn_set_deadlines(struct sb_conn *c, int grace_ms, int op_ms)
{
	c->grace_ms = grace_ms;
	c->op_ms = op_ms;
}

static void on_deadline(uv_timer_t *t);

static void arm_timer(struct sb_conn *c)
{
	long long first = 0;
	for (struct sb_req *r = c->reqs; r; r = r->next)
		if (!first || r->deadline < first)
			first = r->deadline;
	if (!first) {
		uv_timer_stop(&c->timer);
		return;
	}
	long long left = first - now_ms();
	uv_timer_start(&c->timer, on_deadline, left > 0 ? (uint64_t)left : 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
	struct sb_conn *c = t->data;
	long long now = now_ms();
	for (struct sb_req *r = c->reqs; r; r = r->next) {
		if (r->deadline > now)
			continue;
		char why[160], msg[220];
		snprintf(why, sizeof(why), "helper did not answer %s request %llu in time",
			 r->wire_op, (unsigned long long)r->id);
		snprintf(msg, sizeof(msg), "helper connection closed: %s; sandbox ended", why);
		lost_msg(c, why, msg);
		return;
	}
	arm_timer(c);
}

/* ---- reading ---- */

static int on_line(void *ud, const char *line, size_t n)
{
	struct sb_conn *c = ud;
	struct sb_frame f;
	struct sl_err err;
	if (sb__frame_parse(line, n, &f, &err)) {
		lost(c, err.msg);
		return SL_EPARSE;
	}
	int rc = 0;
	if (f.kind == SB_FRAME_CHUNK) {
		struct sb_req *r = find_req(c, f.id);
		/* unknown ids are dropped (C6); chunks only make sense for exec */
		if (r && r->chunk && !strcmp(r->wire_op, "exec"))
			r->chunk(r->ud, f.stream, f.data.p, f.data.len);
		goto out;
	}
	struct sb_req *r = take_req(c, f.id);
	if (!r) {
		SL_DEBUG("sandbox", "helper answered unknown request %llu", (unsigned long long)f.id);
		goto out;
	}
	if (f.kind == SB_FRAME_ERR) {
		if (r->done)
			r->done(r->ud, NULL, f.err, 0);
	} else if (sb__payload_check(r->wire_op, f.ok, &err)) {
		/* wrong variant: the helper is broken; the session cannot go on */
		if (r->done)
			r->done(r->ud, NULL, err.msg, 1);
		free(r);
		lost(c, err.msg);
		rc = SL_EPARSE;
		goto out;
	} else if (r->done) {
		r->done(r->ud, f.ok, NULL, 0);
	}
	free(r);
	if (!c->dead)
		arm_timer(c);
out:
	sb__frame_clear(&f);
	return c->dead ? SL_ESTATE : rc;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];
	SL_UNUSED(h);
	SL_UNUSED(suggested);
	/* one loop thread: a static slab is safe and avoids an allocation per
	 * read; the bytes are copied into the line buffer before returning */
	buf->base = slab;
	buf->len = sizeof(slab);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sb_conn *c = s->data;
	if (nread == 0 || c->dead)
		return;
	if (nread < 0) {
		lost(c, nread == UV_EOF ? "helper closed the connection" : uv_strerror((int)nread));
		return;
	}
	int rc = sb__lines_feed(&c->lines, buf->base, (size_t)nread, on_line, c);
	if (rc == SL_ELIMIT)
		lost(c, "helper sent a line over the size limit");
}

struct sb_conn *sb__conn_open(uv_loop_t *loop, int fd, const struct sl_buf *leftover,
			      void (*on_lost)(void *ud, const char *why), void *ud,
			      struct sl_err *err)
{
	struct sb_conn *c = sl_xcalloc(1, sizeof(*c));
	sl_buf_init(&c->lines.b);
	c->next_id = 1;
	c->grace_ms = ANSWER_GRACE_MS;
	c->op_ms = OP_DEADLINE_MS;
	c->on_lost = on_lost;
	c->ud = ud;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->pipe.data = c;
	c->open_handles = 2;
	int r = uv_pipe_init(loop, &c->pipe, 0);
	if (!r)
		r = uv_pipe_open(&c->pipe, fd);
	if (r) {
		sl_err_set(err, SL_EIO, "cannot watch the helper socket: %s", uv_strerror(r));
		uv_close((uv_handle_t *)&c->timer, on_closed);
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return NULL;
	}
	if (leftover && leftover->len &&
	    sb__lines_feed(&c->lines, leftover->p, leftover->len, on_line, c))
		c->dead = 1;
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	return c;
}

static void on_written(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	if (status < 0 && status != UV_ECANCELED && !wr->c->closing)
		lost(wr->c, uv_strerror(status));
	free(wr);
}

static int send_line(struct sb_conn *c, const struct sl_buf *b)
{
	struct wreq *wr = sl_xmalloc(sizeof(*wr) + b->len);
	wr->c = c;
	wr->n = b->len;
	memcpy(wr->data, b->p, b->len);
	uv_buf_t ub = uv_buf_init(wr->data, (unsigned)wr->n);
	int r = uv_write(&wr->w, (uv_stream_t *)&c->pipe, &ub, 1, on_written);
	if (r) {
		free(wr);
		return r;
	}
	return 0;
}

int64_t sb__conn_request(struct sb_conn *c, const char *wire_op, struct jv *args,
			 sb_done_fn done, sb_chunk_fn chunk, void *ud, struct sl_err *err)
{
	if (!c || c->dead || c->closing) {
		jv_unref(args);
		sl_err_set(err, SL_ESTATE, "helper connection closed");
		return -1;
	}
	if (args && !jv_is(args, JV_OBJECT)) {
		jv_unref(args);
		sl_err_set(err, SL_EINVAL, "helper %s: arguments must be an object", wire_op);
		return -1;
	}
	if (chunk && !strcmp(wire_op, "exec") && args && !jv_get(args, "stream"))
		jv_set(args, "stream", jv_bool(1));
	uint64_t id = c->next_id++;
	long long deadline = deadline_for(c, wire_op, args);
	struct sl_buf b;
	sl_buf_init(&b);
	sb__frame_request(&b, id, wire_op, args);
	jv_unref(args);
	int r = send_line(c, &b);
	sl_buf_free(&b);
	if (r) {
		sl_err_set(err, SL_EIO, "cannot write to the helper: %s", uv_strerror(r));
		return -1;
	}
	struct sb_req *q = sl_xcalloc(1, sizeof(*q));
	q->id = id;
	q->wire_op = wire_op;
	q->done = done;
	q->chunk = chunk;
	q->ud = ud;
	q->deadline = deadline;
	/* append: answers are usually in request order */
	struct sb_req **pp = &c->reqs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = q;
	arm_timer(c);
	return (int64_t)id;
}

void sb__conn_cancel_execs(struct sb_conn *c)
{
	if (!c || c->dead)
		return;
	/* collect first: sending may not re-enter, but keep the walk simple */
	uint64_t ids[256];
	size_t n = 0;
	for (struct sb_req *r = c->reqs; r && n < SL_ARRAY_LEN(ids); r = r->next)
		if (!strcmp(r->wire_op, "exec"))
			ids[n++] = r->id;
	for (size_t i = 0; i < n; i++) {
		struct jv *a = jv_obj();
		jv_set(a, "cancel_id", jv_int((int64_t)ids[i]));
		/* the ack (or "no cancellable request", a benign race) is ignored */
		sb__conn_request(c, "cancel", a, NULL, NULL, NULL, NULL);
	}
}

size_t sb__conn_pending(const struct sb_conn *c)
{
	size_t n = 0;
	for (const struct sb_req *r = c ? c->reqs : NULL; r; r = r->next)
		n++;
	return n;
}

int sb__conn_alive(const struct sb_conn *c)
{
	return c && !c->dead && !c->closing;
}

void sb__conn_close(struct sb_conn *c)
{
	if (!c || c->closing)
		return;
	c->on_lost = NULL;
	c->closing = 1;
	fail_all(c, NULL);
	uv_close((uv_handle_t *)&c->timer, on_closed);
	uv_close((uv_handle_t *)&c->pipe, on_closed);
}
