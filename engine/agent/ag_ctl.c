/*
 * The session controls as a static table: interrupt, shutdown and failure
 * requests, applied when the agent queue has drained, so an action that asks
 * for one (the Exit tool) finishes its own turn bookkeeping first (tools.md
 * 1.2: Exit still gets its tool_result). A failure is sticky: the first one
 * decides the outcome, and ag_session_exit() is the one place that turns an
 * outcome into an exit code. Requests raised while another is applied (a
 * frontend error while the shutdown event goes out) wait in a small queue.
 */
#include "agent/ag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mock/fx.h"
#include "sandbox/sb.h"

static const char *const state_names[] = {
#define XX(n) #n,
	AG_CTL_STATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(n) #n,
	AG_CTL_EVENT_MAP(XX)
#undef XX
};
static const struct {
	int code;
	const char *prefix;
} ends[] = {
#define XX(n, c, p) { c, p },
	AG_END_MAP(XX)
#undef XX
};

/* ---- actions ---------------------------------------------------------------- */

static int act_interrupt(void *obj, void *data)
{
	struct ag_session *s = obj;
	s->gen++;
	return 0;
}

static int act_shutdown(void *obj, void *data)
{
	struct ag_session *s = obj;
	const struct ag_ctl_ev *e = data;
	s->shutdown_msg = e->msg ? sl_xstrdup(e->msg) : NULL;
	return 0;
}

static int act_fail(void *obj, void *data)
{
	struct ag_session *s = obj;
	const struct ag_ctl_ev *e = data;
	s->end = e->end;
	s->end_msg = sl_xstrdup(e->msg ? e->msg : "session failure");
	return 0;
}

static int act_late_fail(void *obj, void *data)
{
	const struct ag_ctl_ev *e = data;
	ag_note(obj, "session already failed; also: %s", e->msg ? e->msg : "failure");
	return 0;
}

/* Every busy agent unwinds; completions of in-flight sandbox calls arrive
 * later as TOOL_DONE and see the new generation. */
static int act_apply_interrupt(void *obj, void *data)
{
	struct ag_session *s = obj;
	if (s->sandbox && s->sandbox->ops->interrupt)
		s->sandbox->ops->interrupt(s->sandbox);
	for (struct ag_agent *a = s->agents; a; a = a->next_all)
		if (a->gen != s->gen && (a->state == AG_S_AWAIT_LLM || a->state == AG_S_RUN_TOOLS))
			ag_post(s, a, AG_E_INTERRUPT, NULL);
	return 0;
}

static int act_finish(void *obj, void *data)
{
	struct ag_session *s = obj;
	uv_timer_stop(&s->deadline);
	/* Every live subagent gets its agent_completed bottom-up (ours,
	 * subagents.md 6), then agent-0 stops. */
	ag_sub_cancel_pool(s->top, AG_OUT_SHUTDOWN, 1);
	fsm_step(&ag_agent_fsm, &s->top->state, AG_E_SHUTDOWN, s->top, NULL);
	/* The final message is the shutdown's, unless a failure ended the
	 * session before anyone said anything (only a runtime error keeps an
	 * Exit message that came first). */
	const char *msg = s->end == AG_END_OK || s->end == AG_END_RUNTIME ? s->shutdown_msg : NULL;
	struct jv *p = jv_obj();
	if (msg)
		jv_set(p, "message", jv_str(msg));
	ag_emit(s, "shutdown", p);
	if (s->frontend->ops->finish)
		s->frontend->ops->finish(s->frontend, s->end == AG_END_SCRIPT ? NULL : msg);
	if (s->on_finished)
		s->on_finished(s, s->on_finished_ud);
	return 0;
}

static void undefined_pair(void *obj, int state, int event)
{
	ag_note(obj, "session: undefined transition %s x %s", state_names[state],
		event_names[event]);
}

