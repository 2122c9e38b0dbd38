/*
 * The session: event queue, event bus, journal helpers, start and user
 * input. The session-wide controls (interrupt, shutdown, failure) are a
 * table of their own in ag_ctl.c, applied whenever the queue drains.
 */
#include "agent/ag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"

static void drain_cb(uv_idle_t *h);

void ag__kick(struct ag_session *s)
{
	if (!s->idle_active && !ag_session_finished(s)) {
		uv_idle_start(&s->idle, drain_cb);
		s->idle_active = 1;
	}
}

struct ag_session *ag_session_new(uv_loop_t *loop, const struct ag_options *opt,
				  struct sl_clock *clock, struct jn *journal)
{
	struct ag_session *s = sl_xcalloc(1, sizeof *s);
	s->loop = loop;
	s->opt = *opt;
	s->clock = clock;
	s->journal = journal;
	s->events = jv_arr();
	s->next_agent_num = 1;
	uv_idle_init(loop, &s->idle);
	s->idle.data = s;
	uv_timer_init(loop, &s->deadline);
	s->deadline.data = s;
	s->top = ag_agent_new(s, NULL, NULL);
	return s;
}

static void agent_free(struct ag_agent *a)
{
	jv_unref(a->messages);
	jv_unref(a->calls);
	jv_unref(a->results);
	jv_unref(a->last_text);
	jv_unref(a->last_stop);
	jn_delta_deinit(&a->jdelta);
	free(a->name);
	free(a->result);
	free(a->pool);
	free(a->doneq);
	free(a->await_id);
	free(a->call.fatal);
	free(a->call.pending);
	free(a);
}

static void retry_closed(uv_handle_t *h)
{
	agent_free(h->data);
}

void ag_session_free(struct ag_session *s)
{
	struct ag_agent *a = s->agents;
	while (a) {
		struct ag_agent *n = a->next_all;
		ag_tool_abort(a);
		a->retry_timer.data = a;
		uv_close((uv_handle_t *)&a->retry_timer, retry_closed);
		a = n;
	}
	uv_close((uv_handle_t *)&s->idle, NULL);
	uv_close((uv_handle_t *)&s->deadline, NULL);
	uv_run(s->loop, UV_RUN_NOWAIT);
	for (size_t i = 0; i < s->n_tools; i++)
		ag_tool_clear(&s->tools[i]);
	free(s->tools);
	if (s->tools_lua)
		lh_free(s->tools_lua);
	jv_unref(s->events);
	for (size_t i = 0; i < s->q_len; i++) { /* left when the loop stopped */
		struct ag_qev *e = &s->q[(s->q_head + i) % s->q_cap];
		ag__ev_free(e->event, e->data);
	}
	free(s->q);
	ag__ctl_free(s);
	free(s);
}

struct ag_agent *ag_agent_new(struct ag_session *s, struct ag_agent *parent, const char *name)
{
	struct ag_agent *a = sl_xcalloc(1, sizeof *a);
	a->sess = s;
	a->parent = parent;
	a->num = parent ? s->next_agent_num++ : 0;
	a->kind = parent ? AG_KIND_SUB : AG_KIND_TOP;
	snprintf(a->id, sizeof a->id, "agent-%d", a->num);
	a->name = name ? sl_xstrdup(name) : NULL;
	a->depth = parent ? parent->depth + 1 : 0;
	a->state = AG_S_IDLE;
	a->messages = jv_arr();
	jn_delta_init(&a->jdelta);
	a->gen = s->gen;
	uv_timer_init(s->loop, &a->retry_timer);
	a->retry_timer.data = a;
	a->next_all = s->agents;
	s->agents = a;
	return a;
}

/* ---- queue ---------------------------------------------------------------- */

void ag_post(struct ag_session *s, struct ag_agent *a, int event, void *data)
{
	if (s->q_len == s->q_cap) {
		size_t ncap = s->q_cap ? s->q_cap * 2 : 64;
		struct ag_qev *nq = sl_xcalloc(ncap, sizeof *nq);
		for (size_t i = 0; i < s->q_len; i++)
			nq[i] = s->q[(s->q_head + i) % s->q_cap];
		free(s->q);
		s->q = nq;
		s->q_cap = ncap;
		s->q_head = 0;
	}
	s->q[(s->q_head + s->q_len) % s->q_cap] = (struct ag_qev){ a, event, data };
	s->q_len++;
	ag__kick(s);
}

static int pop(struct ag_session *s, struct ag_qev *out)
{
	if (!s->q_len)
		return 0;
	*out = s->q[s->q_head];
	s->q_head = (s->q_head + 1) % s->q_cap;
	s->q_len--;
	return 1;
}

