/*
 * ag: one harness session and its agents (SPEC.md 3, spec/subagents.md,
 * spec/tools.md 1.2, spec/costs.md). The session owns the event queue on
 * the libuv loop, the event bus, the journal, the tool registry, the LLM
 * backend, the sandbox and the frontend. Each agent is a table-driven state
 * machine (ag_loop.c); subagents are agents with a parent (ag_sub.c).
 *
 * Everything runs on one loop. Completions (LLM replies, tool results)
 * arrive as events posted to the session queue, which is drained from a
 * uv_idle handle, so no action ever runs inside another action.
 */
#ifndef AG_H
#define AG_H

#include <stdint.h>
#include <uv.h>

#include "base/sl.h"
#include "fsm/fsm.h"
#include "journal/jn.h"
#include "json/jv.h"

struct ag_session;
struct ag_agent;
struct lh_state;
struct lh_task;
struct lh_services;
struct sb;
struct fx;
struct pol;
struct ag_pending;

/* ---- frontends ---------------------------------------------------------- */

struct fe;
struct fe_ops {
	const char *kind;                 /* "headless", "mock", "interactive" */
	/* agent-0 awaits user input; answer later with ag_user_input(),
	 * ag_request_shutdown() or ag_frontend_done(). */
	void (*want_input)(struct fe *fe);
	/* Every emitted event, in order (borrowed). */
	void (*on_event)(struct fe *fe, const struct jv *ev);
	/* AskUserQuestion. Answer with ag_pending_finish(). 0 or < 0 + err
	 * (frontend error: the session ends with exit 1). */
	int (*ask)(struct fe *fe, const char *agent, const struct jv *question,
		   struct ag_pending *p, struct sl_err *err);
	/* Session end: final message (NULL when suppressed). */
	void (*finish)(struct fe *fe, const char *final_message);
	void (*free)(struct fe *fe);
};
struct fe {
	const struct fe_ops *ops;
	struct ag_session *sess; /* borrowed */
	void *impl;              /* owned by the frontend */
};

/* ---- pending asynchronous service calls --------------------------------- */

/* What a tool's coroutine waits for from the engine. */
enum ag_wait { AG_WAIT_AWAIT, AG_WAIT_ASK, AG_WAIT_SEND_FILE };

/* A Lua primitive waiting on the engine (a question, an AwaitAgent, a
 * SendUserFile). Finishing it resumes the tool's coroutine. */
struct ag_pending {
	struct ag_agent *agent;  /* borrowed */
	void (*done)(void *token, struct jv *result, const char *err, int fatal);
	void *token;
	enum ag_wait what;
	int live;                /* not yet finished or dropped */
};
void ag_pending_finish(struct ag_pending *p, struct jv *result, const char *err, int fatal);

/* ---- tools -------------------------------------------------------------- */

enum { AG_AVAIL_TOP = 1, AG_AVAIL_SUB = 2, AG_AVAIL_BOTH = 3 };

/* Who carries out a tool call (tools.md 1); POLICY only answers denials. */
#define AG_OWNER_MAP(XX) XX(SANDBOX, "sandbox") XX(FRONTEND, "frontend") XX(HARNESS, "harness") \
	XX(POLICY, "policy")
enum ag_owner {
#define XX(n, s) AG_OWNER_##n,
	AG_OWNER_MAP(XX)
#undef XX
	AG_OWNER__COUNT
};
const char *ag_owner_name(enum ag_owner o);

struct ag_tool {
	char *name, *description;  /* owned */
	struct jv *schema;          /* owned */
	int avail;                  /* AG_AVAIL_* */
	enum ag_owner owner;        /* sandbox, frontend or harness */
	char **frontends;           /* NULL = all; else NULL-terminated kinds */
	struct lh_state *lua;       /* borrowed: tools state or policy state */
	int ref;                    /* registry ref of the tool table */
	char *source;               /* owned: file it came from */
};

/* ---- LLM backend -------------------------------------------------------- */

