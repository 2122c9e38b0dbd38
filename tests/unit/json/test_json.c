/*
 * Unit tests for engine/json: parser strictness, the replay.md 2.4 byte
 * rules of the emitter (round trips of canonical text), number typing,
 * object semantics, equality and subset match, base64 and UTF-8 helpers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/jv.h"
#include "tap.h"

static struct jv *parse(const char *s)
{
	struct sl_err err = { 0 };
	return jv_parse(s, strlen(s), NULL, &err);
}

/* Parses text that must be accepted and returns its compact emission. */
static char *reemit(const char *s, unsigned flags)
{
	struct sl_err err = { 0 };
	struct jv *v = jv_parse(s, strlen(s), NULL, &err);
	if (!v) {
		printf("#   unexpected parse error for %s: %s\n", s, err.msg);
		return strdup("<error>");
	}
	char *out = jv_to_string(v, flags);
	jv_unref(v);
	return out;
}

/* Checks that canonical text survives parse -> emit byte for byte. */
static int round_trips(const char *s)
{
	char *out = reemit(s, 0);
	int ok = !strcmp(out, s);
	if (!ok)
		printf("#   round trip: %s -> %s\n", s, out);
	free(out);
	return ok;
}

/* Returns the error message for text that must be rejected ("" if it was
 * accepted, so CHECKs on the message fail visibly). */
static const char *parse_err(const char *s, size_t n, int max_depth)
{
	static struct sl_err err;
	struct jv_parse_opts o = { .max_depth = max_depth };
	memset(&err, 0, sizeof(err));
	struct jv *v = jv_parse(s, n, &o, &err);
	if (v) {
		jv_unref(v);
		return "";
	}
	return err.msg;
}

#define REJECTS(s) CHECK(parse_err(s, sizeof(s) - 1, 0)[0] != 0)
#define ERR_HAS(s, needle) CHECK(strstr(parse_err(s, sizeof(s) - 1, 0), needle) != NULL)

TEST(round_trip_canonical)
{
	static const char *canon[] = {
		"null", "true", "false", "0", "-1", "42", "[]", "{}", "[[]]", "[{}]",
		"{\"a\":[]}", "{\"a\":{}}", "\"\"", "\"hello\"",
		"{\"b\":1,\"a\":2}", /* insertion order is kept */
		"[1,2.5,\"x\",null,true,false,{\"k\":[{}]}]",
		"\"a/b\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\\u000b\"",
		"5.0", "0.81", "1e-7", "1e16", "-0.0", "0.1", "1.5e300", "2.5e-300",
		"9223372036854775807", "-9223372036854775808", "9.223372036854776e18",
		"123456789.123", "1e100", "0.30000000000000004", "5e-324",
		"1.7976931348623157e308", "1e2", "1e21", "1.2e2", "1234.0", "1e-5", "0.0001",
		"{\"seq\":1,\"time\":{\"logical\":2,\"wall_ms\":3},\"entry\":\"meta\"}",
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(canon); i++)
		CHECK(round_trips(canon[i]));
}

