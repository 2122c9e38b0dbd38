/*
 * The pieces without a server: lua/lib/sse.lua run inside a real backend
 * state (every split point of a tricky stream), the price table and the
 * backends' own rows agreeing, costs.md 3's matching examples, the
 * WebSocket frame codec (round trips, fragmentation, limits, bad input),
 * and silo.http's argument checks (a secret is never readable from Lua).
 */
#include <stdlib.h>
#include <string.h>

#include "http/ws_frame.h"
#include "llm_fixture.h"
#include "luahost/lh.h"
#include "tap.h"

static struct lh_state *backend_state(void)
{
	struct sl_err err = { 0 };
	fx_setup(); /* for fx_lua_dir and the keys in the environment */
	struct lh_services svc = { 0 };
	struct lh_state *st = lh_new(LH_BACKEND, NULL, &svc, fx_lua_dir(), &err);
	if (!st)
		printf("# lh_new: %s\n", err.msg);
	return st;
}

/* Loads src (returning a table with run()) and calls run(); returns its
 * result as JSON. */
static struct jv *run_lua(struct lh_state *st, const char *src, struct sl_err *err)
{
	int ref;
	if (lh_load_string(st, "=test", src, strlen(src), &ref, err) < 0)
		return NULL;
	struct jv *ret = NULL;
	int rc = lh_call_field(st, ref, "run", NULL, 0, &ret, err);
	lh_unref(st, ref);
	return rc < 0 ? NULL : ret;
}

TEST(sse_parser_every_split)
{
	struct lh_state *st = backend_state();
	if (!st)
		return;
	static const char src[] =
		"local sse = require('sse')\n"
		"return { run = function()\n"
		"  local body = ': hello\\r\\nevent: a\\r\\ndata: x\\r\\ndata:y\\r\\n\\r\\n'\n"
		"    .. 'data: z\\rid: 7\\r\\r\\ndata: {\"k\":1}\\n\\nevent: e\\ndata\\n\\n'\n"
		"    .. 'retry: 10\\nunknown: q\\n\\nevent: tail\\ndata: incomplete'\n"
		"  for split = 0, #body do\n"
		"    local evs = {}\n"
		"    local p = sse.parser(function(e) evs[#evs + 1] = e end)\n"
		"    p:feed(body:sub(1, split)); p:feed(body:sub(split + 1))\n"
		"    local clean = p:finish()\n"
		"    if #evs ~= 4 then return 'split ' .. split .. ': ' .. #evs .. ' events' end\n"
		"    if evs[1].event ~= 'a' or evs[1].data ~= 'x\\ny' then return 'ev1 ' .. split end\n"
		"    if evs[2].data ~= 'z' or evs[2].id ~= '7' or evs[2].event ~= 'message' then\n"
		"      return 'ev2 ' .. split end\n"
		"    if evs[3].data ~= '{\"k\":1}' then return 'ev3 ' .. split end\n"
		"    if evs[4].event ~= 'e' or evs[4].data ~= '' then return 'ev4 ' .. split end\n"
		"    if clean then return 'tail not reported at ' .. split end\n"
		"    if p.retry ~= 10 then return 'retry' end\n"
		"  end\n"
		"  local evs, clean = sse.parse_all('data: 1\\n\\n')\n"
		"  if #evs ~= 1 or not clean then return 'parse_all' end\n"
		"  -- byte at a time\n"
		"  local n = 0\n"
		"  local p = sse.parser(function(e) n = n + 1 end)\n"
		"  local s = string.rep('data: abc\\r\\n\\r\\n', 50)\n"
		"  for i = 1, #s do p:feed(s:sub(i, i)) end\n"
		"  if n ~= 50 or not p:finish() then return 'bytewise ' .. n end\n"
		"  return 'ok'\n"
		"end }\n";
	struct sl_err err = { 0 };
	struct jv *ret = run_lua(st, src, &err);
	if (!ret)
		printf("# %s\n", err.msg);
	CHECK_STR(jv_str_val(ret), "ok");
	jv_unref(ret);
	lh_free(st);
}