#define R(from, on, act, to, alt, err)                                         \
	{ AG_CS_##from, AG_CE_##on, act, #act, AG_CS_##to, AG_CS_##alt, AG_CS_##err }
/* Sorted by `from`; test_fsm checks order, reachability and coverage. */
static const struct fsm_row rows[] = {
/*  from          on         act                  to            alt           on_err */
  R(RUNNING,      INTERRUPT, act_interrupt,       INTERRUPTING, INTERRUPTING, FAILING),
  R(RUNNING,      SHUTDOWN,  act_shutdown,        STOPPING,     STOPPING,     FAILING),
  R(RUNNING,      FAIL,      act_fail,            FAILING,      FAILING,      FAILING),
  R(RUNNING,      DRAINED,   NULL,                RUNNING,      RUNNING,      FAILING),
  R(INTERRUPTING, INTERRUPT, act_interrupt,       INTERRUPTING, INTERRUPTING, FAILING),
  R(INTERRUPTING, SHUTDOWN,  act_shutdown,        STOPPING,     STOPPING,     FAILING),
  R(INTERRUPTING, FAIL,      act_fail,            FAILING,      FAILING,      FAILING),
  R(INTERRUPTING, DRAINED,   act_apply_interrupt, RUNNING,      RUNNING,      FAILING),
  R(STOPPING,     INTERRUPT, NULL,                STOPPING,     STOPPING,     FAILING),
  R(STOPPING,     SHUTDOWN,  NULL,                STOPPING,     STOPPING,     FAILING),
  R(STOPPING,     FAIL,      act_fail,            FAILING,      FAILING,      FAILING),
  R(STOPPING,     DRAINED,   act_finish,          DONE,         DONE,         FAILED),
  R(FAILING,      INTERRUPT, NULL,                FAILING,      FAILING,      FAILING),
  R(FAILING,      SHUTDOWN,  NULL,                FAILING,      FAILING,      FAILING),
  R(FAILING,      FAIL,      act_late_fail,       FAILING,      FAILING,      FAILING),
  R(FAILING,      DRAINED,   act_finish,          FAILED,       FAILED,       FAILED),
  R(DONE,         INTERRUPT, NULL,                DONE,         DONE,         FAILED),
  R(DONE,         SHUTDOWN,  NULL,                DONE,         DONE,         FAILED),
  R(DONE,         FAIL,      act_fail,            FAILED,       FAILED,       FAILED),
  R(DONE,         DRAINED,   NULL,                DONE,         DONE,         FAILED),
  R(FAILED,       INTERRUPT, NULL,                FAILED,       FAILED,       FAILED),
  R(FAILED,       SHUTDOWN,  NULL,                FAILED,       FAILED,       FAILED),
  R(FAILED,       FAIL,      act_late_fail,       FAILED,       FAILED,       FAILED),
  R(FAILED,       DRAINED,   NULL,                FAILED,       FAILED,       FAILED),
};
#undef R

const struct fsm_def ag_ctl_fsm = {
	.name = "session",
	.doc = "The session controls. Interrupt, shutdown and failure requests "
	       "are recorded at once and applied on DRAINED, when the agent "
	       "queue is empty. The first shutdown message and the first failure "
	       "win; FAILED is sticky, also after a clean finish. DONE and "
	       "FAILED are the finished states; ag_session_exit() maps the "
	       "outcome to the exit code.",
	.states = state_names,
	.n_states = AG_CS__COUNT,
	.events = event_names,
	.n_events = AG_CE__COUNT,
	.rows = rows,
	.n_rows = (int)SL_ARRAY_LEN(rows),
	.undefined = undefined_pair,
};

/* ---- the control queue ----------------------------------------------------- */

void ag__ctl_post(struct ag_session *s, enum ag_ctl_event ev, enum ag_end end, const char *msg)
{
	if (s->ctl_len == s->ctl_cap) {
		s->ctl_cap = s->ctl_cap ? s->ctl_cap * 2 : 4;
		s->ctl_q = sl_xrealloc(s->ctl_q, s->ctl_cap * sizeof *s->ctl_q);
	}
	s->ctl_q[s->ctl_len++] = (struct ag_ctl_ev){ ev, end, msg ? sl_xstrdup(msg) : NULL };
	if (s->ctl_running)
		return; /* the outer drain below takes it */
	s->ctl_running = 1;
	for (size_t i = 0; i < s->ctl_len; i++) {
		struct ag_ctl_ev e = s->ctl_q[i];
		fsm_step(&ag_ctl_fsm, &s->ctl_state, e.event, s, &e);
		free(e.msg);
	}
	s->ctl_len = 0;
	s->ctl_running = 0;
}

void ag__ctl_free(struct ag_session *s)
{
	for (size_t i = 0; i < s->ctl_len; i++)
		free(s->ctl_q[i].msg);
	free(s->ctl_q);
	free(s->shutdown_msg);
	free(s->end_msg);
}

int ag_session_stopping(const struct ag_session *s)
{
	return s->ctl_state != AG_CS_RUNNING && s->ctl_state != AG_CS_INTERRUPTING;
}

int ag_session_finished(const struct ag_session *s)
{
	return s->ctl_state == AG_CS_DONE || s->ctl_state == AG_CS_FAILED;
}

/* ---- requests ---------------------------------------------------------------- */

void ag_request_shutdown(struct ag_session *s, const char *message)
{
	ag__ctl_post(s, AG_CE_SHUTDOWN, AG_END_OK, message);
	ag__kick(s);
}

void ag_request_interrupt(struct ag_session *s)
{
	struct jv *cmd = jv_obj(), *body = jv_obj();
	jv_set(cmd, "command", jv_str("interrupt"));
	jv_set(body, "command", cmd);
	ag_journal(s, "frontend_command", body);
	ag__ctl_post(s, AG_CE_INTERRUPT, AG_END_OK, NULL);
	ag__kick(s);
}

void ag_session_fail(struct ag_session *s, enum ag_end end, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ag__ctl_post(s, AG_CE_FAIL, end == AG_END_OK ? AG_END_RUNTIME : end, msg);
	ag__kick(s);
}

void ag_script_failure(struct ag_session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->fixture)
		fx_fail(s->fixture, "%s", msg);
	ag_note(s, "script failure: %s", msg);
	/* Ends the session at once (replay.md 8). */
	ag_session_fail(s, AG_END_SCRIPT, "%s", msg);
}

