/*
 * The mock frontend (replay.md 6): consumes the fixture's frontend steps
 * through one cursor when agent-0 wants input and when AskUserQuestion asks.
 * An expect_event step waits (with no timeout) until some event of the
 * session so far matches; a live match resumes from an idle callback so the
 * frontend never re-enters the engine from inside an event emission.
 */
#include <stdlib.h>
#include <string.h>

#include "frontends/fe.h"
#include "mock/fx.h"

enum mode { M_NONE, M_INPUT, M_ASK };

struct mockfe {
	struct fx *fx;               /* borrowed */
	enum mode waiting;           /* what an expect_event wait resumes */
	const struct jv *want;       /* borrowed: the expect_event step fields */
	size_t checked;              /* events already compared */
	struct ag_pending *ask;      /* borrowed: the question waiting */
	struct jv *question;         /* owned */
	char *ask_agent;             /* owned */
	uv_idle_t resume;
	int resume_active;
};

static void run_input(struct fe *fe);
static void run_ask(struct fe *fe);

/* Compact JSON of {"kind":...,<payload>} (the event minus seq and time). */
static int event_matches(const struct jv *ev, const struct jv *want)
{
	const char *kind = jv_get_str(want, "kind");
	if (!kind || strcmp(kind, jv_get_str(ev, "kind") ? jv_get_str(ev, "kind") : ""))
		return 0;
	const char *contains = jv_get_str(want, "contains");
	if (!contains)
		return 1;
	struct jv *o = jv_obj();
	for (size_t i = 0; i < jv_len(ev); i++) {
		const char *k = jv_key_at(ev, i);
		if (strcmp(k, "seq") && strcmp(k, "time"))
			jv_set(o, k, jv_ref(jv_val_at(ev, i)));
	}
	char *txt = jv_to_string(o, 0);
	int ok = strstr(txt, contains) != NULL;
	free(txt);
	jv_unref(o);
	return ok;
}

/* 1 when some event so far matches the awaited step. */
static int seen(struct fe *fe)
{
	struct mockfe *m = fe->impl;
	const struct jv *events = fe->sess->events;
	for (; m->checked < jv_len(events); m->checked++)
		if (event_matches(jv_at(events, m->checked), m->want))
			return 1;
	return 0;
}

static void resume_cb(uv_idle_t *h)
{
	struct fe *fe = h->data;
	struct mockfe *m = fe->impl;
	uv_idle_stop(h);
	m->resume_active = 0;
	enum mode md = m->waiting;
	m->waiting = M_NONE;
	if (md == M_INPUT)
		run_input(fe);
	else if (md == M_ASK)
		run_ask(fe);
}

static void on_event(struct fe *fe, const struct jv *ev)
{
	struct mockfe *m = fe->impl;
	if (m->waiting == M_NONE || m->resume_active)
		return;
	if (seen(fe)) {
		m->resume_active = 1;
		uv_idle_start(&m->resume, resume_cb);
	}
}

static const struct fx_step *cur(struct mockfe *m)
{
	return m->fx->cursor < m->fx->n_steps ? &m->fx->steps[m->fx->cursor] : NULL;
}

/* Starts an expect_event wait; returns 1 when the caller must stop. */
static int expect(struct fe *fe, const struct fx_step *st, enum mode md)
{
	struct mockfe *m = fe->impl;
	m->fx->cursor++;
	m->want = st->fields;
	m->checked = 0;
	if (seen(fe))
		return 0;
	m->waiting = md;
	return 1;
}

static void run_input(struct fe *fe)
{
	struct mockfe *m = fe->impl;
	struct ag_session *s = fe->sess;
	for (;;) {
		const struct fx_step *st = cur(m);
		if (!st) {
			ag_note(s, "mock frontend: input wanted, script exhausted");
			ag_request_shutdown(s, "frontend script exhausted");
			return;
		}
		if (!strcmp(st->step, "expect_event")) {
			if (expect(fe, st, M_INPUT))
				return;
		} else if (!strcmp(st->step, "upload_file")) {
			m->fx->cursor++;
			ag_upload(s, jv_get_str(st->fields, "name"),
				  jv_get_str(st->fields, "content_b64"), "mock");
		} else if (!strcmp(st->step, "interrupt")) {
			m->fx->cursor++;
			ag_request_interrupt(s);
		} else if (!strcmp(st->step, "send_prompt")) {
			m->fx->cursor++;
			ag_user_input(s, jv_get_str(st->fields, "text"), NULL, NULL);
			return;
		} else {
			ag_note(s, "mock frontend: input wanted, found %s", st->step);
			ag_request_shutdown(s, "frontend script exhausted");
			return;
		}
	}
}

