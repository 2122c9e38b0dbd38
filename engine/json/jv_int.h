/*
 * jv internals shared by the value code (jv.c), the parser (jv_parse.c) and
 * the emitter (jv_emit.c). Nothing outside engine/json includes this.
 *
 * A string value is one allocation: the struct followed by its bytes and a
 * NUL. Objects keep members in insertion order in a flat array; once an
 * object grows past JV__INDEX_MIN members it also gets an open-addressing
 * hash index (slots hold member index + 1, 0 = empty) so lookups stay O(1).
 */
#ifndef JV_INT_H
#define JV_INT_H

#include "jv.h"

#define JV__INDEX_MIN 8
#define JV__IMMORTAL INT32_MAX

struct jv_member {
	char *key; /* owned, NUL-terminated, may contain NUL bytes */
	size_t klen;
	uint32_t hash;
	struct jv *val; /* owned reference */
};

struct jv {
	int32_t refs; /* JV__IMMORTAL for the shared null/true/false */
	uint8_t type; /* enum jv_type */
	union {
		int b;
		int64_t i;
		double d;
		struct {
			size_t n;
			char *p; /* points into the same allocation */
		} s;
		struct {
			struct jv **items; /* owned references */
			size_t n, cap;
		} a;
		struct {
			struct jv_member *m; /* owned */
			size_t n, cap;
			uint32_t *idx; /* owned or NULL; idx_cap slots */
			size_t idx_cap;
		} o;
	} u;
};

uint32_t jv__hash(const char *k, size_t n);
/* Looks a key up; returns the member index or -1. */
long jv__find(const struct jv *o, const char *k, size_t n, uint32_t h);
/* Adds or replaces (steals val; key is copied). */
void jv__set(struct jv *o, const char *k, size_t n, struct jv *val);
/* Bytewise key order, shorter first on a common prefix. */
int jv__keycmp(const struct jv_member *a, const struct jv_member *b);
/* Sorts one object's members (not recursive) and rebuilds its index. */
void jv__sort_members(struct jv *o);

/* One UTF-8 sequence at s (n > 0 bytes available). Returns its length
 * (1..4) when valid; otherwise 0 and *bad = length of the maximal invalid
 * subpart (Unicode 3.9 U+FFFD substitution), at least 1. */
size_t jv__utf8_seq(const unsigned char *s, size_t n, size_t *bad);

#endif
