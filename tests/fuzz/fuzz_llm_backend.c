/*
 * libFuzzer target for provider responses as the LLM backends see them:
 * the input becomes the HTTP answer (status, then the body, streamed in
 * pieces of a size the input picks) to one complete() call of
 * lua/backends/anthropic.lua, openai.lua or local.lua, running in a real
 * backend state with the real silo.http module. Only the transport is
 * replaced: this target answers the module's "http.wait" service itself.
 * So the SSE parser (lua/lib/sse.lua), the JSON decoding and every
 * backend's event and error handling read hostile provider bytes.
 *
 * First byte: bits 0-1 the backend, bit 2 non-streaming, bits 3-6 the
 * status. Second byte: into how many pieces (1-16) the body is cut. Checks
 * beyond no crash or leak: the script never fails with a Lua error, and
 * returns what the engine accepts (llm_backend.c): {content = [...]}
 * with typed blocks, or nil plus an error of a known class with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/hc_lua.h"
#include "luahost/lh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const backends[] = { "anthropic", "openai", "local", "anthropic" };
static const int statuses[] = { 200, 200, 200, 200, 201, 400, 401, 403,
				404, 429, 500, 503, 529, 302, 204, 200 };

static struct lh_state *states[4];
static int refs[4];

/* The answer being delivered to the current call. */
static struct {
	const char *body;
	size_t len, off, step;
	int status, stream, waits;
	lh_done_fn done;
	void *token;
	struct jv *result; /* task result (owned) */
	char *errmsg;      /* task error (owned) */
	int finished;
} cur;

static int svc_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		    lh_done_fn done, void *token, struct sl_err *err)
{
	SL_UNUSED(ud);
	SL_UNUSED(task_ctx);
	jv_unref(args);
	if (strcmp(service, "http.wait"))
		return sl_err_set(err, SL_EDENIED, "%s: not available here", service);
	/* answered from the pump below, never from inside the call */
	cur.done = done;
	cur.token = token;
	return 0;
}

static void svc_note(void *ud, const char *msg)
{
	SL_UNUSED(ud);
	SL_UNUSED(msg);
}

static struct jv *answer(void)
{
	int ok = cur.status >= 200 && cur.status < 300;
	struct jv *r = jv_obj();
	if (cur.stream && ok && cur.off < cur.len) {
		size_t n = cur.step && cur.step < cur.len - cur.off ? cur.step : cur.len - cur.off;
		jv_set(r, "chunk", jv_strn(cur.body + cur.off, n));
		cur.off += n;
		return r;
	}
	struct jv *hs = jv_arr(), *h = jv_arr();
	jv_push(h, jv_str("content-type"));
	jv_push(h, jv_str(cur.stream ? "text/event-stream" : "application/json"));
	jv_push(hs, h);
	h = jv_arr();
	jv_push(h, jv_str("retry-after"));
	jv_push(h, jv_str("2"));
	jv_push(hs, h);
	jv_set(r, "status", jv_int(cur.status));
	jv_set(r, "headers", hs);
	jv_set(r, "body", cur.stream && ok ? jv_str("") : jv_strn(cur.body, cur.len));
	/* the next request of the same call gets the same answer again */
	cur.off = 0;
	return r;
}

static void task_done(void *ud, struct jv *result, const char *errmsg)
{
	SL_UNUSED(ud);
	cur.finished = 1;
	cur.result = result;
	cur.errmsg = errmsg ? sl_xstrdup(errmsg) : NULL;
}

static int setup(void)
{
	static int ready;
	if (ready)
		return 0;
	struct sl_err err;
	setenv("FUZZ_LLM_KEY", "fuzz-key-0123456789", 1);
	if (lh_secret_allow("FUZZ_LLM_KEY", &err) < 0)
		abort();
	hc_lua_register();
	struct lh_services svc = { .call = svc_call, .note = svc_note, .deterministic = 1 };
	for (int i = 0; i < 3; i++) {
		char path[1024];
		snprintf(path, sizeof(path), SILO_SOURCE_DIR "/lua/backends/%s.lua", backends[i]);
		states[i] = lh_new(LH_BACKEND, NULL, &svc, SILO_SOURCE_DIR "/lua", &err);
		if (!states[i] || lh_load_file(states[i], path, &refs[i], &err) < 0) {
			fprintf(stderr, "fuzz_llm_backend: %s\n", err.msg);
			abort();
		}
	}
	states[3] = states[0];
	refs[3] = refs[0];
	ready = 1;
	return 0;
}

