/*
 * jv values: constructors, reference counting, arrays, insertion-ordered
 * objects with a hash index for large ones, deep copy, key sorting, equality
 * and the replay subset match (replay.md 5.2).
 *
 * Reference counts are plain integers: a tree belongs to one thread at a
 * time. null, true and false are shared immortal singletons, so building
 * them never allocates. API misuse (pushing onto a non-array, NULL keys)
 * is tolerated: the stolen value is released and nothing else happens.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jv_int.h"

static struct jv jv_null_v = { JV__IMMORTAL, JV_NULL, { 0 } };
static struct jv jv_true_v = { JV__IMMORTAL, JV_BOOL, { .b = 1 } };
static struct jv jv_false_v = { JV__IMMORTAL, JV_BOOL, { .b = 0 } };

/*
 * The hash is seeded so that crafted keys cannot pile into one chain. The
 * seed comes from where ASLR put this object: constant for the process (so
 * no once-guard between threads), different per run, and it needs no
 * syscall, which matters in the sandbox helper under seccomp.
 */
static const char hash_anchor;

static uint32_t hash_seed(void)
{
	uint64_t x = (uint64_t)(uintptr_t)&hash_anchor;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return 2166136261u ^ (uint32_t)x;
}

uint32_t jv__hash(const char *k, size_t n)
{
	uint32_t h = hash_seed();
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 12;
	return h;
}

static void index_rebuild(struct jv *o);

static struct jv *jv_alloc(enum jv_type t)
{
	struct jv *v = sl_xmalloc(sizeof(*v));
	v->refs = 1;
	v->type = (uint8_t)t;
	memset(&v->u, 0, sizeof(v->u));
	return v;
}

struct jv *jv_null(void)
{
	return &jv_null_v;
}

struct jv *jv_bool(int b)
{
	return b ? &jv_true_v : &jv_false_v;
}

struct jv *jv_int(int64_t i)
{
	struct jv *v = jv_alloc(JV_INT);
	v->u.i = i;
	return v;
}

struct jv *jv_float(double d)
{
	if (!isfinite(d))
		return jv_null();
	struct jv *v = jv_alloc(JV_FLOAT);
	v->u.d = d;
	return v;
}

struct jv *jv_strn(const char *s, size_t n)
{
	if (!s)
		return jv_null();
	struct jv *v = sl_xmalloc(sizeof(*v) + n + 1);
	v->refs = 1;
	v->type = JV_STRING;
	v->u.s.n = n;
	v->u.s.p = (char *)(v + 1);
	if (n)
		memcpy(v->u.s.p, s, n);
	v->u.s.p[n] = 0;
	return v;
}

/* NULL becomes JSON null, so optional C strings map naturally. */
struct jv *jv_str(const char *s)
{
	return s ? jv_strn(s, strlen(s)) : jv_null();
}

struct jv *jv_strf(const char *fmt, ...)
{
	struct sl_buf b;
	va_list ap;
	sl_buf_init(&b);
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	struct jv *v = jv_strn(b.p ? b.p : "", b.len);
	sl_buf_free(&b);
	return v;
}

struct jv *jv_arr(void)
{
	return jv_alloc(JV_ARRAY);
}

struct jv *jv_obj(void)
{
	return jv_alloc(JV_OBJECT);
}

struct jv *jv_ref(struct jv *v)
{
	if (v && v->refs != JV__IMMORTAL)
		v->refs++;
	return v;
}

void jv_unref(struct jv *v)
{
	if (!v || v->refs == JV__IMMORTAL || --v->refs > 0)
		return;
	switch (v->type) {
	case JV_ARRAY:
		for (size_t i = 0; i < v->u.a.n; i++)
			jv_unref(v->u.a.items[i]);
		free(v->u.a.items);
		break;
	case JV_OBJECT:
		for (size_t i = 0; i < v->u.o.n; i++) {
			free(v->u.o.m[i].key);
			jv_unref(v->u.o.m[i].val);
		}
		free(v->u.o.m);
		free(v->u.o.idx);
		break;
	default:
		break;
	}
	free(v);
}

