/*
 * The headless frontend (tools.md 5.3, costs.md 6): the CLI prompt is the
 * first input, a later input request gets a fixed reminder that nobody is
 * there (at most max_reminders times; then the session fails with
 * AG_END_NO_EXIT), the Exit tool ends the session, and at the end the final
 * message and one cost line per backend go to stdout.
 *
 * While it runs it shows what happens: by default one compact line per
 * step on stderr (the agent's text, each tool call with a one-line summary
 * of its input, each result's status and size, subagents and errors),
 * coloured on a terminal; with --output json one event object per line on
 * stdout instead (then stdout holds nothing else); --quiet shows neither.
 * Everything the model wrote is escaped for the terminal (sl_term_escape).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/fe.h"

struct headless {
	char *prompt;  /* owned */
	int reminders; /* sent so far */
	enum fe_headless_output output;
	int color;     /* stderr is a terminal that wants colour */
};

#define HL_SUMMARY 100 /* characters of a tool input or result shown */

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

/* Appends s escaped, cut at max characters on one line. */
static void add_line(struct sl_buf *b, const char *s, size_t max)
{
	struct sl_buf e;
	sl_buf_init(&e);
	sl_term_escape(&e, s, 0);
	if (e.len > max) {
		/* do not split an escape or a UTF-8 sequence */
		size_t n = max;
		while (n > 0 && ((unsigned char)e.p[n] & 0xc0) == 0x80)
			n--;
		sl_buf_add(b, e.p, n);
		sl_buf_adds(b, "...");
	} else if (e.len) {
		sl_buf_add(b, e.p, e.len);
	}
	sl_buf_free(&e);
}

/* One line for a tool input: its most telling string field, else the
 * compact JSON. */
static void input_summary(struct sl_buf *b, const struct jv *input)
{
	static const char *const keys[] = { "command", "path", "file_path", "pattern", "url",
					    "query", "name", "prompt", "message", NULL };
	for (int i = 0; keys[i]; i++) {
		const char *v = jv_get_str(input, keys[i]);
		if (v) {
			add_line(b, v, HL_SUMMARY);
			return;
		}
	}
	char *j = jv_to_string(input, 0);
	add_line(b, j ? j : "", HL_SUMMARY);
	free(j);
}

static const char *paint(const struct headless *h, const char *code)
{
	return h->color ? code : "";
}

