/*
 * Strict RFC 8259 parser producing jv trees. Recursive descent with a depth
 * limit; strings are validated as UTF-8 and \u escapes must pair
 * surrogates correctly (lone surrogates are rejected, so every parsed
 * string is valid UTF-8 and re-emits byte-identically). Numbers without a
 * fraction or exponent that fit int64 become JV_INT, all others JV_FLOAT.
 * Duplicate object keys: the last value wins, at the position of the first
 * occurrence. Errors name what was wrong and the byte offset.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jv_int.h"

#define JV_DEFAULT_DEPTH 128
/* Recursion guard independent of what the caller asks for. */
#define JV_HARD_DEPTH 4096

struct parser {
	const unsigned char *s, *end, *p;
	int depth, max_depth, sort_keys;
	struct sl_buf scratch; /* unescaped string bytes, reused */
	struct sl_err *err;
	int failed;
};

static struct jv *parse_value(struct parser *ps);

static size_t off(const struct parser *ps, const unsigned char *at)
{
	return (size_t)(at - ps->s);
}

__attribute__((format(printf, 4, 5))) static void fail(struct parser *ps, int code,
						       const unsigned char *at,
						       const char *fmt, ...)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sl_err_set(ps->err, code, "json: %s at byte %zu", what, off(ps, at));
}

static void fail_char(struct parser *ps, const char *ctx)
{
	if (ps->p >= ps->end) {
		fail(ps, SL_EPARSE, ps->p, "unexpected end of input %s", ctx);
		return;
	}
	unsigned c = *ps->p;
	if (c >= 0x21 && c < 0x7f)
		fail(ps, SL_EPARSE, ps->p, "unexpected character '%c' %s", c, ctx);
	else
		fail(ps, SL_EPARSE, ps->p, "unexpected byte 0x%02x %s", c, ctx);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

static int lit(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, word, n)) {
		ps->p += n;
		return 1;
	}
	fail(ps, SL_EPARSE, ps->p, "invalid literal (expected '%s')", word);
	return 0;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct sl_buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sl_buf_add(b, u, n);
}

/* Parses a \uXXXX escape (p at the backslash), pairing surrogates. */
static int parse_uescape(struct parser *ps, struct sl_buf *b)
{
	const unsigned char *at = ps->p;
	unsigned cp, lo;
	if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp)) {
		fail(ps, SL_EPARSE, at, "invalid \\u escape (need 4 hex digits)");
		return -1;
	}
	ps->p += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(ps, SL_EPARSE, at, "lone low surrogate \\u%04x", cp);
		return -1;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
		    hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
			fail(ps, SL_EPARSE, at,
			     "lone high surrogate \\u%04x (not followed by \\udc00-\\udfff)", cp);
			return -1;
		}
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	put_utf8(b, cp);
	return 0;
}

/*
 * Parses a string (p after the opening quote). On success *out and *outn point
 * either into the input (no escapes: zero copies) or into ps->scratch.
 */
static int parse_string(struct parser *ps, const char **out, size_t *outn)
{
	const unsigned char *run = ps->p;
	int escaped = 0;
	size_t bad;

	for (;;) {
		/* Fast scan over plain ASCII. */
		while (ps->p < ps->end && *ps->p >= 0x20 && *ps->p < 0x80 &&
		       *ps->p != '"' && *ps->p != '\\')
			ps->p++;
		if (ps->p >= ps->end) {
			fail(ps, SL_EPARSE, ps->p, "unterminated string");
			return -1;
		}
		unsigned c = *ps->p;
		if (c == '"') {
			if (escaped) {
				sl_buf_add(&ps->scratch, run, (size_t)(ps->p - run));
				*out = ps->scratch.p;
				*outn = ps->scratch.len;
			} else {
				*out = (const char *)run;
				*outn = (size_t)(ps->p - run);
			}
			ps->p++;
			return 0;
		}
		if (c < 0x20) {
			fail(ps, SL_EPARSE, ps->p,
			     "unescaped control character 0x%02x in string", c);
			return -1;
		}
		if (c >= 0x80) {
			size_t k = jv__utf8_seq(ps->p, (size_t)(ps->end - ps->p), &bad);
			if (!k) {
				fail(ps, SL_EPARSE, ps->p, "invalid UTF-8 in string");
				return -1;
			}
			ps->p += k;
			continue;
		}
		/* Backslash: flush the plain run into scratch, then decode. */
		if (!escaped) {
			sl_buf_reset(&ps->scratch);
			escaped = 1;
		}
		sl_buf_add(&ps->scratch, run, (size_t)(ps->p - run));
		if (ps->end - ps->p < 2) {
			fail(ps, SL_EPARSE, ps->p + 1, "unterminated string");
			return -1;
		}
		char e;
		switch (ps->p[1]) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '/': e = '/'; break;
		case 'b': e = '\b'; break;
		case 'f': e = '\f'; break;
		case 'n': e = '\n'; break;
		case 'r': e = '\r'; break;
		case 't': e = '\t'; break;
		case 'u':
			if (parse_uescape(ps, &ps->scratch))
				return -1;
			run = ps->p;
			continue;
		default:
			if (ps->p[1] >= 0x21 && ps->p[1] < 0x7f)
				fail(ps, SL_EPARSE, ps->p, "invalid escape '\\%c'", ps->p[1]);
			else
				fail(ps, SL_EPARSE, ps->p, "invalid escape (byte 0x%02x)",
				     ps->p[1]);
			return -1;
		}
		sl_buf_addc(&ps->scratch, e);
		ps->p += 2;
		run = ps->p;
	}
}