TEST(normalises_non_canonical)
{
	struct {
		const char *in, *out;
	} t[] = {
		{ " [ 1 , 2 ] ", "[1,2]" },
		{ "\"\\/\"", "\"/\"" },
		{ "\"\\u00e9\"", "\"\xc3\xa9\"" },
		{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
		{ "\"\\u007f\"", "\"\x7f\"" },
		{ "\"\\u001F\"", "\"\\u001f\"" },
		{ "1E+2", "1e2" },
		{ "100", "100" },
		{ "100.0", "1e2" },
		{ "4.9e-324", "5e-324" },
		{ "1.0e-07", "1e-7" },
		{ "10000000000000000.0", "1e16" },
		{ "-0", "0" },
		{ "0.810", "0.81" },
		{ "9223372036854775808", "9.223372036854776e18" },
		{ "-9223372036854775809", "-9.223372036854776e18" },
		{ "{\"a\":1,\"a\":2}", "{\"a\":2}" },
		{ "{\"a\":1,\"b\":0,\"a\":3}", "{\"a\":3,\"b\":0}" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
		char *o = reemit(t[i].in, 0);
		CHECK_STR(o, t[i].out);
		free(o);
	}
}

TEST(number_types)
{
	struct jv *v = parse("[5, 5.0, 1e2, -0.0, 9223372036854775807, "
			     "-9223372036854775808, 9223372036854775808, 0]");
	CHECK(v && jv_len(v) == 8);
	CHECK(jv_type(jv_at(v, 0)) == JV_INT && jv_int_val(jv_at(v, 0)) == 5);
	CHECK(jv_type(jv_at(v, 1)) == JV_FLOAT && jv_num_val(jv_at(v, 1)) == 5.0);
	CHECK(jv_type(jv_at(v, 2)) == JV_FLOAT);
	CHECK(jv_type(jv_at(v, 3)) == JV_FLOAT && signbit(jv_num_val(jv_at(v, 3))));
	CHECK(jv_int_val(jv_at(v, 4)) == INT64_MAX);
	CHECK(jv_is(jv_at(v, 5), JV_INT) && jv_int_val(jv_at(v, 5)) == INT64_MIN);
	CHECK(jv_is(jv_at(v, 6), JV_FLOAT));
	CHECK(jv_num_val(jv_at(v, 6)) == 9223372036854775808.0);
	/* Truncation saturates instead of overflowing. */
	CHECK(jv_int_val(jv_at(v, 6)) == INT64_MAX);
	CHECK(jv_is(jv_at(v, 7), JV_INT));
	jv_unref(v);

	struct jv *big = parse("1e400");
	CHECK(big == NULL);
	CHECK(strstr(parse_err("1e400", 5, 0), "out of range") != NULL);
	struct jv *tiny = parse("1e-400");
	CHECK(jv_is(tiny, JV_FLOAT) && jv_num_val(tiny) == 0);
	jv_unref(tiny);

	struct jv *nf = jv_float(NAN);
	CHECK(jv_is(nf, JV_NULL));
	jv_unref(nf);
	nf = jv_float(INFINITY);
	CHECK(jv_is(nf, JV_NULL));
	jv_unref(nf);
	struct jv *f = jv_float(-3.9);
	CHECK(jv_int_val(f) == -3);
	jv_unref(f);
}

TEST(fmt_double)
{
	struct {
		double d;
		const char *s;
	} t[] = {
		{ 5.0, "5.0" }, { 0.81, "0.81" }, { 1e-7, "1e-7" }, { 1e16, "1e16" },
		{ -0.0, "-0.0" }, { 0.1, "0.1" }, { 1.0 / 3, "0.3333333333333333" },
		{ 123456.0, "123456.0" }, { 1e15, "1e15" }, { 1.5e-10, "1.5e-10" },
		{ -2.5, "-2.5" }, { 1e100, "1e100" }, { 5e-324, "5e-324" },
		{ 100.0, "1e2" }, /* %.1g round-trips: the rule is literal */
		{ 120.0, "1.2e2" }, { 1234.0, "1234.0" }, { 12345678901234567890.0, "1.2345678901234567e19" },
	};
	char buf[32];
	for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
		jv_fmt_double(t[i].d, buf);
		CHECK_STR(buf, t[i].s);
		CHECK(strtod(buf, NULL) == t[i].d);
	}
}

TEST(array_vs_object)
{
	struct jv *a = parse("[]"), *o = parse("{}");
	CHECK(jv_is(a, JV_ARRAY) && jv_len(a) == 0);
	CHECK(jv_is(o, JV_OBJECT) && jv_len(o) == 0);
	CHECK(!jv_equal(a, o));
	char *s = jv_to_string(a, JV_EMIT_SORTED);
	CHECK_STR(s, "[]");
	free(s);
	s = jv_to_string(o, JV_EMIT_SORTED | JV_EMIT_PRETTY);
	CHECK_STR(s, "{}");
	free(s);
	jv_unref(a);
	jv_unref(o);
}

TEST(emit_escapes)
{
	struct sl_buf b;
	sl_buf_init(&b);
	jv_emit_string(&b, "a\"b\\c/d\x01\x1f\x7f\b\f\n\r\t\xc3\xa9", 17);
	CHECK_STR(b.p, "\"a\\\"b\\\\c/d\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\xc3\xa9\"");
	sl_buf_reset(&b);
	jv_emit_string(&b, "x\0y", 3);
	CHECK_STR(b.p, "\"x\\u0000y\"");
	sl_buf_free(&b);

	/* NUL inside strings and keys survives a round trip. */
	struct jv *v = parse("{\"k\\u0000z\":\"a\\u0000b\"}");
	CHECK(v && jv_len(v) == 1 && jv_key_len(v, 0) == 3);
	CHECK(jv_str_len(jv_val_at(v, 0)) == 3);
	CHECK(jv_getn(v, "k\0z", 3) != NULL);
	char *s = jv_to_string(v, 0);
	CHECK_STR(s, "{\"k\\u0000z\":\"a\\u0000b\"}");
	free(s);
	jv_unref(v);
}

TEST(rejects_bad_syntax)
{
	REJECTS("");
	REJECTS("   ");
	REJECTS("[1,]");
	REJECTS("{\"a\":1,}");
	REJECTS("{a:1}");
	REJECTS("{'a':1}");
	REJECTS("[01]");
	REJECTS("[1.]");
	REJECTS("[.5]");
	REJECTS("[1e]");
	REJECTS("[+1]");
	REJECTS("[-]");
	REJECTS("NaN");
	REJECTS("Infinity");
	REJECTS("[tru]");
	REJECTS("nul");
	REJECTS("\"abc");
	REJECTS("\"a\tb\"");
	REJECTS("\"\\x\"");
	REJECTS("\"\\u12\"");
	REJECTS("\"\\u12g4\"");
	REJECTS("[1 2]");
	REJECTS("{\"a\" 1}");
	REJECTS("// c\n1");
	ERR_HAS("[1] x", "trailing data");
	ERR_HAS("[1] x", "at byte 4");
	ERR_HAS("{} {}", "at byte 3");
	ERR_HAS("[1,2", "unexpected end of input");
	ERR_HAS("[01]", "leading zero");
	ERR_HAS("\"a\nb\"", "control character 0x0a");
	ERR_HAS("\"\\q\"", "invalid escape '\\q'");
	ERR_HAS("[1,]", "at byte 3");
	CHECK(parse_err("1\0", 2, 0)[0] != 0);   /* NUL after value */
	CHECK(parse_err("\"\0\"", 3, 0)[0] != 0); /* raw NUL in string */
	struct sl_err err = { 0 };
	CHECK(jv_parse(NULL, 0, NULL, &err) == NULL && err.code == SL_EPARSE);
	struct jv *v = jv_parse(" \t\r\n7\n", 6, NULL, NULL);
	CHECK(jv_int_val(v) == 7);
	jv_unref(v);
}

TEST(rejects_bad_utf8_and_surrogates)
{
	REJECTS("\"\x80\"");
	REJECTS("\"\xc0\xaf\"");         /* overlong '/' */
	REJECTS("\"\xe0\x80\xaf\"");     /* overlong */
	REJECTS("\"\xed\xa0\x80\"");     /* encoded surrogate */
	REJECTS("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
	REJECTS("\"\xf5\x80\x80\x80\"");
	REJECTS("\"\xc3\"");
	REJECTS("\"\xe2\x82\"");
	REJECTS("\xef\xbb\xbf[]");       /* no BOM */
	ERR_HAS("\"ab\xff\"", "invalid UTF-8 in string at byte 3");
	ERR_HAS("\"\\ud800\"", "lone high surrogate");
	ERR_HAS("\"\\ud800x\"", "lone high surrogate");
	ERR_HAS("\"\\ud800\\u0041\"", "lone high surrogate");
	ERR_HAS("\"\\ud800\\ud800\"", "lone high surrogate");
	ERR_HAS("\"\\udc00\"", "lone low surrogate");
	ERR_HAS("\"x\\udfff\\ud800\"", "at byte 2");
	struct jv *v = parse("\"\\uDBFF\\uDFFF\"");
	CHECK(v && jv_str_len(v) == 4 && !memcmp(jv_str_val(v), "\xf4\x8f\xbf\xbf", 4));
	jv_unref(v);
}

TEST(depth_limit)
{
	char buf[1200];
	memset(buf, '[', 128);
	memset(buf + 128, ']', 128);
	struct jv *v = jv_parse(buf, 256, NULL, NULL);
	CHECK(v != NULL); /* exactly 128 deep is allowed */
	jv_unref(v);
	memset(buf, '[', 129);
	memset(buf + 129, ']', 129);
	struct sl_err err = { 0 };
	CHECK(jv_parse(buf, 258, NULL, &err) == NULL);
	CHECK(err.code == SL_ELIMIT && strstr(err.msg, "nesting deeper than 128"));
	CHECK(strstr(err.msg, "at byte 128") != NULL);
	CHECK(strstr(parse_err("[[[1]]]", 7, 2), "nesting deeper than 2") != NULL);
	CHECK(parse_err("[[1]]", 5, 2)[0] == 0);

	/* A huge bomb fails cleanly even when the caller asks for no limit. */
	size_t n = 1000000;
	char *bomb = malloc(n);
	memset(bomb, '[', n);
	struct jv_parse_opts o = { .max_depth = 1 << 30 };
	CHECK(jv_parse(bomb, n, &o, &err) == NULL && err.code == SL_ELIMIT);
	memset(bomb, '{', n);
	CHECK(jv_parse(bomb, n, NULL, &err) == NULL);
	free(bomb);
}

TEST(objects)
{
	struct jv *o = jv_obj();
	jv_set(o, "b", jv_int(1));
	jv_set(o, "a", jv_str("x"));
	jv_set(o, "b", jv_int(2)); /* replaces in place */
	CHECK(jv_len(o) == 2);
	CHECK_STR(jv_key_at(o, 0), "b");
	CHECK(jv_get_int(o, "b", -1) == 2);
	CHECK(jv_get_int(o, "a", -1) == -1);
	CHECK_STR(jv_get_str(o, "a"), "x");
	CHECK(jv_get_str(o, "b") == NULL);
	CHECK(jv_get(o, "zz") == NULL);
	CHECK(!jv_get_bool(o, "a"));
	jv_set(o, "t", jv_bool(1));
	CHECK(jv_get_bool(o, "t"));
	CHECK(jv_del(o, "b") == 1 && jv_del(o, "b") == 0);
	CHECK(jv_len(o) == 2 && !strcmp(jv_key_at(o, 0), "a"));
	jv_set(o, "n", NULL); /* NULL value becomes null */
	CHECK(jv_is(jv_get(o, "n"), JV_NULL));
	jv_set(o, NULL, jv_int(1)); /* ignored, no leak */
	CHECK(jv_len(o) == 3);
	jv_push(o, jv_int(1)); /* not an array: ignored, no leak */
	char *s = jv_to_string(o, 0);
	CHECK_STR(s, "{\"a\":\"x\",\"t\":true,\"n\":null}");
	free(s);
	s = jv_to_string(o, JV_EMIT_SORTED);
	CHECK_STR(s, "{\"a\":\"x\",\"n\":null,\"t\":true}");
	free(s);
	jv_unref(o);
}

TEST(large_object_index)
{
	struct jv *o = jv_obj();
	char k[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		jv_set(o, k, jv_int(i));
	}
	CHECK(jv_len(o) == 5000);
	int ok = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		if (jv_get_int(o, k, -1) != i)
			ok = 0;
	}
	CHECK(ok);
	CHECK_STR(jv_key_at(o, 4999), "key4999");
	for (int i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "key%d", i);
		jv_del(o, k);
	}
	CHECK(jv_len(o) == 2500);
	ok = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		if (jv_get_int(o, k, -1) != (i % 2 ? i : -1))
			ok = 0;
	}
	CHECK(ok);
	/* Shrinks back below the index threshold and still works. */
	for (int i = 1; i < 4990; i += 2) {
		snprintf(k, sizeof(k), "key%d", i);
		jv_del(o, k);
	}
	CHECK(jv_len(o) == 5 && jv_get_int(o, "key4999", -1) == 4999);
	jv_sort_keys(o);
	CHECK_STR(jv_key_at(o, 0), "key4991");
	CHECK(jv_get_int(o, "key4993", -1) == 4993);
	jv_unref(o);
}

