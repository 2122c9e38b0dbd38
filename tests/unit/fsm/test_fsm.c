/* The generic runner and the shipped tables: order, reachability, coverage
 * of INTERRUPT and SHUTDOWN, undefined pairs reported and harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ag.h"
#include "fsm/fsm.h"
#include "harness/hr.h"
#include "tap.h"

enum { S_A, S_B, S_C };
enum { E_GO, E_BACK, E_FAIL, E_ALT };
static const char *const st[] = { "A", "B", "C" };
static const char *const ev[] = { "GO", "BACK", "FAIL", "ALT" };
static int undefined_calls, acted;

static int act_ok(void *o, void *d) { acted++; return 0; }
static int act_fail(void *o, void *d) { return -1; }
static int act_alt(void *o, void *d) { return 1; }
static void undef(void *o, int s, int e) { undefined_calls++; }

static const struct fsm_row rows[] = {
	{ S_A, E_GO, act_ok, "act_ok", S_B, S_B, S_C },
	{ S_B, E_BACK, act_ok, "act_ok", S_A, S_A, S_C },
	{ S_B, E_FAIL, act_fail, "act_fail", S_A, S_A, S_C },
	{ S_B, E_ALT, act_alt, "act_alt", S_A, S_C, S_A },
};
static const struct fsm_def def = { "test", "doc", st, 3, ev, 4, rows, 4, undef };

TEST(step_moves_and_errors)
{
	int s = S_A;
	CHECK(fsm_step(&def, &s, E_GO, NULL, NULL) == 0);
	CHECK(s == S_B && acted == 1);
	CHECK(fsm_step(&def, &s, E_FAIL, NULL, NULL) < 0);
	CHECK(s == S_C); /* on_err */
	s = S_B;
	CHECK(fsm_step(&def, &s, E_ALT, NULL, NULL) == 1);
	CHECK(s == S_C); /* alt */
}

TEST(undefined_pair_is_reported_not_fatal)
{
	int s = S_A;
	undefined_calls = 0;
	CHECK(fsm_step(&def, &s, E_BACK, NULL, NULL) == -1);
	CHECK(s == S_A);
	CHECK(undefined_calls == 1);
}

TEST(checker_finds_problems)
{
	static const struct fsm_row bad[] = {
		{ S_B, E_GO, NULL, NULL, S_A, S_A, S_A },
		{ S_A, E_GO, NULL, NULL, S_B, S_B, S_B },
		{ S_A, E_GO, NULL, NULL, S_B, S_B, S_B },
	};
	struct fsm_def d = def;
	d.rows = bad;
	d.n_rows = 3;
	FILE *devnull = fopen("/dev/null", "w");
	CHECK(fsm_check(&d, devnull) >= 3); /* unsorted, duplicate, C unreachable */
	fclose(devnull);
}

TEST(shipped_tables_are_sound)
{
	for (const struct fsm_def *const *d = hr_machines; *d; d++) {
		CHECK(fsm_check(*d, stdout) == 0);
		printf("# checked table %s (%d rows)\n", (*d)->name, (*d)->n_rows);
	}
}

TEST(agent_states_handle_interrupt_and_shutdown)
{
	const struct fsm_def *d = &ag_agent_fsm;
	for (int s = 0; s < d->n_states; s++) {
		CHECK(fsm_find(d, s, AG_E_SHUTDOWN) != NULL);
		CHECK(fsm_find(d, s, AG_E_INTERRUPT) != NULL);
	}
	/* A stale completion after a turn ended is absorbed, not undefined. */
	CHECK(fsm_find(d, AG_S_DONE, AG_E_LLM_REPLY) != NULL);
	CHECK(fsm_find(d, AG_S_DONE, AG_E_TOOL_DONE) != NULL);
}

TEST(agent_errors_reach_a_sticky_failed)
{
	const struct fsm_def *d = &ag_agent_fsm;
	for (int i = 0; i < d->n_rows; i++) {
		const struct fsm_row *r = &d->rows[i];
		CHECK(r->on_err == AG_S_FAILED);
		if (r->from == AG_S_FAILED)
			CHECK(r->to == AG_S_FAILED && r->alt == AG_S_FAILED);
	}
	for (int e = 0; e < d->n_events; e++)
		CHECK(fsm_find(d, AG_S_FAILED, e) != NULL);
}

TEST(session_table_is_total_and_failed_is_sticky)
{
	const struct fsm_def *d = &ag_ctl_fsm;
	for (int s = 0; s < d->n_states; s++)
		for (int e = 0; e < d->n_events; e++)
			CHECK(fsm_find(d, s, e) != NULL);
	for (int i = 0; i < d->n_rows; i++)
		if (d->rows[i].from == AG_CS_FAILED || d->rows[i].from == AG_CS_FAILING)
			CHECK(d->rows[i].to != AG_CS_DONE && d->rows[i].to != AG_CS_RUNNING);
	CHECK(fsm_find(d, AG_CS_DONE, AG_CE_FAIL)->to == AG_CS_FAILED);
}

TEST(tool_call_always_ends)
{
	const struct fsm_def *d = &ag_call_fsm;
	/* Every state can be aborted and takes a finished task (or a stale
	 * one) without an undefined pair. */
	for (int s = 0; s < d->n_states; s++) {
		CHECK(fsm_find(d, s, AG_CLE_ABORT) && fsm_find(d, s, AG_CLE_ABORT)->to == AG_CL_IDLE);
		CHECK(fsm_find(d, s, AG_CLE_FINISH) &&
		      fsm_find(d, s, AG_CLE_FINISH)->to == AG_CL_IDLE);
	}
	/* A fatal service error stays until the task is done or abandoned. */
	CHECK(fsm_find(d, AG_CL_FATAL, AG_CLE_RESUME)->to == AG_CL_FATAL);
	CHECK(fsm_find(d, AG_CL_FATAL, AG_CLE_FATAL)->to == AG_CL_FATAL);
	CHECK(fsm_find(d, AG_CL_FATAL, AG_CLE_WAIT) == NULL);
}

TEST(subagent_ends_once)
{
	const struct fsm_def *d = &ag_child_fsm;
	CHECK(fsm_find(d, AG_C_RUNNING, AG_CE_CHILD_COLLECT) == NULL); /* not before it ends */
	for (int e = 0; e < d->n_events; e++) {
		CHECK(fsm_find(d, AG_C_COLLECTED, e) == NULL);
		CHECK(fsm_find(d, AG_C_CANCELLED, e) == NULL);
	}
}

TEST(dump_formats)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	fsm_dump(&def, f, FSM_MARKDOWN);
	fsm_dump(&def, f, FSM_DOT);
	fclose(f);
	CHECK(strstr(buf, "| A | GO | act_ok | B | - | C |") != NULL);
	CHECK(strstr(buf, "B -> C [label=\"ALT / act_alt\" style=dashed];") != NULL);
	free(buf);
}
