/*
 * Request decoding for silo-helper: one JSON line in, one struct hp_req out.
 * Pure (no I/O) so the fuzzer can drive it (tests/fuzz/fuzz_helper_request.c).
 *
 * Robustness rules (protocol.md C2): a line that is not JSON, or has no
 * non-negative integer `id`, is dropped; anything else that does not fit an
 * op is answered with `malformed request: <detail>`. Ops are accepted under
 * the names of decisions.md 2 (`read`, `write`, `edit`, `listdir`) and under
 * the protocol.md C3 names (`read_file`, `write_file`, `edit_file`,
 * `list_dir`), so either engine spelling works.
 */
#include "hp.h"

#include <stdlib.h>
#include <string.h>

/* Both spellings of every op: the engine name and the wire name. */
static const struct {
	const char *name;
	enum hp_op op;
} op_names[] = {
#define XX(name, eng, wire, payload, pub) { eng, HP_OP_##name }, { wire, HP_OP_##name },
	SL_HELPER_OP_MAP(XX)
#undef XX
};

const char *hp_op_name(enum hp_op op)
{
	for (size_t i = 0; i < SL_ARRAY_LEN(op_names); i++)
		if (op_names[i].op == op)
			return op_names[i].name;
	return "?";
}

/* Optional fields may be omitted or null (protocol.md 0: never null, but a
 * null costs nothing to accept). */
static struct jv *field(const struct jv *o, const char *key)
{
	struct jv *v = jv_get(o, key);
	return jv_is(v, JV_NULL) ? NULL : v;
}

static int get_str(const struct jv *o, const char *key, int required,
		   struct hp_str *out, struct sl_err *err)
{
	struct jv *v = field(o, key);
	out->p = NULL;
	out->n = 0;
	if (!v) {
		if (required)
			return sl_err_set(err, SL_EPARSE, "missing field \"%s\"", key);
		return 0;
	}
	if (!jv_is(v, JV_STRING))
		return sl_err_set(err, SL_EPARSE, "field \"%s\" must be a string", key);
	out->p = jv_str_val(v);
	out->n = jv_str_len(v);
	return 0;
}

static int get_u64(const struct jv *o, const char *key, int required, int *has,
		   uint64_t *out, struct sl_err *err)
{
	struct jv *v = field(o, key);
	if (has)
		*has = 0;
	*out = 0;
	if (!v) {
		if (required)
			return sl_err_set(err, SL_EPARSE, "missing field \"%s\"", key);
		return 0;
	}
	if (!jv_is(v, JV_INT) || jv_int_val(v) < 0)
		return sl_err_set(err, SL_EPARSE,
				  "field \"%s\" must be a non-negative integer", key);
	*out = (uint64_t)jv_int_val(v);
	if (has)
		*has = 1;
	return 0;
}

static int get_bool(const struct jv *o, const char *key, int *out, struct sl_err *err)
{
	struct jv *v = field(o, key);
	*out = 0;
	if (!v)
		return 0;
	if (!jv_is(v, JV_BOOL))
		return sl_err_set(err, SL_EPARSE, "field \"%s\" must be a boolean", key);
	*out = jv_bool_val(v);
	return 0;
}

static int get_pairs(const struct jv *o, const char *key, struct hp_req *req,
		     struct sl_err *err)
{
	struct jv *v = field(o, key);
	if (!v)
		return 0;
	if (!jv_is(v, JV_ARRAY))
		goto bad;
	size_t n = jv_len(v);
	if (n == 0)
		return 0;
	req->pairs = sl_xcalloc(n, sizeof *req->pairs);
	for (size_t i = 0; i < n; i++) {
		struct jv *p = jv_at(v, i);
		if (!jv_is(p, JV_ARRAY) || jv_len(p) != 2 ||
		    !jv_is(jv_at(p, 0), JV_STRING) || !jv_is(jv_at(p, 1), JV_STRING))
			goto bad;
		struct hp_pair *d = &req->pairs[req->n_pairs++];
		d->name = jv_str_val(jv_at(p, 0));
		d->name_len = jv_str_len(jv_at(p, 0));
		d->value = jv_str_val(jv_at(p, 1));
		d->value_len = jv_str_len(jv_at(p, 1));
	}
	return 0;
bad:
	return sl_err_set(err, SL_EPARSE,
			  "field \"%s\" must be a list of [name, value] string pairs", key);
}