TEST(sorting)
{
	struct jv *v = parse("{\"b\":{\"z\":1,\"y\":[{\"d\":1,\"c\":2}]},\"a\":0,"
			     "\"ab\":1,\"\xc3\xa9\":2,\"B\":3,\"\":4}");
	char *s = jv_to_string(v, JV_EMIT_SORTED);
	const char *want = "{\"\":4,\"B\":3,\"a\":0,\"ab\":1,\"b\":{\"y\":[{\"c\":2,\"d\":1}],"
			   "\"z\":1},\"\xc3\xa9\":2}";
	CHECK_STR(s, want);
	free(s);
	s = jv_to_string(v, 0); /* emission did not reorder the tree */
	CHECK(!strncmp(s, "{\"b\":{\"z\"", 9));
	free(s);
	jv_sort_keys(v);
	s = jv_to_string(v, 0);
	CHECK_STR(s, want);
	free(s);
	jv_unref(v);

	struct jv_parse_opts o = { .sort_keys = 1 };
	const char *in = "{\"b\":1,\"a\":{\"d\":1,\"c\":2}}";
	v = jv_parse(in, strlen(in), &o, NULL);
	s = jv_to_string(v, 0);
	CHECK_STR(s, "{\"a\":{\"c\":2,\"d\":1},\"b\":1}");
	free(s);
	jv_unref(v);

	/* Many keys, emitted sorted through the heap path. */
	struct jv *big = jv_obj();
	char k[16];
	for (int i = 29; i >= 0; i--) {
		snprintf(k, sizeof(k), "k%02d", i);
		jv_set(big, k, jv_int(i));
	}
	s = jv_to_string(big, JV_EMIT_SORTED);
	CHECK(!strncmp(s, "{\"k00\":0,\"k01\":1,", 17));
	free(s);
	jv_unref(big);
}

