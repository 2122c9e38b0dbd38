/*
 * The openai-ws backend (Realtime API over silo.ws on mbedTLS) against the
 * fake realtime server: the upgrade with the Bearer key only in its header,
 * the client events (session.update with tools and text output, the
 * conversation items, response.create), text and function-call answers,
 * multi-turn, usage from response.done, and the error paths.
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
	struct llm *l = llm_new(loop, "openai-ws", model, fx_url(FX_REALTIME), NULL, fx_lua_dir(),
				&err);
	if (!l)
		printf("# llm_new: %s\n", err.msg);
	return l;
}

/* The client events logged since `from` with type t (borrowed from log). */
static struct jv *find_event(struct jv *log, size_t from, const char *t, int nth)
{
	for (size_t i = from; i < jv_len(log); i++) {
		struct jv *ev = jv_get(jv_at(log, i), "ws_event");
		if (ev && jv_get_str(ev, "type") && !strcmp(jv_get_str(ev, "type"), t) && nth-- == 0)
			return ev;
	}
	return NULL;
}

TEST(realtime_text_tool_and_multi_turn)
{
	SKIP_IF_NO_FIXTURE();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "gpt-realtime-tool");
	if (!l)
		return;
	CHECK_STR(llm_id(l), "openai-ws:gpt-realtime-tool");
	CHECK(jv_len(llm_pricing(l)) == 6);
	struct jv *before = fx_log(FX_REALTIME);
	size_t from = jv_len(before);
	jv_unref(before);
	struct jv *req = fx_request("gpt-realtime-tool", 1);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	if (r.err)
		printf("# %s\n", r.text);
	struct jv *c = jv_get(r.resp, "content");
	CHECK_STR(jv_get_str(jv_at(c, 0), "type"), "tool_use");
	CHECK_STR(jv_get_str(jv_at(c, 0), "id"), "call_1");
	CHECK_STR(jv_get_str(jv_get(jv_at(c, 0), "input"), "path"), "README.md");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "tool_use");
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "input_tokens", 0) == 301);
	CHECK(jv_get_int(jv_get(r.resp, "usage"), "output_tokens", 0) == 40);
	struct jv *log = fx_log(FX_REALTIME);
	struct jv *up = jv_at(log, from);
	CHECK_STR(jv_get_str(up, "path"), "/v1/realtime?model=gpt-realtime-tool");
	CHECK_STR(fx_header(up, "authorization"), "Bearer " FX_OPENAI_KEY);
	CHECK_STR(fx_header(up, "upgrade"), "websocket");
	for (size_t i = from; i < jv_len(log); i++)
		CHECK(jv_len(jv_get(jv_at(log, i), "key_leaks")) == 0);
	struct jv *su = jv_get(find_event(log, from, "session.update", 0), "session");
	CHECK_STR(jv_get_str(su, "type"), "realtime");
	CHECK_STR(jv_get_str(su, "instructions"), "You are a test.");
	CHECK_STR(jv_str_val(jv_at(jv_get(su, "output_modalities"), 0)), "text");
	CHECK_STR(jv_get_str(jv_at(jv_get(su, "tools"), 0), "name"), "Read");
	CHECK(jv_get_int(su, "max_output_tokens", 0) == 1024);
	struct jv *item = jv_get(find_event(log, from, "conversation.item.create", 0), "item");
	CHECK_STR(jv_get_str(item, "role"), "user");
	CHECK_STR(jv_get_str(jv_at(jv_get(item, "content"), 0), "text"), "Hi there");
	CHECK(find_event(log, from, "response.create", 0) != NULL);
	jv_unref(log);
	CHECK(strstr(r.text, FX_OPENAI_KEY) == NULL);
	/* turn 2: the call and its output go back as items */
	fx_add_message(req, "assistant", jv_copy(c));
	struct sl_err err;
	const char *tr = "[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
			 "\"content\":\"file\",\"is_error\":false}]";
	fx_add_message(req, "user", jv_parse(tr, strlen(tr), NULL, &err));
	fx_result_free(&r);
	log = fx_log(FX_REALTIME);
	from = jv_len(log);
	jv_unref(log);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "All done.");
	CHECK_STR(jv_get_str(r.resp, "stop_reason"), "end_turn");
	log = fx_log(FX_REALTIME);
	struct jv *i1 = jv_get(find_event(log, from, "conversation.item.create", 1), "item");
	struct jv *i2 = jv_get(find_event(log, from, "conversation.item.create", 2), "item");
	CHECK_STR(jv_get_str(i1, "type"), "function_call");
	CHECK_STR(jv_get_str(i1, "call_id"), "call_1");
	CHECK_STR(jv_get_str(i2, "type"), "function_call_output");
	CHECK_STR(jv_get_str(i2, "output"), "file");
	jv_unref(log);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
}

TEST(realtime_errors)
{
	SKIP_IF_NO_FIXTURE();
	static const struct {
		const char *model, *class;
		int status;
	} cases[] = {
		{ "rt-e401", "api", 401 },	 { "rt-e404", "api", 404 },
		{ "rt-e429", "api", 429 },	 { "rt-streamerr", "api", 529 },
		{ "rt-reset", "transport", 0 }, { "rt-max", NULL, 0 },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		uv_loop_t loop;
		uv_loop_init(&loop);
		struct llm *l = mk(&loop, cases[i].model);
		if (!l)
			continue;
		struct jv *req = fx_request(cases[i].model, 0);
		struct fx_result r;
		int before = tap_failed;
		tap_failed = 0;
		CHECK(fx_run(l, &loop, req, &r) == 0);
		if (cases[i].class) {
			CHECK_STR(jv_get_str(r.err, "class"), cases[i].class);
			if (cases[i].status)
				CHECK(jv_get_int(r.err, "status", 0) == cases[i].status);
		} else {
			CHECK_STR(jv_get_str(r.resp, "stop_reason"), "max_tokens");
		}
		CHECK(r.text && strstr(r.text, FX_OPENAI_KEY) == NULL);
		if (tap_failed)
			printf("# %s: %s\n", cases[i].model, r.text ? r.text : "");
		tap_failed |= before;
		fx_result_free(&r);
		jv_unref(req);
		llm_free(l);
		CHECK(fx_loop_close(&loop) == 0);
	}
}

TEST(realtime_untrusted_certificate_is_refused)
{
	SKIP_IF_NO_FIXTURE();
	char *saved = strdup(getenv("SILO_LLM_CA_FILE"));
	unsetenv("SILO_LLM_CA_FILE");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = mk(&loop, "gpt-realtime");
	struct jv *req = fx_request("gpt-realtime", 0);
	struct fx_result r;
	CHECK(l && fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(r.err, "class"), "transport");
	CHECK(r.text && strstr(r.text, "tls") != NULL);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
	setenv("SILO_LLM_CA_FILE", saved, 1);
	free(saved);
}
