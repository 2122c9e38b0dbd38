/* Lua <-> JSON (replay.md 5.2): round trips through jv, marks, mapping
 * errors; silo.json, silo.b64, silo.utf8 from Lua. */
#include "lhtest.h"

static struct lh_state *mk(void)
{
	struct sl_err err = { 0 };

	return lh_new(LH_TOOL, NULL, NULL, NULL, &err);
}

/* JSON text -> jv -> Lua -> jv -> JSON text. */
static char *round_trip(struct lh_state *st, const char *text)
{
	struct sl_err err = { 0 };
	struct jv *v = jv_parse(text, strlen(text), NULL, &err), *back;
	char *out;

	if (!v)
		return sl_xasprintf("PARSE: %s", err.msg);
	lh_push_jv(lh_L(st), v);
	back = lh_to_jv(lh_L(st), -1, 0, &err);
	lua_pop(lh_L(st), 1);
	jv_unref(v);
	if (!back)
		return sl_xasprintf("ERR: %s", err.msg);
	out = jv_to_string(back, JV_EMIT_SORTED);
	jv_unref(back);
	return out;
}

TEST(round_trips)
{
	struct lh_state *st = mk();
	static const char *const cases[] = {
		"{\"a\":[],\"b\":{},\"c\":[1,2.5,\"x\",null,true,false],\"d\":{\"e\":-3}}",
		"[]",
		"{}",
		"[[],[{}],{\"k\":[]}]",
		"\"caf\xc3\xa9 \\u0000 nul\"",
		"9007199254740993",
		"-9223372036854775808",
		"1.0",
		"1e-7",
		"null",
	};

	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		char *got = round_trip(st, cases[i]);

		CHECK_STR(got, cases[i]);
		free(got);
	}
	lh_free(st);
}

TEST(lua_to_json_mapping)
{
	struct lh_state *st = mk();

	CHECK_EVAL(st, "return {1, 2, 3}", "[1,2,3]");
	CHECK_EVAL(st, "return {}", "{}");
	CHECK_EVAL(st, "return silo.json.array{}", "[]");
	CHECK_EVAL(st, "return silo.json.object{}", "{}");
	CHECK_EVAL(st, "return {b = 1, a = {c = silo.json.null}}", "{\"a\":{\"c\":null},\"b\":1}");
	CHECK_EVAL(st, "return {1, 1.0, 2^53, -0.5}", "[1,1.0,9007199254740992.0,-0.5]");
	CHECK_EVAL_HAS(st, "return {1, a = 2}", "table mixes array and object keys");
	CHECK_EVAL_HAS(st, "return {[1] = 1, [3] = 3}", "holes");
	CHECK_EVAL_HAS(st, "return {[1.5] = 1}", "table key of type number");
	CHECK_EVAL_HAS(st, "return {a = {b = {'\\xff'}}}", "not valid UTF-8 (at .a.b[1])");
	CHECK_EVAL_HAS(st, "return {x = 0/0}", "non-finite");
	CHECK_EVAL_HAS(st, "return {f = print}", "a function value cannot become JSON");
	CHECK_EVAL_HAS(st, "local t = {} t.t = t return t", "nesting deeper than");
	CHECK_EVAL_HAS(st, "return silo.json.array{a = 1}", "array table has string keys");
	CHECK_EVAL_HAS(st, "return coroutine.create(print)", "thread value cannot");
	lh_free(st);
}

TEST(allow_fn_skips_functions)
{
	struct lh_state *st = mk();
	lua_State *L = lh_L(st);
	struct sl_err err = { 0 };
	const char *src = "return { a = 1, expect = function() end, list = { 1, 2 } }";
	int ref;
	struct jv *v;
	char *s;

	CHECK(lh_load_string(st, "t.lua", src, strlen(src), &ref, &err) == 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	v = lh_to_jv(L, -1, 1, &err);
	s = jv_to_string(v, 0);
	CHECK_STR(s, "{\"a\":1,\"list\":[1,2]}");
	free(s);
	jv_unref(v);
	CHECK(lh_to_jv(L, -1, 0, &err) == NULL);
	CHECK(strstr(err.msg, "function") != NULL);
	lua_pop(L, 1);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(silo_json_from_lua)
{
	struct lh_state *st = mk();

	CHECK_EVAL(st, "local j = silo.json return j.encode(j.decode('{\"a\":[],\"b\":{},\"c\":1.0}'))",
		   "\"{\\\"a\\\":[],\\\"b\\\":{},\\\"c\\\":1.0}\"");
	CHECK_EVAL(st, "return silo.json.decode('[1,2]')[2]", "2");
	CHECK_EVAL(st, "return silo.json.decode('{\"x\":null}').x == silo.json.null", "true");
	CHECK_EVAL(st, "local v, e = silo.json.decode('{bad') return {v == nil, e:sub(1, 12)}",
		   "[true,\"json.decode:\"]");
	CHECK_EVAL(st, "return silo.json.encode({z = 1, a = {y = 2, b = 3}})",
		   "\"{\\\"a\\\":{\\\"b\\\":3,\\\"y\\\":2},\\\"z\\\":1}\"");
	CHECK_EVAL(st, "return silo.json.encode('a/b')", "\"\\\"a/b\\\"\"");
	CHECK_EVAL_HAS(st, "return silo.json.encode({print})", "json.encode:");
	lh_free(st);
}

TEST(b64_and_utf8)
{
	struct lh_state *st = mk();

	CHECK_EVAL(st, "return silo.b64.encode('hello\\0world')", "\"aGVsbG8Ad29ybGQ=\"");
	CHECK_EVAL(st, "return silo.b64.decode('aGVsbG8=')", "\"hello\"");
	CHECK_EVAL(st, "local v, e = silo.b64.decode('!!!') return {v == nil, e:sub(1, 15)}",
		   "[true,\"invalid base64:\"]");
	CHECK_EVAL(st, "return {silo.utf8.valid('ok'), silo.utf8.valid('\\xff')}", "[true,false]");
	CHECK_EVAL(st, "return silo.utf8.lossy('a\\xffb')", "\"a\xef\xbf\xbd" "b\"");
	lh_free(st);
}
