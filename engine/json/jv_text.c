/*
 * Text helpers next to the codec: strict UTF-8 validation (Unicode table
 * 3-7: no overlongs, no surrogates, nothing above U+10FFFF), lossy decoding
 * that replaces each maximal invalid subpart with one U+FFFD (the Unicode
 * and WHATWG practice, so two implementations agree on the output), and
 * standard padded base64.
 */
#include <string.h>

#include "jv_int.h"

size_t jv__utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f; /* D800..DFFF are surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* cap at U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n) {
			*bad = i;
			return 0;
		}
		unsigned b = s[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) {
			*bad = i;
			return 0;
		}
	}
	return need + 1;
}

int jv_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad;

	while (i < n) {
		/* ASCII runs, eight bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = jv__utf8_seq(p + i, n - i, &bad);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

void jv_utf8_lossy(struct sl_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, bad;

	sl_buf_reserve(out, n);
	if (!n) {
		out->p[out->len] = 0;
		return;
	}
	while (i < n) {
		size_t k = p[i] < 0x80 ? 1 : jv__utf8_seq(p + i, n - i, &bad);
		if (k) {
			i += k;
			continue;
		}
		sl_buf_add(out, s + run, i - run);
		sl_buf_add(out, "\xef\xbf\xbd", 3);
		i += bad;
		run = i;
	}
	sl_buf_add(out, s + run, n - run);
}

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void jv_b64_encode(struct sl_buf *out, const void *ptr, size_t n)
{
	const unsigned char *p = ptr;
	sl_buf_reserve(out, (n + 2) / 3 * 4);
	char *o = out->p + out->len;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = b64_chars[(v >> 6) & 63];
		*o++ = b64_chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = b64_chars[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len = (size_t)(o - out->p);
	out->p[out->len] = 0;
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict: length a multiple of 4, padding only at the very end, no
 * whitespace, unused low bits zero (so every byte string has exactly one
 * accepted encoding). On error out is left as it was. */
int jv_b64_decode(struct sl_buf *out, const char *s, size_t n, struct sl_err *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = out->len;

	if (n % 4)
		return sl_err_set(err, SL_EPARSE,
				  "invalid base64: length %zu is not a multiple of 4", n);
	sl_buf_reserve(out, n / 4 * 3);
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = p[i + j];
			if (c == '=' && i + 4 == n && j >= 2 &&
			    (j == 3 || p[i + 3] == '=')) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_val(c);
			if (v[j] < 0 || pad) {
				out->len = start;
				out->p[start] = 0;
				if (c == '=')
					return sl_err_set(err, SL_EPARSE,
							  "invalid base64: padding in the middle at offset %zu",
							  i + j);
				if (c >= 0x21 && c < 0x7f)
					return sl_err_set(err, SL_EPARSE,
							  "invalid base64: unexpected character '%c' at offset %zu",
							  c, i + j);
				return sl_err_set(err, SL_EPARSE,
						  "invalid base64: unexpected byte 0x%02x at offset %zu",
						  c, i + j);
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))) {
			out->len = start;
			out->p[start] = 0;
			return sl_err_set(err, SL_EPARSE,
					  "invalid base64: non-zero padding bits at offset %zu", i);
		}
		char *o = out->p + out->len;
		o[0] = (char)(w >> 16);
		if (pad < 2)
			o[1] = (char)(w >> 8);
		if (pad < 1)
			o[2] = (char)w;
		out->len += (size_t)(3 - pad);
	}
	out->p[out->len] = 0;
	return 0;
}