struct ag_usage {
	uint64_t in, out;     /* session totals; in includes the cache tokens */
	uint64_t cache_read, cache_write; /* Anthropic prompt-cache shares of in */
};

struct ag_backend {
	char *cli_name;     /* owned: mock, anthropic, ... */
	char *model;        /* owned */
	char *id;           /* owned: backend id for events and cost lines */
	double rate_in, rate_out; /* $ per million tokens */
	double rate_cache_read, rate_cache_write; /* decisions 7; default rate_in */
	int priced;         /* some price row applies (else dollars are unknown) */
	struct ag_usage usage;
	int reported;       /* a cost_report was emitted */
	void *llm;          /* owned: engine/http struct llm for real backends */
};

/* ---- agents -------------------------------------------------------------- */

#define AG_STATE_MAP(XX)                                                       \
	XX(IDLE) XX(AWAIT_LLM) XX(RUN_TOOLS) XX(UNWIND) XX(DONE) XX(FAILED)
#define AG_EVENT_MAP(XX)                                                       \
	XX(USER_MSG) XX(LLM_REPLY) XX(LLM_ERROR) XX(TOOL_NEXT) XX(TOOL_DONE)  \
	XX(CONTINUE) XX(TURN_END) XX(INTERRUPT) XX(SHUTDOWN) XX(UNWIND)         \
	XX(UNWOUND) XX(WANT_INPUT)

enum ag_state {
#define XX(n) AG_S_##n,
	AG_STATE_MAP(XX)
#undef XX
	AG_S__COUNT
};
enum ag_event {
#define XX(n) AG_E_##n,
	AG_EVENT_MAP(XX)
#undef XX
	AG_E__COUNT
};

/* The tool call lifecycle of one agent (ag_call.c): one call at a time. */
#define AG_CALL_STATE_MAP(XX) XX(IDLE) XX(RUNNING) XX(WAITING) XX(FATAL)
#define AG_CALL_EVENT_MAP(XX) XX(START) XX(WAIT) XX(RESUME) XX(FATAL) XX(FINISH) XX(ABORT)
enum ag_call_state {
#define XX(n) AG_CL_##n,
	AG_CALL_STATE_MAP(XX)
#undef XX
	AG_CL__COUNT
};
enum ag_call_event {
#define XX(n) AG_CLE_##n,
	AG_CALL_EVENT_MAP(XX)
#undef XX
	AG_CLE__COUNT
};

struct ag_call {
	int state;                  /* enum ag_call_state; only fsm_step writes it */
	struct jv *cur;             /* borrowed from agent calls: the running call */
	struct lh_task *task;       /* RUNNING, WAITING, FATAL: its coroutine or NULL */
	struct ag_pending *pending; /* owned: WAITING's service call (kept after) */
	char *fatal;                /* owned: FATAL's session-level failure */
};

/* TOOL_DONE's data: a finished call (owned by the event). */
struct ag_tool_done {
	struct jv *call;            /* owned ref */
	enum ag_owner owner;
	struct jv *output;          /* owned: {content, is_error} */
	char *fatal;                /* owned: session-level failure or NULL */
};
/* Frees an event's data, whatever the event (an undefined pair, a drop). */
void ag__ev_free(int event, void *data);

/* A top-level agent talks to the user; a subagent to its parent. */
enum ag_kind { AG_KIND_TOP, AG_KIND_SUB };

/* How an agent's turn ended (subagents.md 4). */
enum ag_outcome { AG_OUT_NONE, AG_OUT_COMPLETED, AG_OUT_FAILED, AG_OUT_INTERRUPTED,
		  AG_OUT_SHUTDOWN, AG_OUT_ERROR };

/* Child lifecycle as seen by its parent (subagents.md 4; ag_sub.c). */
#define AG_CHILD_STATE_MAP(XX) XX(RUNNING) XX(FINISHED) XX(COLLECTED) XX(CANCELLED)
#define AG_CHILD_EVENT_MAP(XX) XX(END) XX(COLLECT) XX(CANCEL)
enum ag_child {
#define XX(n) AG_C_##n,
	AG_CHILD_STATE_MAP(XX)
#undef XX
	AG_C__COUNT
};
enum ag_child_event {
#define XX(n) AG_CE_CHILD_##n,
	AG_CHILD_EVENT_MAP(XX)
#undef XX
	AG_CE_CHILD__COUNT
};