static int decode_fields(const struct jv *o, struct hp_req *r, struct sl_err *err)
{
	switch (r->op) {
	case HP_OP_HELLO:
	case HP_OP_SHUTDOWN:
		return 0;
	case HP_OP_EXEC:
		if (get_str(o, "command", 1, &r->command, err) ||
		    get_str(o, "cwd", 0, &r->cwd, err) || get_pairs(o, "env", r, err) ||
		    get_u64(o, "timeout_ms", 1, NULL, &r->timeout_ms, err) ||
		    get_bool(o, "stream", &r->stream, err))
			return SL_EPARSE;
		return 0;
	case HP_OP_READ:
		if (get_str(o, "path", 1, &r->path, err) ||
		    get_u64(o, "offset", 0, &r->has_offset, &r->offset, err) ||
		    get_u64(o, "limit", 0, &r->has_limit, &r->limit, err))
			return SL_EPARSE;
		return 0;
	case HP_OP_WRITE:
		if (get_str(o, "path", 1, &r->path, err) ||
		    get_str(o, "content_b64", 1, &r->content_b64, err) ||
		    get_bool(o, "append", &r->append, err))
			return SL_EPARSE;
		return 0;
	case HP_OP_EDIT:
		if (get_str(o, "path", 1, &r->path, err) ||
		    get_str(o, "old", 1, &r->old_s, err) ||
		    get_str(o, "new", 1, &r->new_s, err) ||
		    get_bool(o, "replace_all", &r->replace_all, err))
			return SL_EPARSE;
		return 0;
	case HP_OP_LISTDIR:
		return get_str(o, "path", 1, &r->path, err) ? SL_EPARSE : 0;
	case HP_OP_CANCEL:
		return get_u64(o, "cancel_id", 1, NULL, &r->cancel_id, err) ? SL_EPARSE : 0;
	case HP_OP_FETCH:
		if (get_str(o, "url", 1, &r->url, err) ||
		    get_str(o, "method", 1, &r->method, err) ||
		    get_pairs(o, "headers", r, err) ||
		    get_str(o, "body_b64", 0, &r->body_b64, err) ||
		    get_u64(o, "max_bytes", 1, NULL, &r->max_bytes, err))
			return SL_EPARSE;
		return 0;
	}
	return sl_err_set(err, SL_EPARSE, "unknown op");
}

int hp_req_parse(const char *line, size_t n, struct hp_req *req, struct sl_err *err)
{
	struct sl_err perr;
	memset(req, 0, sizeof *req);
	struct jv *root = jv_parse(line, n, NULL, &perr);
	if (!root)
		return HP_REQ_SKIP;
	struct jv *id = jv_is(root, JV_OBJECT) ? jv_get(root, "id") : NULL;
	if (!jv_is(id, JV_INT) || jv_int_val(id) < 0) {
		jv_unref(root);
		return HP_REQ_SKIP;
	}
	req->id = (uint64_t)jv_int_val(id);
	req->root = root;

	struct jv *op = jv_get(root, "op");
	if (!op) {
		sl_err_set(err, SL_EPARSE, "missing field \"op\"");
		goto bad;
	}
	if (!jv_is(op, JV_STRING)) {
		sl_err_set(err, SL_EPARSE, "field \"op\" must be a string");
		goto bad;
	}
	size_t i;
	for (i = 0; i < SL_ARRAY_LEN(op_names); i++)
		if (jv_str_len(op) == strlen(op_names[i].name) &&
		    !memcmp(jv_str_val(op), op_names[i].name, jv_str_len(op)))
			break;
	if (i == SL_ARRAY_LEN(op_names)) {
		sl_err_set(err, SL_EPARSE, "unknown op \"%.64s\"", jv_str_val(op));
		goto bad;
	}
	req->op = op_names[i].op;
	if (decode_fields(root, req, err))
		goto bad;
	return HP_REQ_OK;
bad:;
	uint64_t keep = req->id;
	hp_req_deinit(req);
	req->id = keep;
	return HP_REQ_BAD;
}

void hp_req_deinit(struct hp_req *req)
{
	jv_unref(req->root);
	free(req->pairs);
	memset(req, 0, sizeof *req);
}

int hp_req_sniff_id(const char *p, size_t n, uint64_t *id)
{
	static const char key[] = "\"id\"";
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i >= n || p[i++] != '{')
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (n - i < sizeof key - 1 || memcmp(p + i, key, sizeof key - 1))
		return 0;
	i += sizeof key - 1;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i++] != ':')
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	uint64_t v = 0;
	size_t digits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && digits < 19; i++, digits++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	if (!digits || i >= n || !p[i] || !strchr(",} \t", p[i]))
		return 0;
	*id = v;
	return 1;
}
