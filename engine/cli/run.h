/* Shared between the `silo run` parser (cmd_run.c) and the session
 * composition (run_session.c). */
#ifndef RUN_H
#define RUN_H

#include "cli/run_config.h"
#include "policy/pol.h"

struct run_opts {
	struct run_config cfg;   /* layered settings */
	struct pol pol;          /* merged policy files */
	char *lua_dir;           /* owned */
	const char *script;      /* borrowed: argv */
	int deterministic, create, mock_proxy, print_access;
	int has_quota_tokens, has_quota_usd;
	uint64_t quota_tokens; double quota_usd;
	char **read_allowlist, **allowed_domains, **allow_risky; /* owned */
	struct jv *credentials;  /* owned array */
};

void run_opts_free(struct run_opts *o);
/* Steps 1-8 of cli.md 4.5 from the validated options; returns the exit code. */
int run_session(struct run_opts *o);

#endif
