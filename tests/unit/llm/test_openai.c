/*
 * The openai (Responses API) and local (chat completions) backends against
 * their fake servers: request shapes (input items, function_call /
 * function_call_output, reasoning passed back, Bearer key only in its
 * header), streamed answers, multi-turn tool calls, stop reasons, usage and
 * the error classes.
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

static struct llm *mk(uv_loop_t *loop, const char *backend, enum fx_kind k, const char *model)
{
	struct sl_err err = { 0 };
	struct llm *l = llm_new(loop, backend, model, fx_url(k), NULL, fx_lua_dir(), &err);
	if (!l)
		printf("# llm_new: %s\n", err.msg);
	return l;
}

static void run1(const char *backend, enum fx_kind k, const char *model, int stream,
		 struct fx_result *r)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, backend, k, model);
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

static struct jv *parse(const char *s)
{
	struct sl_err err;
	return jv_parse(s, strlen(s), NULL, &err);
}

TEST(openai_text_and_request_shape)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "openai", FX_OPENAI, NULL);
	if (!l)
		return;
	CHECK_STR(llm_id(l), "openai-responses:gpt-5"); /* decisions 13, cli.md 4.3 */
	CHECK(jv_len(llm_pricing(l)) == 6);
	CHECK_STR(jv_get_str(jv_at(llm_pricing(l), 0), "key"), "gpt-4o-mini");
	struct jv *req = fx_request("gpt-4.1", 1);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK(r.resp != NULL);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "Hello from fake.");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "end_turn");
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "input_tokens", 0) == 201);
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "output_tokens", 0) == 30);
	struct jv *rec = fx_last(FX_OPENAI);
	CHECK_STR(jv_get_str(rec, "path"), "/v1/responses");
	CHECK_STR(fx_header(rec, "authorization"), "Bearer " FX_OPENAI_KEY);
	CHECK(jv_len(jv_get(rec, "key_leaks")) == 0);
	struct jv *b = jv_get(rec, "body");
	CHECK_STR(jv_get_str(b, "model"), "gpt-4.1");
	CHECK_STR(jv_get_str(b, "instructions"), "You are a test.");
	CHECK(jv_get_int(b, "max_output_tokens", 0) == 1024);
	CHECK(jv_is(jv_get(b, "store"), JV_BOOL) && !jv_get_bool(b, "store"));
	CHECK(jv_get(b, "include") == NULL); /* not a reasoning model */
	struct jv *in0 = jv_at(jv_get(b, "input"), 0);
	CHECK_STR(jv_get_str(in0, "role"), "user");
	CHECK_STR(jv_get_str(jv_at(jv_get(in0, "content"), 0), "type"), "input_text");
	struct jv *tool = jv_at(jv_get(b, "tools"), 0);
	CHECK_STR(jv_get_str(tool, "type"), "function");
	CHECK_STR(jv_get_str(tool, "name"), "Read");
	CHECK(jv_get(tool, "parameters") != NULL);
	CHECK(strstr(r.text, FX_OPENAI_KEY) == NULL);
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(openai_function_call_multi_turn_with_reasoning)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "openai", FX_OPENAI, "gpt-5-tool");
	if (!l)
		return;
	struct jv *req = fx_request("gpt-5-tool", 1);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *c = jv_get(r.resp, "content");
	CHECK(jv_len(c) == 1);
	CHECK_STR(jv_get_str(jv_at(c, 0), "type"), "tool_use");
	CHECK_STR(jv_get_str(jv_at(c, 0), "id"), "call_1");
	CHECK_STR(jv_get_str(jv_get(jv_at(c, 0), "input"), "path"), "README.md");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	struct jv *rec = fx_last(FX_OPENAI);
	CHECK_STR(jv_str_val(jv_at(jv_get(jv_get(rec, "body"), "include"), 0)),
		  "reasoning.encrypted_content");
	jv_unref(rec);
	fx_add_message(req, "assistant", jv_copy(c));
	fx_add_message(req, "user", parse("[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
					  "\"content\":\"file text\",\"is_error\":false}]"));
	fx_result_free(&r);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "All done.");
	rec = fx_last(FX_OPENAI);
	struct jv *in = jv_get(jv_get(rec, "body"), "input");
	CHECK(jv_len(in) == 3);
	CHECK_STR(jv_get_str(jv_at(in, 1), "type"), "function_call");
	CHECK_STR(jv_get_str(jv_at(in, 1), "call_id"), "call_1");
	CHECK_STR(jv_get_str(jv_at(in, 1), "arguments"), "{\"path\":\"README.md\"}");
	CHECK_STR(jv_get_str(jv_at(in, 2), "type"), "function_call_output");
	CHECK_STR(jv_get_str(jv_at(in, 2), "output"), "file text");
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(openai_reasoning_item_is_passed_back)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "openai", FX_OPENAI, "o3-think");
	if (!l)
		return;
	struct jv *req = fx_request("o3-think", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *c = jv_get(r.resp, "content");
	CHECK(jv_len(c) == 2);
	CHECK_STR(jv_get_str(jv_at(c, 0), "type"), "provider");
	CHECK_STR(jv_get_str(jv_at(c, 0), "backend"), "openai");
	CHECK_STR(jv_get_str(jv_get(jv_at(c, 0), "data"), "encrypted_content"), "gAAAAencrypted");
	fx_add_message(req, "assistant", jv_copy(c));
	fx_add_message(req, "user", parse("[{\"type\":\"text\",\"text\":\"more\"}]"));
	fx_result_free(&r);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *rec = fx_last(FX_OPENAI);
	struct jv *in = jv_get(jv_get(rec, "body"), "input");
	CHECK(jv_len(in) == 4);
	CHECK_STR(jv_get_str(jv_at(in, 1), "type"), "reasoning");
	CHECK_STR(jv_get_str(jv_at(in, 1), "encrypted_content"), "gAAAAencrypted");
	CHECK_STR(jv_get_str(jv_at(in, 2), "role"), "assistant");
	CHECK_STR(jv_get_str(jv_at(jv_get(jv_at(in, 2), "content"), 0), "type"), "output_text");
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

struct err_case {
	const char *backend;
	enum fx_kind kind;
	const char *model;
	int stream;
	const char *class;
	int status;
	const char *prefix;
};

TEST(openai_and_local_errors_map_to_classes)
{
	SKIP_IF_NO_FIXTURE();
	static const struct err_case cases[] = {
		{ "openai", FX_OPENAI, "g-e401", 1, "api", 401, "status 401" },
		{ "openai", FX_OPENAI, "g-e400", 1, "api", 400, "status 400" },
		{ "openai", FX_OPENAI, "g-e404", 1, "api", 404, "status 404" },
		{ "openai", FX_OPENAI, "g-e429", 1, "api", 429, "status 429" },
		{ "openai", FX_OPENAI, "g-e500", 1, "api", 500, "status 500" },
		{ "openai", FX_OPENAI, "g-e529", 1, "api", 529, "status 529" },
		{ "openai", FX_OPENAI, "g-streamerr", 1, "api", 529, "status 529" },
		{ "openai", FX_OPENAI, "g-reset", 1, "transport", 0, "transport" },
		{ "openai", FX_OPENAI, "g-cut", 1, "transport", 0, "transport" },
		{ "openai", FX_OPENAI, "g-badsse", 1, "malformed", 0, "malformed" },
		{ "openai", FX_OPENAI, "g-truncjson", 0, "malformed", 0, "malformed" },
		{ "local", FX_LOCAL, "l-e404", 1, "api", 404, "status 404" },
		{ "local", FX_LOCAL, "l-e500", 1, "api", 500, "status 500" },
		{ "local", FX_LOCAL, "l-e429", 1, "api", 429, "status 429" },
		{ "local", FX_LOCAL, "l-reset", 1, "transport", 0, "transport" },
		{ "local", FX_LOCAL, "l-cut", 1, "transport", 0, "transport" },
		{ "local", FX_LOCAL, "l-badsse", 1, "malformed", 0, "malformed" },
		{ "local", FX_LOCAL, "l-truncjson", 0, "malformed", 0, "malformed" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		const struct err_case *k = &cases[i];
		struct fx_result r;
		int before = tap_failed;
		tap_failed = 0;
		run1(k->backend, k->kind, k->model, k->stream, &r);
		CHECK(r.resp == NULL);
		CHECK_STR(jv_get_str(r.err, "class"), k->class);
		if (k->status)
			CHECK(jv_get_int(r.err, "status", 0) == k->status);
		const char *m = jv_get_str(r.err, "message");
		CHECK(m && strncmp(m, k->prefix, strlen(k->prefix)) == 0);
		if (k->status == 429)
			CHECK(jv_num_val(jv_get(r.err, "retry_after")) == 7.0);
		if (k->status == 529)
			CHECK(m && strstr(m, "overloaded"));
		CHECK(strstr(r.text ? r.text : "", FX_OPENAI_KEY) == NULL);
		if (tap_failed)
			printf("# case %s/%s: %s\n", k->backend, k->model, r.text ? r.text : "");
		tap_failed |= before;
		fx_result_free(&r);
	}
}

TEST(local_models_default_stream_and_tools)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "local", FX_LOCAL, NULL);
	if (!l)
		return;
	CHECK_STR(llm_id(l), "local:auto");
	CHECK(jv_is(llm_pricing(l), JV_NULL));
	/* no model: the first of /v1/models */
	struct jv *req = fx_request("", 0);
	jv_del(req, "model");
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "Hello from fake.");
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "input_tokens", 0) == 52);
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "output_tokens", 0) == 10);
	struct jv *rec = fx_last(FX_LOCAL);
	struct jv *b = jv_get(rec, "body");
	CHECK_STR(jv_get_str(b, "model"), "fake-local-model");
	CHECK_STR(jv_get_str(jv_at(jv_get(b, "messages"), 0), "role"), "system");
	CHECK(jv_get_bool(jv_get(b, "stream_options"), "include_usage"));
	CHECK(fx_header(rec, "authorization") == NULL); /* no key for local */
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	/* tool call, then its result */
	req = fx_request("llama-tool", 1);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	struct jv *c = jv_get(r.resp, "content");
	CHECK_STR(jv_get_str(jv_at(c, 0), "type"), "tool_use");
	CHECK_STR(jv_get_str(jv_at(c, 0), "id"), "call_1");
	CHECK_STR(jv_get_str(jv_get(jv_at(c, 0), "input"), "path"), "README.md");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	fx_add_message(req, "assistant", jv_copy(c));
	fx_add_message(req, "user", parse("[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
					  "\"content\":\"x\",\"is_error\":false}]"));
	fx_result_free(&r);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "All done.");
	rec = fx_last(FX_LOCAL);
	struct jv *msgs = jv_get(jv_get(rec, "body"), "messages");
	struct jv *am = jv_at(msgs, 2);
	CHECK_STR(jv_get_str(am, "role"), "assistant");
	CHECK_STR(jv_get_str(jv_get(jv_at(jv_get(am, "tool_calls"), 0), "function"), "name"), "Read");
	CHECK_STR(jv_get_str(jv_at(msgs, 3), "role"), "tool");
	CHECK_STR(jv_get_str(jv_at(msgs, 3), "tool_call_id"), "call_1");
	jv_unref(rec);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
	run1("local", FX_LOCAL, "llama-max", 1, &r);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "max_tokens");
	fx_result_free(&r);
	run1("local", FX_LOCAL, "llama-tool", 0, &r);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	fx_result_free(&r);
	run1("openai", FX_OPENAI, "gpt-4o-max", 1, &r);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "max_tokens");
	fx_result_free(&r);
	run1("openai", FX_OPENAI, "gpt-4o-tool", 0, &r);
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	fx_result_free(&r);
}