static struct jv *request(const char *model)
{
	static const char txt[] =
		"{\"system\":\"be brief\",\"messages\":[{\"role\":\"user\",\"content\":"
		"[{\"type\":\"text\",\"text\":\"hello\"}]},{\"role\":\"assistant\",\"content\":"
		"[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{\"path\":\"a\"}}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
		"\"content\":\"x\"}]}],\"tools\":[{\"name\":\"Read\",\"description\":\"reads\","
		"\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":"
		"\"string\"}}}}],\"max_tokens\":100}";
	struct jv *r = jv_parse(txt, sizeof(txt) - 1, NULL, NULL);
	jv_set(r, "model", jv_str(model));
	return r;
}

static int known_class(const char *c)
{
	static const char *const classes[] = { "transport", "api", "quota", "config",
					       "malformed", NULL };
	for (int i = 0; c && classes[i]; i++)
		if (!strcmp(c, classes[i]))
			return 1;
	return 0;
}

/* What llm_backend.c accepts, and a little more of what the engine uses. */
static void check_result(int b, const struct jv *res, const char *errmsg)
{
	if (errmsg) {
		fprintf(stderr, "backend %s: script error: %s\n", backends[b], errmsg);
		abort();
	}
	if (jv_is(res, JV_ARRAY) && jv_len(res) == 2 && jv_is(jv_at(res, 0), JV_NULL)) {
		struct jv *e = jv_at(res, 1);
		if (!jv_is(e, JV_OBJECT) || !known_class(jv_get_str(e, "class")) ||
		    !jv_get_str(e, "message") || !*jv_get_str(e, "message")) {
			fprintf(stderr, "backend %s: error without class or message\n", backends[b]);
			abort();
		}
		if (!strcmp(jv_get_str(e, "class"), "config")) {
			fprintf(stderr, "backend %s: a provider answer became a config error: %s\n",
				backends[b], jv_get_str(e, "message"));
			abort();
		}
		return;
	}
	struct jv *content = jv_get(res, "content");
	if (!jv_is(res, JV_OBJECT) || !jv_is(content, JV_ARRAY)) {
		fprintf(stderr, "backend %s: returned neither a response nor nil, err\n", backends[b]);
		abort();
	}
	for (size_t i = 0; i < jv_len(content); i++) {
		struct jv *blk = jv_at(content, i);
		const char *type = jv_get_str(blk, "type");
		if (!type) {
			fprintf(stderr, "backend %s: content block %zu has no type\n", backends[b], i);
			abort();
		}
		if (!strcmp(type, "tool_use") &&
		    (!jv_get_str(blk, "name") || !jv_is(jv_get(blk, "input"), JV_OBJECT))) {
			fprintf(stderr, "backend %s: tool_use without name or object input\n",
				backends[b]);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || setup())
		return 0;
	int b = data[0] & 3;
	memset(&cur, 0, sizeof(cur));
	cur.stream = !(data[0] & 4);
	cur.status = statuses[(data[0] >> 3) & 15];
	cur.body = (const char *)data + 2;
	cur.len = size - 2;
	/* 1 to 16 pieces: splits anywhere, without one wait per byte */
	cur.step = (cur.len + (size_t)(data[1] & 15)) / ((size_t)(data[1] & 15) + 1);

	struct jv *req = request(b == 2 ? "local-model" : b == 1 ? "gpt-5" : "claude-sonnet-4-6");
	struct jv *opts = jv_obj();
	jv_set(opts, "api_key_env", jv_str("FUZZ_LLM_KEY"));
	jv_set(opts, "base_url", jv_str("https://provider.test"));
	jv_set(opts, "timeout_ms", jv_int(1000));
	jv_set(opts, "stream", jv_bool(cur.stream));
	lh_task_start(states[b], refs[b], "complete", req, opts, &cur, task_done, NULL);
	/* Answer each wait until the task ends; a bounded number of them, so
	 * a backend that retries forever shows up as a failure. */
	while (!cur.finished && cur.done) {
		lh_done_fn done = cur.done;
		cur.done = NULL;
		if (++cur.waits > 100000) {
			fprintf(stderr, "backend %s: no end after 100000 waits\n", backends[b]);
			abort();
		}
		done(cur.token, answer(), NULL, 0);
	}
	if (!cur.finished) {
		fprintf(stderr, "backend %s: the task neither waits nor ends\n", backends[b]);
		abort();
	}
	/* the requests silo.http parked for the engine side, never claimed */
	hc_lua_cancel_owner(&cur);
	check_result(b, cur.result, cur.errmsg);
	jv_unref(cur.result);
	free(cur.errmsg);
	jv_unref(req);
	jv_unref(opts);
	return 0;
}
