/*
 * fx: a loaded Lua fixture (replay.md 5) and the strict consumption state the
 * mock LLM, mock sandbox and mock frontend share (replay.md 6, 8).
 */
#ifndef FX_H
#define FX_H

#include "base/sl.h"
#include "json/jv.h"

struct lh_state;

struct fx_llm {
	char *expect_user_contains; /* owned or NULL */
	int expect_ref;             /* Lua predicate ref or LUA_NOREF */
	struct jv *response;        /* owned: {content, stop_reason, usage?} */
	int consumed;
};

struct fx_tool {
	char *expect_name;          /* owned */
	struct jv *expect_input;    /* owned or NULL */
	int expect_ref;
	struct jv *output;          /* owned: {content, is_error} */
	int consumed;
};

struct fx_step {
	char *step;                 /* send_prompt, expect_event, answer_question,
				       upload_file, interrupt, expect_shutdown */
	struct jv *fields;          /* owned: the entry minus `step` */
};

struct fx {
	char *path, *name;                 /* owned */
	struct lh_state *lua;              /* owned: holds the predicates */
	struct fx_llm *llm; size_t n_llm;
	struct fx_tool *tools; size_t n_tools;
	struct fx_step *steps; size_t n_steps;
	size_t cursor;                     /* frontend position */
	struct jv *network;                /* owned array, unchecked */
	/* Sticky first failure (replay.md 8): detail without the summary. */
	char *failure;
};

/* Loads and validates; errors name the file and line or entry path. */
struct fx *fx_load(const char *path, const char *lua_dir, struct sl_err *err);
void fx_free(struct fx *fx);

/* Mock LLM match (replay.md 6 steps 2-7). Returns the chosen turn's
 * response (borrowed) and marks it consumed, or NULL with err = mismatch. */
const struct jv *fx_llm_next(struct fx *fx, const struct jv *request, struct sl_err *err);
/* Mock sandbox match. Output borrowed. */
const struct jv *fx_tool_next(struct fx *fx, const char *name, const struct jv *input,
			      struct sl_err *err);
/* "llm c/n, tools c/n, frontend c/n" into out. */
void fx_summary(const struct fx *fx, struct sl_buf *out);
int fx_all_consumed(const struct fx *fx);
/* Sets the sticky failure if none yet. */
void fx_fail(struct fx *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