static void progress(struct headless *h, const struct jv *ev)
{
	const char *kind = jv_get_str(ev, "kind"), *agent = jv_get_str(ev, "agent");
	const char *dim = paint(h, "\033[2m"), *off = paint(h, "\033[0m");
	struct sl_buf b;
	if (!kind)
		return;
	sl_buf_init(&b);
	if (agent && strcmp(agent, "agent-0"))
		sl_buf_printf(&b, "%s[%s]%s ", dim, agent, off);
	if (!strcmp(kind, "assistant_text")) {
		/* each line of the text, escaped; long texts keep their lines */
		struct sl_buf e;
		sl_buf_init(&e);
		sl_term_escape(&e, jv_get_str(ev, "text"), 1);
		sl_buf_add(&b, e.p ? e.p : "", e.len);
		sl_buf_free(&e);
	} else if (!strcmp(kind, "tool_use")) {
		const struct jv *call = jv_get(ev, "call");
		sl_buf_printf(&b, "%s> ", paint(h, "\033[36m"));
		add_line(&b, jv_get_str(call, "name") ? jv_get_str(call, "name") : "?", 40);
		sl_buf_printf(&b, "%s ", off);
		input_summary(&b, jv_get(call, "input"));
	} else if (!strcmp(kind, "tool_result")) {
		const struct jv *out = jv_get(ev, "output");
		int bad = jv_bool_val(jv_get(out, "is_error"));
		const char *c = jv_get_str(out, "content");
		size_t n = c ? strlen(c) : 0;
		if (!c) {
			char *j = jv_to_string(jv_get(out, "content"), 0);
			n = j ? strlen(j) : 0;
			free(j);
		}
		sl_buf_printf(&b, "  %s%s%s ", paint(h, bad ? "\033[31m" : "\033[32m"),
			      bad ? "error" : "ok", off);
		add_line(&b, jv_get_str(ev, "tool_name") ? jv_get_str(ev, "tool_name") : "?", 40);
		sl_buf_printf(&b, ", %zu bytes", n);
		if (bad && c) {
			sl_buf_adds(&b, ": ");
			add_line(&b, c, HL_SUMMARY);
		}
	} else if (!strcmp(kind, "agent_spawned")) {
		sl_buf_printf(&b, "%s+ subagent %s", paint(h, "\033[35m"), off);
		add_line(&b, jv_get_str(ev, "name") ? jv_get_str(ev, "name") : "", 40);
		sl_buf_adds(&b, ": ");
		add_line(&b, jv_get_str(ev, "prompt") ? jv_get_str(ev, "prompt") : "", HL_SUMMARY);
	} else if (!strcmp(kind, "agent_completed")) {
		int bad = jv_bool_val(jv_get(ev, "is_error"));
		sl_buf_printf(&b, "%s- subagent %s%s", paint(h, "\033[35m"),
			      bad ? "failed" : "done", off);
		if (jv_get_str(ev, "result")) {
			sl_buf_adds(&b, ": ");
			add_line(&b, jv_get_str(ev, "result"), HL_SUMMARY);
		}
	} else if (!strcmp(kind, "error")) {
		sl_buf_printf(&b, "%s! ", paint(h, "\033[31m"));
		add_line(&b, jv_get_str(ev, "context") ? jv_get_str(ev, "context") : "", 60);
		sl_buf_printf(&b, ":%s ", off);
		add_line(&b, jv_get_str(ev, "message") ? jv_get_str(ev, "message") : "", 400);
	} else {
		sl_buf_free(&b);
		return;
	}
	sl_buf_addc(&b, '\n');
	fputs(b.p, stderr);
	fflush(stderr);
	sl_buf_free(&b);
}

static void on_event(struct fe *fe, const struct jv *ev)
{
	struct headless *h = fe->impl;
	if (h->output == FE_HL_PROGRESS) {
		progress(h, ev);
	} else if (h->output == FE_HL_JSON) {
		/* JSON escapes C0 controls; DEL and the C1 controls, which JSON
		 * allows raw, are escaped here too, so the line is terminal-safe. */
		char *line = jv_to_string(ev, 0);
		struct sl_buf b;
		sl_buf_init(&b);
		for (const unsigned char *p = (const unsigned char *)line; p && *p; p++) {
			if (*p == 0x7f) {
				sl_buf_adds(&b, "\\u007f");
			} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0) {
				sl_buf_printf(&b, "\\u00%02x", p[1]);
				p++;
			} else {
				sl_buf_addc(&b, (char)*p);
			}
		}
		sl_buf_addc(&b, '\n');
		fputs(b.p, stdout);
		fflush(stdout);
		sl_buf_free(&b);
		free(line);
	}
}

static void finish(struct fe *fe, const char *final_message)
{
	struct ag_session *s = fe->sess;
	struct headless *h = fe->impl;
	if (h->output == FE_HL_JSON)
		return; /* the shutdown and cost_report events said it all */
	if (final_message) {
		struct sl_buf e;
		sl_buf_init(&e);
		sl_term_escape(&e, final_message, 1);
		printf("%s\n", e.p ? e.p : "");
		sl_buf_free(&e);
	}
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
	.on_event = on_event,
	.finish = finish,
	.free = hl_free,
};

struct fe *fe_headless_new(struct ag_session *s, const char *prompt,
			   enum fe_headless_output output)
{
	struct fe *fe = sl_xcalloc(1, sizeof *fe);
	struct headless *h = sl_xcalloc(1, sizeof *h);
	h->prompt = sl_xstrdup(prompt);
	h->output = output;
	h->color = fe_term_color(2);
	fe->ops = &headless_ops;
	fe->sess = s;
	fe->impl = h;
	return fe;
}