static void want_input(struct fe *fe)
{
	run_input(fe);
}

static void answer(struct fe *fe, const char *text, int interrupted)
{
	struct mockfe *m = fe->impl;
	struct ag_session *s = fe->sess;
	char id[24];
	snprintf(id, sizeof id, "q-%d", ++s->question_n);
	struct jv *p = jv_obj();
	jv_set(p, "id", jv_str(id));
	jv_set(p, "agent", jv_str(m->ask_agent));
	jv_set(p, "question", jv_ref(m->question));
	ag_emit(s, "question_asked", p);
	p = jv_obj();
	jv_set(p, "id", jv_str(id));
	jv_set(p, "answer", jv_str(interrupted ? "[interrupted]" : text));
	ag_emit(s, "question_answered", p);
	struct ag_pending *pend = m->ask;
	m->ask = NULL;
	if (interrupted)
		ag_pending_finish(pend, NULL, AG_INTERRUPTED_TEXT, 0);
	else
		ag_pending_finish(pend, jv_str(text), NULL, 0);
}

static void run_ask(struct fe *fe)
{
	struct mockfe *m = fe->impl;
	struct ag_session *s = fe->sess;
	for (;;) {
		const struct fx_step *st = cur(m);
		if (st && !strcmp(st->step, "expect_event")) {
			if (expect(fe, st, M_ASK))
				return;
			continue;
		}
		if (st && !strcmp(st->step, "answer_question")) {
			const char *contains = jv_get_str(st->fields, "contains");
			char *q = jv_to_string(m->question, 0);
			int ok = !contains || strstr(q, contains);
			free(q);
			if (!ok) {
				ag_frontend_error(s, "mock frontend: the question does not match the "
						     "answer_question step's 'contains'");
				return;
			}
			m->fx->cursor++;
			answer(fe, jv_get_str(st->fields, "answer"), 0);
			return;
		}
		if (st && !strcmp(st->step, "interrupt")) {
			m->fx->cursor++;
			ag_request_interrupt(s);
			answer(fe, NULL, 1);
			return;
		}
		char msg[200];
		snprintf(msg, sizeof msg,
			 "mock frontend: AskUserQuestion has no answer_question step (found %s)",
			 st ? st->step : "end of script");
		ag_frontend_error(s, msg);
		return;
	}
}

static int ask(struct fe *fe, const char *agent, const struct jv *question,
	       struct ag_pending *p, struct sl_err *err)
{
	struct mockfe *m = fe->impl;
	jv_unref(m->question);
	m->question = jv_copy(question);
	free(m->ask_agent);
	m->ask_agent = sl_xstrdup(agent);
	m->ask = p;
	run_ask(fe);
	return 0;
}

static void finish(struct fe *fe, const char *final_message)
{
	struct mockfe *m = fe->impl;
	const struct fx_step *st = cur(m);
	if (st && !strcmp(st->step, "expect_shutdown")) {
		m->fx->cursor++;
		const char *want = jv_get_str(st->fields, "message_contains");
		if (want && !strstr(final_message ? final_message : "", want))
			fx_fail(m->fx, "frontend shutdown step did not match");
	}
}

static void closed(uv_handle_t *h)
{
	struct fe *fe = h->data;
	struct mockfe *m = fe->impl;
	jv_unref(m->question);
	free(m->ask_agent);
	free(m);
	free(fe);
}

static void mk_free(struct fe *fe)
{
	struct mockfe *m = fe->impl;
	uv_close((uv_handle_t *)&m->resume, closed);
}

static const struct fe_ops mock_ops = {
	.kind = "mock",
	.want_input = want_input,
	.on_event = on_event,
	.ask = ask,
	.finish = finish,
	.free = mk_free,
};

struct fe *fe_mock_new(struct ag_session *s, struct fx *fx)
{
	struct fe *fe = sl_xcalloc(1, sizeof *fe);
	struct mockfe *m = sl_xcalloc(1, sizeof *m);
	m->fx = fx;
	uv_idle_init(s->loop, &m->resume);
	m->resume.data = fe;
	fe->ops = &mock_ops;
	fe->sess = s;
	fe->impl = m;
	return fe;
}
