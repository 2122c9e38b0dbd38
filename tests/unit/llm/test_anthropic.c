/*
 * The anthropic backend against the fake Messages API server over HTTPS:
 * request shape (headers, key only in x-api-key, cache_control markers,
 * blocks), streamed text / tool_use / thinking, multi-turn, stop reasons,
 * usage with cache tokens, every error class, cancellation and timeouts.
 */
#include <stdlib.h>
#include <string.h>

#include "llm_fixture.h"
#include "tap.h"

#define SKIP_IF_NO_FIXTURE()                                                   \
	do {                                                                   \
		if (fx_setup() < 0) {                                          \
			printf("# skipped: python3/openssl unavailable\n");    \
			return;                                                \
		}                                                              \
	} while (0)

static struct llm *mk(uv_loop_t *loop, const char *model)
{
	struct sl_err err = { 0 };
	struct llm *l = llm_new(loop, "anthropic", model, fx_url(FX_ANTHROPIC), NULL,
				fx_lua_dir(), &err);
	if (!l)
		printf("# llm_new: %s\n", err.msg);
	return l;
}

/* Runs one request against a fresh backend; returns the result. */
static void run1(const char *model, int stream, struct fx_result *r)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, model);
	memset(r, 0, sizeof *r);
	if (!l)
		return;
	llm_set_options(l, 0, stream, NULL);
	struct jv *req = fx_request(model, 1);
	CHECK(fx_run(l, &loop, req, r) == 0);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

static const char *err_class(struct fx_result *r)
{
	return jv_get_str(r->err, "class");
}

static const char *err_msg(struct fx_result *r)
{
	const char *m = jv_get_str(r->err, "message");
	return m ? m : "";
}

static void keep_note(void *ud, const char *msg)
{
	sl_buf_printf(ud, "%s\n", msg);
}

