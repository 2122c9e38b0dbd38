/*
 * fsm: the generic runner for static transition tables (SPEC.md 3,
 * STYLE.md 5). A table is rows of (state, event) -> action, next state,
 * state on error. Only fsm_step() moves a machine's state. An undefined
 * pair is reported through the definition's `undefined` hook (journaled as
 * a lifecycle note by the owner), never a crash.
 *
 * The runner knows no table: the layer that composes a session lists them
 * all (engine/harness/hr_machines.c) so that `silo debug fsm` can print
 * them and the docs can be generated from the binary.
 */
#ifndef FSM_H
#define FSM_H

#include <stdio.h>

struct fsm_row {
	int from, on;
	/* 0: go to `to`; 1: go to `alt` (the row's documented second
	 * outcome); < 0: go to `on_err`. The action may post follow-up events
	 * through its owner's queue; they run after the move. */
	int (*act)(void *obj, void *data);
	const char *act_name;
	int to, alt, on_err;
};

struct fsm_def {
	const char *name;
	const char *doc; /* one paragraph for the generated docs */
	const char *const *states; int n_states;
	const char *const *events; int n_events;
	const struct fsm_row *rows; int n_rows;
	/* Called for a (state, event) pair with no row. */
	void (*undefined)(void *obj, int state, int event);
};

/* Runs one event. Returns the action's result, or -1 for an undefined pair
 * (state unchanged). */
int fsm_step(const struct fsm_def *def, int *state, int event, void *obj, void *data);
const struct fsm_row *fsm_find(const struct fsm_def *def, int state, int event);

enum fsm_fmt { FSM_MARKDOWN, FSM_DOT };
void fsm_dump(const struct fsm_def *def, FILE *out, enum fsm_fmt fmt);
/* Checks the table: rows sorted by `from`, no duplicate pairs, indexes in
 * range, every state reachable from state 0. Writes problems to out;
 * returns their count. */
int fsm_check(const struct fsm_def *def, FILE *out);

#endif
