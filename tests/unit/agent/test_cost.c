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
	CHECK(ag_pricing_pick(rows, "gpt-4o-mini-2024", &b) == 1);
	CHECK(b.rate_in == 0.15 && b.rate_out == 0.60 && b.priced);
	CHECK(b.rate_cache_read == 0.15); /* no cache rates: the input rate */
	ag_pricing_pick(rows, "claude-sonnet-4-6", &b);
	CHECK(b.rate_in == 3.0 && b.rate_out == 15.0);
	CHECK(b.rate_cache_write == 3.75 && b.rate_cache_read == 0.30);
	CHECK(ag_pricing_pick(rows, "unknown-model", &b) == 0);
	CHECK(b.rate_in == 0 && b.rate_out == 0 && !b.priced);
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
	b.priced = 1;
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

TEST(unpriced_cost_line_names_the_model_not_zero_dollars)
{
	struct ag_backend b;
	memset(&b, 0, sizeof b);
	b.id = "openai-responses:o4-mini";
	b.model = "o4-mini";
	b.usage.in = 67000;
	b.usage.out = 100;
	struct sl_buf line;
	sl_buf_init(&line);
	ag_cost_line(&b, &line);
	CHECK_STR(line.p, "cost[openai-responses:o4-mini]: 67000 input tokens, 100 output tokens, "
			  "no price for model o4-mini\n");
	CHECK(!strstr(line.p, "$0.0000"));
	sl_buf_free(&line);
}

TEST(usd_shown_with_enough_digits)
{
	char a[32], m[32];
	ag_usd_fmt(a, sizeof a, 0.0008, 4, 0.0001);
	ag_usd_fmt(m, sizeof m, 0.0001, 2, 0.0001);
	CHECK_STR(a, "$0.0008");
	CHECK_STR(m, "$0.0001");
	ag_usd_fmt(m, sizeof m, 0.5, 2, 0.5);
	CHECK_STR(m, "$0.50");
	ag_usd_fmt(a, sizeof a, 0.81, 4, 0.5);
	CHECK_STR(a, "$0.8100");
	ag_usd_fmt(m, sizeof m, 0.015, 2, 0.015);
	CHECK_STR(m, "$0.015");
	ag_usd_fmt(a, sizeof a, 0.00000123, 4, 0.000001);
	CHECK_STR(a, "$0.000001");
}
