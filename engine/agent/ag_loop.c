/*
 * The agent turn loop as a static transition table (STYLE.md 5). One table
 * serves the top-level agent and subagents; the differences (user input,
 * turn_complete, failure counting) live in the actions. Tool calls of one
 * response run sequentially (tools.md 1.2); interrupt and shutdown are
 * checked before every model call and every tool call (subagents.md 6).
 */
#include "agent/ag.h"

#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"

static const char *const state_names[] = {
#define XX(n) #n,
	AG_STATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(n) #n,
	AG_EVENT_MAP(XX)
#undef XX
};

static struct jv *text_block(const char *text)
{
	struct jv *b = jv_obj();
	jv_set(b, "type", jv_str("text"));
	jv_set(b, "text", jv_str(text));
	return b;
}

static void push_message(struct ag_agent *a, const char *role, struct jv *content)
{
	struct jv *m = jv_obj();
	jv_set(m, "role", jv_str(role));
	jv_set(m, "content", content);
	jv_push(a->messages, m);
}

static const char *default_system =
	"You are a coding agent working inside a sandbox.";

int ag_agent_request(struct ag_agent *a)
{
	struct ag_session *s = a->sess;
	if (a->kind == AG_KIND_TOP && s->opt.max_turns) {
		/* A turn is one model call of the top-level agent (as
		 * --max-turns of other agent CLIs); subagents' do not count. */
		if (s->top_turns >= s->opt.max_turns) {
			ag_session_fail(s, AG_END_MAX_TURNS,
					"all %d turn(s) of the top-level agent are used (--max-turns "
					"or policy max_turns)", s->opt.max_turns);
			return SL_ELIMIT;
		}
		s->top_turns++;
	}
	struct jv *req = jv_obj();
	jv_set(req, "system", jv_str(s->opt.system_prompt ? s->opt.system_prompt
							 : default_system));
	/* Shared, not copied: the conversation does not change while the
	 * request is in flight, and copying it made long sessions quadratic. */
	jv_set(req, "messages", jv_ref(a->messages));
	jv_set(req, "tools", ag_tool_defs(s, a->kind));
	jv_set(req, "max_tokens", jv_int(s->opt.max_tokens ? s->opt.max_tokens : 8192));
	a->attempt = 0;
	return ag_llm_call(a, req);
}

/* ---- turn endings ------------------------------------------------------- */

/* The frontend is asked only after the turn's transition has happened,
 * so whatever it does next (a prompt, an interrupt, an upload) meets a
 * settled machine. */
static void want_input(struct ag_session *s)
{
	ag_post(s, s->top, AG_E_WANT_INPUT, NULL);
}

static int act_want_input(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	if (ag_session_stopping(s))
		return 0;
	ag_emit(s, "awaiting_input", NULL);
	s->frontend->ops->want_input(s->frontend);
	return 0;
}

/* Ends the agent's turn with outcome o (subagents.md 4, costs.md 5). The
 * calling row moves the agent to DONE; agent-0 after an interrupt then
 * enters UNWIND until its subagents have unwound. Returns < 0 when the
 * ending failed the session (the row then takes its error cell). */
int ag_agent_finish(struct ag_agent *a, enum ag_outcome o, const char *text)
{
	struct ag_session *s = a->sess;
	a->outcome = o;
	if (a->kind == AG_KIND_TOP) {
		if (o == AG_OUT_INTERRUPTED) {
			ag_post(s, a, AG_E_UNWIND, NULL);
			return 0;
		}
		ag_sub_cancel_pool(a, o, 1);
		if (o == AG_OUT_COMPLETED) {
			struct jv *p = jv_obj();
			jv_set(p, "agent", jv_str(a->id));
			jv_set(p, "stop_reason",
			       a->last_stop ? jv_ref(a->last_stop) : jv_str("end_turn"));
			ag_emit(s, "turn_complete", p);
			s->failed_turns = 0;
			want_input(s);
			return 0;
		}
		if (o == AG_OUT_FAILED) {
			int limit = s->opt.headless ? 1 : 8;
			if (++s->failed_turns >= limit) {
				const char *m = text ? text : "llm failure";
				ag_note(s, "session ended after %d consecutive failed turn(s): %s",
					s->failed_turns, m);
				ag_session_fail(s, AG_END_LLM, "%s", m);
				return SL_EUNAVAIL;
			}
			want_input(s);
			return 0;
		}
		return 0; /* error / shutdown: the session is ending */
	}
	free(a->result);
	switch (o) {
	case AG_OUT_COMPLETED:
		a->result = sl_xstrdup(text ? text : "");
		a->result_is_error = 0;
		break;
	case AG_OUT_INTERRUPTED:
		a->result = sl_xstrdup("interrupted by the user");
		a->result_is_error = 1;
		break;
	case AG_OUT_SHUTDOWN:
		a->result = sl_xstrdup("session shutdown requested");
		a->result_is_error = 1;
		break;
	default:
		a->result = sl_xstrdup(text ? text : "subagent failed");
		a->result_is_error = 1;
		break;
	}
	ag_sub_child_ended(a);
	return 0;
}

