/*
 * The engine's wrapper around every model call (costs.md 1, 4, 5): quota
 * check first, then the backend (the mock from the fixture, or a Lua backend
 * through engine/http), then usage validation and metering. Transient
 * failures of real backends are retried here (decisions 33): 3 attempts,
 * 250 ms doubling, retry-after honoured up to 30 s. The journal's
 * llm_request record is written just before the first attempt.
 */
#include "agent/ag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http/llm.h"
#include "mock/fx.h"

struct llm_call {
	struct ag_agent *a;
	unsigned seq;
	struct jv *request; /* owned */
};

int ag_backend_init(struct ag_backend *b, const char *cli_name, const char *model,
		    struct sl_err *err)
{
	memset(b, 0, sizeof *b);
	b->cli_name = sl_xstrdup(cli_name);
	b->model = sl_xstrdup(model ? model : "claude-sonnet-4-6");
	if (!strcmp(cli_name, "mock"))
		b->id = sl_xstrdup("mock");
	else if (!strcmp(cli_name, "openai"))
		b->id = sl_xasprintf("openai-responses:%s", b->model);
	else
		b->id = sl_xasprintf("%s:%s", cli_name, b->model);
	return 0;
}

void ag_backend_deinit(struct ag_backend *b)
{
	if (b->llm)
		llm_free(b->llm);
	free(b->cli_name);
	free(b->model);
	free(b->id);
}

static double usd(const struct ag_backend *b)
{
	const struct ag_usage *u = &b->usage;
	double plain = (double)(u->in - u->cache_read - u->cache_write);
	return plain * b->rate_in / 1e6 + (double)u->out * b->rate_out / 1e6 +
	       (double)u->cache_read * b->rate_cache_read / 1e6 +
	       (double)u->cache_write * b->rate_cache_write / 1e6;
}

struct jv *ag_cost_usage(const struct ag_backend *b)
{
	struct jv *u = jv_obj();
	jv_set(u, "input_tokens", jv_int((int64_t)b->usage.in));
	jv_set(u, "output_tokens", jv_int((int64_t)b->usage.out));
	jv_set(u, "usd", jv_float(usd(b)));
	return u;
}

void ag_usd_fmt(char *out, size_t n, double usd, int min_dec, double ref)
{
	int dec = min_dec;
	/* As many decimals as the finer figure needs to show a non-zero digit,
	 * so "$0.0008 of $0.0001" is never "$0.0008 of $0.00". */
	while (dec < 8 && ref > 0 && ref * pow(10, dec) < 1 - 1e-9)
		dec++;
	while (dec < 8 && ref > 0 &&
	       fabs(ref * pow(10, dec) - round(ref * pow(10, dec))) > 1e-6)
		dec++;
	snprintf(out, n, "$%.*f", dec, usd);
}

void ag_cost_line(const struct ag_backend *b, struct sl_buf *out)
{
	sl_buf_printf(out, "cost[%s]: %llu input tokens, %llu output tokens, ", b->id,
		      (unsigned long long)b->usage.in, (unsigned long long)b->usage.out);
	if (b->priced)
		sl_buf_printf(out, "$%.4f\n", usd(b));
	else
		sl_buf_printf(out, "no price for model %s\n", b->model);
}

void ag_pricing_set(struct ag_backend *b, const struct jv *r)
{
	b->rate_in = jv_num_val(jv_get(r, "input"));
	b->rate_out = jv_num_val(jv_get(r, "output"));
	/* Cache tokens have rates of their own where the row has them. */
	b->rate_cache_read = jv_get(r, "cache_read") ? jv_num_val(jv_get(r, "cache_read"))
						      : b->rate_in;
	b->rate_cache_write = jv_get(r, "cache_write") ? jv_num_val(jv_get(r, "cache_write"))
							: b->rate_in;
	b->priced = 1;
}

int ag_pricing_pick(const struct jv *rows, const char *model, struct ag_backend *b)
{
	b->rate_in = b->rate_out = b->rate_cache_read = b->rate_cache_write = 0;
	b->priced = 0;
	for (size_t i = 0; model && i < jv_len(rows); i++) {
		const struct jv *r = jv_at(rows, i);
		const char *key = jv_get_str(r, "key");
		if (key && strstr(model, key)) {
			ag_pricing_set(b, r);
			return 1;
		}
	}
	return 0;
}

/* costs.md 4: used >= limit refuses; tokens before dollars. */
static int quota_check(struct ag_session *s, char *msg, size_t n)
{
	const struct ag_backend *b = s->backend;
	uint64_t used = b->usage.in + b->usage.out;
	if (s->opt.has_quota_tokens && used >= s->opt.quota_tokens) {
		snprintf(msg, n, "llm quota exceeded: token quota reached: %llu of %llu tokens used",
			 (unsigned long long)used, (unsigned long long)s->opt.quota_tokens);
		return 1;
	}
	if (s->opt.has_quota_usd && usd(b) >= s->opt.quota_usd) {
		char now[32], max[32];
		ag_usd_fmt(now, sizeof now, usd(b), 4, s->opt.quota_usd);
		ag_usd_fmt(max, sizeof max, s->opt.quota_usd, 2, s->opt.quota_usd);
		snprintf(msg, n, "llm quota exceeded: dollar quota reached: %s of %s used", now, max);
		return 1;
	}
	return 0;
}

