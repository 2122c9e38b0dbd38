/* Frame parser, payload schemas, line splitter and request framing of the
 * helper protocol (sandbox/sb_proto.c): the harness must accept exactly the
 * frames of protocol.md C and reject everything else without crashing. */
#include <stdlib.h>

#include "tap.h"
#include "sandbox/sb_int.h"

static int parse(const char *s, struct sb_frame *f)
{
	struct sl_err err;
	return sb__frame_parse(s, strlen(s), f, &err);
}

TEST(frame_ok_exec)
{
	struct sb_frame f;
	const char *s = "{\"id\":7,\"result\":{\"Ok\":{\"payload\":\"exec\",\"exit_code\":0,"
			"\"stdout\":\"hi\\n\",\"stderr\":\"\",\"timed_out\":false,\"truncated\":false}}}";
	CHECK(parse(s, &f) == 0);
	CHECK(f.kind == SB_FRAME_OK);
	CHECK(f.id == 7);
	CHECK_STR(f.payload, "exec");
	struct sl_err err;
	CHECK(sb__payload_check("exec", f.ok, &err) == 0);
	/* cancelled is optional but must be a bool when present */
	CHECK(sb__payload_check("read_file", f.ok, &err) == SL_EPARSE);
	sb__frame_clear(&f);
	s = "{\"id\":7,\"result\":{\"Ok\":{\"payload\":\"exec\",\"exit_code\":0,\"stdout\":\"\","
	    "\"stderr\":\"\",\"timed_out\":false,\"truncated\":false,\"cancelled\":1}}}";
	CHECK(parse(s, &f) == 0);
	CHECK(sb__payload_check("exec", f.ok, &err) == SL_EPARSE);
	sb__frame_clear(&f);
}

TEST(frame_err)
{
	struct sb_frame f;
	CHECK(parse("{\"id\":3,\"result\":{\"Err\":\"cannot open x: No such file\"}}", &f) == 0);
	CHECK(f.kind == SB_FRAME_ERR);
	CHECK(f.id == 3);
	CHECK_STR(f.err, "cannot open x: No such file");
	sb__frame_clear(&f);
}

TEST(frame_chunk)
{
	struct sb_frame f;
	CHECK(parse("{\"id\":9,\"chunk\":{\"stream\":\"stderr\",\"data_b64\":\"aGk=\"}}", &f) == 0);
	CHECK(f.kind == SB_FRAME_CHUNK);
	CHECK_STR(f.stream, "stderr");
	CHECK(f.data.len == 2 && !memcmp(f.data.p, "hi", 2));
	sb__frame_clear(&f);
	CHECK(parse("{\"id\":9,\"chunk\":{\"stream\":\"stdin\",\"data_b64\":\"aGk=\"}}", &f) ==
	      SL_EPARSE);
	CHECK(parse("{\"id\":9,\"chunk\":{\"stream\":\"stdout\",\"data_b64\":\"a\"}}", &f) ==
	      SL_EPARSE);
	/* more than 64 KiB decoded is refused */
	size_t n = 90000;
	char *big = malloc(n + 100);
	strcpy(big, "{\"id\":1,\"chunk\":{\"stream\":\"stdout\",\"data_b64\":\"");
	size_t k = strlen(big);
	memset(big + k, 'A', n);
	strcpy(big + k + n, "\"}}");
	CHECK(parse(big, &f) == SL_EPARSE);
	free(big);
}

TEST(frame_garbage)
{
	struct sb_frame f;
	const char *bad[] = {
		"", "not json", "[1,2]", "{}", "{\"id\":-1,\"result\":{\"Err\":\"x\"}}",
		"{\"id\":1.5,\"result\":{\"Err\":\"x\"}}", "{\"id\":\"1\",\"result\":{\"Err\":\"x\"}}",
		"{\"id\":1}", "{\"id\":1,\"result\":{}}", "{\"id\":1,\"result\":{\"Ok\":1}}",
		"{\"id\":1,\"result\":{\"Ok\":{}}}", "{\"id\":1,\"result\":{\"Err\":5}}",
		"{\"id\":1,\"result\":{\"Ok\":{\"payload\":\"ack\"},\"Err\":\"x\"}}",
		"{\"id\":1,\"result\":{\"Err\":\"a\\u0000b\"}}",
		"{\"id\":1,\"result\":{\"Err\":\"\xff\"}}",
		"{\"id\":1,\"result\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		int rc = parse(bad[i], &f);
		if (rc != SL_EPARSE)
			printf("#   accepted: %s\n", bad[i]);
		CHECK(rc == SL_EPARSE);
	}
}

static struct jv *ok_of(const char *s)
{
	struct sl_err err;
	return jv_parse(s, strlen(s), NULL, &err);
}