struct ag_agent {
	struct ag_session *sess;    /* borrowed */
	int num;                    /* 0 = top level */
	enum ag_kind kind;
	char id[24];                /* agent-N */
	char *name;                 /* owned: display name or NULL */
	int depth;
	struct ag_agent *parent;    /* borrowed; NULL for agent-0 */
	int state;                  /* enum ag_state; only fsm_step writes it */
	struct jv *messages;        /* owned: the conversation */
	struct jv *calls;           /* owned: tool_use blocks of the response */
	struct jv *results;         /* owned: tool_result blocks built so far */
	size_t next_call;
	int stop_tool_use;          /* the response asked for another round */
	struct jv *last_text;       /* owned: text of the last response */
	struct jv *last_stop;       /* owned: stop_reason of the last response */
	unsigned gen;               /* interrupt generation seen */
	int llm_inflight;           /* a model call is in flight */
	int llm_call_id;            /* its id at the backend (real backends) */
	unsigned llm_seq;
	int attempt;                /* retry attempt of the current request */
	uv_timer_t retry_timer;     /* embedded; closed with the agent */
	struct ag_call call;        /* the running tool call */
	struct jn_delta jdelta;     /* journal delta base of its requests */
	/* subagent bookkeeping */
	int child_state;            /* enum ag_child; only fsm_step writes it */
	enum ag_outcome outcome;
	char *result;               /* owned: stored result text */
	int result_is_error;
	int completed_emitted;
	struct ag_agent **pool; size_t n_pool, cap_pool; /* outstanding children */
	struct ag_agent **doneq; size_t n_doneq, cap_doneq; /* completion order */
	char *await_id;             /* owned: AwaitAgent target or NULL = any */
	int holds_slot;
	struct ag_agent *next_all;  /* session list */
};

/* ---- the session --------------------------------------------------------- */

struct ag_options {
	const char *harness_id;
	const char *workspace;       /* as configured */
	const char *workspace_mount; /* in-sandbox path tools see */
	const char *scratch;         /* in-sandbox scratch path */
	const char *sandbox_kind;    /* CLI spelling */
	const char *frontend_kind;
	const char *lua_dir;
	const char *system_prompt;   /* NULL: generated */
	uint32_t max_tokens;
	int has_quota_tokens, has_quota_usd;
	uint64_t quota_tokens; double quota_usd;
	int deterministic;
	int headless;                /* failure limit 1 instead of 8 */
	int max_turns;               /* model calls of agent-0; 0: no cap */
	uint64_t timeout_ms;         /* wall time; 0: no limit */
	int max_reminders;           /* headless: reminders before exit 3 */
};

struct ag_qev {
	struct ag_agent *agent;
	int event;
	void *data;                  /* owned by the action that takes it */
};

/* ---- session controls (ag_ctl.c) ------------------------------------------ */

/* How a session ends: the outcome, its exit code (cli.md 2) and the prefix of
 * the message on stderr. The first failure is sticky. */
#define AG_END_MAP(XX)                                                         \
	XX(OK, 0, NULL)                                                        \
	XX(RUNTIME, 1, NULL)                                                   \
	XX(LLM, 3, "session ended by LLM failure")                             \
	XX(NO_EXIT, 3, "session ended without Exit")                           \
	XX(MAX_TURNS, 3, "session ended at its turn limit")                    \
	XX(TIMEOUT, 3, "session ended at its time limit")                      \
	XX(SCRIPT, 4, "script failure")

enum ag_end {
#define XX(n, code, prefix) AG_END_##n,
	AG_END_MAP(XX)
#undef XX
	AG_END__COUNT
};

#define AG_CTL_STATE_MAP(XX)                                                   \
	XX(RUNNING) XX(INTERRUPTING) XX(STOPPING) XX(FAILING) XX(DONE) XX(FAILED)