/* ---- actions ---------------------------------------------------------------- */

static int act_user_msg(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	struct jv *text = data;
	struct jv *content = jv_arr();
	jv_push(content, text_block(jv_str_val(text)));
	push_message(a, "user", content);
	jv_unref(text);
	if (a->kind == AG_KIND_SUB && a->child_state != AG_C_RUNNING)
		return 1; /* cancelled before it started */
	if (a->kind == AG_KIND_TOP)
		a->gen = s->gen;
	else if (a->gen != s->gen) {
		ag_agent_finish(a, AG_OUT_INTERRUPTED, NULL);
		return 1;
	}
	return ag_agent_request(a);
}

static int act_llm_reply(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	struct jv *resp = data;
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str(a->id));
	jv_set(body, "backend", jv_str(s->backend->id));
	jv_set(body, "response", jv_ref(resp));
	ag_journal(s, "llm_response", body);

	struct jv *content = jv_get(resp, "content");
	struct jv *calls = jv_arr();
	struct sl_buf text;
	sl_buf_init(&text);
	for (size_t i = 0; i < jv_len(content); i++) {
		struct jv *b = jv_at(content, i);
		const char *type = jv_get_str(b, "type");
		if (type && !strcmp(type, "text")) {
			const char *t = jv_get_str(b, "text");
			struct jv *p = jv_obj();
			jv_set(p, "agent", jv_str(a->id));
			jv_set(p, "text", jv_str(t ? t : ""));
			ag_emit(s, "assistant_text", p);
			if (text.len)
				sl_buf_addc(&text, '\n');
			sl_buf_adds(&text, t ? t : "");
		} else if (type && !strcmp(type, "tool_use")) {
			/* A call is {id, name, input} (replay.md 2.5). */
			struct jv *c = jv_obj();
			jv_set(c, "id", jv_get(b, "id") ? jv_ref(jv_get(b, "id")) : jv_str(""));
			jv_set(c, "name", jv_get(b, "name") ? jv_ref(jv_get(b, "name")) : jv_str(""));
			jv_set(c, "input", jv_get(b, "input") ? jv_ref(jv_get(b, "input")) : jv_obj());
			jv_push(calls, c);
		}
	}
	jv_unref(a->last_text);
	a->last_text = jv_strn(text.p ? text.p : "", text.len);
	sl_buf_free(&text);

	struct jv *p = jv_obj();
	jv_set(p, "backend", jv_str(s->backend->id));
	jv_set(p, "usage", ag_cost_usage(s->backend));
	struct jv *q = jv_obj();
	if (s->opt.has_quota_tokens)
		jv_set(q, "max_total_tokens", jv_int((int64_t)s->opt.quota_tokens));
	if (s->opt.has_quota_usd)
		jv_set(q, "max_usd", jv_float(s->opt.quota_usd));
	jv_set(p, "quota", q);
	ag_emit(s, "cost_report", p);
	s->backend->reported = 1;

	push_message(a, "assistant", content ? jv_ref(content) : jv_arr());
	struct jv *stop = jv_get(resp, "stop_reason");
	jv_unref(a->last_stop);
	a->last_stop = stop ? jv_ref(stop) : jv_str("end_turn");
	const char *stop_s = jv_str_val(stop);
	a->stop_tool_use = stop_s && !strcmp(stop_s, "tool_use");
	if (stop_s && !strcmp(stop_s, "max_tokens"))
		ag_note(s, "%s: response hit max_tokens; treated as end of turn", a->id);
	jv_unref(a->calls);
	a->calls = calls;
	jv_unref(a->results);
	a->results = jv_arr();
	a->next_call = 0;
	jv_unref(resp);
	ag_post(s, a, AG_E_TOOL_NEXT, NULL);
	return 0;
}

/* Answers every call not yet run with the interrupted text (no events, no
 * journal: tools.md 1.2) and closes the conversation's tool round. */