TEST(pretty)
{
	struct jv *v = parse("{\"b\":[1,{}],\"a\":{\"x\":[]}}");
	char *s = jv_to_string(v, JV_EMIT_PRETTY | JV_EMIT_SORTED);
	CHECK_STR(s, "{\n  \"a\": {\n    \"x\": []\n  },\n  \"b\": [\n    1,\n    {}\n  ]\n}");
	free(s);
	jv_unref(v);
}

TEST(equality_and_subset)
{
	struct jv *a = parse("{\"x\":1,\"y\":[1,2.0,{\"z\":null}],\"s\":\"q\"}");
	struct jv *b = parse("{\"s\":\"q\",\"y\":[1.0,2,{\"z\":null}],\"x\":1.0}");
	CHECK(jv_equal(a, b) && jv_equal(b, a));
	struct jv *c = parse("{\"s\":\"q\",\"y\":[1,2,{\"z\":null}],\"x\":1.5}");
	CHECK(!jv_equal(a, c));
	struct jv *one = jv_int(1), *onef = jv_float(1.0), *t = jv_bool(1);
	CHECK(jv_equal(one, onef) && !jv_equal(one, t));
	/* 2^53 + 1 as an integer is not the double 2^53. */
	struct jv *i53 = jv_int(9007199254740993LL), *f53 = jv_float(9007199254740992.0);
	CHECK(!jv_equal(i53, f53));
	struct jv *imax = jv_int(INT64_MAX), *f63 = jv_float(9223372036854775808.0);
	CHECK(!jv_equal(imax, f63));
	struct jv *z = jv_float(0.0), *nz = jv_float(-0.0), *zi = jv_int(0);
	CHECK(jv_equal(z, nz) && jv_equal(nz, zi));
	CHECK(!jv_equal(NULL, one) && jv_equal(NULL, NULL));

	struct jv *e1 = parse("{\"x\":1.0,\"y\":[1,2,{\"z\":null}]}");
	CHECK(jv_subset(e1, a));
	struct jv *e2 = parse("{\"y\":[1,2]}"); /* arrays must be equal whole */
	CHECK(!jv_subset(e2, a));
	struct jv *e3 = parse("{\"y\":[1,2,{}]}"); /* no subset inside arrays */
	CHECK(!jv_subset(e3, a));
	struct jv *e4 = parse("{\"w\":1}");
	CHECK(!jv_subset(e4, a));
	struct jv *e5 = parse("{}");
	CHECK(jv_subset(e5, a) && !jv_subset(a, e5));
	struct jv *n1 = parse("{\"o\":{\"a\":1,\"b\":2}}"), *n2 = parse("{\"o\":{\"b\":2}}");
	CHECK(jv_subset(n2, n1) && !jv_subset(n1, n2));
	CHECK(jv_subset(one, onef) && !jv_subset(e5, one));

	struct jv *all[] = { a, b, c, one, onef, t, i53, f53, imax, f63, z, nz, zi,
			     e1, e2, e3, e4, e5, n1, n2 };
	for (size_t i = 0; i < SL_ARRAY_LEN(all); i++)
		jv_unref(all[i]);
}