static void drain_cb(uv_idle_t *h)
{
	struct ag_session *s = h->data;
	struct ag_qev e;
	/* A bounded batch per loop turn keeps I/O callbacks flowing. */
	for (int n = 0; n < 256 && pop(s, &e); n++) {
		if (ag_session_finished(s)) {
			ag__ev_free(e.event, e.data);
			continue;
		}
		if (!fsm_find(&ag_agent_fsm, e.agent->state, e.event))
			ag__ev_free(e.event, e.data); /* journaled by the runner */
		fsm_step(&ag_agent_fsm, &e.agent->state, e.event, e.agent, e.data);
	}
	if (!s->q_len)
		ag__ctl_post(s, AG_CE_DRAINED, AG_END_OK, NULL);
	if (!s->q_len && s->idle_active) {
		uv_idle_stop(&s->idle);
		s->idle_active = 0;
	}
}

/* ---- events and journal -------------------------------------------------- */

static struct jv *time_obj(struct ag_session *s)
{
	uint64_t logical;
	int64_t wall;
	sl_clock_read(s->clock, &logical, &wall);
	struct jv *t = jv_obj();
	jv_set(t, "logical", jv_int((int64_t)logical));
	if (wall >= 0)
		jv_set(t, "wall_ms", jv_int(wall));
	return t;
}

void ag_emit(struct ag_session *s, const char *kind, struct jv *payload)
{
	struct jv *ev = jv_obj();
	jv_set(ev, "seq", jv_int((int64_t)s->next_event_seq++));
	jv_set(ev, "time", time_obj(s));
	jv_set(ev, "kind", jv_str(kind));
	if (payload) {
		for (size_t i = 0; i < jv_len(payload); i++)
			jv_set(ev, jv_key_at(payload, i), jv_ref(jv_val_at(payload, i)));
		jv_unref(payload);
	}
	struct jv *body = jv_obj();
	jv_set(body, "event", jv_ref(ev));
	ag_journal(s, "event", body);
	jv_push(s->events, ev);
	if (s->frontend && s->frontend->ops->on_event)
		s->frontend->ops->on_event(s->frontend, ev);
}

void ag_journal(struct ag_session *s, const char *entry, struct jv *body)
{
	if (s->journal)
		jn_append(s->journal, entry, body);
	jv_unref(body);
}

void ag_note(struct ag_session *s, const char *fmt, ...)
{
	struct sl_buf b;
	va_list ap;
	sl_buf_init(&b);
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	struct jv *body = jv_obj();
	jv_set(body, "message", jv_strn(b.p ? b.p : "", b.len));
	ag_journal(s, "lifecycle", body);
	SL_INFO("session", "%s", b.p ? b.p : "");
	sl_buf_free(&b);
}

/* ---- session start, input, controls --------------------------------------- */

static void deadline_cb(uv_timer_t *t)
{
	struct ag_session *s = t->data;
	uint64_t ms = s->opt.timeout_ms;
	if (ms % 1000)
		ag_session_fail(s, AG_END_TIMEOUT, "%llu ms of wall time used (--timeout)",
				(unsigned long long)ms);
	else
		ag_session_fail(s, AG_END_TIMEOUT, "%llu s of wall time used (--timeout)",
				(unsigned long long)(ms / 1000));
}

void ag_session_start(struct ag_session *s, const struct jv *access_report)
{
	struct jv *p = jv_obj();
	jv_set(p, "harness_id", jv_str(s->opt.harness_id));
	jv_set(p, "workspace", jv_str(s->opt.workspace));
	jv_set(p, "sandbox", jv_str(s->opt.sandbox_kind));
	jv_set(p, "llm", jv_str(s->backend->id));
	ag_emit(s, "harness_started", p);
	p = jv_obj();
	jv_set(p, "report", access_report ? jv_copy(access_report) : jv_obj());
	ag_emit(s, "access_report_updated", p);
	if (s->opt.timeout_ms)
		uv_timer_start(&s->deadline, deadline_cb, s->opt.timeout_ms, 0);
	ag_post(s, s->top, AG_E_WANT_INPUT, NULL);
}

void ag_user_input(struct ag_session *s, const char *text, const char *client_id,
		   const char *client_name)
{
	if (ag_session_stopping(s))
		return;
	struct jv *p = jv_obj();
	if (client_id)
		jv_set(p, "client_id", jv_str(client_id));
	if (client_name)
		jv_set(p, "client_name", jv_str(client_name));
	jv_set(p, "text", jv_str(text));
	ag_emit(s, "user_prompt", p);
	ag_post(s, s->top, AG_E_USER_MSG, jv_str(text));
}
