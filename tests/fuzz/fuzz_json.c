/*
 * libFuzzer target for engine/json. Any input: parse; when accepted, the
 * compact, sorted and pretty emissions must reparse to an equal tree and
 * the compact bytes must be a fixed point (emit(parse(emit(v))) ==
 * emit(v)). Copies, key sorting and subset must agree with equality. The
 * same bytes also drive the UTF-8 and base64 helpers: lossy output is valid
 * UTF-8 and equals the input when that was valid; the bytes as a string
 * value emit to JSON that parses back to their lossy decoding; base64
 * round-trips and an accepted decode re-encodes to the same text (one
 * encoding per value).
 * An input holding a NUL byte (never valid JSON) is also split there into
 * two documents to check that equality is symmetric and that mutual subset
 * match is the same as equality.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/jv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jv *reparse(const struct sl_buf *b)
{
	struct sl_err err;
	struct jv_parse_opts o = { .max_depth = 4096 };
	struct jv *v = jv_parse(b->p, b->len, &o, &err);
	if (!v)
		abort(); /* we emitted something we cannot read back */
	return v;
}

static void check_json(const char *s, size_t n)
{
	struct sl_err err;
	struct jv *v = jv_parse(s, n, NULL, &err);
	if (!v) {
		if (!err.msg[0] || !strstr(err.msg, "at byte "))
			abort(); /* every rejection names its offset */
		return;
	}
	struct sl_buf a, b, c;
	sl_buf_init(&a);
	sl_buf_init(&b);
	sl_buf_init(&c);

	jv_emit(v, &a, 0);
	struct jv *v2 = reparse(&a);
	if (!jv_equal(v, v2) || !jv_equal(v2, v) || !jv_subset(v, v2))
		abort();
	jv_emit(v2, &b, 0);
	if (a.len != b.len || memcmp(a.p, b.p, a.len))
		abort();
	if (!jv_utf8_valid(a.p, a.len))
		abort();

	sl_buf_reset(&b);
	jv_emit(v, &b, JV_EMIT_SORTED | JV_EMIT_PRETTY);
	struct jv *v3 = reparse(&b);
	if (!jv_equal(v, v3))
		abort();

	/* Sorting in place gives the bytes the sorted emitter produced, and
	 * so does parsing with sort_keys. */
	sl_buf_reset(&b);
	jv_emit(v, &b, JV_EMIT_SORTED);
	struct jv *cp = jv_copy(v);
	jv_sort_keys(cp);
	jv_emit(cp, &c, 0);
	if (b.len != c.len || memcmp(b.p, c.p, b.len) || !jv_equal(cp, v))
		abort();
	struct jv_parse_opts so = { .sort_keys = 1 };
	struct jv *vs = jv_parse(s, n, &so, &err);
	if (!vs)
		abort();
	sl_buf_reset(&c);
	jv_emit(vs, &c, 0);
	if (b.len != c.len || memcmp(b.p, c.p, b.len))
		abort();

	jv_unref(vs);
	jv_unref(cp);
	jv_unref(v3);
	jv_unref(v2);
	jv_unref(v);
	sl_buf_free(&a);
	sl_buf_free(&b);
	sl_buf_free(&c);
}

static void check_text(const char *s, size_t n)
{
	struct sl_buf b, d;
	struct sl_err err;
	sl_buf_init(&b);
	sl_buf_init(&d);

	jv_utf8_lossy(&b, s, n);
	if (!jv_utf8_valid(b.p, b.len))
		abort();
	if (jv_utf8_valid(s, n) && (b.len != n || memcmp(b.p, s, n)))
		abort();

	/* Any bytes as a string value emit as parseable JSON, the same as
	 * the lossy decoding of those bytes. */
	struct jv *raw = jv_strn(s, n), *back;
	sl_buf_reset(&b);
	jv_emit(raw, &b, 0);
	back = jv_parse(b.p, b.len, NULL, &err);
	sl_buf_reset(&d);
	jv_utf8_lossy(&d, s, n);
	if (!back || jv_str_len(back) != d.len || memcmp(jv_str_val(back), d.p, d.len))
		abort();
	jv_unref(back);
	jv_unref(raw);
	sl_buf_reset(&d);

	sl_buf_reset(&b);
	jv_b64_encode(&b, s, n);
	if (b.len != (n + 2) / 3 * 4 || jv_b64_decode(&d, b.p, b.len, &err))
		abort();
	if (d.len != n || (n && memcmp(d.p, s, n)))
		abort();

	sl_buf_reset(&b);
	sl_buf_reset(&d);
	if (!jv_b64_decode(&d, s, n, &err)) {
		jv_b64_encode(&b, d.p, d.len);
		if (b.len != n || (n && memcmp(b.p, s, n)))
			abort();
	} else if (strncmp(err.msg, "invalid base64: ", 16)) {
		abort();
	}
	sl_buf_free(&b);
	sl_buf_free(&d);
}

static void check_pair(const char *s, size_t n)
{
	const char *nul = memchr(s, 0, n);
	if (!nul)
		return;
	size_t an = (size_t)(nul - s);
	struct jv *a = jv_parse(s, an, NULL, NULL);
	struct jv *b = jv_parse(nul + 1, n - an - 1, NULL, NULL);
	if (a && b) {
		int eq = jv_equal(a, b);
		if (eq != jv_equal(b, a))
			abort();
		if (eq != (jv_subset(a, b) && jv_subset(b, a)))
			abort();
		if (eq && jv_type(a) != JV_OBJECT && !jv_subset(a, b))
			abort();
	}
	jv_unref(a);
	jv_unref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_json((const char *)data, size);
	check_pair((const char *)data, size);
	check_text((const char *)data, size);
	return 0;
}
