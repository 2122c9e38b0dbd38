/*
 * sb_proto: the pure part of the helper protocol (protocol.md C) on the
 * harness side — request framing, splitting the helper's byte stream into
 * capped lines, and parsing and schema-checking every frame the helper sends.
 * The helper is untrusted: everything here is written to reject, never to
 * crash, and tests/fuzz/fuzz_helper_frame.c drives it with arbitrary bytes.
 * No I/O here; sb_conn.c owns the socket.
 */
#include <stdlib.h>
#include <string.h>

#include "sandbox/sb_int.h"

static const struct {
	const char *engine, *wire, *payload;
	int pub;
} ops[] = {
#define XX(name, eng, wire, payload, pub) [SL_HOP_##name] = { eng, wire, payload, pub },
	SL_HELPER_OP_MAP(XX)
#undef XX
};

int sb__helper_op(const char *engine_op)
{
	for (size_t i = 0; engine_op && i < SL_ARRAY_LEN(ops); i++)
		if (!strcmp(engine_op, ops[i].engine))
			return (int)i;
	return -1;
}

int sb__helper_op_public(enum sl_helper_op op)
{
	return (unsigned)op < SL_ARRAY_LEN(ops) && ops[op].pub;
}

const char *sb__wire_op(const char *op)
{
	int k = sb__helper_op(op);
	return k < 0 ? NULL : ops[k].wire;
}

void sb__frame_request(struct sl_buf *out, uint64_t id, const char *wire_op,
		       const struct jv *args)
{
	struct jv *o = jv_obj();
	jv_set(o, "id", jv_int((int64_t)id));
	jv_set(o, "op", jv_str(wire_op));
	size_t n = jv_is(args, JV_OBJECT) ? jv_len(args) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = jv_key_at(args, i);
		if (!strcmp(k, "id") || !strcmp(k, "op"))
			continue;
		jv_set(o, k, jv_ref(jv_val_at(args, i)));
	}
	jv_emit(o, out, 0);
	sl_buf_addc(out, '\n');
	jv_unref(o);
}

/* ---- line splitting ---- */

