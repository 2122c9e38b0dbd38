/*
 * hc_curl: libcurl's multi interface on the libuv loop. curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); we keep one uv_poll per socket and one timer,
 * and hand readiness back with curl_multi_socket_action. Finished transfers
 * are collected with curl_multi_info_read and reported once.
 *
 * Re-entrancy: user callbacks (on_chunk, on_done) may start or cancel
 * requests and even free the client, so they never run inside a libcurl
 * callback (libcurl refuses curl_multi_add_handle there): streamed body
 * pieces are buffered by the write callback and handed to on_chunk after
 * curl_multi_socket_action returns, and completions come from
 * curl_multi_info_read. A request cancelled while curl is busy is only
 * marked and released afterwards. hc_free() inside a callback is deferred
 * until the outermost callback returns.
 */
#include "http/hc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define HC_DEFAULT_TIMEOUT_MS 600000L
#define HC_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define HC_MAX_HEADER_BYTES ((size_t)256 << 10)

struct hc {
	uv_loop_t *loop;     /* borrowed */
	CURLM *multi;        /* owned */
	uv_timer_t timer;    /* embedded; closed by hc_free */
	struct hc_req *reqs; /* in-flight list (owned) */
	int active;
	int depth;           /* nesting of user callbacks */
	int free_pending;    /* hc_free called inside a callback */
	int closing;
	int handles_open;    /* uv handles not yet closed (timer + polls) */
	struct hc_sock *socks; /* watched sockets */
};

struct hc_sock {
	uv_poll_t poll;      /* embedded; freed in close cb */
	curl_socket_t fd;
	struct hc *c;
	struct hc_sock *next, **pprev;
};

struct hc_req {
	struct hc *c;
	CURL *easy;                /* owned */
	struct curl_slist *hdrs;   /* owned */
	char *body;                /* owned copy of the request body */
	struct sl_buf resp;        /* collected response body */
	struct sl_buf hraw;        /* raw response header lines */
	size_t max_body;
	int cancelled;             /* hc_cancel came; no on_done */
	int streaming;             /* decided at the first body byte */
	struct sl_buf sbuf;        /* streamed bytes not yet given to on_chunk */
	int stream_decided;
	int aborted_by_chunk;
	int too_big;
	char errbuf[CURL_ERROR_SIZE];
	int (*on_chunk)(void *, const char *, size_t);
	void (*on_done)(void *, const struct hc_result *);
	void *ud;
	struct hc_req *next, **pprev;
};

static void handle_closed(uv_handle_t *h);

static void sock_close(struct hc_sock *s)
{
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, handle_closed);
}
static void check_done(struct hc *c);

static void req_unlink_free(struct hc_req *r)
{
	struct hc *c = r->c;
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		c->active--;
	}
	if (r->easy) {
		curl_multi_remove_handle(c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	free(r->body);
	sl_buf_free(&r->resp);
	sl_buf_free(&r->hraw);
	sl_buf_free(&r->sbuf);
	free(r);
}

static void do_free(struct hc *c)
{
	while (c->reqs)
		req_unlink_free(c->reqs);
	/* curl_multi_cleanup calls the socket callback with REMOVE for the
	 * sockets it still knows, which closes their polls. */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks)
		sock_close(c->socks);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
}

/* Idle keep-alive connections and curl's housekeeping timer must not keep
 * the loop alive (the engine runs it until nothing is left at exit); a
 * transfer in flight must. */
static void update_refs(struct hc *c)
{
	for (struct hc_sock *s = c->socks; s; s = s->next) {
		if (c->active)
			uv_ref((uv_handle_t *)&s->poll);
		else
			uv_unref((uv_handle_t *)&s->poll);
	}
	if (c->active)
		uv_ref((uv_handle_t *)&c->timer);
	else
		uv_unref((uv_handle_t *)&c->timer);
}