static void flush_results(struct ag_agent *a, int interrupted)
{
	size_t skipped = 0;
	for (; a->next_call < jv_len(a->calls); a->next_call++) {
		struct jv *c = jv_at(a->calls, a->next_call);
		struct jv *r = jv_obj();
		jv_set(r, "type", jv_str("tool_result"));
		jv_set(r, "tool_use_id", jv_ref(jv_get(c, "id")));
		jv_set(r, "content", jv_str(AG_INTERRUPTED_TEXT));
		jv_set(r, "is_error", jv_bool(1));
		jv_push(a->results, r);
		skipped++;
	}
	if (interrupted && skipped)
		ag_note(a->sess, "%s: interrupt cancelled %zu tool call(s)", a->id, skipped);
	if (a->results && jv_len(a->results)) {
		push_message(a, "user", a->results);
		a->results = jv_arr();
	}
}

static int finish_interrupted(struct ag_agent *a)
{
	flush_results(a, 1);
	int rc = ag_agent_finish(a, AG_OUT_INTERRUPTED, NULL);
	return rc < 0 ? rc : 1;
}

static int act_tool_next(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	if (ag_session_stopping(s))
		return 1; /* no new call; the session control stops everyone */
	if (a->gen != s->gen)
		return finish_interrupted(a);
	if (a->next_call >= jv_len(a->calls)) {
		int more = a->stop_tool_use && jv_len(a->calls) > 0;
		flush_results(a, 0);
		ag_post(s, a, more ? AG_E_CONTINUE : AG_E_TURN_END, NULL);
		return 0;
	}
	struct jv *call = jv_at(a->calls, a->next_call++);
	struct jv *p = jv_obj();
	jv_set(p, "agent", jv_str(a->id));
	jv_set(p, "call", jv_ref(call));
	ag_emit(s, "tool_use", p);
	struct sl_err err = { 0 };
	int rc = ag_tool_dispatch(a, call, &err);
	if (rc == SL_ESCRIPT) {
		ag_script_failure(s, "%s", err.msg);
	} else if (rc < 0) {
		/* Nothing will complete this call: the agent cannot go on. */
		ag_note(s, "%s: tool call %s failed to start: %s", a->id,
			jv_get_str(call, "name"), err.msg);
		if (a->kind == AG_KIND_SUB)
			ag_agent_finish(a, AG_OUT_ERROR, err.msg);
		else
			ag_session_fail(s, AG_END_RUNTIME, "%s", err.msg);
	}
	return rc;
}

static int fatal_tool(struct ag_agent *a, struct jv *call, enum ag_owner owner, const char *msg)
{
	struct ag_session *s = a->sess;
	struct jv *p = jv_obj();
	jv_set(p, "context", jv_strf("%s tool %s", ag_owner_name(owner), jv_get_str(call, "name")));
	jv_set(p, "message", jv_str(msg));
	ag_emit(s, "error", p);
	if (a->kind == AG_KIND_SUB) {
		ag_agent_finish(a, AG_OUT_ERROR, msg);
		return SL_EIO;
	}
	p = jv_obj();
	jv_set(p, "context", jv_str("harness"));
	jv_set(p, "message", jv_str(msg));
	ag_emit(s, "error", p);
	ag_session_fail(s, AG_END_RUNTIME, "%s", msg);
	return SL_EIO;
}

static int act_tool_done(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	struct ag_tool_done *d = data;
	struct jv *call = d->call, *output = d->output;
	if (d->fatal) {
		int rc = fatal_tool(a, call, d->owner, d->fatal);
		ag__ev_free(AG_E_TOOL_DONE, d);
		return rc;
	}
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str(a->id));
	jv_set(body, "owner", jv_str(ag_owner_name(d->owner)));
	jv_set(body, "call", jv_ref(call));
	jv_set(body, "output", jv_ref(output));
	ag_journal(s, "tool_exec", body);
	struct jv *p = jv_obj();
	jv_set(p, "agent", jv_str(a->id));
	jv_set(p, "tool_use_id", jv_ref(jv_get(call, "id")));
	jv_set(p, "tool_name", jv_ref(jv_get(call, "name")));
	jv_set(p, "output", jv_ref(output));
	ag_emit(s, "tool_result", p);
	struct jv *r = jv_obj();
	jv_set(r, "type", jv_str("tool_result"));
	jv_set(r, "tool_use_id", jv_ref(jv_get(call, "id")));
	jv_set(r, "content", jv_ref(jv_get(output, "content")));
	jv_set(r, "is_error", jv_bool(jv_get_bool(output, "is_error")));
	jv_push(a->results, r);
	ag__ev_free(AG_E_TOOL_DONE, d);
	ag_post(s, a, AG_E_TOOL_NEXT, NULL);
	return 0;
}

