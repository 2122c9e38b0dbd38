/*
 * Fuzz target for silo-helper's request decoding (sandbox/helper/hp_req.c)
 * and its response framing (hp_out.c), compiled in directly since the helper
 * is its own static binary rather than part of silo_core.
 *
 * Checks beyond "no crash": a decoded request has every field its op
 * requires; a rejected one carries a detail; and every reply the helper
 * would write for it (the malformed-request error, or an echo of its
 * strings) is one valid JSON line, whatever bytes came in.
 */
#include "../../sandbox/helper/hp_out.c"
#include "../../sandbox/helper/hp_req.c"

#include <stdlib.h>

static void must_parse(struct sl_buf *b)
{
	struct sl_err err;
	if (!b->len || b->p[b->len - 1] != '\n')
		abort();
	struct jv *v = jv_parse(b->p, b->len - 1, NULL, &err);
	if (!v || !jv_is(v, JV_OBJECT))
		abort();
	jv_unref(v);
	sl_buf_reset(b);
}

static void echo(struct sl_buf *b, uint64_t id, const struct hp_str *s, int required)
{
	if (!s->p) {
		if (required)
			abort();
		return;
	}
	hp_out_ok_begin(b, id, "echo");
	sl_buf_adds(b, ",\"s\":");
	hp_out_str(b, s->p, s->n);
	hp_out_ok_end(b);
	must_parse(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_req req;
	struct sl_err err = { 0 };
	struct sl_buf b;
	sl_buf_init(&b);
	uint64_t sid;
	hp_req_sniff_id((const char *)data, size, &sid);
	int rc = hp_req_parse((const char *)data, size, &req, &err);
	if (rc == HP_REQ_BAD) {
		if (!err.msg[0])
			abort();
		hp_out_err(&b, req.id, err.msg);
		must_parse(&b);
	} else if (rc == HP_REQ_OK) {
		switch (req.op) {
		case HP_OP_EXEC:
			echo(&b, req.id, &req.command, 1);
			echo(&b, req.id, &req.cwd, 0);
			break;
		case HP_OP_READ:
		case HP_OP_LISTDIR:
			echo(&b, req.id, &req.path, 1);
			break;
		case HP_OP_WRITE:
			echo(&b, req.id, &req.path, 1);
			echo(&b, req.id, &req.content_b64, 1);
			break;
		case HP_OP_EDIT:
			echo(&b, req.id, &req.old_s, 1);
			echo(&b, req.id, &req.new_s, 1);
			break;
		case HP_OP_FETCH:
			echo(&b, req.id, &req.url, 1);
			echo(&b, req.id, &req.method, 1);
			break;
		default:
			break;
		}
		for (size_t i = 0; i < req.n_pairs; i++) {
			struct hp_str n = { req.pairs[i].name, req.pairs[i].name_len };
			struct hp_str v = { req.pairs[i].value, req.pairs[i].value_len };
			echo(&b, req.id, &n, 1);
			echo(&b, req.id, &v, 1);
		}
		hp_req_deinit(&req);
	} else if (rc != HP_REQ_SKIP) {
		abort();
	}
	sl_buf_free(&b);
	return 0;
}