TEST(payload_schemas)
{
	struct sl_err err;
	struct {
		const char *op, *json;
		int good;
	} cases[] = {
		{ "hello", "{\"payload\":\"hello\",\"version\":\"0.1\",\"pid\":1}", 1 },
		{ "hello", "{\"payload\":\"hello\",\"version\":1,\"pid\":1}", 0 },
		{ "read_file", "{\"payload\":\"file\",\"content_b64\":\"\",\"truncated\":false}", 1 },
		{ "read_file", "{\"payload\":\"file\",\"content_b64\":\"\"}", 0 },
		{ "write_file", "{\"payload\":\"written\",\"bytes\":3}", 1 },
		{ "write_file", "{\"payload\":\"written\",\"bytes\":-3}", 0 },
		{ "edit_file", "{\"payload\":\"edited\",\"replacements\":2}", 1 },
		{ "edit_file", "{\"payload\":\"written\",\"bytes\":2}", 0 },
		{ "list_dir",
		  "{\"payload\":\"dir\",\"entries\":[{\"name\":\"a\",\"is_dir\":true,\"size\":0}]}", 1 },
		{ "list_dir", "{\"payload\":\"dir\",\"entries\":[{\"name\":\"a\",\"size\":0}]}", 0 },
		{ "list_dir", "{\"payload\":\"dir\",\"entries\":{}}", 0 },
		{ "fetch",
		  "{\"payload\":\"fetched\",\"status\":200,\"headers\":[[\"a\",\"b\"]],"
		  "\"body_b64\":\"\",\"truncated\":false}", 1 },
		{ "fetch",
		  "{\"payload\":\"fetched\",\"status\":200,\"headers\":[[\"a\"]],"
		  "\"body_b64\":\"\",\"truncated\":false}", 0 },
		{ "cancel", "{\"payload\":\"ack\"}", 1 },
		{ "shutdown", "{\"payload\":\"exec\"}", 0 },
		{ "nonsense", "{\"payload\":\"ack\"}", 0 },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		struct jv *ok = ok_of(cases[i].json);
		CHECK(ok != NULL);
		int rc = sb__payload_check(cases[i].op, ok, &err);
		if ((rc == 0) != cases[i].good)
			printf("#   case %zu (%s) wrong: %s\n", i, cases[i].op, err.msg);
		CHECK((rc == 0) == cases[i].good);
		jv_unref(ok);
	}
}

TEST(wire_ops)
{
	CHECK_STR(sb__wire_op("exec"), "exec");
	CHECK_STR(sb__wire_op("read"), "read_file");
	CHECK_STR(sb__wire_op("write"), "write_file");
	CHECK_STR(sb__wire_op("edit"), "edit_file");
	CHECK_STR(sb__wire_op("listdir"), "list_dir");
	CHECK_STR(sb__wire_op("fetch"), "fetch");
	CHECK(sb__wire_op("read_file") == NULL);
	CHECK(sb__wire_op(NULL) == NULL);
}

TEST(request_framing)
{
	struct sl_buf b;
	sl_buf_init(&b);
	struct sl_err err;
	const char *a = "{\"path\":\"/workspace/x\",\"id\":99,\"op\":\"evil\"}";
	struct jv *args = jv_parse(a, strlen(a), NULL, &err);
	sb__frame_request(&b, 5, "read_file", args);
	CHECK_STR(b.p, "{\"id\":5,\"op\":\"read_file\",\"path\":\"/workspace/x\"}\n");
	jv_unref(args);
	sl_buf_reset(&b);
	sb__frame_request(&b, 0, "hello", NULL);
	CHECK_STR(b.p, "{\"id\":0,\"op\":\"hello\"}\n");
	sl_buf_free(&b);
}

struct lines_seen {
	int n;
	char last[64];
};

static int on_line(void *ud, const char *line, size_t n)
{
	struct lines_seen *s = ud;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)n, line);
	return 0;
}

TEST(lines)
{
	struct sb_lines lb = { .max = 16 };
	sl_buf_init(&lb.b);
	struct lines_seen s = { 0 };
	CHECK(sb__lines_feed(&lb, "ab", 2, on_line, &s) == 0);
	CHECK(s.n == 0);
	CHECK(sb__lines_feed(&lb, "c\n\n  \r\nxy\n", 10, on_line, &s) == 0);
	CHECK(s.n == 2);
	CHECK_STR(s.last, "xy");
	CHECK(sb__lines_feed(&lb, "0123456789abcdef", 16, on_line, &s) == 0);
	CHECK(sb__lines_feed(&lb, "g", 1, on_line, &s) == SL_ELIMIT);
	sb__lines_free(&lb);
}