void ag_frontend_error(struct ag_session *s, const char *message)
{
	struct jv *p = jv_obj();
	jv_set(p, "context", jv_str("frontend"));
	jv_set(p, "message", jv_str(message));
	ag_emit(s, "error", p);
	ag_session_fail(s, AG_END_RUNTIME, "%s", message);
}

/* ---- the exit code --------------------------------------------------------- */

int ag_session_exit(const struct ag_session *s, struct sl_buf *msg)
{
	/* An unconsumed or failed fixture outranks everything (cli.md 4.5). */
	if (s->fixture && (s->fixture->failure || !fx_all_consumed(s->fixture))) {
		struct sl_buf sum;
		sl_buf_init(&sum);
		fx_summary(s->fixture, &sum);
		sl_buf_printf(msg, "script failure: %s; remaining: %s",
			      s->fixture->failure ? s->fixture->failure
						  : "script entries left unconsumed",
			      sum.p ? sum.p : "");
		sl_buf_free(&sum);
		return ends[AG_END_SCRIPT].code;
	}
	if (s->end == AG_END_OK)
		return 0;
	if (ends[s->end].prefix)
		sl_buf_printf(msg, "%s: %s", ends[s->end].prefix, s->end_msg);
	else
		sl_buf_adds(msg, s->end_msg);
	return ends[s->end].code;
}