static uint64_t count(const struct jv *usage, const char *k)
{
	const struct jv *v = jv_get(usage, k);
	if (!jv_is(v, JV_INT) || jv_int_val(v) < 0)
		return 0;
	return (uint64_t)jv_int_val(v);
}

/* Meters a successful response and hands it to the agent's machine. */
static void deliver(struct ag_agent *a, struct jv *resp)
{
	struct ag_backend *b = a->sess->backend;
	const struct jv *u = jv_get(resp, "usage");
	/* Cache tokens count toward token quotas and are priced at their own
	 * rates (decisions 7). */
	uint64_t cr = count(u, "cache_read_input_tokens"), cw = count(u, "cache_creation_input_tokens");
	b->usage.in += count(u, "input_tokens") + cr + cw;
	b->usage.cache_read += cr;
	b->usage.cache_write += cw;
	b->usage.out += count(u, "output_tokens");
	ag_post(a->sess, a, AG_E_LLM_REPLY, resp);
}

static void fail(struct ag_agent *a, const char *msg)
{
	ag_post(a->sess, a, AG_E_LLM_ERROR, sl_xstrdup(msg));
}

static void attempt(struct llm_call *c);

static void retry_cb(uv_timer_t *t)
{
	attempt(t->data);
}

static int retryable(const struct jv *err)
{
	const char *cls = jv_get_str(err, "class");
	const char *msg = jv_get_str(err, "message");
	int64_t status = jv_get_int(err, "status", 0);
	if (cls && !strcmp(cls, "transport"))
		return 1;
	if (msg && strstr(msg, "overloaded"))
		return 1;
	return cls && !strcmp(cls, "api") && (status == 429 || (status >= 500 && status < 600));
}

static void llm_done(void *ud, struct jv *resp, struct jv *err)
{
	struct llm_call *c = ud;
	struct ag_agent *a = c->a;
	if (c->seq != a->llm_seq) { /* cancelled: drop without a trace */
		jv_unref(resp);
		jv_unref(err);
		jv_unref(c->request);
		free(c);
		return;
	}
	if (resp) {
		a->llm_inflight = 0;
		jv_unref(c->request);
		free(c);
		deliver(a, resp);
		return;
	}
	const char *msg = jv_get_str(err, "message");
	if (++a->attempt < 3 && retryable(err)) {
		double ra = jv_num_val(jv_get(err, "retry_after"));
		uint64_t delay = 250u << (a->attempt - 1);
		if (ra > 0)
			delay = (uint64_t)(fmin(ra, 30.0) * 1000.0);
		ag_note(a->sess, "%s: llm attempt %d failed (%s); retrying in %llu ms", a->id,
			a->attempt, msg ? msg : "error", (unsigned long long)delay);
		jv_unref(err);
		a->retry_timer.data = c;
		uv_timer_start(&a->retry_timer, retry_cb, delay, 0);
		return;
	}
	a->llm_inflight = 0;
	fail(a, msg ? msg : "llm request failed");
	jv_unref(err);
	jv_unref(c->request);
	free(c);
}

static void attempt(struct llm_call *c)
{
	struct ag_agent *a = c->a;
	if (c->seq != a->llm_seq) {
		jv_unref(c->request);
		free(c);
		return;
	}
	int id = llm_complete(a->sess->backend->llm, c->request, llm_done, c);
	if (id < 0) {
		a->llm_inflight = 0;
		jv_unref(c->request);
		free(c);
		fail(a, "the LLM request could not be started");
		return;
	}
	a->llm_inflight = 1;
	a->llm_call_id = id;
}

int ag_llm_call(struct ag_agent *a, struct jv *request)
{
	struct ag_session *s = a->sess;
	char msg[256];
	if (s->journal)
		jn_append_request(s->journal, &a->jdelta, a->id, s->backend->id, request);
	a->llm_seq++;
	if (quota_check(s, msg, sizeof msg)) {
		jv_unref(request);
		fail(a, msg);
		return 0;
	}
	if (s->fixture) {
		struct sl_err err = { 0 };
		const struct jv *resp = fx_llm_next(s->fixture, request, &err);
		jv_unref(request);
		if (!resp) {
			ag_script_failure(s, "llm script mismatch: %s", err.msg);
			return SL_ESCRIPT;
		}
		deliver(a, jv_copy(resp));
		return 0;
	}
	if (s->backend->llm) {
		struct llm_call *c = sl_xcalloc(1, sizeof *c);
		c->a = a;
		c->seq = a->llm_seq;
		c->request = request;
		a->llm_inflight = 1;
		a->attempt = 0;
		attempt(c);
		return 0;
	}
	jv_unref(request);
	fail(a, "no LLM backend is available in this build");
	return 0;
}

void ag_llm_cancel(struct ag_agent *a)
{
	if (!a->llm_inflight)
		return;
	a->llm_inflight = 0;
	a->llm_seq++; /* a late completion is dropped */
	/* A cancelled attempt never calls back: its context is freed here,
	 * whether it waits for a retry or is in flight. */
	struct llm_call *c = NULL;
	if (uv_is_active((uv_handle_t *)&a->retry_timer))
		c = a->retry_timer.data;
	else if (a->sess->backend->llm && a->llm_call_id > 0)
		c = llm_cancel_call(a->sess->backend->llm, a->llm_call_id);
	uv_timer_stop(&a->retry_timer);
	if (c) {
		jv_unref(c->request);
		free(c);
	}
	a->llm_call_id = 0;
}
