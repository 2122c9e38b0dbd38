/* Coroutine tasks: yield/resume through a fake services.call that completes
 * synchronously or later, errors, fatal errors, abort, budgets over slices,
 * and async primitives refused outside tasks. */
#include <stdio.h>

#include "lhtest.h"

struct fake {
	int sync;             /* complete inside call() */
	int calls;
	char last_service[64];
	char *last_args;      /* compact JSON */
	lh_done_fn done;      /* a completion held for later */
	void *token;
	const char *err;      /* complete with this error */
	int fatal;
	int refuse;           /* return <0 from call() */
};

static int fake_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		     lh_done_fn done, void *token, struct sl_err *err)
{
	struct fake *f = ud;

	SL_UNUSED(task_ctx);
	f->calls++;
	snprintf(f->last_service, sizeof(f->last_service), "%s", service);
	free(f->last_args);
	f->last_args = jv_to_string(args, JV_EMIT_SORTED);
	jv_unref(args);
	if (f->refuse)
		return sl_err_set(err, SL_EUNAVAIL, "service refused");
	if (f->sync) {
		struct jv *r = jv_obj();

		jv_set(r, "service", jv_str(service));
		jv_set(r, "n", jv_int(f->calls));
		done(token, f->err ? NULL : r, f->err, f->fatal);
		if (f->err)
			jv_unref(r);
		return 0;
	}
	f->done = done;
	f->token = token;
	return 0;
}

struct outcome {
	int called;
	char *result; /* JSON or "ERR: msg" */
};

static void task_done(void *ud, struct jv *result, const char *errmsg)
{
	struct outcome *o = ud;

	o->called++;
	free(o->result);
	if (errmsg)
		o->result = sl_xasprintf("ERR: %s", errmsg);
	else
		o->result = jv_to_string(result, JV_EMIT_SORTED);
	jv_unref(result);
}

static struct lh_state *mk(struct fake *f, uint64_t budget)
{
	struct sl_err err = { 0 };
	struct lh_services svc = { .ud = f, .call = fake_call };
	struct lh_limits lim = { .instr_per_call = budget };

	return lh_new(LH_TOOL, &lim, &svc, NULL, &err);
}

static int load(struct lh_state *st, const char *src)
{
	struct sl_err err = { 0 };
	int ref = LUA_NOREF;

	if (lh_load_string(st, "tool.lua", src, strlen(src), &ref, &err))
		printf("# load: %s\n", err.msg);
	return ref;
}

static void complete(struct fake *f, struct jv *res, const char *err, int fatal)
{
	lh_done_fn d = f->done;

	f->done = NULL;
	d(f->token, res, err, fatal);
}

TEST(sync_completion)
{
	struct fake f = { .sync = 1 };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { run = function(input, ctx)\n"
			   "  local r = silo.helper.exec{command = input.cmd}\n"
			   "  local r2 = silo.helper.read{path = 'x'}\n"
			   "  return {content = r.service .. ' ' .. r2.service .. ' ' .. ctx.agent,"
			   " is_error = false}\n"
			   "end }");
	struct jv *in = jv_obj(), *ctx = jv_obj();

	jv_set(in, "cmd", jv_str("ls"));
	jv_set(ctx, "agent", jv_str("agent-0"));
	CHECK(lh_task_start(st, ref, "run", in, ctx, NULL, task_done, &o) == NULL);
	CHECK(o.called == 1);
	CHECK_STR(o.result, "{\"content\":\"helper.exec helper.read agent-0\",\"is_error\":false}");
	CHECK_STR(f.last_args, "{\"path\":\"x\"}");
	jv_unref(in);
	jv_unref(ctx);
	free(o.result);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(async_completion)
{
	struct fake f = { 0 };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { run = function(input)\n"
			   "  local a = silo.agent.spawn{prompt = 'p'}\n"
			   "  local b = silo.agent.await{agent = a.id}\n"
			   "  silo.session.shutdown('bye')\n"
			   "  return a.id .. ':' .. b.result\n"
			   "end }");
	struct lh_task *t = lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);
	struct jv *r;

	CHECK(t != NULL);
	CHECK(o.called == 0);
	CHECK_STR(f.last_service, "agent.spawn");
	r = jv_obj();
	jv_set(r, "id", jv_str("agent-1"));
	complete(&f, r, NULL, 0);
	CHECK(o.called == 0);
	CHECK_STR(f.last_service, "agent.await");
	CHECK_STR(f.last_args, "{\"agent\":\"agent-1\"}");
	r = jv_obj();
	jv_set(r, "result", jv_str("done"));
	complete(&f, r, NULL, 0);
	CHECK_STR(f.last_service, "session.shutdown");
	CHECK_STR(f.last_args, "{\"message\":\"bye\"}");
	complete(&f, jv_null(), NULL, 0);
	CHECK(o.called == 1);
	CHECK_STR(o.result, "\"agent-1:done\"");
	free(o.result);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(service_errors)
{
	struct fake f = { .sync = 1, .err = "cannot open x: No such file" };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { run = function()\n"
			   "  local r, e = silo.helper.read{path = 'x'}\n"
			   "  return {r == nil, e}\n"
			   "end, soft = function() return nil, {class = 'api', message = 'm'} end }");

	lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);
	CHECK_STR(o.result, "[true,\"cannot open x: No such file\"]");
	/* call() refusing: nil, err without yielding. */
	f.refuse = 1;
	lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);
	CHECK_STR(o.result, "[true,\"service refused\"]");
	/* nil, err returned by the function itself. */
	lh_task_start(st, ref, "soft", NULL, NULL, NULL, task_done, &o);
	CHECK_STR(o.result, "[null,{\"class\":\"api\",\"message\":\"m\"}]");
	lh_task_start(st, ref, "missing", NULL, NULL, NULL, task_done, &o);
	CHECK_STR(o.result, "ERR: missing: no such function");
	CHECK(o.called == 4);
	free(o.result);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(fatal_cannot_be_caught)
{
	struct fake f = { 0 };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { run = function()\n"
			   "  for i = 1, 3 do pcall(silo.helper.exec, {command = 'x'}) end\n"
			   "  return 'swallowed'\n"
			   "end }");
	struct lh_task *t = lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);

	CHECK(t != NULL);
	complete(&f, NULL, "helper connection lost", 1);
	CHECK(o.called == 1);
	CHECK_STR(o.result, "ERR: helper connection lost");
	free(o.result);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(abort_pending)
{
	struct fake f = { 0 };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { run = function() silo.helper.exec{command = 'x'}"
			   " return 1 end }");
	struct lh_task *t = lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);

	CHECK(t != NULL);
	lh_task_abort(t);
	complete(&f, jv_str("late"), NULL, 0); /* no-op, frees the zombie */
	CHECK(o.called == 0);
	/* Abort with no completion ever arriving: freed by lh_free. */
	t = lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);
	lh_task_abort(t);
	CHECK(o.called == 0);
	lh_task_abort(NULL);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(not_allowed_outside_tasks)
{
	struct fake f = { .sync = 1 };
	struct lh_state *st = mk(&f, 0);
	struct outcome o = { 0 };
	int ref = load(st, "return { nested = function()\n"
			   "  local co = coroutine.wrap(function() return silo.helper.read{path='a'} end)\n"
			   "  return co()\n"
			   "end, sorted = function()\n"
			   "  local t = {2, 1} table.sort(t, function(a, b) silo.helper.read{} return a < b end)\n"
			   "end }");

	CHECK_EVAL(st, "return silo.helper.read{path = 'x'}",
		   "ERR: test.lua:1: silo.helper.read: not allowed here");
	lh_task_start(st, ref, "nested", NULL, NULL, NULL, task_done, &o);
	CHECK(o.result && strstr(o.result, "silo.helper.read: not allowed here"));
	lh_task_start(st, ref, "sorted", NULL, NULL, NULL, task_done, &o);
	CHECK(o.result && strstr(o.result, "silo.helper.read: not allowed here"));
	CHECK(f.calls == 0);
	free(o.result);
	lh_unref(st, ref);
	lh_free(st);
}