TEST(anthropic_text_stream_and_request_shape)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-4-6");
	CHECK(l != NULL);
	if (!l)
		return;
	struct sl_buf notes;
	sl_buf_init(&notes);
	llm_set_note(l, keep_note, &notes);
	CHECK_STR(llm_id(l), "anthropic:claude-sonnet-4-6");
	struct jv *pr = llm_pricing(l);
	CHECK(jv_len(pr) == 3);
	CHECK_STR(jv_get_str(jv_at(pr, 1), "key"), "claude-sonnet");
	CHECK(jv_num_val(jv_get(jv_at(pr, 1), "input")) == 3.0);
	struct jv *req = fx_request("claude-sonnet-4-6", 1);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK(r.resp != NULL);
	if (r.err)
		printf("# err %s\n", r.text);
	struct jv *c = jv_get(r.resp, "content");
	CHECK(jv_len(c) == 1);
	CHECK_STR(jv_get_str(jv_at(c, 0), "type"), "text");
	CHECK_STR(jv_get_str(jv_at(c, 0), "text"), "Hello from fake.");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "end_turn");
	struct jv *u = jv_get(r.resp, "usage");
	CHECK(jv_get_int(u, "input_tokens", -1) == 101);
	CHECK(jv_get_int(u, "output_tokens", -1) == 20);
	CHECK(jv_get_int(u, "cache_read_input_tokens", -1) == 30);
	CHECK(jv_get_int(u, "cache_creation_input_tokens", -1) == 50);

	struct jv *rec = fx_last(FX_ANTHROPIC);
	CHECK(rec != NULL);
	CHECK_STR(jv_get_str(rec, "path"), "/v1/messages");
	CHECK_STR(fx_header(rec, "x-api-key"), FX_ANTHROPIC_KEY);
	CHECK_STR(fx_header(rec, "anthropic-version"), "2023-06-01");
	CHECK_STR(fx_header(rec, "content-type"), "application/json");
	CHECK(fx_header(rec, "authorization") == NULL);
	CHECK(jv_len(jv_get(rec, "key_leaks")) == 0);
	struct jv *b = jv_get(rec, "body");
	CHECK_STR(jv_get_str(b, "model"), "claude-sonnet-4-6");
	CHECK(jv_get_int(b, "max_tokens", 0) == 1024);
	CHECK(jv_get_bool(b, "stream"));
	struct jv *sys = jv_at(jv_get(b, "system"), 0);
	CHECK_STR(jv_get_str(sys, "text"), "You are a test.");
	CHECK_STR(jv_get_str(jv_get(sys, "cache_control"), "type"), "ephemeral");
	struct jv *tool = jv_at(jv_get(b, "tools"), 0);
	CHECK_STR(jv_get_str(tool, "name"), "Read");
	CHECK(jv_get(tool, "input_schema") != NULL);
	CHECK(jv_get(tool, "availability") == NULL);
	CHECK(jv_get(tool, "cache_control") != NULL);
	struct jv *m0 = jv_at(jv_get(b, "messages"), 0);
	CHECK_STR(jv_get_str(m0, "role"), "user");
	CHECK_STR(jv_get_str(jv_at(jv_get(m0, "content"), 0), "text"), "Hi there");
	jv_unref(rec);
	/* nothing returned to the engine carries the key; the journal note
	 * names the header with its value redacted */
	CHECK(strstr(r.text, FX_ANTHROPIC_KEY) == NULL);
	CHECK(notes.p && strstr(notes.p, "-> 200 (request headers: x-api-key: [redacted], "
					 "anthropic-version: 2023-06-01"));
	CHECK(notes.p && strstr(notes.p, FX_ANTHROPIC_KEY) == NULL);
	sl_buf_free(&notes);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(anthropic_tool_use_multi_turn)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-tool");
	if (!l)
		return;
	struct jv *req = fx_request("claude-sonnet-tool", 1);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK(r.resp != NULL);
	struct jv *c = jv_get(r.resp, "content");
	CHECK(jv_len(c) == 2);
	CHECK_STR(jv_get_str(jv_at(c, 0), "text"), "Reading it.");
	struct jv *tu = jv_at(c, 1);
	CHECK_STR(jv_get_str(tu, "type"), "tool_use");
	CHECK_STR(jv_get_str(tu, "id"), "toolu_01");
	CHECK_STR(jv_get_str(tu, "name"), "Read");
	CHECK_STR(jv_get_str(jv_get(tu, "input"), "path"), "README.md");
	CHECK(jv_get_int(jv_get(tu, "input"), "limit", 0) == 10);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	/* second turn: the assistant's content, then the tool result */
	fx_add_message(req, "assistant", jv_copy(c));
	struct sl_err err;
	const char *tr = "[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\","
			 "\"content\":\"line 1\",\"is_error\":false}]";
	fx_add_message(req, "user", jv_parse(tr, strlen(tr), NULL, &err));
	fx_result_free(&r);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK(r.resp != NULL);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "All done.");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "end_turn");
	struct jv *rec = fx_last(FX_ANTHROPIC);
	struct jv *msgs = jv_get(jv_get(rec, "body"), "messages");
	CHECK(jv_len(msgs) == 3);
	struct jv *a = jv_get(jv_at(msgs, 1), "content");
	CHECK_STR(jv_get_str(jv_at(a, 1), "type"), "tool_use");
	CHECK_STR(jv_get_str(jv_get(jv_at(a, 1), "input"), "path"), "README.md");
	struct jv *u = jv_at(jv_get(jv_at(msgs, 2), "content"), 0);
	CHECK_STR(jv_get_str(u, "type"), "tool_result");
	CHECK_STR(jv_get_str(u, "tool_use_id"), "toolu_01");
	CHECK_STR(jv_get_str(u, "content"), "line 1");
	CHECK(jv_get(u, "cache_control") != NULL); /* newest block is a breakpoint */
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(anthropic_thinking_round_trips_as_provider_block)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-opus-think");
	if (!l)
		return;
	struct jv *req = fx_request("claude-opus-think", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *c = jv_get(r.resp, "content");
	CHECK(jv_len(c) == 2);
	struct jv *p = jv_at(c, 0);
	CHECK_STR(jv_get_str(p, "type"), "provider");
	CHECK_STR(jv_get_str(p, "backend"), "anthropic");
	CHECK_STR(jv_get_str(jv_get(p, "data"), "signature"), "sig-abc");
	CHECK_STR(jv_get_str(jv_get(p, "data"), "thinking"), "Let me think.");
	fx_add_message(req, "assistant", jv_copy(c));
	struct sl_err err;
	const char *t = "[{\"type\":\"text\",\"text\":\"go on\"},"
			"{\"type\":\"provider\",\"backend\":\"openai\",\"data\":{\"type\":\"reasoning\"}}]";
	fx_add_message(req, "user", jv_parse(t, strlen(t), NULL, &err));
	fx_result_free(&r);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *rec = fx_last(FX_ANTHROPIC);
	struct jv *msgs = jv_get(jv_get(rec, "body"), "messages");
	struct jv *th = jv_at(jv_get(jv_at(msgs, 1), "content"), 0);
	CHECK_STR(jv_get_str(th, "type"), "thinking");
	CHECK_STR(jv_get_str(th, "signature"), "sig-abc");
	/* another backend's provider block is dropped */
	CHECK(jv_len(jv_get(jv_at(msgs, 2), "content")) == 1);
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(anthropic_stop_reasons_and_plain_mode)
{
	SKIP_IF_NO_FIXTURE();
	struct fx_result r;
	run1("claude-haiku-max", 1, &r);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "max_tokens");
	fx_result_free(&r);
	run1("claude-haiku-tool", 0, &r); /* non-streaming JSON body */
	CHECK(r.resp != NULL);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 1), "name"), "Read");
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "cache_read_input_tokens", 0) == 30);
	struct jv *rec = fx_last(FX_ANTHROPIC);
	CHECK(!jv_get_bool(jv_get(rec, "body"), "stream"));
	jv_unref(rec);
	fx_result_free(&r);
}