#define AG_CTL_EVENT_MAP(XX) XX(INTERRUPT) XX(SHUTDOWN) XX(FAIL) XX(DRAINED)

enum ag_ctl_state {
#define XX(n) AG_CS_##n,
	AG_CTL_STATE_MAP(XX)
#undef XX
	AG_CS__COUNT
};
enum ag_ctl_event {
#define XX(n) AG_CE_##n,
	AG_CTL_EVENT_MAP(XX)
#undef XX
	AG_CE__COUNT
};

/* A session control request; queued so that one raised while another is
 * being applied (a frontend error inside the shutdown event) is not lost. */
struct ag_ctl_ev {
	enum ag_ctl_event event;
	enum ag_end end;             /* FAIL */
	char *msg;                   /* owned: SHUTDOWN / FAIL message or NULL */
};

struct ag_session {
	uv_loop_t *loop;              /* borrowed */
	struct ag_options opt;        /* strings borrowed */
	struct sl_clock *clock;       /* borrowed */
	struct jn *journal;           /* borrowed, may be NULL */
	struct sb *sandbox;           /* borrowed */
	struct fe *frontend;          /* borrowed */
	struct fx *fixture;           /* borrowed, may be NULL */
	struct pol *policy;           /* borrowed, may be NULL */
	struct ag_backend *backend;   /* borrowed */
	struct lh_state *tools_lua;   /* owned */
	struct ag_tool *tools; size_t n_tools;
	struct jv *events;            /* owned: event history (bus) */
	uint64_t next_event_seq;
	struct ag_qev *q; size_t q_head, q_len, q_cap;
	uv_idle_t idle;               /* drains q */
	int idle_active;
	struct ag_agent *agents;      /* all agents, owned */
	struct ag_agent *top;
	int next_agent_num;
	int live_slots;
	unsigned gen;                 /* interrupt generation */
	int ctl_state;                /* enum ag_ctl_state; only fsm_step writes it */
	struct ag_ctl_ev *ctl_q; size_t ctl_len, ctl_cap; /* pending controls */
	int ctl_running;              /* ctl_q is being drained */
	char *shutdown_msg;           /* owned: first shutdown request's message */
	enum ag_end end;              /* first failure (sticky) */
	char *end_msg;                /* owned: its message */
	int failed_turns;             /* consecutive failed top-level turns */
	int top_turns;                /* model calls of agent-0 so far */
	uv_timer_t deadline;          /* embedded: --timeout */
	int upload_n, question_n;
	void (*on_finished)(struct ag_session *s, void *ud);
	void *on_finished_ud;
};

struct ag_session *ag_session_new(uv_loop_t *loop, const struct ag_options *opt,
				  struct sl_clock *clock, struct jn *journal);
void ag_session_free(struct ag_session *s);
/* Loads lua/tools/ *.lua plus the policy's extra tools, minus disabled. */
int ag_tools_load(struct ag_session *s, struct sl_err *err);
/* Starts the session: emits harness_started + access_report_updated and
 * asks the frontend for the first input. */
void ag_session_start(struct ag_session *s, const struct jv *access_report);

/* Frontend-facing API. */
void ag_user_input(struct ag_session *s, const char *text, const char *client_id,
		   const char *client_name);
void ag_request_shutdown(struct ag_session *s, const char *message);
void ag_request_interrupt(struct ag_session *s);
void ag_frontend_error(struct ag_session *s, const char *message);
/* Fails the session with outcome `end` (not AG_END_OK) and ends it; the
 * first failure wins. */