TEST(refcount_and_copy)
{
	struct jv *s = jv_str("shared");
	struct jv *a = jv_arr(), *b = jv_arr();
	jv_push(a, jv_ref(s));
	jv_push(b, jv_ref(s));
	jv_unref(s);
	jv_unref(a);
	CHECK_STR(jv_str_val(jv_at(b, 0)), "shared");
	struct jv *c = jv_copy(b);
	jv_unref(b);
	CHECK_STR(jv_str_val(jv_at(c, 0)), "shared");
	CHECK(jv_at(c, 1) == NULL);
	jv_push(c, NULL);
	CHECK(jv_is(jv_at(c, 1), JV_NULL));
	jv_push(c, jv_ref(c)); /* self-insertion refused (no cycle) */
	CHECK(jv_len(c) == 2);
	jv_unref(c);
	jv_unref(NULL);
	CHECK(jv_ref(NULL) == NULL && jv_copy(NULL) == NULL);

	struct jv *f = jv_strf("%s-%d", "n", 7);
	CHECK_STR(jv_str_val(f), "n-7");
	CHECK(jv_len(f) == 3);
	jv_unref(f);
	CHECK(jv_is(jv_str(NULL), JV_NULL));
	CHECK(jv_type(NULL) == JV_NULL && !jv_is(NULL, JV_NULL));
}

