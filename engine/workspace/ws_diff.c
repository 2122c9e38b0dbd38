/*
 * ws_diff.c: unified diffs for the unlock review (workspace.md 6): headers
 * `--- locked` / `+++ current`, 3 lines of context, `@@ -a,b +c,d @@` hunks
 * and `\ No newline at end of file` markers. Myers' O(ND) algorithm on the
 * part between the common prefix and suffix; past an edit distance of 1000
 * lines the middle is shown as one replacement, which keeps memory bounded on
 * 1 MiB files that were rewritten wholesale.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_int.h"

#define MAX_D 1000
#define CONTEXT 3

struct line {
	const char *p;
	size_t n; /* including the '\n' when present */
};

static struct line *split(const char *s, size_t n, size_t *count)
{
	size_t cap = 16, k = 0;
	struct line *v = sl_xmalloc(cap * sizeof *v);
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
		if (k == cap)
			v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
		v[k].p = s + i;
		v[k].n = len;
		k++;
		i += len;
	}
	*count = k;
	return v;
}

static int eq(const struct line *a, const struct line *b)
{
	return a->n == b->n && !memcmp(a->p, b->p, a->n);
}

/* ops: '=' (a,b), '-' (a), '+' (b) */
struct op {
	char t;
	size_t a, b;
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static void push(struct ops *o, char t, size_t a, size_t b)
{
	if (o->n == o->cap)
		o->v = sl_xrealloc(o->v, (o->cap = o->cap ? o->cap * 2 : 64) * sizeof *o->v);
	o->v[o->n++] = (struct op){ t, a, b };
}

/* Myers on a[a0..a1) x b[b0..b1); appends ops in order. 0 ok, -1 too far. */
static int myers(const struct line *a, size_t a0, size_t a1, const struct line *b, size_t b0,
		 size_t b1, struct ops *o)
{
	long n = (long)(a1 - a0), m = (long)(b1 - b0);
	long max = n + m;
	if (max > MAX_D)
		max = MAX_D;
	long off = max + 1;
	long *v = sl_xcalloc((size_t)(2 * max + 3), sizeof *v);
	long **trace = sl_xcalloc((size_t)max + 1, sizeof *trace);
	long dfound = -1;
	for (long d = 0; d <= max && dfound < 0; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x;
			if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
				x = v[off + k + 1];
			else
				x = v[off + k - 1] + 1;
			long y = x - k;
			while (x < n && y < m && eq(&a[a0 + (size_t)x], &b[b0 + (size_t)y])) {
				x++;
				y++;
			}
			v[off + k] = x;
			if (x >= n && y >= m) {
				dfound = d;
				break;
			}
		}
		/* keep only diagonals -d..d of this round */
		trace[d] = sl_xmalloc((size_t)(2 * d + 1) * sizeof(long));
		memcpy(trace[d], v + off - d, (size_t)(2 * d + 1) * sizeof(long));
	}
	int rc = 0;
	if (dfound < 0) {
		rc = -1;
	} else {
		/* backtrack into a reversed op list */
		struct ops rev = { 0 };
		long x = n, y = m;
		for (long d = dfound; d > 0; d--) {
			long *pv = trace[d - 1] + (d - 1); /* pv[k] for k in -(d-1)..d-1 */
			long k = x - y;
			long pk = (k == -d || (k != d && pv[k - 1] < pv[k + 1])) ? k + 1 : k - 1;
			long px = pv[pk], py = px - pk;
			while (x > px && y > py) {
				x--;
				y--;
				push(&rev, '=', a0 + (size_t)x, b0 + (size_t)y);
			}
			if (x == px)
				push(&rev, '+', 0, b0 + (size_t)--y);
			else
				push(&rev, '-', a0 + (size_t)--x, 0);
		}
		while (x > 0 && y > 0) {
			x--;
			y--;
			push(&rev, '=', a0 + (size_t)x, b0 + (size_t)y);
		}
		for (size_t i = rev.n; i-- > 0;)
			push(o, rev.v[i].t, rev.v[i].a, rev.v[i].b);
		free(rev.v);
	}
	for (long d = 0; d <= max; d++)
		free(trace[d]);
	free(trace);
	free(v);
	return rc;
}

static void range(struct sl_buf *out, size_t start, size_t len)
{
	size_t beg = start + 1;
	if (len == 1)
		sl_buf_printf(out, "%zu", beg);
	else
		sl_buf_printf(out, "%zu,%zu", len ? beg : beg - 1, len);
}

static void emit_line(struct sl_buf *out, char c, const struct line *l)
{
	sl_buf_addc(out, c);
	sl_buf_add(out, l->p, l->n);
	if (!l->n || l->p[l->n - 1] != '\n')
		sl_buf_adds(out, "\n\\ No newline at end of file\n");
}

void ws__udiff(const char *as, size_t an, const char *bs, size_t bn, struct sl_buf *out)
{
	size_t n, m;
	struct line *a = split(as, an, &n), *b = split(bs, bn, &m);
	size_t pre = 0;
	while (pre < n && pre < m && eq(&a[pre], &b[pre]))
		pre++;
	size_t suf = 0;
	while (suf < n - pre && suf < m - pre && eq(&a[n - 1 - suf], &b[m - 1 - suf]))
		suf++;
	struct ops o = { 0 };
	for (size_t i = 0; i < pre; i++)
		push(&o, '=', i, i);
	if (myers(a, pre, n - suf, b, pre, m - suf, &o)) {
		for (size_t i = pre; i < n - suf; i++)
			push(&o, '-', i, 0);
		for (size_t j = pre; j < m - suf; j++)
			push(&o, '+', 0, j);
	}
	for (size_t i = 0; i < suf; i++)
		push(&o, '=', n - suf + i, m - suf + i);

	sl_buf_adds(out, "--- locked\n+++ current\n");
	size_t i = 0;
	while (i < o.n) {
		while (i < o.n && o.v[i].t == '=')
			i++;
		if (i >= o.n)
			break;
		/* hunk: from CONTEXT before the change to CONTEXT after the last
		 * change that is not separated by more than 2*CONTEXT equal lines */
		size_t start = i >= CONTEXT ? i - CONTEXT : 0, end = i;
		for (;;) {
			while (end < o.n && o.v[end].t != '=')
				end++;
			size_t eqrun = end;
			while (eqrun < o.n && o.v[eqrun].t == '=')
				eqrun++;
			if (eqrun < o.n && eqrun - end <= 2 * CONTEXT)
				end = eqrun;
			else {
				end = end + CONTEXT < o.n ? end + CONTEXT : o.n;
				if (eqrun >= o.n && end > eqrun)
					end = eqrun;
				break;
			}
		}
		/* positions: count lines of a and b before start */
		size_t as0 = 0, bs0 = 0, al = 0, bl = 0;
		for (size_t k = 0; k < start; k++) {
			as0 += o.v[k].t != '+';
			bs0 += o.v[k].t != '-';
		}
		for (size_t k = start; k < end; k++) {
			al += o.v[k].t != '+';
			bl += o.v[k].t != '-';
		}
		sl_buf_adds(out, "@@ -");
		range(out, as0, al);
		sl_buf_adds(out, " +");
		range(out, bs0, bl);
		sl_buf_adds(out, " @@\n");
		for (size_t k = start; k < end; k++) {
			const struct op *p = &o.v[k];
			if (p->t == '=')
				emit_line(out, ' ', &a[p->a]);
			else if (p->t == '-')
				emit_line(out, '-', &a[p->a]);
			else
				emit_line(out, '+', &b[p->b]);
		}
		i = end;
	}
	free(o.v);
	free(a);
	free(b);
}
