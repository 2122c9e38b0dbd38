/*
 * bench_llm: what a Lua LLM backend costs the engine, against baselines
 * measured in the same run on the same loop.
 *
 *  1. Per-call overhead: N calls through llm_complete (anthropic backend,
 *     plain JSON and SSE) against an in-process HTTP server that answers
 *     instantly, vs N raw hc_request POSTs of the same body to the same
 *     server (the libcurl + libuv floor).
 *  2. SSE ingest: one streamed answer of K text deltas parsed by the
 *     backend (sse.lua + JSON decode + accumulation), in tokens/s, vs the
 *     same bytes consumed by a C on_chunk that does nothing.
 *  3. Memory per turn: a conversation grown turn by turn (each turn adds
 *     the assistant answer and a tool result of ~1 KiB); heap in use after
 *     each call, per turn, and the request size for scale.
 *
 * Usage: bench_llm [calls=300] [deltas=20000] [turns=100]
 * Needs SILO_SRC (or runs from the source tree) for lua/.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http/hc.h"
#include "http/llm.h"
#include "json/jv.h"

/* ---- a tiny keep-alive HTTP/1.1 server on the bench's loop ------------- */

struct srv_conn {
	uv_tcp_t tcp;
	struct sl_buf in;
};

static char *json_answer, *sse_answer;
static size_t json_len, sse_len;

static void conn_closed(uv_handle_t *h)
{
	struct srv_conn *c = h->data;
	sl_buf_free(&c->in);
	free(c);
}

static void write_done(uv_write_t *w, int st)
{
	(void)st;
	free(w);
}

static void srv_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	static char slab[65536];
	(void)h;
	(void)sz;
	*b = uv_buf_init(slab, sizeof slab);
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct srv_conn *c = s->data;
	if (n < 0) {
		uv_close((uv_handle_t *)s, conn_closed);
		return;
	}
	sl_buf_add(&c->in, b->base, (size_t)n);
	for (;;) {
		char *end = c->in.p ? strstr(c->in.p, "\r\n\r\n") : NULL;
		if (!end)
			return;
		size_t head = (size_t)(end + 4 - c->in.p), body = 0;
		char *cl = strcasestr(c->in.p, "content-length:");
		if (cl && cl < end)
			body = (size_t)atol(cl + 15);
		if (c->in.len < head + body)
			return;
		int stream = memmem(c->in.p + head, body, "\"stream\":true", 13) != NULL;
		const char *ans = stream ? sse_answer : json_answer;
		size_t len = stream ? sse_len : json_len;
		uv_write_t *w = malloc(sizeof *w);
		uv_buf_t out = uv_buf_init((char *)ans, (unsigned)len);
		uv_write(w, s, &out, 1, write_done);
		memmove(c->in.p, c->in.p + head + body, c->in.len - head - body);
		c->in.len -= head + body;
		c->in.p[c->in.len] = 0;
	}
}

static void on_conn(uv_stream_t *server, int st)
{
	if (st < 0)
		return;
	struct srv_conn *c = calloc(1, sizeof *c);
	sl_buf_init(&c->in);
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
		uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
	else
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void make_answers(int deltas)
{
	const char *msg = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
			  "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\","
			  "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":2}}";
	json_answer = sl_xasprintf("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
				   "content-length: %zu\r\n\r\n%s", strlen(msg), msg);
	json_len = strlen(json_answer);
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_adds(&b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
			"\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
			"\"m\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
			"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	for (int i = 0; i < deltas; i++)
		sl_buf_adds(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
				"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tok \"}}\n\n");
	sl_buf_printf(&b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
			  "\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\","
			  "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":%d}}\n\n"
			  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", deltas);
	sse_answer = sl_xasprintf("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
				  "content-length: %zu\r\n\r\n%s", b.len, b.p);
	sse_len = strlen(sse_answer);
	sl_buf_free(&b);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_TCP && h->data ? conn_closed : NULL);
}