static int act_continue(void *obj, void *data)
{
	struct ag_agent *a = obj;
	if (ag_session_stopping(a->sess))
		return 1; /* no new model call */
	if (a->gen != a->sess->gen)
		return finish_interrupted(a);
	return ag_agent_request(a);
}

static int act_turn_end(void *obj, void *data)
{
	struct ag_agent *a = obj;
	return ag_agent_finish(a, AG_OUT_COMPLETED, jv_str_val(a->last_text));
}

static int act_llm_error(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	char *err = data; /* the message */
	const char *msg = err ? err : "llm request failed";
	ag_note(s, "%s: llm request failed: %s", a->id, msg);
	struct jv *p = jv_obj();
	jv_set(p, "context", jv_strf("llm:%s", a->id));
	jv_set(p, "message", jv_str(msg));
	ag_emit(s, "error", p);
	int rc = ag_agent_finish(a, AG_OUT_FAILED, msg);
	free(err);
	return rc;
}

static int act_interrupt_llm(void *obj, void *data)
{
	struct ag_agent *a = obj;
	ag_llm_cancel(a);
	ag_note(a->sess, "%s: llm call aborted by interrupt", a->id);
	return ag_agent_finish(a, AG_OUT_INTERRUPTED, NULL);
}

static int act_interrupt_tools(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_pending *p = a->call.pending;
	if (a->call.state != AG_CL_WAITING || !p || !p->live)
		return 0; /* a sandbox call finishes normally (tools.md 1.2) */
	if (p->what == AG_WAIT_AWAIT) {
		/* Interrupted disposition: no tool_result, no tool_exec. */
		struct jv *call = jv_ref(a->call.cur);
		ag_tool_abort(a);
		struct jv *r = jv_obj();
		jv_set(r, "type", jv_str("tool_result"));
		jv_set(r, "tool_use_id", jv_ref(jv_get(call, "id")));
		jv_set(r, "content", jv_str(AG_INTERRUPTED_TEXT));
		jv_set(r, "is_error", jv_bool(1));
		jv_push(a->results, r);
		jv_unref(call);
		return finish_interrupted(a);
	}
	if (p->what == AG_WAIT_ASK)
		ag_pending_finish(p, NULL, AG_INTERRUPTED_TEXT, 0);
	return 0;
}

static int act_stop(void *obj, void *data)
{
	struct ag_agent *a = obj;
	ag_llm_cancel(a);
	ag_tool_abort(a);
	return 0;
}

static int act_unwind(void *obj, void *data)
{
	struct ag_agent *a = obj;
	if (!ag_tree_active(a))
		ag_post(a->sess, a, AG_E_UNWOUND, NULL);
	return 0;
}

static int act_unwound(void *obj, void *data)
{
	struct ag_agent *a = obj;
	struct ag_session *s = a->sess;
	ag_sub_cancel_pool(a, AG_OUT_INTERRUPTED, 1);
	struct jv *p = jv_obj();
	jv_set(p, "agent", jv_str(a->id));
	ag_emit(s, "interrupted", p);
	s->failed_turns = 0;
	want_input(s);
	return 0;
}

/* A stale completion after the agent moved on. */
static int act_drop_reply(void *obj, void *data)
{
	jv_unref(data);
	return 0;
}

static int act_drop_error(void *obj, void *data)
{
	ag__ev_free(AG_E_LLM_ERROR, data);
	return 0;
}

static int act_drop_done(void *obj, void *data)
{
	ag__ev_free(AG_E_TOOL_DONE, data);
	return 0;
}

static void undefined_pair(void *obj, int state, int event)
{
	struct ag_agent *a = obj;
	ag_note(a->sess, "%s: undefined transition %s x %s", a->id, state_names[state],
		event_names[event]);
}