static struct jv *parse_number(struct parser *ps)
{
	const unsigned char *start = ps->p, *p = ps->p, *end = ps->end;
	int is_float = 0, neg = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9') {
		ps->p = p;
		fail_char(ps, "in number (expected a digit)");
		return NULL;
	}
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9') {
			fail(ps, SL_EPARSE, start, "invalid number (leading zero)");
			return NULL;
		}
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && *p == '.') {
		is_float = 1;
		p++;
		if (p >= end || *p < '0' || *p > '9') {
			ps->p = p;
			fail_char(ps, "in number (expected a digit after '.')");
			return NULL;
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		is_float = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9') {
			ps->p = p;
			fail_char(ps, "in number (expected an exponent digit)");
			return NULL;
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;

	if (!is_float) {
		/* Accumulate as a negative number: int64 min has no positive twin. */
		const unsigned char *d = start + neg;
		int64_t v = 0;
		int overflow = 0;
		for (; d < p; d++) {
			int dig = *d - '0';
			if (v < (INT64_MIN + dig) / 10) {
				overflow = 1;
				break;
			}
			v = v * 10 - dig;
		}
		if (!overflow) {
			if (neg)
				return jv_int(v);
			if (v != INT64_MIN)
				return jv_int(-v);
		}
	}

	/* strtod needs a NUL-terminated copy; numbers are short. */
	size_t n = (size_t)(p - start);
	char small[64], *buf = n < sizeof(small) ? small : sl_xmalloc(n + 1);
	memcpy(buf, start, n);
	buf[n] = 0;
	errno = 0;
	double d = strtod(buf, NULL);
	if (buf != small)
		free(buf);
	if (!isfinite(d)) {
		fail(ps, SL_EPARSE, start, "number out of range");
		return NULL;
	}
	return jv_float(d);
}

static struct jv *parse_array(struct parser *ps)
{
	struct jv *a = jv_arr();
	ps->p++; /* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return a;
	}
	for (;;) {
		struct jv *v = parse_value(ps);
		if (!v)
			goto err;
		jv_push(a, v);
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return a;
		}
		fail_char(ps, "in array (expected ',' or ']')");
		goto err;
	}
err:
	jv_unref(a);
	return NULL;
}

static struct jv *parse_object(struct parser *ps)
{
	struct jv *o = jv_obj();
	ps->p++; /* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return o;
	}
	for (;;) {
		const char *k;
		size_t kn;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"') {
			fail_char(ps, "in object (expected a string key)");
			goto err;
		}
		ps->p++;
		if (parse_string(ps, &k, &kn))
			goto err;
		/* An escaped key lives in scratch, which the value's strings
		 * reuse: copy it out. Plain keys point into the input. */
		char *kcopy = NULL;
		if (k == ps->scratch.p) {
			kcopy = sl_xmalloc(kn + 1);
			memcpy(kcopy, k, kn);
			k = kcopy;
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			fail_char(ps, "in object (expected ':')");
			free(kcopy);
			goto err;
		}
		ps->p++;
		struct jv *v = parse_value(ps);
		if (!v) {
			free(kcopy);
			goto err;
		}
		jv__set(o, k, kn, v);
		free(kcopy);
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			if (ps->sort_keys)
				jv__sort_members(o);
			return o;
		}
		fail_char(ps, "in object (expected ',' or '}')");
		goto err;
	}
err:
	jv_unref(o);
	return NULL;
}

static struct jv *parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, SL_EPARSE, ps->p, "unexpected end of input (expected a value)");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[': {
		if (ps->depth >= ps->max_depth) {
			fail(ps, SL_ELIMIT, ps->p, "nesting deeper than %d", ps->max_depth);
			return NULL;
		}
		ps->depth++;
		struct jv *v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	}
	case '"': {
		const char *s;
		size_t n;
		ps->p++;
		if (parse_string(ps, &s, &n))
			return NULL;
		return jv_strn(s, n);
	}
	case 't':
		return lit(ps, "true", 4) ? jv_bool(1) : NULL;
	case 'f':
		return lit(ps, "false", 5) ? jv_bool(0) : NULL;
	case 'n':
		return lit(ps, "null", 4) ? jv_null() : NULL;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		fail_char(ps, "(expected a value)");
		return NULL;
	}
}

struct jv *jv_parse(const char *s, size_t n, const struct jv_parse_opts *o,
		    struct sl_err *err)
{
	struct parser ps = { 0 };
	ps.s = ps.p = (const unsigned char *)(s ? s : "");
	ps.end = ps.s + (s ? n : 0);
	ps.max_depth = o && o->max_depth > 0 ? o->max_depth : JV_DEFAULT_DEPTH;
	if (ps.max_depth > JV_HARD_DEPTH)
		ps.max_depth = JV_HARD_DEPTH;
	ps.sort_keys = o && o->sort_keys;
	ps.err = err;
	sl_buf_init(&ps.scratch);

	struct jv *v = parse_value(&ps);
	if (v) {
		skip_ws(&ps);
		if (ps.p < ps.end) {
			fail_char(&ps, "after the value (trailing data)");
			jv_unref(v);
			v = NULL;
		}
	}
	sl_buf_free(&ps.scratch);
	return v;
}