TEST(budget_over_slices)
{
	struct fake f = { 0 };
	struct lh_state *st = mk(&f, 1500000);
	struct outcome o = { 0 };
	/* Each slice spends ~1M instructions; the second slice crosses 1.5M. */
	int ref = load(st, "return { run = function()\n"
			   "  local n = 0 for i = 1, 500000 do n = n + i end\n"
			   "  silo.helper.exec{command = 'x'}\n"
			   "  for i = 1, 500000 do n = n + i end\n"
			   "  return n\n"
			   "end, spin = function() while true do end end }");
	struct lh_task *t = lh_task_start(st, ref, "run", NULL, NULL, NULL, task_done, &o);

	CHECK(t != NULL);
	CHECK(o.called == 0);
	complete(&f, jv_null(), NULL, 0);
	CHECK(o.called == 1);
	CHECK_STR(o.result, "ERR: tool.lua: instruction budget exceeded");
	lh_task_start(st, ref, "spin", NULL, NULL, NULL, task_done, &o);
	CHECK_STR(o.result, "ERR: tool.lua: instruction budget exceeded");
	free(o.result);
	free(f.last_args);
	lh_unref(st, ref);
	lh_free(st);
}

/* Task B's service call completes task A's pending call synchronously:
 * A must not be resumed inside B's slice, but right after it. */
static struct fake *g_other;
static int order_pos;
static char order[64];

static int chain_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		      lh_done_fn done, void *token, struct sl_err *err)
{
	struct fake *f = ud;

	SL_UNUSED(task_ctx);
	SL_UNUSED(err);
	jv_unref(args);
	order[order_pos++] = service[0];
	if (!strcmp(service, "agent.await")) {
		f->done = done;
		f->token = token;
		return 0;
	}
	/* "frontend.ask": complete the held await first, then ourselves. */
	complete(g_other, jv_str("from-b"), NULL, 0);
	order[order_pos++] = 'x';
	done(token, jv_str("answer"), NULL, 0);
	return 0;
}

static void order_done(void *ud, struct jv *result, const char *errmsg)
{
	SL_UNUSED(errmsg);
	order[order_pos++] = *(const char *)ud;
	jv_unref(result);
}

TEST(completion_during_other_slice)
{
	struct fake f = { 0 };
	struct sl_err err = { 0 };
	struct lh_services svc = { .ud = &f, .call = chain_call };
	struct lh_state *st = lh_new(LH_TOOL, NULL, &svc, NULL, &err);
	int ref = load(st, "return { a = function() return silo.agent.await{} end,"
			   " b = function() return silo.frontend.ask{} end }");

	g_other = &f;
	order_pos = 0;
	memset(order, 0, sizeof(order));
	CHECK(lh_task_start(st, ref, "a", NULL, NULL, NULL, order_done, "A") != NULL);
	CHECK(lh_task_start(st, ref, "b", NULL, NULL, NULL, order_done, "B") == NULL);
	/* a: await held; b: ask completes A (queued), x, then B finishes; A after. */
	CHECK_STR(order, "afxBA");
	lh_unref(st, ref);
	lh_free(st);
}