TEST(base64)
{
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	struct sl_buf b;
	struct sl_err err = { 0 };
	sl_buf_init(&b);
	for (size_t i = 0; i < SL_ARRAY_LEN(vec); i++) {
		sl_buf_reset(&b);
		jv_b64_encode(&b, vec[i][0], strlen(vec[i][0]));
		CHECK_STR(b.p, vec[i][1]);
		sl_buf_reset(&b);
		CHECK(jv_b64_decode(&b, vec[i][1], strlen(vec[i][1]), &err) == 0);
		CHECK(b.len == strlen(vec[i][0]) && !memcmp(b.p, vec[i][0], b.len));
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	sl_buf_reset(&b);
	jv_b64_encode(&b, all, 256);
	char *enc = strdup(b.p);
	sl_buf_reset(&b);
	CHECK(jv_b64_decode(&b, enc, strlen(enc), &err) == 0);
	CHECK(b.len == 256 && !memcmp(b.p, all, 256));
	CHECK(!strncmp(enc, "AAECAwQF", 8) && strstr(enc, "+/") != NULL);
	free(enc);

	static const char *bad[][2] = {
		{ "Zg=", "not a multiple of 4" }, { "Zm9", "not a multiple of 4" },
		{ "Zm9v\n", "not a multiple of 4" }, { "Zm 9", "unexpected byte 0x20 at offset 2" },
		{ "Zm-v", "unexpected character '-' at offset 2" },
		{ "Zg==Zm9v", "padding in the middle" }, { "Z===", "padding in the middle" },
		{ "Zm=v", "padding in the middle" }, { "Zh==", "non-zero padding bits" },
		{ "Zm9=", "non-zero padding bits" }, { "====", "padding in the middle" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		sl_buf_reset(&b);
		sl_buf_adds(&b, "keep");
		memset(&err, 0, sizeof(err));
		CHECK(jv_b64_decode(&b, bad[i][0], strlen(bad[i][0]), &err) == SL_EPARSE);
		CHECK(!strncmp(err.msg, "invalid base64: ", 16));
		if (!strstr(err.msg, bad[i][1]))
			printf("#   %s: got '%s'\n", bad[i][0], err.msg);
		CHECK(strstr(err.msg, bad[i][1]) != NULL);
		CHECK_STR(b.p, "keep"); /* output untouched on error */
	}
	sl_buf_reset(&b);
	CHECK(jv_b64_decode(&b, "Zm\x80v", 4, &err) == SL_EPARSE);
	CHECK(strstr(err.msg, "byte 0x80") != NULL);
	sl_buf_free(&b);
}

static char *lossy(const char *s, size_t n)
{
	struct sl_buf b;
	sl_buf_init(&b);
	jv_utf8_lossy(&b, s, n);
	return sl_buf_steal(&b);
}

#define FFFD "\xef\xbf\xbd"

TEST(utf8)
{
	CHECK(jv_utf8_valid("", 0));
	CHECK(jv_utf8_valid("plain ascii text, long enough for words", 39));
	CHECK(jv_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 19));
	CHECK(jv_utf8_valid("a\0b", 3));
	CHECK(!jv_utf8_valid("\xc0\x80", 2));
	CHECK(!jv_utf8_valid("\xed\xa0\x80", 3));
	CHECK(!jv_utf8_valid("\xf4\x90\x80\x80", 4));
	CHECK(!jv_utf8_valid("abcdefgh\xe2\x82", 10));
	CHECK(!jv_utf8_valid("\xff", 1));

	struct {
		const char *in;
		size_t n;
		const char *out;
	} t[] = {
		{ "ok \xc3\xa9", 5, "ok \xc3\xa9" },
		{ "a\xff" "b", 3, "a" FFFD "b" },
		{ "\xc0\xaf", 2, FFFD FFFD },              /* C0 is never valid */
		{ "\xe2\x82", 2, FFFD },                   /* truncated: one FFFD */
		{ "\xe2\x82x", 3, FFFD "x" },
		{ "\xed\xa0\x80", 3, FFFD FFFD FFFD },     /* surrogate: 3 */
		{ "\xf0\x9f\x98", 3, FFFD },
		{ "\xf0\x80\x80\x80", 4, FFFD FFFD FFFD FFFD },
		{ "\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD },
		{ "\x80\x80", 2, FFFD FFFD },
		{ "\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", 9, FFFD FFFD FFFD FFFD "A" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
		char *o = lossy(t[i].in, t[i].n);
		CHECK_STR(o, t[i].out);
		CHECK(jv_utf8_valid(o, strlen(o)));
		free(o);
	}
}

TEST(perf_smoke)
{
	/* Not timed: a large document parses, emits and matches itself. */
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_addc(&b, '[');
	for (int i = 0; i < 20000; i++)
		sl_buf_printf(&b, "%s{\"seq\":%d,\"v\":%d.25,\"s\":\"line\\n%d\"}",
			      i ? "," : "", i, i, i);
	sl_buf_addc(&b, ']');
	struct jv *v = jv_parse(b.p, b.len, NULL, NULL);
	CHECK(v && jv_len(v) == 20000);
	char *s = jv_to_string(v, 0);
	CHECK(s && strlen(s) == b.len && !memcmp(s, b.p, b.len));
	free(s);
	jv_unref(v);
	sl_buf_free(&b);
}

TEST(null_pointers)
{
	struct sl_buf b;
	sl_buf_init(&b);
	jv_utf8_lossy(&b, NULL, 0);
	CHECK(b.p && b.len == 0 && b.p[0] == 0);
	jv_emit_string(&b, NULL, 0);
	CHECK_STR(b.p, "\"\"");
	jv_b64_encode(&b, NULL, 0);
	CHECK_STR(b.p, "\"\"");
	CHECK(jv_utf8_valid(NULL, 0));
	sl_buf_free(&b);
	CHECK(jv_is(jv_strn(NULL, 3), JV_NULL));
	char *s = jv_to_string(NULL, 0);
	CHECK_STR(s, "null");
	free(s);
	CHECK(jv_len(NULL) == 0 && jv_at(NULL, 0) == NULL && jv_get(NULL, "a") == NULL);
	CHECK(jv_str_val(NULL) == NULL && jv_key_at(NULL, 0) == NULL);
	CHECK(jv_del(NULL, "a") == 0 && jv_get_int(NULL, "a", 9) == 9);
	jv_sort_keys(NULL);
	CHECK(jv_subset(NULL, NULL));
}

TEST(copy_large_object)
{
	struct jv *o = jv_obj();
	char k[16];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		struct jv *inner = jv_arr();
		jv_push(inner, jv_int(i));
		jv_set(o, k, inner);
	}
	struct jv *c = jv_copy(o);
	CHECK(jv_equal(o, c));
	jv_set(c, "k5", jv_int(0)); /* the copy is independent */
	CHECK(!jv_equal(o, c) && jv_int_val(jv_at(jv_get(o, "k5"), 0)) == 5);
	CHECK(jv_get_int(c, "k99", -1) == -1 && jv_is(jv_get(c, "k99"), JV_ARRAY));
	jv_set(c, "new", jv_null());
	CHECK(jv_len(c) == 101 && jv_len(o) == 100);
	char *a = jv_to_string(o, 0), *b = jv_to_string(c, 0);
	CHECK(!strncmp(a, "{\"k0\":[0],\"k1\":[1]", 18) && !strncmp(a, b, 18));
	free(a);
	free(b);
	jv_unref(o);
	jv_unref(c);
}

TEST(emit_invalid_utf8_as_replacement)
{
	/* Raw bytes can enter through jv_strn; the output must still parse. */
	struct jv *v = jv_strn("a\xff" "b\xe2\x82\n\xc3\xa9", 8);
	char *s = jv_to_string(v, 0);
	CHECK_STR(s, "\"a" FFFD "b" FFFD "\\n\xc3\xa9\"");
	struct jv *back = jv_parse(s, strlen(s), NULL, NULL);
	CHECK(jv_is(back, JV_STRING));
	free(s);
	jv_unref(back);
	jv_unref(v);
	v = jv_strn("\xed\xa0\x80", 3); /* CESU-style surrogate: three U+FFFD */
	s = jv_to_string(v, 0);
	CHECK_STR(s, "\"" FFFD FFFD FFFD "\"");
	free(s);
	jv_unref(v);
}