struct err_case {
	const char *model;
	int stream;
	const char *class;
	int status;
	const char *prefix;    /* message starts with */
	const char *contains;  /* message contains */
};

TEST(anthropic_errors_map_to_classes)
{
	SKIP_IF_NO_FIXTURE();
	static const struct err_case cases[] = {
		{ "m-e401", 1, "api", 401, "status 401", "authentication_error" },
		{ "m-e400", 1, "api", 400, "status 400", "invalid_request_error" },
		{ "m-e404", 1, "api", 404, "status 404", "not_found_error" },
		{ "m-e429", 1, "api", 429, "status 429", "rate_limit_error" },
		{ "m-e500", 1, "api", 500, "status 500", "api_error" },
		{ "m-e529", 1, "api", 529, "status 529", "Overloaded" },
		{ "m-streamerr", 1, "api", 529, "status 529", "overloaded" },
		{ "m-reset", 1, "transport", 0, "transport", "" },
		{ "m-cut", 1, "transport", 0, "transport", "message_stop" },
		{ "m-badsse", 1, "malformed", 0, "malformed", "content_block_start" },
		{ "m-truncjson", 0, "malformed", 0, "malformed", "" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		const struct err_case *k = &cases[i];
		struct fx_result r;
		run1(k->model, k->stream, &r);
		CHECK(r.resp == NULL);
		CHECK_STR(err_class(&r), k->class);
		if (k->status)
			CHECK(jv_get_int(r.err, "status", 0) == k->status);
		CHECK(strncmp(err_msg(&r), k->prefix, strlen(k->prefix)) == 0);
		CHECK(strstr(err_msg(&r), k->contains) != NULL);
		if (!strcmp(k->model, "m-e429"))
			CHECK(jv_num_val(jv_get(r.err, "retry_after")) == 7.0);
		else
			CHECK(jv_get(r.err, "retry_after") == NULL);
		CHECK(strstr(r.text ? r.text : "", FX_ANTHROPIC_KEY) == NULL);
		if (tap_failed)
			printf("# case %s: %s\n", k->model, r.text ? r.text : "(none)");
		fx_result_free(&r);
	}
}

TEST(anthropic_wrong_key_is_401_and_not_echoed)
{
	SKIP_IF_NO_FIXTURE();
	setenv("SILO_TEST_WRONG_KEY", "sk-wrong-value-77", 1);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	struct llm *l = llm_new(&loop, "anthropic", "claude-sonnet-4-6", fx_url(FX_ANTHROPIC),
				"SILO_TEST_WRONG_KEY", fx_lua_dir(), &err);
	CHECK(l != NULL);
	if (!l)
		return;
	struct jv *req = fx_request("claude-sonnet-4-6", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(err_class(&r), "api");
	CHECK(jv_get_int(r.err, "status", 0) == 401);
	CHECK(strstr(r.text, "sk-wrong-value-77") == NULL);
	struct jv *rec = fx_last(FX_ANTHROPIC);
	CHECK_STR(fx_header(rec, "x-api-key"), "sk-wrong-value-77");
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(anthropic_missing_key_fails_at_start)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	unsetenv("SILO_TEST_NO_SUCH_KEY");
	struct llm *l = llm_new(&loop, "anthropic", NULL, NULL, "SILO_TEST_NO_SUCH_KEY",
				fx_lua_dir(), &err);
	CHECK(l == NULL);
	CHECK(err.code == SL_EUSAGE);
	CHECK(strstr(err.msg, "SILO_TEST_NO_SUCH_KEY") != NULL);
	l = llm_new(&loop, "no-such-backend", NULL, NULL, NULL, fx_lua_dir(), &err);
	CHECK(l == NULL);
	CHECK(err.code == SL_ENOENT);
	l = llm_new(&loop, "../etc", NULL, NULL, NULL, fx_lua_dir(), &err);
	CHECK(l == NULL);
	CHECK(fx_loop_close(&loop) == 0);
}

static void never(void *ud, struct jv *resp, struct jv *err)
{
	(*(int *)ud)++;
	jv_unref(resp);
	jv_unref(err);
}

static void cancel_cb(uv_timer_t *t)
{
	llm_cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

TEST(anthropic_cancel_aborts_transfer)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-slow");
	if (!l)
		return;
	struct jv *req = fx_request("claude-sonnet-slow", 0);
	int called = 0;
	CHECK(llm_complete(l, req, never, &called) > 0);
	CHECK(llm_active(l) == 1);
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	t.data = l;
	uv_timer_start(&t, cancel_cb, 300, 0);
	uint64_t t0 = uv_now(&loop);
	uv_run(&loop, UV_RUN_DEFAULT); /* returns once nothing is left */
	CHECK(uv_now(&loop) - t0 < 2500); /* did not wait for the 3 s answer */
	CHECK(called == 0);
	CHECK(llm_active(l) == 0);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(anthropic_timeout_is_transport)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-slow");
	if (!l)
		return;
	llm_set_options(l, 500, 1, NULL);
	struct jv *req = fx_request("claude-sonnet-slow", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(err_class(&r), "transport");
	CHECK(strstr(err_msg(&r), "imeout") || strstr(err_msg(&r), "timed out"));
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

static int concurrent_done;
static void count_done(void *ud, struct jv *resp, struct jv *err)
{
	SL_UNUSED(ud);
	if (resp && !err)
		concurrent_done++;
	jv_unref(resp);
	jv_unref(err);
}

TEST(anthropic_concurrent_calls_share_a_backend)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-4-6");
	if (!l)
		return;
	struct jv *req = fx_request("claude-sonnet-4-6", 1);
	concurrent_done = 0;
	for (int i = 0; i < 4; i++)
		CHECK(llm_complete(l, req, count_done, NULL) > 0);
	CHECK(llm_active(l) == 4);
	while (concurrent_done < 4 && uv_run(&loop, UV_RUN_ONCE))
		;
	CHECK(concurrent_done == 4);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

struct chain {
	struct llm *l;
	struct jv *req2;
	int stage;
	struct jv *resp2, *err1;
};

static void second_done(void *ud, struct jv *resp, struct jv *err)
{
	struct chain *ch = ud;
	ch->stage = 2;
	ch->resp2 = resp;
	jv_unref(err);
}

/* The first call fails while its stream is being read; its completion
 * starts the next call at once, as the engine's state machine does. */
static void first_done(void *ud, struct jv *resp, struct jv *err)
{
	struct chain *ch = ud;
	ch->stage = 1;
	ch->err1 = err;
	jv_unref(resp);
	CHECK(llm_complete(ch->l, ch->req2, second_done, ch) > 0);
}

TEST(anthropic_new_call_from_a_failed_stream_completion)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "claude-sonnet-badsse");
	if (!l)
		return;
	struct chain ch = { .l = l };
	struct jv *req1 = fx_request("claude-sonnet-badsse", 0);
	ch.req2 = fx_request("claude-sonnet-4-6", 0);
	CHECK(llm_complete(l, req1, first_done, &ch) > 0);
	while (ch.stage < 2 && uv_run(&loop, UV_RUN_ONCE))
		;
	CHECK_STR(jv_get_str(ch.err1, "class"), "malformed");
	CHECK(ch.resp2 != NULL);
	CHECK_STR(jv_get_str(jv_at(jv_get(ch.resp2, "content"), 0), "text"), "Hello from fake.");
	jv_unref(ch.err1);
	jv_unref(ch.resp2);
	jv_unref(req1);
	jv_unref(ch.req2);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}
