/*
 * The headless frontend (tools.md 5.3, costs.md 6): the CLI prompt is the
 * first input, a later input request gets a fixed reminder that nobody is
 * there (at most max_reminders times; then the session fails with
 * AG_END_NO_EXIT), the Exit tool ends the session, and at the end the final
 * message and one cost line per backend go to stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/fe.h"

struct headless {
	char *prompt;  /* owned */
	int reminders; /* sent so far */
};

static const char *finish_hint =
	"When the task is done, call the Exit tool with your final report for the user.";
static const char *reminder =
	"Nobody is interacting with this session, so there is no one to answer. "
	"Continue with the task if anything is left; when it is done, call the Exit tool "
	"with your final report. Exit ends the task.";

static void want_input(struct fe *fe)
{
	struct headless *h = fe->impl;
	if (h->prompt) {
		char *text = sl_xasprintf("%s\n\n%s", h->prompt, finish_hint);
		free(h->prompt);
		h->prompt = NULL;
		ag_user_input(fe->sess, text, NULL, NULL);
		free(text);
		return;
	}
	/* A model that never calls Exit would be reminded forever. */
	if (h->reminders >= fe->sess->opt.max_reminders) {
		ag_session_fail(fe->sess, AG_END_NO_EXIT,
				"the model ended %d turn(s) without calling Exit after %d reminder(s) "
				"(frontend.headless_reminders)", h->reminders + 1, h->reminders);
		return;
	}
	h->reminders++;
	ag_user_input(fe->sess, reminder, NULL, NULL);
}

static void finish(struct fe *fe, const char *final_message)
{
	struct ag_session *s = fe->sess;
	if (final_message)
		printf("%s\n", final_message);
	if (s->backend && s->backend->reported) {
		struct sl_buf b;
		sl_buf_init(&b);
		ag_cost_line(s->backend, &b);
		fputs(b.p, stdout);
		sl_buf_free(&b);
	}
	fflush(stdout);
}

static void hl_free(struct fe *fe)
{
	struct headless *h = fe->impl;
	free(h->prompt);
	free(h);
	free(fe);
}

static const struct fe_ops headless_ops = {
	.kind = "headless",
	.want_input = want_input,
	.finish = finish,
	.free = hl_free,
};

struct fe *fe_headless_new(struct ag_session *s, const char *prompt)
{
	struct fe *fe = sl_xcalloc(1, sizeof *fe);
	struct headless *h = sl_xcalloc(1, sizeof *h);
	h->prompt = sl_xstrdup(prompt);
	fe->ops = &headless_ops;
	fe->sess = s;
	fe->impl = h;
	return fe;
}
