/*
 * Emitter with the journal's byte rules (replay.md 2.4): compact output,
 * minimal string escapes (only '"', '\\', \b \f \n \r \t and \u00xx for other
 * control bytes; '/' and non-ASCII stay raw), integers in decimal, floats as
 * the shortest %.{p}g that reads back to the same double with a normalised
 * exponent. Deterministic runs therefore export byte-identical journals.
 * Invalid UTF-8 in a string (possible only via jv_strn on raw bytes) is
 * written as U+FFFD, so what we emit always parses.
 * JV_EMIT_SORTED orders keys bytewise without touching the tree;
 * JV_EMIT_PRETTY indents by two spaces for human-read run files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jv_int.h"

/* 0: copy raw; 'u': \u00xx; anything else: the letter after '\\'. */
static const char esc_tab[256] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	['"'] = '"', ['\\'] = '\\',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
};

/*
 * Valid UTF-8 is copied raw. Invalid sequences can only come from strings
 * built with jv_strn() over raw bytes; they are written as U+FFFD (one per
 * maximal invalid subpart, as jv_utf8_lossy) so the output is always JSON
 * our parser accepts.
 */
void jv_emit_string(struct sl_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t run = 0, bad;

	if (!s) {
		s = "";
		n = 0;
	}
	p = (const unsigned char *)s;
	sl_buf_reserve(out, n + 2);
	out->p[out->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		char e = esc_tab[c];
		if (!e && c < 0x80)
			continue;
		if (c >= 0x80) {
			size_t k = jv__utf8_seq(p + i, n - i, &bad);
			if (k) {
				i += k - 1;
				continue;
			}
			sl_buf_add(out, s + run, i - run);
			sl_buf_add(out, "\xef\xbf\xbd", 3);
			i += bad - 1;
			run = i + 1;
			continue;
		}
		sl_buf_add(out, s + run, i - run);
		run = i + 1;
		if (e == 'u') {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			sl_buf_add(out, u, 6);
		} else {
			char b[2] = { '\\', e };
			sl_buf_add(out, b, 2);
		}
	}
	sl_buf_add(out, s + run, n - run);
	sl_buf_addc(out, '"');
}

/* Rewrites "1e-07" as "1e-7" and "1e+16" as "1e16" in place. */
static void fix_exponent(char *s)
{
	char *e = strchr(s, 'e');
	if (!e)
		return;
	char *w = e + 1, *r = e + 1;
	if (*r == '+')
		r++;
	else if (*r == '-')
		*w++ = *r++;
	while (*r == '0' && r[1])
		r++;
	memmove(w, r, strlen(r) + 1);
}

void jv_fmt_double(double d, char out[32])
{
	if (!isfinite(d)) {
		strcpy(out, "null"); /* never written by the engine; see jv_float */
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(out, 32, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			break;
	}
	fix_exponent(out);
	if (!strchr(out, '.') && !strchr(out, 'e'))
		strcat(out, ".0");
}

static void indent(struct sl_buf *out, int level)
{
	sl_buf_reserve(out, 1 + (size_t)level * 2);
	out->p[out->len++] = '\n';
	memset(out->p + out->len, ' ', (size_t)level * 2);
	out->len += (size_t)level * 2;
	out->p[out->len] = 0;
}

static void emit_value(const struct jv *v, struct sl_buf *out, unsigned flags, int level);

static int cmp_member_ptr(const void *a, const void *b)
{
	return jv__keycmp(*(const struct jv_member *const *)a,
			  *(const struct jv_member *const *)b);
}

static void emit_object(const struct jv *v, struct sl_buf *out, unsigned flags, int level)
{
	size_t n = v->u.o.n;
	const struct jv_member *stack_order[16];
	const struct jv_member **order = NULL;

	if (!n) {
		sl_buf_add(out, "{}", 2);
		return;
	}
	if (flags & JV_EMIT_SORTED) {
		size_t i;
		for (i = 1; i < n; i++)
			if (jv__keycmp(&v->u.o.m[i - 1], &v->u.o.m[i]) > 0)
				break;
		if (i < n) { /* not already sorted: sort pointers, not the tree */
			order = n <= 16 ? stack_order : sl_xmalloc(n * sizeof(*order));
			for (i = 0; i < n; i++)
				order[i] = &v->u.o.m[i];
			qsort(order, n, sizeof(*order), cmp_member_ptr);
		}
	}
	sl_buf_addc(out, '{');
	for (size_t i = 0; i < n; i++) {
		const struct jv_member *m = order ? order[i] : &v->u.o.m[i];
		if (i)
			sl_buf_addc(out, ',');
		if (flags & JV_EMIT_PRETTY)
			indent(out, level + 1);
		jv_emit_string(out, m->key, m->klen);
		if (flags & JV_EMIT_PRETTY)
			sl_buf_add(out, ": ", 2);
		else
			sl_buf_addc(out, ':');
		emit_value(m->val, out, flags, level + 1);
	}
	if (flags & JV_EMIT_PRETTY)
		indent(out, level);
	sl_buf_addc(out, '}');
	if (order && order != stack_order)
		free(order);
}

static void emit_value(const struct jv *v, struct sl_buf *out, unsigned flags, int level)
{
	char num[32];
	if (!v) {
		sl_buf_add(out, "null", 4);
		return;
	}
	switch (v->type) {
	case JV_NULL:
		sl_buf_add(out, "null", 4);
		break;
	case JV_BOOL:
		if (v->u.b)
			sl_buf_add(out, "true", 4);
		else
			sl_buf_add(out, "false", 5);
		break;
	case JV_INT: {
		/* Hand-rolled: snprintf is a measurable share of journal writes. */
		char *e = num + sizeof(num), *p = e;
		uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v->u.i < 0)
			*--p = '-';
		sl_buf_add(out, p, (size_t)(e - p));
		break;
	}
	case JV_FLOAT:
		jv_fmt_double(v->u.d, num);
		sl_buf_adds(out, num);
		break;
	case JV_STRING:
		jv_emit_string(out, v->u.s.p, v->u.s.n);
		break;
	case JV_ARRAY:
		if (!v->u.a.n) {
			sl_buf_add(out, "[]", 2);
			break;
		}
		sl_buf_addc(out, '[');
		for (size_t i = 0; i < v->u.a.n; i++) {
			if (i)
				sl_buf_addc(out, ',');
			if (flags & JV_EMIT_PRETTY)
				indent(out, level + 1);
			emit_value(v->u.a.items[i], out, flags, level + 1);
		}
		if (flags & JV_EMIT_PRETTY)
			indent(out, level);
		sl_buf_addc(out, ']');
		break;
	case JV_OBJECT:
		emit_object(v, out, flags, level);
		break;
	}
}

void jv_emit(const struct jv *v, struct sl_buf *out, unsigned flags)
{
	emit_value(v, out, flags, 0);
}

char *jv_to_string(const struct jv *v, unsigned flags)
{
	struct sl_buf b;
	sl_buf_init(&b);
	emit_value(v, &b, flags, 0);
	return sl_buf_steal(&b);
}
