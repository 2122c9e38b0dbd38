/*
 * Delta storage of llm_request records. A request's `messages` is stored as
 * {"$base": SEQ, "$keep": K, "$add": [...]}: the first K messages of the
 * request stored at SEQ, then the new ones. `system` and `tools` equal to
 * the base's are stored as {"$base": SEQ}. The conversation only ever grows
 * while an agent lives, so the delta is exact. Readers expand it (with
 * shared references, not copies) before anyone sees the record.
 */
#include <stdlib.h>
#include <string.h>

#include "journal/jn.h"

void jn_delta_init(struct jn_delta *d)
{
	memset(d, 0, sizeof *d);
	d->seq = -1;
}

void jn_delta_deinit(struct jn_delta *d)
{
	jv_unref(d->system);
	jv_unref(d->tools);
	jn_delta_init(d);
}

static struct jv *base_ref(int64_t seq)
{
	struct jv *o = jv_obj();
	jv_set(o, "$base", jv_int(seq));
	return o;
}

int64_t jn_append_request(struct jn *j, struct jn_delta *d, const char *agent,
			  const char *backend, const struct jv *request)
{
	const struct jv *msgs = jv_get(request, "messages");
	const struct jv *system = jv_get(request, "system");
	const struct jv *tools = jv_get(request, "tools");
	struct jv *req = jv_obj();
	for (size_t i = 0; i < jv_len(request); i++) {
		const char *k = jv_key_at(request, i);
		const struct jv *v = jv_val_at(request, i);
		if (d->seq >= 0 && !strcmp(k, "messages") && jv_is(v, JV_ARRAY) &&
		    jv_len(v) >= d->n_msgs) {
			struct jv *m = base_ref(d->seq), *add = jv_arr();
			jv_set(m, "$keep", jv_int((int64_t)d->n_msgs));
			for (size_t n = d->n_msgs; n < jv_len(v); n++)
				jv_push(add, jv_ref(jv_at(v, n)));
			jv_set(m, "$add", add);
			jv_set(req, k, m);
		} else if (d->seq >= 0 && ((!strcmp(k, "system") && jv_equal(v, d->system)) ||
					   (!strcmp(k, "tools") && jv_equal(v, d->tools)))) {
			jv_set(req, k, base_ref(d->seq));
		} else {
			jv_set(req, k, jv_ref((struct jv *)v));
		}
	}
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str(agent));
	jv_set(body, "backend", jv_str(backend));
	jv_set(body, "request", req);
	int64_t seq = jn_append(j, "llm_request", body);
	jv_unref(body);
	if (seq >= 0) {
		d->seq = seq;
		d->n_msgs = jv_len(msgs);
		jv_unref(d->system);
		jv_unref(d->tools);
		d->system = jv_ref((struct jv *)system);
		d->tools = jv_ref((struct jv *)tools);
	}
	return seq;
}

/* ---- reader side ---------------------------------------------------------- */

struct jn_req_cache {
	int64_t *seq;
	struct jv **req; /* owned: expanded requests */
	size_t n, cap;
};

struct jn_req_cache *jn__req_cache_new(void)
{
	return sl_xcalloc(1, sizeof(struct jn_req_cache));
}

void jn__req_cache_free(struct jn_req_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		jv_unref(c->req[i]);
	free(c->seq);
	free(c->req);
	free(c);
}

static const struct jv *find(const struct jn_req_cache *c, int64_t seq)
{
	for (size_t i = c->n; i-- > 0;)
		if (c->seq[i] == seq)
			return c->req[i];
	return NULL;
}

static int is_ref(const struct jv *v)
{
	return jv_is(v, JV_OBJECT) && jv_is(jv_get(v, "$base"), JV_INT);
}

int jn__expand_request(struct jn_req_cache *c, struct jv *env, const char *path,
		       struct sl_err *err)
{
	struct jv *req = jv_get(env, "request");
	int64_t seq = jv_get_int(env, "seq", -1);
	if (!jv_is(req, JV_OBJECT))
		return 0; /* not ours to judge; the record passes as stored */
	struct jv *full = jv_obj();
	for (size_t i = 0; i < jv_len(req); i++) {
		const char *k = jv_key_at(req, i);
		const struct jv *v = jv_val_at(req, i);
		if (!is_ref(v)) {
			jv_set(full, k, jv_ref((struct jv *)v));
			continue;
		}
		int64_t base = jv_int_val(jv_get(v, "$base"));
		const struct jv *b = base < seq ? find(c, base) : NULL;
		const struct jv *bv = b ? jv_get(b, k) : NULL;
		if (!bv) {
			jv_unref(full);
			return sl_err_set(err, SL_EPARSE,
					  "journal %s: record seq %lld: request.%s refers to seq %lld, "
					  "which is no earlier request", path, (long long)seq, k,
					  (long long)base);
		}
		if (strcmp(k, "messages")) {
			jv_set(full, k, jv_ref((struct jv *)bv));
			continue;
		}
		const struct jv *keep = jv_get(v, "$keep"), *add = jv_get(v, "$add");
		if (!jv_is(keep, JV_INT) || jv_int_val(keep) < 0 ||
		    (size_t)jv_int_val(keep) > jv_len(bv) || !jv_is(add, JV_ARRAY)) {
			jv_unref(full);
			return sl_err_set(err, SL_EPARSE,
					  "journal %s: record seq %lld: malformed message delta", path,
					  (long long)seq);
		}
		struct jv *m = jv_arr();
		for (size_t n = 0; n < (size_t)jv_int_val(keep); n++)
			jv_push(m, jv_ref(jv_at(bv, n)));
		for (size_t n = 0; n < jv_len(add); n++)
			jv_push(m, jv_ref(jv_at(add, n)));
		jv_set(full, k, m);
	}
	jv_set(env, "request", full);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->seq = sl_xrealloc(c->seq, c->cap * sizeof *c->seq);
		c->req = sl_xrealloc(c->req, c->cap * sizeof *c->req);
	}
	c->seq[c->n] = seq;
	c->req[c->n++] = jv_ref(full);
	return 0;
}
