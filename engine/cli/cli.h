/*
 * cli: the command line. Each command declares its options in one table
 * (cli_cmds.c) that the parser, --help, the man pages and shell completion
 * all read, so they cannot drift apart.
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "base/sl.h"

/* What a value or positional names, for completion. */
enum cli_kind {
	CLI_K_NONE,
	CLI_K_FILE,
	CLI_K_DIR,
	CLI_K_WORKSPACE, /* a locked workspace (from the registry) */
};

struct cli_opt {
	const char *name;    /* long name without "--"; one letter means "-o" */
	int arg;             /* takes a value */
	int repeat;          /* may be given more than once */
	const char *metavar;
	const char *help;    /* one line, shown by --help and in the man page */
	const char *choices; /* space-separated allowed values, checked by the parser */
	enum cli_kind kind;
};

struct cli_args;
struct cli_cmd {
	const char *name;     /* "run", "workspace lock", "journal export" */
	const char *synopsis; /* after "silo ": "run [OPTIONS]" */
	const char *summary;
	const struct cli_opt *opts;
	int (*fn)(struct cli_args *a);
	int hidden;           /* testing aids: not in the top-level listing */
	int min_pos, max_pos; /* positional counts (-1: unlimited) */
	const char *pos_name; /* "PATH", named in "missing PATH" */
	enum cli_kind pos_kind;
	int tail;             /* accepts "-- ARGS..." */
};

struct cli_seq {
	int opt;             /* index into cmd->opts */
	char *val;
};

struct cli_args {
	const struct cli_cmd *cmd;
	char **pos; int npos;
	char **tail; int ntail; /* after a bare "--" (NULL when there was none) */
	int *count;          /* per option */
	char ***vals;        /* per option, in command-line order */
	struct cli_seq *seq; int nseq; /* every option given, in order */
};

int cli_main(int argc, char **argv);
/* cli_main on "silo WORDS ARGS...": words is a command name ("debug proxy"). */
int cli_main_as(const char *words, int argc, char **argv);

/* Option access by name (NULL / 0 when absent). */
const char *cli_get(const struct cli_args *a, const char *name);
int cli_has(const struct cli_args *a, const char *name);
char **cli_all(const struct cli_args *a, const char *name, int *n);
/* An integer option in [min, max]: 0 absent (*out untouched), 1 present,
 * -1 after a usage error was printed (return 2 then). */
int cli_get_int(const struct cli_args *a, const char *name, long long min, long long max,
		long long *out);

/* Usage error: "silo: <msg>" and "see 'silo <cmd> --help'" on stderr;
 * returns 2. */
int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Runtime error: "silo: <msg>" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_usage(const struct cli_cmd *c, FILE *out);
/* Colour on fd: a terminal, NO_COLOR unset or empty, TERM set and not "dumb". */
int cli_color(int fd);

/* The state directory: created 0700, refused when group or world writable,
 * format marker checked. Owned string. */
char *cli_state_dir(struct sl_err *err);
/* Calls fn for every run file under <state>/run, with the parsed file when
 * its harness is alive, NULL when it is unreadable or its pid is gone. fn
 * returns non-zero to stop; that value is returned. */
struct jv;
int cli_run_files(const char *state, int (*fn)(void *ud, const char *path, struct jv *rf),
		  void *ud);
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

/* Man page text per page (cli_doc.c): the page "silo-run" documents every
 * command whose first word is "run"; "silo" is the overview. */
struct cli_pair {
	const char *key, *text;
};
struct cli_page {
	const char *name;       /* "silo-workspace", "silo-policy" */
	int section;
	const char *summary;
	const char *description; /* paragraphs separated by blank lines */
	const struct cli_pair *sections; /* extra titled sections, {NULL} ends */
	const struct cli_pair *exit_status;
	const struct cli_pair *environment;
	const struct cli_pair *files;
	const struct cli_pair *examples; /* {comment, command line} */
	const char *see_also;
};
extern const struct cli_page cli_pages[];
const struct cli_page *cli_page_of(const struct cli_cmd *c);
/* Completion candidates for words (the last one is being completed). */
int cli_complete(int nwords, char **words, FILE *out);

#endif
