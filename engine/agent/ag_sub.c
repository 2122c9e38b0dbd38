/*
 * Subagents (spec/subagents.md): Agent spawns a child agent that runs
 * interleaved on the same loop; AwaitAgent collects it. A child's slot is
 * held from spawn until it is collected or cancelled. Children never outlive
 * their parent's turn: ag_sub_cancel_pool() reaps them depth-first, siblings
 * by ascending number, emitting each agent_completed exactly once.
 */
#include "agent/ag.h"

#include <stdlib.h>
#include <string.h>

static const char *label(const struct ag_agent *c)
{
	return c->name ? c->name : c->id;
}

static void pool_add(struct ag_agent *p, struct ag_agent *c)
{
	if (p->n_pool == p->cap_pool) {
		p->cap_pool = p->cap_pool ? p->cap_pool * 2 : 4;
		p->pool = sl_xrealloc(p->pool, p->cap_pool * sizeof *p->pool);
	}
	p->pool[p->n_pool++] = c;
}

/* Removes x from an ordered list of agents (a pool or a completion queue). */
static void list_remove(struct ag_agent **list, size_t *n, const struct ag_agent *x)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == x) {
			memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof *list);
			(*n)--;
			return;
		}
}

static struct ag_agent *pool_find(struct ag_agent *p, const char *id)
{
	for (size_t i = 0; i < p->n_pool; i++)
		if (!strcmp(p->pool[i]->id, id))
			return p->pool[i];
	return NULL;
}

static void release_slot(struct ag_agent *c)
{
	if (c->holds_slot) {
		c->holds_slot = 0;
		c->sess->live_slots--;
	}
}

int ag_sub_spawn(struct ag_agent *caller, const struct jv *args, struct jv **result,
		 struct sl_err *err)
{
	struct ag_session *s = caller->sess;
	const char *prompt = jv_get_str(args, "prompt");
	if (!prompt || !*prompt)
		return sl_err_set(err, SL_EINVAL, "Agent requires a non-empty 'prompt' string");
	if (caller->depth >= AG_MAX_DEPTH)
		return sl_err_set(err, SL_ELIMIT, "subagent depth limit (%d) reached",
				  AG_MAX_DEPTH);
	if (s->live_slots >= AG_MAX_SLOTS)
		return sl_err_set(err, SL_ELIMIT, "subagent concurrency limit (%d) reached",
				  AG_MAX_SLOTS);
	const char *name = jv_get_str(args, "name");
	if (name && !*name)
		name = NULL;
	struct ag_agent *c = ag_agent_new(s, caller, name);
	c->holds_slot = 1;
	s->live_slots++;
	c->gen = caller->gen; /* child_state starts RUNNING */
	struct jv *p = jv_obj();
	jv_set(p, "parent", jv_str(caller->id));
	jv_set(p, "agent", jv_str(c->id));
	if (name)
		jv_set(p, "name", jv_str(name));
	jv_set(p, "prompt", jv_str(prompt));
	ag_emit(s, "agent_spawned", p);
	pool_add(caller, c);
	ag_post(s, c, AG_E_USER_MSG, jv_str(prompt));
	*result = jv_strf("Started subagent '%s' (%s). It runs in the background; collect "
			  "it with AwaitAgent. Pass agent \"%s\" to wait for this one.",
			  label(c), c->id, c->id);
	return 0;
}

void ag_sub_emit_completed(struct ag_agent *c)
{
	if (c->completed_emitted)
		return;
	c->completed_emitted = 1;
	struct jv *p = jv_obj();
	jv_set(p, "agent", jv_str(c->id));
	jv_set(p, "result", jv_str(c->result ? c->result : ""));
	jv_set(p, "is_error", jv_bool(c->result_is_error));
	ag_emit(c->sess, "agent_completed", p);
}

static void child_step(struct ag_agent *c, enum ag_child_event ev, void *data)
{
	fsm_step(&ag_child_fsm, &c->child_state, ev, c, data);
}

static void collect(struct ag_agent *caller, struct ag_agent *c, struct ag_pending *p)
{
	child_step(c, AG_CE_CHILD_COLLECT, NULL);
	struct jv *r = jv_obj();
	jv_set(r, "content", jv_strf("Subagent '%s' (%s) finished.\n%s", label(c), c->id,
				     c->result ? c->result : ""));
	jv_set(r, "is_error", jv_bool(c->result_is_error));
	free(caller->await_id);
	caller->await_id = NULL;
	ag_pending_finish(p, r, NULL, 0);
}