static void leave_cb(struct hc *c)
{
	if (--c->depth > 0)
		return;
	if (c->free_pending) {
		c->free_pending = 0;
		do_free(c);
		return;
	}
	/* Requests cancelled while curl was busy are released here, outside
	 * curl_multi_socket_action. */
	for (struct hc_req *r = c->reqs, *nx; r; r = nx) {
		nx = r->next;
		if (r->cancelled)
			req_unlink_free(r);
	}
	update_refs(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct hc *c;
	if (h->type == UV_POLL) {
		struct hc_sock *s = h->data;
		c = s->c;
		free(s);
	} else {
		c = h->data;
	}
	if (--c->handles_open == 0 && c->closing)
		free(c);
}

static void finish(struct hc_req *r, CURLcode cc);

/* Hands r's buffered stream bytes to on_chunk (outside libcurl; depth is
 * held, so r stays valid even if the callback cancels it). Returns 1 when
 * the consumer asked to stop. */
static int give_chunk(struct hc_req *r)
{
	struct hc *c = r->c;
	struct sl_buf b = r->sbuf; /* take it: on_chunk may add more requests */
	sl_buf_init(&r->sbuf);
	c->depth++;
	int stop = r->on_chunk(r->ud, b.p, b.len);
	sl_buf_free(&b);
	int r_stop = stop && !r->cancelled && !c->free_pending;
	if (r_stop)
		r->aborted_by_chunk = 1;
	c->depth--; /* the caller holds its own level */
	return r_stop;
}

/* Gives buffered stream pieces to their on_chunk once curl has returned.
 * A consumer that asks to stop gets its transfer ended as cancelled. */
static void flush_streams(struct hc *c)
{
	for (;;) {
		struct hc_req *r;
		for (r = c->reqs; r; r = r->next)
			if (r->sbuf.len && !r->cancelled && !r->aborted_by_chunk)
				break;
		if (!r || c->free_pending)
			return;
		if (give_chunk(r))
			finish(r, CURLE_WRITE_ERROR);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct hc_sock *s = p->data;
	struct hc *c = s->c;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	c->depth++;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	flush_streams(c);
	check_done(c);
	leave_cb(c);
}

static void on_timer(uv_timer_t *t)
{
	struct hc *c = t->data;
	int running;
	c->depth++;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	flush_streams(c);
	check_done(c);
	leave_cb(c);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
	struct hc *c = userp;
	struct hc_sock *s = socketp;
	SL_UNUSED(easy);
	if (action == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = sl_xcalloc(1, sizeof *s);
		s->fd = fd;
		s->c = c;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		c->handles_open++;
		s->next = c->socks;
		if (c->socks)
			c->socks->pprev = &s->next;
		c->socks = s;
		s->pprev = &c->socks;
		if (!c->active)
			uv_unref((uv_handle_t *)&s->poll);
		curl_multi_assign(c->multi, fd, s);
	}
	int ev = 0;
	if (action & CURL_POLL_IN)
		ev |= UV_READABLE;
	if (action & CURL_POLL_OUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct hc *c = userp;
	SL_UNUSED(multi);
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else /* 0 means "now": still go through the loop, never recurse */
		uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct hc *hc_new(uv_loop_t *loop)
{
	static uv_once_t once = UV_ONCE_INIT;
	uv_once(&once, global_init);
	struct hc *c = sl_xcalloc(1, sizeof *c);
	c->loop = loop;
	c->multi = curl_multi_init();
	if (!c->multi)
		abort(); /* only on OOM */
	uv_timer_init(loop, &c->timer);
	uv_unref((uv_handle_t *)&c->timer);
	c->timer.data = c;
	c->handles_open = 1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void hc_free(struct hc *c)
{
	if (!c || c->closing)
		return;
	c->closing = 1;
	if (c->depth > 0) {
		c->free_pending = 1;
		/* callbacks of the remaining requests must not run */
		for (struct hc_req *r = c->reqs; r; r = r->next)
			r->cancelled = 1;
		return;
	}
	do_free(c);
}

int hc_active(const struct hc *c)
{
	return c->active;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct hc_req *r = ud;
	size_t len = size * n;
	/* A new status line (after 1xx or a redirect) starts over. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		sl_buf_reset(&r->hraw);
	if (r->hraw.len + len > HC_MAX_HEADER_BYTES)
		return 0;
	sl_buf_add(&r->hraw, p, len);
	return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct hc_req *r = ud;
	size_t len = size * n;
	if (r->cancelled)
		return 0;
	if (!r->stream_decided) {
		long st = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
		r->streaming = r->on_chunk && st >= 200 && st < 300;
		r->stream_decided = 1;
	}
	if (r->streaming) {
		if (r->aborted_by_chunk)
			return 0;
		/* flush_streams hands it over once curl has returned; a
		 * consumer that stops reading cannot make this grow past the
		 * body limit */
		if (r->sbuf.len + len > r->max_body) {
			r->too_big = 1;
			return 0;
		}
		sl_buf_add(&r->sbuf, p, len);
		return len;
	}
	if (r->resp.len + len > r->max_body) {
		r->too_big = 1;
		return 0;
	}
	sl_buf_add(&r->resp, p, len);
	return len;
}

/* Splits the raw header block into name/value pairs (status line dropped). */
static size_t parse_headers(struct sl_buf *raw, char ***out)
{
	size_t cap = 16, n = 0;
	char **v = sl_xmalloc(cap * sizeof *v);
	char *s = raw->p ? raw->p : (char *)"";
	while (*s) {
		char *eol = strchr(s, '\n');
		char *next = eol ? eol + 1 : s + strlen(s);
		if (eol) {
			*eol = 0;
			if (eol > s && eol[-1] == '\r')
				eol[-1] = 0;
		}
		char *colon = strchr(s, ':');
		if (colon && strncmp(s, "HTTP/", 5) != 0) {
			*colon = 0;
			char *val = colon + 1;
			while (*val == ' ' || *val == '\t')
				val++;
			if (n + 2 > cap) {
				cap *= 2;
				v = sl_xrealloc(v, cap * sizeof *v);
			}
			v[n++] = s;
			v[n++] = val;
		}
		s = next;
	}
	*out = v;
	return n / 2;
}

static void finish(struct hc_req *r, CURLcode cc)
{
	struct hc *c = r->c;
	struct hc_result res = { 0 };
	char msg[CURL_ERROR_SIZE + 64];
	/* the last pieces go before the end */
	if (r->sbuf.len && !r->cancelled && !r->aborted_by_chunk && give_chunk(r))
		cc = CURLE_WRITE_ERROR;
	if (r->cancelled || c->free_pending) {
		if (c->depth == 0)
			req_unlink_free(r);
		return;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
	if (cc != CURLE_OK) {
		if (r->aborted_by_chunk) {
			res.code = SL_ECANCEL;
			snprintf(msg, sizeof msg, "transfer aborted by the stream callback");
		} else if (r->too_big) {
			res.code = SL_ELIMIT;
			snprintf(msg, sizeof msg, "response body larger than %zu bytes",
				 r->max_body);
		} else {
			res.code = cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEOUT : SL_EIO;
			snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf
								: curl_easy_strerror(cc));
		}
		res.errmsg = msg;
	}
	res.nheaders = parse_headers(&r->hraw, &res.headers);
	res.body = r->resp.p ? r->resp.p : "";
	res.body_len = r->resp.len;
	res.streamed = r->streaming;
	/* Unlink first so on_done may start new requests or free the client. */
	void (*done)(void *, const struct hc_result *) = r->on_done;
	void *ud = r->ud;
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
		c->active--;
	}
	curl_multi_remove_handle(c->multi, r->easy);
	c->depth++;
	if (done)
		done(ud, &res);
	free(res.headers);
	req_unlink_free(r);
	leave_cb(c);
}

static void check_done(struct hc *c)
{
	CURLMsg *m;
	int left;
	while (c->multi && !c->free_pending && (m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct hc_req *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			finish(r, m->data.result);
	}
}

static int url_ok(const char *u)
{
	return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
}

struct hc_req *hc_request(struct hc *c, const struct hc_opts *o, struct sl_err *err)
{
	if (c->closing) {
		sl_err_set(err, SL_ESTATE, "http client is shutting down");
		return NULL;
	}
	if (!url_ok(o->url)) {
		sl_err_set(err, SL_EINVAL, "http: url must start with http:// or https://");
		return NULL;
	}
	for (size_t i = 0; i < o->nheaders; i++) {
		const char *h = o->headers[i];
		if (!h || !strchr(h, ':') || strpbrk(h, "\r\n")) {
			sl_err_set(err, SL_EINVAL, "http: header %zu is not a single 'Name: value' line",
				   i + 1);
			return NULL;
		}
	}
	struct hc_req *r = sl_xcalloc(1, sizeof *r);
	r->c = c;
	r->max_body = o->max_body ? o->max_body : HC_DEFAULT_MAX_BODY;
	r->on_chunk = o->on_chunk;
	r->on_done = o->on_done;
	r->ud = o->ud;
	sl_buf_init(&r->resp);
	sl_buf_init(&r->hraw);
	r->easy = curl_easy_init();
	if (!r->easy)
		abort();
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");     /* ignore *_proxy variables */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* gzip etc. if built in */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms
								 : HC_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	const char *ca = o->ca_file ? o->ca_file : getenv("SILO_LLM_CA_FILE");
	if (ca && *ca) {
		/* CAINFO plus the system CAPATH: the extra CA is added to the
		 * system roots, not put in their place. */
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	for (size_t i = 0; i < o->nheaders; i++)
		r->hdrs = curl_slist_append(r->hdrs, o->headers[i]);
	r->hdrs = curl_slist_append(r->hdrs, "Expect:"); /* no 100-continue wait */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	const char *method = o->method;
	if (o->body) {
		r->body = sl_xmalloc(o->body_len + 1);
		memcpy(r->body, o->body, o->body_len);
		r->body[o->body_len] = 0;
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		if (!method)
			method = "POST";
	}
	if (method && strcmp(method, "GET") == 0 && !o->body)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (method && strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	else if (method && !o->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->pprev = &r->next;
	c->reqs = r;
	r->pprev = &c->reqs;
	c->active++;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		req_unlink_free(r);
		sl_err_set(err, SL_EIO, "http: cannot start the transfer");
		return NULL;
	}
	update_refs(c);
	return r;
}

void hc_cancel(struct hc_req *r)
{
	if (!r || r->cancelled)
		return;
	r->cancelled = 1;
	/* Inside a callback curl may be using the handle: the write callback
	 * fails the transfer and finish() releases it. Outside, release now. */
	if (r->c->depth == 0) {
		struct hc *c = r->c;
		req_unlink_free(r);
		update_refs(c);
	}
}
