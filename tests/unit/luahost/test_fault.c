/* Allocation fault sweep (STYLE.md 7): every growing allocation of a state's
 * life fails in turn — creation, loading, calls, JSON conversion, tasks,
 * fixtures and policies — and each must end in an error, never a crash or
 * a leak (run under ASan). */
#include <stdio.h>

#include "lhtest.h"
#include "luahost/lh_int.h"
#include "mock/fx.h"
#include "policy/pol.h"

static int sync_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		     lh_done_fn done, void *token, struct sl_err *err)
{
	struct jv *r = jv_obj();

	SL_UNUSED(ud);
	SL_UNUSED(task_ctx);
	SL_UNUSED(err);
	jv_set(r, "service", jv_str(service));
	jv_set(r, "args", args);
	done(token, r, NULL, 0);
	return 0;
}

static void task_done(void *ud, struct jv *result, const char *errmsg)
{
	SL_UNUSED(errmsg);
	(*(int *)ud)++;
	jv_unref(result);
}

static const char *script =
	"local M = {}\n"
	"function M.f(arg)\n"
	"  local t = silo.json.decode(silo.json.encode({ a = { 1, 2, 3 }, b = 'x', c = arg }))\n"
	"  local parts = {} for i = 1, 50 do parts[#parts + 1] = tostring(i) end\n"
	"  return { n = #t.a, s = table.concat(parts, ','), b64 = silo.b64.encode(t.b) }\n"
	"end\n"
	"function M.run(input, ctx)\n"
	"  local r = silo.helper.exec{ command = 'x' }\n"
	"  return { content = r.service, is_error = false }\n"
	"end\n"
	"return M\n";

/* One life of a state; returns 1 when no injected failure was hit. */
static int one_life(long n)
{
	struct sl_err err = { 0 };
	struct lh_services svc = { .call = sync_call };
	struct lh_state *st;
	struct jv *arg = jv_str("hello"), *ret = NULL;
	const struct jv *args[1] = { arg };
	int ref, done = 0;

	lh__fail_after = n;
	st = lh_new(LH_TOOL, NULL, &svc, NULL, &err);
	if (st) {
		if (lh_load_string(st, "fault.lua", script, strlen(script), &ref, &err) == 0) {
			if (lh_call_field(st, ref, "f", args, 1, &ret, &err) == 0)
				jv_unref(ret);
			lh_task_start(st, ref, "run", arg, NULL, NULL, task_done, &done);
			lh_unref(st, ref);
		}
		lh_free(st);
	}
	jv_unref(arg);
	n = lh__fail_after;
	lh__fail_after = -1;
	return n > 0;
}

TEST(fault_sweep_state)
{
	long n;

	for (n = 0; n < 100000; n++)
		if (one_life(n))
			break;
	printf("# state life survived failures at each of %ld allocations\n", n);
	CHECK(n > 100 && n < 100000);
}

TEST(fault_sweep_fixture_policy)
{
	char dir[] = "/tmp/lhfault-XXXXXX";
	char fxp[128], polp[128];
	struct sl_err err = { 0 };
	long n, done_fx = 0, done_pol = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(fxp, sizeof(fxp), "%s/f.lua", dir);
	snprintf(polp, sizeof(polp), "%s/p.lua", dir);
	sl_write_file(fxp,
		      "return { llm = { { expect = function(r) return true end, response = {"
		      " content = { { type = 'text', text = 'hi' } }, stop_reason = 'end_turn' } } },"
		      " tools = { { expect_name = 'Bash', expect_input = { command = 'ls' },"
		      " output = { content = 'x' } } }, frontend = { { step = 'send_prompt',"
		      " text = 'go' } } }",
		      strlen("return { llm = { { expect = function(r) return true end, response = {"
			     " content = { { type = 'text', text = 'hi' } }, stop_reason = 'end_turn' } } },"
			     " tools = { { expect_name = 'Bash', expect_input = { command = 'ls' },"
			     " output = { content = 'x' } } }, frontend = { { step = 'send_prompt',"
			     " text = 'go' } } }"),
		      0600, &err);
	sl_write_file(polp,
		      "return { read_allowlist = { '/usr' }, credentials = { { host = 'h',"
		      " header = 'H', env = 'E' } }, hooks = { on_request = function(r) return 'no' end } }",
		      strlen("return { read_allowlist = { '/usr' }, credentials = { { host = 'h',"
			     " header = 'H', env = 'E' } }, hooks = { on_request = function(r) return 'no' end } }"),
		      0600, &err);
	for (n = 0; n < 100000 && !(done_fx && done_pol); n++) {
		struct fx *fx;
		struct pol p;
		struct jv *req = jv_obj(), *ret = NULL;
		const struct jv *args[1] = { req };

		if (!done_fx) {
			lh__fail_after = n;
			fx = fx_load(fxp, NULL, &err);
			if (fx)
				fx_llm_next(fx, req, &err);
			fx_free(fx);
			done_fx = lh__fail_after > 0 ? n : 0;
		}
		if (!done_pol) {
			lh__fail_after = n;
			pol_init(&p);
			if (pol_load_file(&p, polp, NULL, &err) == 0 &&
			    pol_hook(&p, "on_request", args, 1, &ret, &err) == 0)
				jv_unref(ret);
			pol_free(&p);
			done_pol = lh__fail_after > 0 ? n : 0;
		}
		lh__fail_after = -1;
		jv_unref(req);
	}
	printf("# fixture: %ld allocations, policy: %ld allocations swept\n", done_fx, done_pol);
	CHECK(done_fx > 100 && done_pol > 100);
	sl_rm_rf(dir);
}