struct jv *jv_copy(const struct jv *v)
{
	if (!v)
		return NULL;
	switch (v->type) {
	case JV_NULL:
	case JV_BOOL:
		return (struct jv *)v; /* immortal singletons */
	case JV_INT:
		return jv_int(v->u.i);
	case JV_FLOAT:
		return jv_float(v->u.d);
	case JV_STRING:
		return jv_strn(v->u.s.p, v->u.s.n);
	case JV_ARRAY: {
		struct jv *a = jv_arr();
		if (v->u.a.n) {
			a->u.a.items = sl_xmalloc(v->u.a.n * sizeof(*a->u.a.items));
			a->u.a.cap = v->u.a.n;
		}
		for (size_t i = 0; i < v->u.a.n; i++)
			a->u.a.items[a->u.a.n++] = jv_copy(v->u.a.items[i]);
		return a;
	}
	case JV_OBJECT: {
		/* Keys are unique already: copy members and hashes directly. */
		struct jv *o = jv_obj();
		size_t n = v->u.o.n;
		if (n) {
			o->u.o.m = sl_xmalloc(n * sizeof(*o->u.o.m));
			o->u.o.cap = n;
		}
		for (size_t i = 0; i < n; i++) {
			const struct jv_member *m = &v->u.o.m[i];
			struct jv_member *d = &o->u.o.m[i];
			d->key = sl_xmalloc(m->klen + 1);
			memcpy(d->key, m->key, m->klen + 1);
			d->klen = m->klen;
			d->hash = m->hash;
			d->val = jv_copy(m->val);
		}
		o->u.o.n = n;
		index_rebuild(o);
		return o;
	}
	}
	return jv_null();
}

enum jv_type jv_type(const struct jv *v)
{
	return v ? (enum jv_type)v->type : JV_NULL;
}

int jv_is(const struct jv *v, enum jv_type t)
{
	return v && v->type == t;
}

int jv_bool_val(const struct jv *v)
{
	return v && v->type == JV_BOOL && v->u.b;
}

int64_t jv_int_val(const struct jv *v)
{
	if (!v)
		return 0;
	if (v->type == JV_INT)
		return v->u.i;
	if (v->type == JV_FLOAT) {
		/* Saturate: casting an out-of-range double is undefined. */
		double d = v->u.d;
		if (d != d)
			return 0;
		if (d >= 9223372036854775808.0)
			return INT64_MAX;
		if (d <= -9223372036854775808.0)
			return INT64_MIN;
		return (int64_t)d;
	}
	return 0;
}

double jv_num_val(const struct jv *v)
{
	if (!v)
		return 0;
	if (v->type == JV_INT)
		return (double)v->u.i;
	if (v->type == JV_FLOAT)
		return v->u.d;
	return 0;
}

const char *jv_str_val(const struct jv *v)
{
	return v && v->type == JV_STRING ? v->u.s.p : NULL;
}

size_t jv_str_len(const struct jv *v)
{
	return v && v->type == JV_STRING ? v->u.s.n : 0;
}

size_t jv_len(const struct jv *v)
{
	if (!v)
		return 0;
	switch (v->type) {
	case JV_ARRAY:
		return v->u.a.n;
	case JV_OBJECT:
		return v->u.o.n;
	case JV_STRING:
		return v->u.s.n;
	default:
		return 0;
	}
}

struct jv *jv_at(const struct jv *a, size_t i)
{
	if (!a || a->type != JV_ARRAY || i >= a->u.a.n)
		return NULL;
	return a->u.a.items[i];
}

void jv_push(struct jv *a, struct jv *item)
{
	if (!item)
		item = jv_null();
	if (!a || a->type != JV_ARRAY || a == item) {
		jv_unref(item);
		return;
	}
	if (a->u.a.n == a->u.a.cap) {
		size_t cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
		a->u.a.items = sl_xrealloc(a->u.a.items, cap * sizeof(*a->u.a.items));
		a->u.a.cap = cap;
	}
	a->u.a.items[a->u.a.n++] = item;
}

/* ---- objects ---- */

static void index_rebuild(struct jv *o)
{
	if (o->u.o.n <= JV__INDEX_MIN) {
		free(o->u.o.idx);
		o->u.o.idx = NULL;
		o->u.o.idx_cap = 0;
		return;
	}
	size_t cap = o->u.o.idx_cap ? o->u.o.idx_cap : 32;
	while (cap < o->u.o.n * 2)
		cap *= 2;
	if (cap != o->u.o.idx_cap) {
		free(o->u.o.idx);
		o->u.o.idx = sl_xmalloc(cap * sizeof(uint32_t));
		o->u.o.idx_cap = cap;
	}
	memset(o->u.o.idx, 0, cap * sizeof(uint32_t));
	for (size_t i = 0; i < o->u.o.n; i++) {
		size_t s = o->u.o.m[i].hash & (cap - 1);
		while (o->u.o.idx[s])
			s = (s + 1) & (cap - 1);
		o->u.o.idx[s] = (uint32_t)(i + 1);
	}
}