TEST(pricing_rows_live_in_the_backends_and_match_costs_md)
{
	struct lh_state *st = backend_state();
	if (!st)
		return;
	/* decisions 7: the rows exist once, in each backend (the OpenAI ones
	 * share lib/openai_common.lua); together they are costs.md 3's table. */
	static const char src[] =
		"local oc = require('openai_common')\n"
		"return { run = function() return oc.ROWS end }\n";
	struct sl_err err = { 0 };
	struct jv *oa = run_lua(st, src, &err);
	CHECK(oa != NULL);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct llm *l = llm_new(&loop, "anthropic", "claude-sonnet-4-6", NULL, NULL, fx_lua_dir(),
				&err);
	CHECK(l != NULL);
	struct jv *an = l ? llm_pricing(l) : NULL;
	struct jv *table = jv_arr();
	for (size_t i = 0; i < jv_len(an); i++)
		jv_push(table, jv_copy(jv_at(an, i)));
	for (size_t i = 0; i < jv_len(oa); i++)
		jv_push(table, jv_copy(jv_at(oa, i)));
	CHECK(jv_len(table) == 9);
	/* costs.md 3: first row whose key is a substring of the model */
	static const struct {
		const char *model;
		double in, out;
	} ex[] = {
		{ "claude-sonnet-4-6", 3.0, 15.0 },
		{ "gpt-4o-mini-2024", 0.15, 0.60 },
		{ "gpt-4o-2024-08-06", 2.50, 10.0 },
		{ "o3-mini", 2.0, 8.0 },
		{ "mystery-model", -1, -1 },
	};
	for (size_t k = 0; k < SL_ARRAY_LEN(ex); k++) {
		double in = -1, out = -1;
		for (size_t i = 0; i < jv_len(table); i++) {
			const char *key = jv_get_str(jv_at(table, i), "key");
			if (key && strstr(ex[k].model, key)) {
				in = jv_num_val(jv_get(jv_at(table, i), "input"));
				out = jv_num_val(jv_get(jv_at(table, i), "output"));
				break;
			}
		}
		CHECK(in == ex[k].in && out == ex[k].out);
	}
	jv_unref(table);
	jv_unref(oa);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
	lh_free(st);
}

TEST(silo_http_checks_arguments_and_hides_secrets)
{
	struct lh_state *st = backend_state();
	if (!st)
		return;
	static const char src[] =
		"return { run = function()\n"
		"  local out = {}\n"
		"  local function try(t) local ok, e = pcall(silo.http.request, t)\n"
		"    out[#out + 1] = ok and 'no error' or tostring(e) end\n"
		"  try({ url = 'ftp://x' })\n"
		"  try({ url = 'https://x', headers = { { 'bad name', 'v' } } })\n"
		"  try({ url = 'https://x', headers = { { 'x', 'a\\r\\nb: c' } } })\n"
		"  try({ url = 'https://x', headers = { { 'x', 5 } } })\n"
		"  try({ url = 'https://x', body = {} })\n"
		"  try({ url = 'https://x', timeout_ms = -1 })\n"
		"  local k = silo.secret('ANTHROPIC_API_KEY')\n"
		"  out[#out + 1] = tostring(k)\n"
		"  out[#out + 1] = tostring(pcall(function() return k .. 'x' end))\n"
		"  out[#out + 1] = type(k)\n"
		"  return out\n"
		"end }\n";
	struct sl_err err = { 0 };
	lh_secret_allow("ANTHROPIC_API_KEY", &err);
	struct jv *ret = run_lua(st, src, &err);
	if (!ret)
		printf("# %s\n", err.msg);
	CHECK(jv_len(ret) == 9);
	CHECK(strstr(jv_str_val(jv_at(ret, 0)), "url must be") != NULL);
	CHECK(strstr(jv_str_val(jv_at(ret, 1)), "bad name") != NULL);
	CHECK(strstr(jv_str_val(jv_at(ret, 2)), "line break") != NULL);
	CHECK(strstr(jv_str_val(jv_at(ret, 3)), "string or a silo.secret") != NULL);
	CHECK(strstr(jv_str_val(jv_at(ret, 4)), "body must be") != NULL);
	CHECK(strstr(jv_str_val(jv_at(ret, 5)), "timeout_ms") != NULL);
	CHECK_STR(jv_str_val(jv_at(ret, 6)), "[redacted]");
	CHECK_STR(jv_str_val(jv_at(ret, 7)), "false");
	char *all = jv_to_string(ret, 0);
	CHECK(strstr(all, FX_ANTHROPIC_KEY) == NULL);
	free(all);
	jv_unref(ret);
	lh_free(st);
}

/* ---- WebSocket frames ---------------------------------------------------- */

struct got {
	int n;
	int op[8];
	char data[8][300];
	size_t len[8];
};

static int collect(void *ud, int op, const uint8_t *p, size_t n)
{
	struct got *g = ud;
	if (g->n < 8) {
		g->op[g->n] = op;
		g->len[g->n] = n;
		memcpy(g->data[g->n], p, n < 300 ? n : 300);
		g->n++;
	}
	return 0;
}

