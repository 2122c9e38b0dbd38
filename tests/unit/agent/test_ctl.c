/* The session controls (ag_ctl.c) on a real loop: the first failure is
 * sticky, FAILED outlives a clean finish, a request raised while the
 * shutdown goes out is applied, and ag_session_exit() maps the outcome. */
#include <stdlib.h>
#include <string.h>

#include "agent/ag.h"
#include "tap.h"

struct fake_fe {
	struct fe fe;
	int finished;
	char *final;       /* last final message seen */
	int fail_in_finish;
};

static void fake_finish(struct fe *fe, const char *final_message)
{
	struct fake_fe *f = (struct fake_fe *)fe;
	f->finished++;
	free(f->final);
	f->final = final_message ? strdup(final_message) : NULL;
	if (f->fail_in_finish)
		ag_frontend_error(fe->sess, "terminal went away");
}

static const struct fe_ops fake_ops = { .kind = "fake", .finish = fake_finish };

struct fixture {
	uv_loop_t loop;
	struct sl_clock clock;
	struct ag_backend be;
	struct fake_fe fe;
	struct ag_session *s;
	int done_cb;
};

static void on_finished(struct ag_session *s, void *ud)
{
	((struct fixture *)ud)->done_cb++;
}

static void setup(struct fixture *x)
{
	memset(x, 0, sizeof *x);
	uv_loop_init(&x->loop);
	struct ag_options o = { .harness_id = "h", .workspace = "/w", .lua_dir = "." };
	x->clock.fake = 1;
	x->s = ag_session_new(&x->loop, &o, &x->clock, NULL);
	x->be.id = "mock";
	x->s->backend = &x->be;
	x->fe.fe.ops = &fake_ops;
	x->fe.fe.sess = x->s;
	x->s->frontend = &x->fe.fe;
	x->s->on_finished = on_finished;
	x->s->on_finished_ud = x;
}

static void run(struct fixture *x)
{
	while (uv_run(&x->loop, UV_RUN_ONCE) && !ag_session_finished(x->s))
		;
}

static int teardown(struct fixture *x)
{
	ag_session_free(x->s);
	free(x->fe.final);
	return uv_loop_close(&x->loop);
}

static int exit_of(struct ag_session *s, char *msg, size_t n)
{
	struct sl_buf b;
	sl_buf_init(&b);
	int rc = ag_session_exit(s, &b);
	snprintf(msg, n, "%s", b.p ? b.p : "");
	sl_buf_free(&b);
	return rc;
}

TEST(first_failure_is_sticky)
{
	struct fixture x;
	char msg[256];
	setup(&x);
	ag_session_fail(x.s, AG_END_LLM, "backend %s", "down");
	CHECK(ag_session_stopping(x.s) && !ag_session_finished(x.s));
	ag_session_fail(x.s, AG_END_RUNTIME, "later");
	ag_request_shutdown(x.s, "bye");
	unsigned gen = x.s->gen;
	ag_request_interrupt(x.s); /* ignored once stopping */
	CHECK(x.s->gen == gen);
	run(&x);
	CHECK(x.s->ctl_state == AG_CS_FAILED);
	CHECK(x.fe.finished == 1 && x.done_cb == 1);
	CHECK(x.fe.final == NULL); /* an LLM failure shows no final message */
	CHECK(exit_of(x.s, msg, sizeof msg) == 3);
	CHECK_STR(msg, "session ended by LLM failure: backend down");
	CHECK(x.s->top->state == AG_S_DONE);
	CHECK(teardown(&x) == 0);
}

TEST(clean_finish_then_late_failure)
{
	struct fixture x;
	char msg[256];
	setup(&x);
	ag_request_shutdown(x.s, "bye");
	ag_request_shutdown(x.s, "second"); /* the first request wins */
	run(&x);
	CHECK(x.s->ctl_state == AG_CS_DONE);
	CHECK_STR(x.fe.final, "bye");
	CHECK(exit_of(x.s, msg, sizeof msg) == 0 && !msg[0]);
	ag_session_fail(x.s, AG_END_RUNTIME, "sandbox stop failed");
	CHECK(x.s->ctl_state == AG_CS_FAILED);
	CHECK(exit_of(x.s, msg, sizeof msg) == 1);
	CHECK_STR(msg, "sandbox stop failed");
	CHECK(x.fe.finished == 1 && x.done_cb == 1); /* finished once */
	CHECK(teardown(&x) == 0);
}

TEST(request_inside_the_finish_is_applied)
{
	struct fixture x;
	char msg[256];
	setup(&x);
	x.fe.fail_in_finish = 1;
	ag_request_shutdown(x.s, "bye");
	run(&x);
	CHECK(x.s->ctl_state == AG_CS_FAILED);
	CHECK(exit_of(x.s, msg, sizeof msg) == 1);
	CHECK_STR(msg, "terminal went away");
	CHECK(teardown(&x) == 0);
}

TEST(every_outcome_has_a_code)
{
	struct fixture x;
	char msg[256];
	static const struct { enum ag_end end; int code; const char *msg; } want[] = {
		{ AG_END_RUNTIME, 1, "m" },
		{ AG_END_LLM, 3, "session ended by LLM failure: m" },
		{ AG_END_NO_EXIT, 3, "session ended without Exit: m" },
		{ AG_END_MAX_TURNS, 3, "session ended at its turn limit: m" },
		{ AG_END_TIMEOUT, 3, "session ended at its time limit: m" },
		{ AG_END_SCRIPT, 4, "script failure: m" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
		setup(&x);
		ag_session_fail(x.s, want[i].end, "m");
		run(&x);
		CHECK(exit_of(x.s, msg, sizeof msg) == want[i].code);
		CHECK_STR(msg, want[i].msg);
		CHECK(teardown(&x) == 0);
	}
}