long jv__find(const struct jv *o, const char *k, size_t n, uint32_t h)
{
	const struct jv_member *m = o->u.o.m;
	if (!o->u.o.idx) {
		for (size_t i = 0; i < o->u.o.n; i++)
			if (m[i].hash == h && m[i].klen == n && !memcmp(m[i].key, k, n))
				return (long)i;
		return -1;
	}
	size_t mask = o->u.o.idx_cap - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		uint32_t e = o->u.o.idx[s];
		if (!e)
			return -1;
		const struct jv_member *c = &m[e - 1];
		if (c->hash == h && c->klen == n && !memcmp(c->key, k, n))
			return (long)(e - 1);
	}
}

void jv__set(struct jv *o, const char *k, size_t n, struct jv *val)
{
	uint32_t h = jv__hash(k, n);
	long at = jv__find(o, k, n, h);
	if (at >= 0) {
		jv_unref(o->u.o.m[at].val);
		o->u.o.m[at].val = val;
		return;
	}
	if (o->u.o.n == o->u.o.cap) {
		size_t cap = o->u.o.cap ? o->u.o.cap * 2 : 4;
		o->u.o.m = sl_xrealloc(o->u.o.m, cap * sizeof(*o->u.o.m));
		o->u.o.cap = cap;
	}
	struct jv_member *m = &o->u.o.m[o->u.o.n++];
	m->key = sl_xmalloc(n + 1);
	if (n)
		memcpy(m->key, k, n);
	m->key[n] = 0;
	m->klen = n;
	m->hash = h;
	m->val = val;
	if (o->u.o.n <= JV__INDEX_MIN)
		return;
	if (!o->u.o.idx || o->u.o.n * 2 > o->u.o.idx_cap) {
		index_rebuild(o);
		return;
	}
	size_t mask = o->u.o.idx_cap - 1, s = h & mask;
	while (o->u.o.idx[s])
		s = (s + 1) & mask;
	o->u.o.idx[s] = (uint32_t)o->u.o.n;
}

void jv_setn(struct jv *o, const char *key, size_t klen, struct jv *val)
{
	if (!val)
		val = jv_null();
	if (!o || o->type != JV_OBJECT || !key || o == val) {
		jv_unref(val);
		return;
	}
	jv__set(o, key, klen, val);
}

void jv_set(struct jv *o, const char *key, struct jv *val)
{
	jv_setn(o, key, key ? strlen(key) : 0, val);
}

struct jv *jv_getn(const struct jv *o, const char *key, size_t klen)
{
	if (!o || o->type != JV_OBJECT || !key || !o->u.o.n)
		return NULL;
	long at = jv__find(o, key, klen, jv__hash(key, klen));
	return at >= 0 ? o->u.o.m[at].val : NULL;
}

struct jv *jv_get(const struct jv *o, const char *key)
{
	return key ? jv_getn(o, key, strlen(key)) : NULL;
}

const char *jv_key_at(const struct jv *o, size_t i)
{
	if (!o || o->type != JV_OBJECT || i >= o->u.o.n)
		return NULL;
	return o->u.o.m[i].key;
}

size_t jv_key_len(const struct jv *o, size_t i)
{
	if (!o || o->type != JV_OBJECT || i >= o->u.o.n)
		return 0;
	return o->u.o.m[i].klen;
}

struct jv *jv_val_at(const struct jv *o, size_t i)
{
	if (!o || o->type != JV_OBJECT || i >= o->u.o.n)
		return NULL;
	return o->u.o.m[i].val;
}

int jv_del(struct jv *o, const char *key)
{
	if (!o || o->type != JV_OBJECT || !key)
		return 0;
	size_t n = strlen(key);
	long at = jv__find(o, key, n, jv__hash(key, n));
	if (at < 0)
		return 0;
	free(o->u.o.m[at].key);
	jv_unref(o->u.o.m[at].val);
	memmove(&o->u.o.m[at], &o->u.o.m[at + 1],
		(o->u.o.n - (size_t)at - 1) * sizeof(*o->u.o.m));
	o->u.o.n--;
	/* Indices after the hole shifted; deletion is rare, so rebuild. */
	index_rebuild(o);
	return 1;
}