static struct ag_agent *first_finished(struct ag_agent *caller)
{
	for (size_t i = 0; i < caller->n_doneq; i++) {
		struct ag_agent *c = caller->doneq[i];
		if (c->child_state == AG_C_FINISHED && pool_find(caller, c->id))
			return c;
	}
	return NULL;
}

int ag_sub_await(struct ag_agent *caller, const struct jv *args, struct ag_pending *p,
		 struct sl_err *err)
{
	const char *id = jv_get_str(args, "agent");
	if (id && !*id)
		id = NULL;
	if (id) {
		struct ag_agent *c = pool_find(caller, id);
		if (!c)
			return sl_err_set(err, SL_ENOENT,
					  "AwaitAgent: \"%s\" is not an outstanding subagent of this agent",
					  id);
		if (c->child_state == AG_C_FINISHED) {
			collect(caller, c, p);
			return 0;
		}
		caller->await_id = sl_xstrdup(id);
		return 0; /* woken by ag_sub_child_ended */
	}
	if (!caller->n_pool)
		return sl_err_set(err, SL_ENOENT, "AwaitAgent: no subagents are running");
	struct ag_agent *c = first_finished(caller);
	if (c) {
		collect(caller, c, p);
		return 0;
	}
	free(caller->await_id);
	caller->await_id = NULL;
	return 0;
}

/* After an interrupt agent-0 waits in UNWIND until no descendant runs;
 * every way a child can end must re-check that. */
static void check_unwound(struct ag_session *s)
{
	struct ag_agent *top = s->top;
	if (top->state == AG_S_UNWIND && !ag_tree_active(top))
		ag_post(s, top, AG_E_UNWOUND, NULL);
}

static void wake_parent(struct ag_agent *c)
{
	struct ag_agent *parent = c->parent;
	if (parent->n_doneq == parent->cap_doneq) {
		parent->cap_doneq = parent->cap_doneq ? parent->cap_doneq * 2 : 4;
		parent->doneq = sl_xrealloc(parent->doneq, parent->cap_doneq * sizeof *parent->doneq);
	}
	parent->doneq[parent->n_doneq++] = c;
	struct ag_pending *p = parent->call.pending;
	if (parent->call.state != AG_CL_WAITING || !p || !p->live || p->what != AG_WAIT_AWAIT)
		return;
	if (parent->await_id && strcmp(parent->await_id, c->id))
		return;
	struct ag_agent *got = parent->await_id ? c : first_finished(parent);
	if (got)
		collect(parent, got, p);
}

/* A child's loop ended (outcome and result are set). The parent is woken
 * after the move, so a collection it does meets a FINISHED child. */
void ag_sub_child_ended(struct ag_agent *c)
{
	struct ag_session *s = c->sess;
	child_step(c, AG_CE_CHILD_END, NULL);
	if (c->outcome != AG_OUT_INTERRUPTED && c->outcome != AG_OUT_SHUTDOWN && c->parent &&
	    c->child_state == AG_C_FINISHED)
		wake_parent(c);
	check_unwound(s);
}

/* 1 while any descendant of a is still running. */
int ag_tree_active(struct ag_agent *a)
{
	for (size_t i = 0; i < a->n_pool; i++) {
		struct ag_agent *c = a->pool[i];
		if ((c->state != AG_S_DONE && c->state != AG_S_FAILED &&
		     c->child_state == AG_C_RUNNING) ||
		    ag_tree_active(c))
			return 1;
	}
	return 0;
}

static const char *cancel_text(enum ag_outcome why)
{
	switch (why) {
	case AG_OUT_INTERRUPTED:
		return "interrupted by the user";
	case AG_OUT_SHUTDOWN:
		return "session shutdown requested";
	default:
		return "cancelled (parent ended turn without collecting)";
	}
}

struct cancel {
	enum ag_outcome why;
	int emit;
	int n;      /* agent_completed sent from this path */
};

/* Reaps a's outstanding children (subagents.md 7); returns how many got
 * their agent_completed from this path. */