int sb__lines_feed(struct sb_lines *lb, const char *p, size_t n,
		   int (*on_line)(void *ud, const char *line, size_t n), void *ud)
{
	size_t max = lb->max ? lb->max : SB_MAX_LINE;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (lb->b.len + take > max)
			return SL_ELIMIT;
		if (!nl) {
			sl_buf_add(&lb->b, p, take);
			return 0;
		}
		const char *line = p;
		size_t len = take;
		if (lb->b.len) {
			sl_buf_add(&lb->b, p, take);
			line = lb->b.p;
			len = lb->b.len;
		}
		/* blank lines (and a stray '\r') are skipped, protocol C1 */
		size_t k = 0;
		while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
			k++;
		int rc = k == len ? 0 : on_line(ud, line, len);
		sl_buf_reset(&lb->b);
		if (rc)
			return rc;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

void sb__lines_free(struct sb_lines *lb)
{
	sl_buf_free(&lb->b);
}

/* ---- frames ---- */

static int get_id(const struct jv *o, uint64_t *id, struct sl_err *err)
{
	struct jv *v = jv_get(o, "id");
	if (!jv_is(v, JV_INT) || jv_int_val(v) < 0)
		return sl_err_set(err, SL_EPARSE, "helper frame without a valid id");
	*id = (uint64_t)jv_int_val(v);
	return 0;
}

static int parse_chunk(const struct jv *c, struct sb_frame *f, struct sl_err *err)
{
	if (!jv_is(c, JV_OBJECT))
		return sl_err_set(err, SL_EPARSE, "helper chunk is not an object");
	const char *s = jv_get_str(c, "stream");
	if (!s || (strcmp(s, "stdout") && strcmp(s, "stderr")))
		return sl_err_set(err, SL_EPARSE, "helper chunk with a bad stream");
	struct jv *d = jv_get(c, "data_b64");
	if (!jv_is(d, JV_STRING))
		return sl_err_set(err, SL_EPARSE, "helper chunk without data_b64");
	/* cheap bound before decoding: 4 base64 chars per 3 bytes */
	if (jv_str_len(d) > (SB_MAX_CHUNK / 3 + 1) * 4)
		return sl_err_set(err, SL_EPARSE, "helper chunk larger than 64 KiB");
	struct sl_err e2;
	if (jv_b64_decode(&f->data, jv_str_val(d), jv_str_len(d), &e2))
		return sl_err_set(err, SL_EPARSE, "helper chunk: %s", e2.msg);
	if (f->data.len > SB_MAX_CHUNK)
		return sl_err_set(err, SL_EPARSE, "helper chunk larger than 64 KiB");
	strcpy(f->stream, s);
	f->kind = SB_FRAME_CHUNK;
	return 0;
}

static int parse_result(const struct jv *r, struct sb_frame *f, struct sl_err *err)
{
	if (!jv_is(r, JV_OBJECT) || jv_len(r) != 1)
		return sl_err_set(err, SL_EPARSE, "helper result must hold exactly Ok or Err");
	struct jv *ok = jv_get(r, "Ok");
	struct jv *e = jv_get(r, "Err");
	if (ok) {
		if (!jv_is(ok, JV_OBJECT))
			return sl_err_set(err, SL_EPARSE, "helper Ok is not an object");
		const char *p = jv_get_str(ok, "payload");
		if (!p)
			return sl_err_set(err, SL_EPARSE, "helper Ok without a payload tag");
		f->kind = SB_FRAME_OK;
		f->ok = jv_ref(ok);
		f->payload = p;
		return 0;
	}
	if (!jv_is(e, JV_STRING))
		return sl_err_set(err, SL_EPARSE, "helper Err is not a string");
	if (memchr(jv_str_val(e), 0, jv_str_len(e)))
		return sl_err_set(err, SL_EPARSE, "helper Err contains NUL");
	f->kind = SB_FRAME_ERR;
	f->err = sl_xstrndup(jv_str_val(e), jv_str_len(e));
	return 0;
}

int sb__frame_parse(const char *line, size_t n, struct sb_frame *f, struct sl_err *err)
{
	memset(f, 0, sizeof(*f));
	sl_buf_init(&f->data);
	if (n > SB_MAX_LINE)
		return sl_err_set(err, SL_EPARSE, "helper line longer than %u bytes", SB_MAX_LINE);
	struct jv_parse_opts po = { .max_depth = 16 };
	struct sl_err pe;
	struct jv *o = jv_parse(line, n, &po, &pe);
	if (!o)
		return sl_err_set(err, SL_EPARSE, "unparseable helper line: %s", pe.msg);
	int rc;
	if (!jv_is(o, JV_OBJECT)) {
		rc = sl_err_set(err, SL_EPARSE, "helper frame is not an object");
		goto done;
	}
	if ((rc = get_id(o, &f->id, err)))
		goto done;
	struct jv *res = jv_get(o, "result");
	struct jv *chunk = jv_get(o, "chunk");
	if (res)
		rc = parse_result(res, f, err);
	else if (chunk)
		rc = parse_chunk(chunk, f, err);
	else
		rc = sl_err_set(err, SL_EPARSE, "helper frame has neither result nor chunk");
done:
	jv_unref(o);
	if (rc)
		sb__frame_clear(f);
	return rc;
}

void sb__frame_clear(struct sb_frame *f)
{
	jv_unref(f->ok);
	free(f->err);
	sl_buf_free(&f->data);
	f->ok = NULL;
	f->err = NULL;
	f->payload = NULL;
}

/* ---- payload schemas (protocol C3) ---- */

enum ft { F_STR, F_INT, F_BOOL, F_BOOL_OPT, F_ENTRIES, F_PAIRS, F_UINT };

struct field {
	const char *name;
	enum ft type;
};

#define MAXF 6
/* The fields each Ok payload must carry, per op; the payload names come
 * from the shared op list. */
static const struct field schemas[SL_HOP__COUNT][MAXF] = {
	[SL_HOP_HELLO] = { { "version", F_STR }, { "pid", F_INT } },
	[SL_HOP_EXEC] = { { "exit_code", F_INT }, { "stdout", F_STR }, { "stderr", F_STR },
			  { "timed_out", F_BOOL }, { "truncated", F_BOOL },
			  { "cancelled", F_BOOL_OPT } },
	[SL_HOP_READ] = { { "content_b64", F_STR }, { "truncated", F_BOOL } },
	[SL_HOP_WRITE] = { { "bytes", F_UINT } },
	[SL_HOP_EDIT] = { { "replacements", F_UINT } },
	[SL_HOP_LISTDIR] = { { "entries", F_ENTRIES } },
	[SL_HOP_FETCH] = { { "status", F_UINT }, { "headers", F_PAIRS }, { "body_b64", F_STR },
			   { "truncated", F_BOOL } },
};

static int check_entries(const struct jv *a)
{
	if (!jv_is(a, JV_ARRAY))
		return 0;
	for (size_t i = 0; i < jv_len(a); i++) {
		const struct jv *e = jv_at(a, i);
		if (!jv_is(e, JV_OBJECT) || !jv_is(jv_get(e, "name"), JV_STRING) ||
		    !jv_is(jv_get(e, "is_dir"), JV_BOOL) || !jv_is(jv_get(e, "size"), JV_INT) ||
		    jv_get_int(e, "size", -1) < 0)
			return 0;
	}
	return 1;
}

static int check_pairs(const struct jv *a)
{
	if (!jv_is(a, JV_ARRAY))
		return 0;
	for (size_t i = 0; i < jv_len(a); i++) {
		const struct jv *p = jv_at(a, i);
		if (!jv_is(p, JV_ARRAY) || jv_len(p) != 2 || !jv_is(jv_at(p, 0), JV_STRING) ||
		    !jv_is(jv_at(p, 1), JV_STRING))
			return 0;
	}
	return 1;
}

static int check_field(const struct jv *ok, const struct field *fd)
{
	struct jv *v = jv_get(ok, fd->name);
	switch (fd->type) {
	case F_STR:
		return jv_is(v, JV_STRING);
	case F_INT:
		return jv_is(v, JV_INT);
	case F_UINT:
		return jv_is(v, JV_INT) && jv_int_val(v) >= 0;
	case F_BOOL:
		return jv_is(v, JV_BOOL);
	case F_BOOL_OPT:
		return !v || jv_is(v, JV_BOOL);
	case F_ENTRIES:
		return check_entries(v);
	case F_PAIRS:
		return check_pairs(v);
	}
	return 0;
}

int sb__payload_check(const char *wire_op, const struct jv *ok, struct sl_err *err)
{
	const char *p = jv_get_str(ok, "payload");
	for (size_t i = 0; i < SL_ARRAY_LEN(ops); i++) {
		if (strcmp(ops[i].wire, wire_op))
			continue;
		if (!p || strcmp(p, ops[i].payload))
			return sl_err_set(err, SL_EPARSE,
					  "helper answered %s with payload \"%.40s\" (expected %s)",
					  wire_op, p ? p : "", ops[i].payload);
		const struct field *f = schemas[i];
		for (int k = 0; k < MAXF && f[k].name; k++)
			if (!check_field(ok, &f[k]))
				return sl_err_set(err, SL_EPARSE,
						  "helper %s payload: field %s missing or of the wrong type",
						  ops[i].payload, f[k].name);
		return 0;
	}
	return sl_err_set(err, SL_EPARSE, "no schema for helper op %s", wire_op);
}