/* ---- helpers ---------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pending;
static size_t streamed;

static void raw_done(void *ud, const struct hc_result *r)
{
	(void)ud;
	if (r->code || r->status != 200)
		fprintf(stderr, "raw request failed: %s %ld\n", r->errmsg ? r->errmsg : "", r->status);
	pending--;
}

static int raw_chunk(void *ud, const char *p, size_t n)
{
	(void)ud;
	(void)p;
	streamed += n;
	return 0;
}

static void llm_cb(void *ud, struct jv *resp, struct jv *err)
{
	struct jv **out = ud;
	if (err) {
		char *t = jv_to_string(err, 0);
		fprintf(stderr, "llm call failed: %s\n", t);
		free(t);
	}
	*out = resp;
	jv_unref(err);
	pending--;
}

static struct jv *request(const char *extra_msgs)
{
	char *t = sl_xasprintf("{\"model\":\"claude-sonnet-4-6\",\"system\":\"bench\",\"messages\":["
			       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}%s],"
			       "\"tools\":[],\"max_tokens\":100}", extra_msgs);
	struct sl_err err;
	struct jv *v = jv_parse(t, strlen(t), NULL, &err);
	free(t);
	return v;
}

static double run_raw(uv_loop_t *loop, struct hc *hc, const char *url, const char *body,
		      int n, int stream)
{
	const char *hdr[] = { "content-type: application/json", "x-api-key: k",
			      "anthropic-version: 2023-06-01" };
	double t0 = now();
	for (int i = 0; i < n; i++) {
		struct hc_opts o = { .url = url, .headers = hdr, .nheaders = 3, .body = body,
				     .body_len = strlen(body), .on_done = raw_done,
				     .on_chunk = stream ? raw_chunk : NULL };
		pending = 1;
		hc_request(hc, &o, NULL);
		while (pending && uv_run(loop, UV_RUN_ONCE))
			;
	}
	return now() - t0;
}

static double run_llm(uv_loop_t *loop, struct llm *l, const struct jv *req, int n)
{
	double t0 = now();
	for (int i = 0; i < n; i++) {
		struct jv *resp = NULL;
		pending = 1;
		llm_complete(l, req, llm_cb, &resp);
		while (pending && uv_run(loop, UV_RUN_ONCE))
			;
		jv_unref(resp);
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	int calls = argc > 1 ? atoi(argv[1]) : 300;
	int deltas = argc > 2 ? atoi(argv[2]) : 20000;
	int turns = argc > 3 ? atoi(argv[3]) : 100;
	char lua_dir[1100];
	const char *src = getenv("SILO_SRC");
	snprintf(lua_dir, sizeof lua_dir, "%s/lua", src ? src : ".");
	if (access(lua_dir, R_OK) != 0) {
		fprintf(stderr, "bench_llm: set SILO_SRC to the source tree (no %s)\n", lua_dir);
		return 1;
	}
	setenv("BENCH_LLM_KEY", "sk-bench", 1);
	make_answers(deltas);
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_tcp_t server;
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(&loop, &server);
	uv_tcp_bind(&server, (struct sockaddr *)&addr, 0);
	uv_listen((uv_stream_t *)&server, 64, on_conn);
	int alen = sizeof addr;
	uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &alen);
	char base[64], url[96];
	snprintf(base, sizeof base, "http://127.0.0.1:%d", ntohs(addr.sin_port));
	snprintf(url, sizeof url, "%s/v1/messages", base);

	struct sl_err err = { 0 };
	struct llm *l = llm_new(&loop, "anthropic", "claude-sonnet-4-6", base, "BENCH_LLM_KEY",
				lua_dir, &err);
	if (!l) {
		fprintf(stderr, "bench_llm: %s\n", err.msg);
		return 1;
	}
	struct hc *hc = hc_new(&loop);
	struct jv *req = request("");
	const char *body = "{\"model\":\"claude-sonnet-4-6\",\"max_tokens\":100,\"messages\":[{\"role\":"
			   "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"stream\":false}";

	/* warm up connections and the Lua state */
	llm_set_options(l, 0, 0, NULL);
	run_raw(&loop, hc, url, body, 5, 0);
	run_llm(&loop, l, req, 5);

	printf("bench_llm: %d calls, %d SSE deltas, %d turns (in-process HTTP server)\n", calls,
	       deltas, turns);
	double raw = run_raw(&loop, hc, url, body, calls, 0);
	double plain = run_llm(&loop, l, req, calls);
	printf("per call, raw hc_request (baseline) : %8.1f us\n", raw / calls * 1e6);
	printf("per call, llm_complete JSON         : %8.1f us  (x%.2f, +%.1f us engine)\n",
	       plain / calls * 1e6, plain / raw, (plain - raw) / calls * 1e6);

	/* 2. SSE ingest of one long answer */
	llm_set_options(l, 0, 1, NULL);
	int reps = 3;
	streamed = 0;
	double sraw = run_raw(&loop, hc, url, "{\"stream\":true}", reps, 1);
	double sllm = run_llm(&loop, l, req, reps);
	double toks = (double)deltas * reps;
	printf("SSE ingest, C on_chunk (baseline)   : %8.0f tokens/s (%.1f MB/s)\n", toks / sraw,
	       (double)streamed / sraw / 1e6);
	printf("SSE ingest, anthropic backend       : %8.0f tokens/s  (x%.2f of baseline time)\n",
	       toks / sllm, sllm / sraw);
	double per_small = run_llm(&loop, l, req, 1); /* one more, for the record */
	(void)per_small;

	/* 3. memory per turn with a growing conversation */
	make_answers(1);
	llm_set_options(l, 0, 0, NULL);
	struct sl_buf hist;
	sl_buf_init(&hist);
	char pad[1025];
	memset(pad, 'x', 1024);
	pad[1024] = 0;
	struct mallinfo2 m0 = mallinfo2();
	size_t first_req = 0, last_req = 0;
	for (int t = 0; t < turns; t++) {
		sl_buf_printf(&hist, ",{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
				     "\"id\":\"t%d\",\"name\":\"Read\",\"input\":{\"path\":\"f%d\"}}]},"
				     "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
				     "\"tool_use_id\":\"t%d\",\"content\":\"%s\",\"is_error\":false}]}",
			      t, t, t, pad);
		struct jv *r = request(hist.p);
		char *txt = jv_to_string(r, 0);
		if (t == 0)
			first_req = strlen(txt);
		last_req = strlen(txt);
		free(txt);
		run_llm(&loop, l, r, 1);
		jv_unref(r);
	}
	struct mallinfo2 m1 = mallinfo2();
	double grow = ((double)m1.uordblks - (double)m0.uordblks) / turns;
	printf("memory: heap growth per turn        : %8.0f bytes (history text kept by the "
	       "bench: %zu bytes/turn)\n", grow, hist.len / (size_t)turns);
	printf("memory: request size turn 1 / %d    : %zu / %zu bytes\n", turns, first_req,
	       last_req);
	sl_buf_free(&hist);
	jv_unref(req);
	llm_free(l);
	hc_free(hc);
	server.data = NULL;
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(json_answer);
	free(sse_answer);
	return 0;
}