int ag_sub_cancel_pool(struct ag_agent *a, enum ag_outcome why, int emit)
{
	struct cancel k = { why, emit, 0 };
	while (a->n_pool) {
		struct ag_agent *c = a->pool[0];
		if (c->child_state == AG_C_RUNNING || c->child_state == AG_C_FINISHED)
			child_step(c, AG_CE_CHILD_CANCEL, &k);
		list_remove(a->pool, &a->n_pool, c); /* in whatever state */
	}
	a->n_doneq = 0;
	if (k.n)
		ag_note(a->sess, "%s: cancelled %d uncollected subagent(s)", a->id, k.n);
	return k.n;
}

/* ---- the child machine ----------------------------------------------------- */

/* Interrupted and shut-down children get their agent_completed bottom-up
 * once the whole tree has unwound (subagents.md 6, ours). */
static int act_end(void *obj, void *data)
{
	struct ag_agent *c = obj;
	if (c->outcome == AG_OUT_INTERRUPTED || c->outcome == AG_OUT_SHUTDOWN)
		return 0;
	ag_sub_cancel_pool(c, c->outcome, 1);
	ag_sub_emit_completed(c);
	return 0;
}

static int act_collect(void *obj, void *data)
{
	struct ag_agent *c = obj, *caller = c->parent;
	list_remove(caller->pool, &caller->n_pool, c);
	list_remove(caller->doneq, &caller->n_doneq, c);
	release_slot(c);
	return 0;
}

static int act_cancel(void *obj, void *data)
{
	struct ag_agent *c = obj;
	struct cancel *k = data;
	int running = c->child_state == AG_C_RUNNING;
	ag_sub_cancel_pool(c, k->why, k->emit);
	/* Stopped where it stood: model call dropped, tool abandoned. */
	fsm_step(&ag_agent_fsm, &c->state, AG_E_SHUTDOWN, c, NULL);
	if (!c->completed_emitted) {
		if (running || c->outcome == AG_OUT_INTERRUPTED || c->outcome == AG_OUT_SHUTDOWN) {
			free(c->result);
			c->result = sl_xstrdup(cancel_text(k->why));
			c->result_is_error = 1;
		}
		if (k->emit)
			ag_sub_emit_completed(c);
		k->n++;
	}
	release_slot(c);
	return 0;
}

static const char *const child_states[] = {
#define XX(n) #n,
	AG_CHILD_STATE_MAP(XX)
#undef XX
};
static const char *const child_events[] = {
#define XX(n) #n,
	AG_CHILD_EVENT_MAP(XX)
#undef XX
};

static void undefined_pair(void *obj, int state, int event)
{
	struct ag_agent *c = obj;
	ag_note(c->sess, "%s: subagent: undefined transition %s x %s", c->id, child_states[state],
		child_events[event]);
}

#define R(from, on, act, to)                                                   \
	{ AG_C_##from, AG_CE_CHILD_##on, act, #act, AG_C_##to, AG_C_##to, AG_C_##to }
/* Sorted by `from`; test_fsm checks order and reachability. */
static const struct fsm_row child_rows[] = {
/*  from       on       act          to */
  R(RUNNING,   END,     act_end,     FINISHED),
  R(RUNNING,   CANCEL,  act_cancel,  CANCELLED),
  R(FINISHED,  COLLECT, act_collect, COLLECTED),
  R(FINISHED,  CANCEL,  act_cancel,  CANCELLED),
};
#undef R

const struct fsm_def ag_child_fsm = {
	.name = "subagent",
	.doc = "A subagent as its parent sees it. It runs from its spawn (the "
	       "Agent tool) until its own turn ends (END: its result is stored "
	       "and, unless interrupted or shut down, agent_completed goes out "
	       "and a waiting AwaitAgent is woken); AwaitAgent COLLECTs it; a "
	       "parent ending its turn, an interrupt's unwinding or the "
	       "shutdown CANCELs it. It holds a concurrency slot until collected "
	       "or cancelled. Anything else is a journaled undefined pair.",
	.states = child_states,
	.n_states = AG_C__COUNT,
	.events = child_events,
	.n_events = AG_CE_CHILD__COUNT,
	.rows = child_rows,
	.n_rows = (int)SL_ARRAY_LEN(child_rows),
	.undefined = undefined_pair,
};
