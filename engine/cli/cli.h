/*
 * cli: the command line (spec/cli.md). Each command declares its options
 * in one table that the parser, --help and the man pages all read, so they
 * cannot drift apart.
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "base/sl.h"

struct cli_opt {
	const char *name;    /* long name without "--" */
	int arg;             /* takes a value */
	int repeat;          /* may be given more than once */
	const char *metavar;
	const char *help;
};

struct cli_args;
struct cli_cmd {
	const char *name;    /* "run", "workspace", "journal export" */
	const char *synopsis;
	const char *summary;
	const struct cli_opt *opts;
	int (*fn)(struct cli_args *a);
	int hidden;
	int raw;             /* the command parses its own argv */
	int min_pos, max_pos; /* positional counts (-1: unlimited) */
};

struct cli_args {
	const struct cli_cmd *cmd;
	int argc;            /* raw argv after the command words */
	char **argv;
	char **pos; int npos;
	char **tail; int ntail; /* after a bare "--" */
	int *count;          /* per option */
	char ***vals;        /* per option */
};

int cli_main(int argc, char **argv);

/* Option access by name (NULL / 0 when absent). */
const char *cli_get(const struct cli_args *a, const char *name);
int cli_has(const struct cli_args *a, const char *name);
char **cli_all(const struct cli_args *a, const char *name, int *n);

/* Usage error: "silo: <msg>" + the command's usage on stderr; returns 2. */
int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Runtime error: "silo: <msg>" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_usage(const struct cli_cmd *c, FILE *out);

/* The state directory (cli.md 2): created 0700, refused when group or
 * world writable, format marker checked (decisions 16). Owned string. */
char *cli_state_dir(struct sl_err *err);
/* Calls fn for every run file (cli.md 7.1) under <state>/run, with the
 * parsed file when its harness is alive, NULL when it is unreadable or its
 * pid is gone. fn returns non-zero to stop; that value is returned. */
struct jv;
int cli_run_files(const char *state, int (*fn)(void *ud, const char *path, struct jv *rf),
		  void *ud);
/* Shipped Lua directory: $SILO_LUA_DIR, else next to the binary's source
 * tree or install prefix. Owned string. */
char *cli_lua_dir(void);

/* Commands. */
int cmd_run(struct cli_args *a);
int cmd_replay_test(struct cli_args *a);
int cmd_journal_export(struct cli_args *a);
int cmd_journal_list(struct cli_args *a);
int cmd_harnesses_list(struct cli_args *a);
int cmd_workspace(struct cli_args *a);
int cmd_debug_fsm(struct cli_args *a);
int cmd_debug_seccomp(struct cli_args *a);
int cmd_debug_sandbox_exec(struct cli_args *a);
int cmd_debug_proxy(struct cli_args *a);
int cmd_doctor(struct cli_args *a);
int cmd_shell(struct cli_args *a);
int cmd_manpages(struct cli_args *a);

extern const struct cli_cmd cli_commands[];
extern const int cli_n_commands;

#endif