#define R(from, on, act, to, alt, err)                                         \
	{ AG_S_##from, AG_E_##on, act, #act, AG_S_##to, AG_S_##alt, AG_S_##err }
/* Sorted by `from`; test_fsm checks order, reachability and coverage. An
 * action returns < 0 when the agent cannot go on (a tool call that cannot
 * start, a fatal tool error, a failure that ends the session): FAILED is
 * sticky and absorbs whatever still arrives. */
static const struct fsm_row rows[] = {
/*  from        on          act                   to          alt        on_err */
  R(IDLE,       USER_MSG,   act_user_msg,         AWAIT_LLM,  DONE,      FAILED),
  R(IDLE,       INTERRUPT,  NULL,                 IDLE,       IDLE,      FAILED),
  R(IDLE,       SHUTDOWN,   act_stop,             DONE,       DONE,      FAILED),
  R(IDLE,       WANT_INPUT, act_want_input,       IDLE,       IDLE,      FAILED),
  R(AWAIT_LLM,  LLM_REPLY,  act_llm_reply,        RUN_TOOLS,  RUN_TOOLS, FAILED),
  R(AWAIT_LLM,  LLM_ERROR,  act_llm_error,        DONE,       DONE,      FAILED),
  R(AWAIT_LLM,  INTERRUPT,  act_interrupt_llm,    DONE,       DONE,      FAILED),
  R(AWAIT_LLM,  SHUTDOWN,   act_stop,             DONE,       DONE,      FAILED),
  R(RUN_TOOLS,  TOOL_NEXT,  act_tool_next,        RUN_TOOLS,  DONE,      FAILED),
  R(RUN_TOOLS,  TOOL_DONE,  act_tool_done,        RUN_TOOLS,  DONE,      FAILED),
  R(RUN_TOOLS,  CONTINUE,   act_continue,         AWAIT_LLM,  DONE,      FAILED),
  R(RUN_TOOLS,  TURN_END,   act_turn_end,         DONE,       DONE,      FAILED),
  R(RUN_TOOLS,  INTERRUPT,  act_interrupt_tools,  RUN_TOOLS,  DONE,      FAILED),
  R(RUN_TOOLS,  SHUTDOWN,   act_stop,             DONE,       DONE,      FAILED),
  R(UNWIND,     INTERRUPT,  NULL,                 UNWIND,     UNWIND,    FAILED),
  R(UNWIND,     SHUTDOWN,   act_stop,             DONE,       DONE,      FAILED),
  R(UNWIND,     UNWOUND,    act_unwound,          DONE,       DONE,      FAILED),
  R(DONE,       USER_MSG,   act_user_msg,         AWAIT_LLM,  DONE,      FAILED),
  R(DONE,       LLM_REPLY,  act_drop_reply,       DONE,       DONE,      FAILED),
  R(DONE,       LLM_ERROR,  act_drop_error,       DONE,       DONE,      FAILED),
  R(DONE,       TOOL_NEXT,  NULL,                 DONE,       DONE,      FAILED),
  R(DONE,       TOOL_DONE,  act_drop_done,        DONE,       DONE,      FAILED),
  R(DONE,       CONTINUE,   NULL,                 DONE,       DONE,      FAILED),
  R(DONE,       TURN_END,   NULL,                 DONE,       DONE,      FAILED),
  R(DONE,       INTERRUPT,  NULL,                 DONE,       DONE,      FAILED),
  R(DONE,       SHUTDOWN,   NULL,                 DONE,       DONE,      FAILED),
  R(DONE,       UNWIND,     act_unwind,           UNWIND,     UNWIND,    FAILED),
  R(DONE,       WANT_INPUT, act_want_input,       DONE,       DONE,      FAILED),
  R(FAILED,     USER_MSG,   act_drop_reply,       FAILED,     FAILED,    FAILED),
  R(FAILED,     LLM_REPLY,  act_drop_reply,       FAILED,     FAILED,    FAILED),
  R(FAILED,     LLM_ERROR,  act_drop_error,       FAILED,     FAILED,    FAILED),
  R(FAILED,     TOOL_NEXT,  NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     TOOL_DONE,  act_drop_done,        FAILED,     FAILED,    FAILED),
  R(FAILED,     CONTINUE,   NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     TURN_END,   NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     INTERRUPT,  NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     SHUTDOWN,   act_stop,             FAILED,     FAILED,    FAILED),
  R(FAILED,     UNWIND,     NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     UNWOUND,    NULL,                 FAILED,     FAILED,    FAILED),
  R(FAILED,     WANT_INPUT, NULL,                 FAILED,     FAILED,    FAILED),
};
#undef R

const struct fsm_def ag_agent_fsm = {
	.name = "agent",
	.doc = "One agent's turn loop (top level and subagents). A turn starts "
	       "with USER_MSG (the user's prompt, or a subagent's briefing), "
	       "alternates model calls and sequential tool calls, and ends in "
	       "DONE (subagents, or agent-0 until its next prompt) or UNWIND "
	       "(agent-0 waiting for its subagents to unwind after an "
	       "interrupt). Actions that finish a turn choose the final state "
	       "through ag_agent_finish(). An action that fails (a tool call "
	       "that cannot start, a fatal tool error, a failure that ends the "
	       "session) takes the row to FAILED, which is sticky.",
	.states = state_names,
	.n_states = AG_S__COUNT,
	.events = event_names,
	.n_events = AG_E__COUNT,
	.rows = rows,
	.n_rows = (int)SL_ARRAY_LEN(rows),
	.undefined = undefined_pair,
};
