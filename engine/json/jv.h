/*
 * jv: the engine's JSON values and its own small codec. Every structured
 * thing the engine passes around (LLM requests and responses, tool inputs,
 * events, journal bodies, helper frames) is a jv tree.
 *
 * Why not lua-cjson: it cannot tell [] from {}, cannot sort keys and escapes
 * '/', and the journal needs exact round trips and canonical bytes
 * (replay.md 2.4, decisions 4). lua-cjson is not used by the engine.
 *
 * Values are reference counted; objects keep insertion order (records are
 * built in the spec's field order); free-form values get their keys sorted
 * with jv_sort_keys() where they enter the engine. Strings are byte strings
 * with a length (may hold NUL); the parser checks UTF-8.
 */
#ifndef JV_H
#define JV_H

#include <stddef.h>
#include <stdint.h>

#include "../base/sl.h"

enum jv_type { JV_NULL, JV_BOOL, JV_INT, JV_FLOAT, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv;

/* Constructors return a new reference (refcount 1). */
struct jv *jv_null(void);
struct jv *jv_bool(int b);
struct jv *jv_int(int64_t i);
struct jv *jv_float(double d); /* non-finite becomes null */
struct jv *jv_str(const char *s);
struct jv *jv_strn(const char *s, size_t n);
struct jv *jv_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct jv *jv_arr(void);
struct jv *jv_obj(void);

struct jv *jv_ref(struct jv *v);  /* +1, returns v; NULL-safe */
void jv_unref(struct jv *v);      /* -1, frees at 0; NULL-safe */
struct jv *jv_copy(const struct jv *v); /* deep copy */

enum jv_type jv_type(const struct jv *v);
int jv_is(const struct jv *v, enum jv_type t); /* NULL-safe, false for NULL */
int jv_bool_val(const struct jv *v);  /* false unless JV_BOOL true */
int64_t jv_int_val(const struct jv *v); /* ints; floats truncated; else 0 */
double jv_num_val(const struct jv *v);  /* ints and floats; else 0 */
const char *jv_str_val(const struct jv *v); /* NULL unless string */
size_t jv_str_len(const struct jv *v);

/* Arrays. jv_push steals item. */
size_t jv_len(const struct jv *v); /* array items, object members, string bytes */
struct jv *jv_at(const struct jv *a, size_t i); /* borrowed, NULL if out of range */
void jv_push(struct jv *a, struct jv *item);

/* Objects. jv_set steals val and replaces an existing key in place. */
void jv_set(struct jv *o, const char *key, struct jv *val);
void jv_setn(struct jv *o, const char *key, size_t klen, struct jv *val);
struct jv *jv_get(const struct jv *o, const char *key); /* borrowed or NULL */
struct jv *jv_getn(const struct jv *o, const char *key, size_t klen);
const char *jv_key_at(const struct jv *o, size_t i);
size_t jv_key_len(const struct jv *o, size_t i); /* keys may hold NUL bytes */
struct jv *jv_val_at(const struct jv *o, size_t i); /* borrowed */
int jv_del(struct jv *o, const char *key); /* 1 if removed */
/* Convenience getters: NULL / dflt when missing or of another type. */
const char *jv_get_str(const struct jv *o, const char *key);
int64_t jv_get_int(const struct jv *o, const char *key, int64_t dflt);
int jv_get_bool(const struct jv *o, const char *key); /* true only if true */

/* Sorts object keys bytewise, recursively (free-form values). */
void jv_sort_keys(struct jv *v);

/* Equality by JSON value; numbers compare by numeric value (1 == 1.0). */
int jv_equal(const struct jv *a, const struct jv *b);
/* replay.md 5.2 subset match: objects need every expected key (recursively),
 * anything else must be equal. */
int jv_subset(const struct jv *expected, const struct jv *actual);

/* Parsing. Limits: depth 128 by default; whole input must be one value
 * (surrounding whitespace allowed). NULL + err (with byte offset) on error. */
struct jv_parse_opts {
	int max_depth;    /* 0 = 128 */
	int sort_keys;    /* sort object keys as parsed */
};
struct jv *jv_parse(const char *s, size_t n, const struct jv_parse_opts *o,
		    struct sl_err *err);

/* Emission: compact, replay.md 2.4 byte rules (escapes, float format).
 * JV_EMIT_SORTED sorts object keys at every level while emitting;
 * JV_EMIT_PRETTY indents by 2 (run files). */
enum { JV_EMIT_SORTED = 1, JV_EMIT_PRETTY = 2 };
void jv_emit(const struct jv *v, struct sl_buf *out, unsigned flags);
char *jv_to_string(const struct jv *v, unsigned flags); /* malloc'd */
/* Shortest %.{p}g that round-trips, per replay.md 2.4 (5.0, 0.81, 1e-7, 1e16). */
void jv_fmt_double(double d, char out[32]);
/* Appends s as a JSON string literal with the replay.md 2.4 escapes. */
void jv_emit_string(struct sl_buf *out, const char *s, size_t n);

/* UTF-8 helpers. */
int jv_utf8_valid(const char *s, size_t n);
/* Lossy decode: invalid sequences become U+FFFD. Appends to out. */
void jv_utf8_lossy(struct sl_buf *out, const char *s, size_t n);

/* Base64 (standard alphabet, padded). Decode rejects bad input with a
 * message "invalid base64: <detail>". */
void jv_b64_encode(struct sl_buf *out, const void *p, size_t n);
int jv_b64_decode(struct sl_buf *out, const char *s, size_t n, struct sl_err *err);

#endif
