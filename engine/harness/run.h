/* The harness's side of `silo run` and `silo shell`: the validated options
 * the CLI hands down (cmd_run.c, cmd_shell.c) and the composition of one
 * session (run_session.c). */
#ifndef RUN_H
#define RUN_H

#include "harness/run_config.h"
#include "policy/pol.h"

struct ag_session;
struct fe;
struct fx;

struct run_opts {
	struct run_config cfg;   /* layered settings */
	struct pol pol;          /* merged policy files */
	char *lua_dir;           /* owned */
	const char *script;      /* borrowed: argv */
	int deterministic, create, mock_proxy, print_access;
	int headless_output;     /* enum fe_headless_output */
	int has_quota_tokens, has_quota_usd;
	uint64_t quota_tokens; double quota_usd;
	int max_turns;           /* 0: no cap */
	uint64_t timeout_ms;     /* 0: no limit */
	char **read_allowlist, **allowed_domains, **allow_risky; /* owned */
	struct jv *credentials;  /* owned array */
	char *state;             /* owned: the state directory */
	/* The frontend the CLI picked, made once the session exists; NULL or
	 * a frontend that cannot start ends the run with exit 1. */
	struct fe *(*frontend_new)(struct ag_session *s, const struct run_opts *o,
				   struct fx *fx);
};

#include <uv.h>

#include "agent/ag.h"
#include "workspace/ws.h"

/* One harness (or `silo shell`) and the components it started. */
struct run {
	struct run_opts *o;
	uv_loop_t loop;
	struct sl_clock clock;
	char *state, *journal_path, *harness_id;
	struct jn *jn;
	struct fx *fx;
	struct px *px;
	struct sb *sb;
	struct fe *fe;
	struct ag_session *s;
	struct ag_backend backend;
	struct ws_attachment att;
	int attached;
	uv_signal_t sigint, sigterm;
	int signals;
	char **cred_hosts;
	char **extra_env;         /* owned: NAME=dummy for placeholders */
	char *cache_dir;          /* owned: this workspace's toolchain caches */
	int is_shell;             /* silo shell: no agent session */
};

void run_opts_free(struct run_opts *o);
/* Starts the proxy and the sandbox for r (cli.md 4.5 step 5). */
int run_start_components(struct run *r, struct sl_err *err);
/* Stops what was started, each stop attempted even if another failed. */
void run_teardown(struct run *r);
/* Lifecycle note into r's journal. */
void run_note(void *ud, const char *msg);
/* Steps 1-8 of cli.md 4.5 from the validated options; returns the exit code. */
int run_session(struct run_opts *o);

#endif