void ag_session_fail(struct ag_session *s, enum ag_end end, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 1 once a shutdown or failure was requested (no new work starts). */
int ag_session_stopping(const struct ag_session *s);
/* 1 once the session has finished (the shutdown event went out). */
int ag_session_finished(const struct ag_session *s);
/* The one mapping from a finished session's outcome to the process exit
 * code; fills msg with the stderr line (without "silo: "), empty for 0. */
int ag_session_exit(const struct ag_session *s, struct sl_buf *msg);
void ag_upload(struct ag_session *s, const char *name, const char *content_b64,
	       const char *client_id);

/* Events and journal. payload is stolen; kind-specific fields. */
void ag_emit(struct ag_session *s, const char *kind, struct jv *payload);
void ag_journal(struct ag_session *s, const char *entry, struct jv *body /* stolen */);
void ag_note(struct ag_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ag_script_failure(struct ag_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Internal: the queue and the agents. */
void ag_post(struct ag_session *s, struct ag_agent *a, int event, void *data);
struct ag_agent *ag_agent_new(struct ag_session *s, struct ag_agent *parent, const char *name);
extern const struct fsm_def ag_agent_fsm;
extern const struct fsm_def ag_ctl_fsm;
extern const struct fsm_def ag_call_fsm;
extern const struct fsm_def ag_child_fsm;
/* ag_call.c: the services the tools' Lua states call. */
void ag__services(struct ag_session *s, struct lh_services *svc);
/* ag_ctl.c: queues a control event and applies the queue. */
void ag__ctl_post(struct ag_session *s, enum ag_ctl_event ev, enum ag_end end, const char *msg);
void ag__ctl_free(struct ag_session *s);
void ag__kick(struct ag_session *s); /* ag_session.c: drain the queue soon */
int ag_agent_request(struct ag_agent *a);         /* ag_loop.c: model call */
/* Returns < 0 when the ending failed the session (the row's error cell). */
int ag_agent_finish(struct ag_agent *a, enum ag_outcome o, const char *text);
int ag_tool_dispatch(struct ag_agent *a, const struct jv *call, struct sl_err *err);
void ag_tool_abort(struct ag_agent *a);
const struct ag_tool *ag_tool_find(struct ag_session *s, const char *name);
void ag_tool_clear(struct ag_tool *t);
int ag_tool_offered(const struct ag_session *s, const struct ag_tool *t, enum ag_kind kind);
struct jv *ag_tool_defs(struct ag_session *s, enum ag_kind kind);
/* Subagents (ag_sub.c). */
int ag_sub_spawn(struct ag_agent *caller, const struct jv *args, struct jv **result,
		 struct sl_err *err);
int ag_sub_await(struct ag_agent *caller, const struct jv *args, struct ag_pending *p,
		 struct sl_err *err);
void ag_sub_child_ended(struct ag_agent *child);
int ag_sub_cancel_pool(struct ag_agent *a, enum ag_outcome why, int emit);
void ag_sub_emit_completed(struct ag_agent *child);
int ag_tree_active(struct ag_agent *a);
/* LLM (ag_llm.c). */
/* < 0 when the call failed the session (a script mismatch). */
int ag_llm_call(struct ag_agent *a, struct jv *request /* stolen */);
void ag_llm_cancel(struct ag_agent *a);
int ag_backend_init(struct ag_backend *b, const char *cli_name, const char *model,
		    struct sl_err *err);
void ag_backend_deinit(struct ag_backend *b);
struct jv *ag_cost_usage(const struct ag_backend *b);
/* costs.md 3: the first row whose key is a case-sensitive substring of the
 * model wins; no row leaves both rates 0 and the backend unpriced. Returns
 * whether a row applied. */
int ag_pricing_pick(const struct jv *rows, const char *model, struct ag_backend *b);
/* Sets b's rates from one row {input, output, cache_read?, cache_write?}. */
void ag_pricing_set(struct ag_backend *b, const struct jv *row);
/* Dollars with at least min_dec decimals and enough more (up to 8) that a
 * small figure such as a 0.0001 quota does not print as zero. */
void ag_usd_fmt(char *out, size_t n, double usd, int min_dec, double ref);
void ag_cost_line(const struct ag_backend *b, struct sl_buf *out);

/* System prompt stating the boundaries from the access report (owned). */
char *ag_system_prompt(const struct jv *report);

#define AG_MAX_DEPTH 3
#define AG_DEFAULT_REMINDERS 2
#define AG_MAX_SLOTS 8
#define AG_INTERRUPTED_TEXT "[interrupted by the user]"

#endif
