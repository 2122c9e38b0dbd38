/* Error codes, messages and the growable buffer: the leaves every module uses. */
#include "sl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_err_set(struct sl_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

void sl_err_prefix(struct sl_err *e, const char *fmt, ...)
{
	if (!e)
		return;
	char pre[256], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
}

const char *sl_strerror(int code)
{
	switch (code) {
#define XX(name, val, text)                                                    \
	case val:                                                              \
		return text;
		SL_ERR_MAP(XX)
#undef XX
	}
	return "unknown error";
}

const char *sl_errname(int code)
{
	switch (code) {
#define XX(name, val, text)                                                    \
	case val:                                                              \
		return "SL_" #name;
		SL_ERR_MAP(XX)
#undef XX
	}
	return "SL_UNKNOWN";
}

void *sl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("silo: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *sl_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p) {
		fputs("silo: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *sl_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("silo: out of memory\n", stderr);
		abort();
	}
	return q;
}

char *sl_xstrdup(const char *s)
{
	return sl_xstrndup(s, strlen(s));
}

char *sl_xstrndup(const char *s, size_t n)
{
	char *p = sl_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *sl_xasprintf(const char *fmt, ...)
{
	struct sl_buf b;
	va_list ap;
	sl_buf_init(&b);
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return sl_buf_steal(&b);
}

void sl_buf_init(struct sl_buf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

void sl_buf_free(struct sl_buf *b)
{
	free(b->p);
	sl_buf_init(b);
}

void sl_buf_reset(struct sl_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

void sl_buf_reserve(struct sl_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = sl_xrealloc(b->p, cap);
	b->cap = cap;
}

void sl_buf_add(struct sl_buf *b, const void *p, size_t n)
{
	sl_buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void sl_buf_adds(struct sl_buf *b, const char *s)
{
	sl_buf_add(b, s, strlen(s));
}

void sl_buf_addc(struct sl_buf *b, char c)
{
	sl_buf_add(b, &c, 1);
}

void sl_buf_vprintf(struct sl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	sl_buf_reserve(b, (size_t)n);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *sl_buf_steal(struct sl_buf *b)
{
	char *p = b->p;
	if (!p)
		p = sl_xstrdup("");
	sl_buf_init(b);
	return p;
}
