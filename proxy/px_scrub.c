/*
 * px_scrub: keeps real secret values out of what the sandbox receives. An
 * upstream may reflect the credential the proxy added (an echo endpoint, a
 * debug page, an error that quotes the request); every occurrence of a
 * secret in a response is overwritten in place by a replacement of the
 * same length, so Content-Length and chunk sizes stay true. Responses
 * stream, so a secret may arrive split across reads: the bytes at the end
 * of what has arrived that could begin a secret are held back until more
 * arrive or the body ends. Pure functions on byte buffers, for the fuzzers.
 */
#include <string.h>

#include "px_http.h"

/* Start of the shortest tail of p[0..n) that is a proper prefix of pat. */
static size_t tail_prefix(const char *p, size_t n, const struct px_scrub_pat *pat)
{
	size_t from = n >= pat->len ? n - pat->len + 1 : 0;
	for (size_t j = from; j < n; j++) {
		const char *q = memchr(p + j, pat->from[0], n - j);
		if (!q)
			break;
		j = (size_t)(q - p);
		if (!memcmp(q, pat->from, n - j))
			return j;
	}
	return n;
}

size_t px_scrub(const struct px_scrub *s, char *p, size_t n, int last)
{
	size_t keep = n;
	for (size_t i = 0; s && i < s->n; i++) {
		const struct px_scrub_pat *pat = &s->pats[i];
		if (!pat->len)
			continue;
		for (char *q = p; (q = memmem(q, n - (size_t)(q - p), pat->from, pat->len));
		     q += pat->len)
			memcpy(q, pat->to, pat->len);
	}
	if (last)
		return n;
	for (size_t i = 0; s && i < s->n; i++) {
		if (!s->pats[i].len)
			continue;
		size_t t = tail_prefix(p, n, &s->pats[i]);
		if (t < keep)
			keep = t;
	}
	return keep;
}