TEST(ws_frame_round_trip_and_fragments)
{
	static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
	struct sl_buf b;
	sl_buf_init(&b);
	char big[70000];
	memset(big, 'q', sizeof big);
	ws_frame_append(&b, WS_OP_TEXT, "hello", 5, mask);
	ws_frame_append(&b, WS_OP_PING, "p", 1, mask);
	ws_frame_append(&b, WS_OP_BINARY, big, 200, mask);   /* 16-bit length */
	ws_frame_append(&b, WS_OP_BINARY, big, sizeof big, mask); /* 64-bit length */
	/* a fragmented text with a pong in the middle */
	uint8_t h[14];
	size_t hl = ws_hdr_encode(h, 0, WS_OP_TEXT, 3, mask);
	sl_buf_add(&b, h, hl);
	uint8_t part[3] = { 'a', 'b', 'c' };
	ws_mask(part, 3, mask, 0);
	sl_buf_add(&b, part, 3);
	ws_frame_append(&b, WS_OP_PONG, "", 0, mask);
	hl = ws_hdr_encode(h, 1, WS_OP_CONT, 2, mask);
	sl_buf_add(&b, h, hl);
	uint8_t part2[2] = { 'd', 'e' };
	ws_mask(part2, 2, mask, 0);
	sl_buf_add(&b, part2, 2);
	/* feed one byte at a time (server side: masked frames expected) */
	struct ws_parser ps;
	struct got g = { 0 };
	struct sl_err err;
	ws_parser_init(&ps, 1, 0);
	for (size_t i = 0; i < b.len; i++)
		CHECK(ws_parser_feed(&ps, (uint8_t *)b.p + i, 1, collect, &g, &err) == 0);
	CHECK(g.n == 6);
	CHECK(g.op[0] == WS_OP_TEXT && g.len[0] == 5 && !memcmp(g.data[0], "hello", 5));
	CHECK(g.op[1] == WS_OP_PING && g.len[1] == 1);
	CHECK(g.op[2] == WS_OP_BINARY && g.len[2] == 200);
	CHECK(g.op[3] == WS_OP_BINARY && g.len[3] == sizeof big && g.data[3][299] == 'q');
	CHECK(g.op[4] == WS_OP_PONG && g.len[4] == 0);
	CHECK(g.op[5] == WS_OP_TEXT && g.len[5] == 5 && !memcmp(g.data[5], "abcde", 5));
	ws_parser_deinit(&ps);
	sl_buf_free(&b);
	char key[29];
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", key); /* RFC 6455 1.3 example */
	CHECK_STR(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static int feed_bad(int from_client, const char *bytes, size_t n, size_t max, int *close_code)
{
	struct ws_parser ps;
	struct got g = { 0 };
	struct sl_err err;
	ws_parser_init(&ps, from_client, max);
	int rc = ws_parser_feed(&ps, (const uint8_t *)bytes, n, collect, &g, &err);
	*close_code = ps.close_code;
	ws_parser_deinit(&ps);
	return rc;
}

TEST(ws_frame_rejects_bad_input)
{
	int cc;
	/* unmasked frame from a client */
	CHECK(feed_bad(1, "\x81\x02hi", 4, 0, &cc) < 0 && cc == WS_CLOSE_PROTOCOL);
	/* masked frame from a server */
	CHECK(feed_bad(0, "\x81\x82\x00\x00\x00\x00hi", 8, 0, &cc) < 0);
	/* reserved bits, reserved opcode */
	CHECK(feed_bad(0, "\xc1\x00", 2, 0, &cc) < 0);
	CHECK(feed_bad(0, "\x83\x00", 2, 0, &cc) < 0);
	/* fragmented control frame; control frame over 125 bytes */
	CHECK(feed_bad(0, "\x09\x00", 2, 0, &cc) < 0);
	CHECK(feed_bad(0, "\x89\x7e\x00\x7e", 4, 0, &cc) < 0);
	/* continuation without a message; new message inside a fragmented one */
	CHECK(feed_bad(0, "\x80\x00", 2, 0, &cc) < 0);
	CHECK(feed_bad(0, "\x01\x01" "a\x81\x01" "b", 6, 0, &cc) < 0);
	/* non-minimal length; 64-bit length with the top bit */
	CHECK(feed_bad(0, "\x82\x7e\x00\x05", 4, 0, &cc) < 0);
	CHECK(feed_bad(0, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, 0, &cc) < 0);
	/* invalid UTF-8 text */
	CHECK(feed_bad(0, "\x81\x02\xc3\x28", 4, 0, &cc) < 0 && cc == WS_CLOSE_BAD_DATA);
	/* too big: refused from the header alone */
	CHECK(feed_bad(0, "\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10, 1000, &cc) < 0 &&
	      cc == WS_CLOSE_TOO_BIG);
	/* malformed close payloads */
	CHECK(feed_bad(0, "\x88\x01\x03", 3, 0, &cc) < 0);
	CHECK(feed_bad(0, "\x88\x02\x03\xed", 4, 0, &cc) < 0); /* 1005 may not be sent */
	/* a fine close */
	CHECK(feed_bad(0, "\x88\x04\x03\xe8ok", 6, 0, &cc) == 0);
	int code;
	const char *r;
	size_t rl;
	CHECK(ws_close_parse((const uint8_t *)"\x0f\xa0" "bye", 5, &code, &r, &rl) == 0);
	CHECK(code == 4000 && rl == 3 && !memcmp(r, "bye", 3));
}
