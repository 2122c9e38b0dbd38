/* costs.md 3 and decisions 7: price-row matching and cache-token pricing. */
#include <math.h>
#include <string.h>

#include "agent/ag.h"
#include "tap.h"

static struct jv *row(const char *key, double in, double out, double cw, double cr)
{
	struct jv *r = jv_obj();
	jv_set(r, "key", jv_str(key));
	jv_set(r, "input", jv_float(in));
	jv_set(r, "output", jv_float(out));
	if (cw >= 0) {
		jv_set(r, "cache_write", jv_float(cw));
		jv_set(r, "cache_read", jv_float(cr));
	}
	return r;
}

TEST(first_substring_row_wins)
{
	struct jv *rows = jv_arr();
	jv_push(rows, row("gpt-4o-mini", 0.15, 0.60, -1, -1));
	jv_push(rows, row("gpt-4o", 2.50, 10.0, -1, -1));
	jv_push(rows, row("claude-sonnet", 3.0, 15.0, 3.75, 0.30));
	struct ag_backend b;
	ag_pricing_pick(rows, "gpt-4o-mini-2024", &b);
	CHECK(b.rate_in == 0.15 && b.rate_out == 0.60);
	CHECK(b.rate_cache_read == 0.15); /* no cache rates: the input rate */
	ag_pricing_pick(rows, "claude-sonnet-4-6", &b);
	CHECK(b.rate_in == 3.0 && b.rate_out == 15.0);
	CHECK(b.rate_cache_write == 3.75 && b.rate_cache_read == 0.30);
	ag_pricing_pick(rows, "unknown-model", &b);
	CHECK(b.rate_in == 0 && b.rate_out == 0);
	ag_pricing_pick(rows, NULL, &b);
	CHECK(b.rate_in == 0);
	jv_unref(rows);
}

TEST(cache_tokens_priced_at_their_rates)
{
	struct ag_backend b;
	memset(&b, 0, sizeof b);
	b.id = "anthropic:claude-sonnet-4-6";
	b.rate_in = 3.0;
	b.rate_out = 15.0;
	b.rate_cache_write = 3.75;
	b.rate_cache_read = 0.30;
	b.usage.in = 1000000 + 2000000 + 500000; /* plain + cache read + cache write */
	b.usage.cache_read = 2000000;
	b.usage.cache_write = 500000;
	b.usage.out = 100000;
	struct jv *u = ag_cost_usage(&b);
	double want = 3.0 + 2 * 0.30 + 0.5 * 3.75 + 0.1 * 15.0;
	CHECK(fabs(jv_num_val(jv_get(u, "usd")) - want) < 1e-9);
	CHECK(jv_get_int(u, "input_tokens", 0) == 3500000);
	jv_unref(u);
	struct sl_buf line;
	sl_buf_init(&line);
	ag_cost_line(&b, &line);
	CHECK_STR(line.p, "cost[anthropic:claude-sonnet-4-6]: 3500000 input tokens, 100000 output tokens, $6.9750\n");
	sl_buf_free(&line);
}