const char *jv_get_str(const struct jv *o, const char *key)
{
	return jv_str_val(jv_get(o, key));
}

int64_t jv_get_int(const struct jv *o, const char *key, int64_t dflt)
{
	struct jv *v = jv_get(o, key);
	return jv_is(v, JV_INT) ? v->u.i : dflt;
}

int jv_get_bool(const struct jv *o, const char *key)
{
	return jv_bool_val(jv_get(o, key));
}

/* ---- sorting ---- */

int jv__keycmp(const struct jv_member *a, const struct jv_member *b)
{
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = n ? memcmp(a->key, b->key, n) : 0;
	if (c)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

static int member_cmp(const void *a, const void *b)
{
	return jv__keycmp(a, b);
}

void jv__sort_members(struct jv *o)
{
	size_t i;
	for (i = 1; i < o->u.o.n; i++)
		if (jv__keycmp(&o->u.o.m[i - 1], &o->u.o.m[i]) > 0)
			break;
	if (i >= o->u.o.n)
		return; /* already sorted: the common case for canonical input */
	qsort(o->u.o.m, o->u.o.n, sizeof(*o->u.o.m), member_cmp);
	if (o->u.o.idx)
		index_rebuild(o);
}

void jv_sort_keys(struct jv *v)
{
	if (!v)
		return;
	if (v->type == JV_ARRAY) {
		for (size_t i = 0; i < v->u.a.n; i++)
			jv_sort_keys(v->u.a.items[i]);
	} else if (v->type == JV_OBJECT) {
		jv__sort_members(v);
		for (size_t i = 0; i < v->u.o.n; i++)
			jv_sort_keys(v->u.o.m[i].val);
	}
}

/* ---- comparison ---- */

/* Exact comparison of an integer with a double (no rounding through
 * either type): 2^53 + 1 is not equal to 2^53 as a double. */
static int int_eq_float(int64_t i, double d)
{
	if (d != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		return 0;
	if (d != floor(d))
		return 0;
	return (int64_t)d == i;
}

int jv_equal(const struct jv *a, const struct jv *b)
{
	if (a == b)
		return 1;
	if (!a || !b)
		return 0;
	if (a->type != b->type) {
		if (a->type == JV_INT && b->type == JV_FLOAT)
			return int_eq_float(a->u.i, b->u.d);
		if (a->type == JV_FLOAT && b->type == JV_INT)
			return int_eq_float(b->u.i, a->u.d);
		return 0;
	}
	switch (a->type) {
	case JV_NULL:
		return 1;
	case JV_BOOL:
		return !a->u.b == !b->u.b;
	case JV_INT:
		return a->u.i == b->u.i;
	case JV_FLOAT:
		return a->u.d == b->u.d;
	case JV_STRING:
		return a->u.s.n == b->u.s.n && !memcmp(a->u.s.p, b->u.s.p, a->u.s.n);
	case JV_ARRAY:
		if (a->u.a.n != b->u.a.n)
			return 0;
		for (size_t i = 0; i < a->u.a.n; i++)
			if (!jv_equal(a->u.a.items[i], b->u.a.items[i]))
				return 0;
		return 1;
	case JV_OBJECT:
		if (a->u.o.n != b->u.o.n)
			return 0;
		for (size_t i = 0; i < a->u.o.n; i++) {
			const struct jv_member *m = &a->u.o.m[i];
			long at = jv__find(b, m->key, m->klen, m->hash);
			if (at < 0 || !jv_equal(m->val, b->u.o.m[at].val))
				return 0;
		}
		return 1;
	}
	return 0;
}

int jv_subset(const struct jv *expected, const struct jv *actual)
{
	if (!expected || !actual || expected->type != JV_OBJECT ||
	    actual->type != JV_OBJECT)
		return jv_equal(expected, actual);
	for (size_t i = 0; i < expected->u.o.n; i++) {
		const struct jv_member *m = &expected->u.o.m[i];
		long at = jv__find(actual, m->key, m->klen, m->hash);
		if (at < 0 || !jv_subset(m->val, actual->u.o.m[at].val))
			return 0;
	}
	return 1;
}
