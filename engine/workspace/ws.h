/*
 * ws: workspace lifecycle (workspace.md): lock, attach, unlock with review,
 * registry in <state>/workspaces.db. The harness uses only attach/detach and
 * the --create lock; the `silo workspace` commands are ws_cli().
 */
#ifndef WS_H
#define WS_H

#include "base/sl.h"

enum ws_strategy { WS_STRATEGY_AUTO, WS_STRATEGY_EXT4_LOOP, WS_STRATEGY_EXT4_FUSE,
		   WS_STRATEGY_DIRECTORY };

struct ws_attachment {
	char *canonical;   /* owned: canonical path the user locked */
	char *mount;       /* owned: host path the sandbox binds read-write */
	char *entry_id;    /* owned */
	char **notes;      /* owned, NULL-terminated: access-report caveats */
	int secondary;     /* a shell attachment */
	char *token;       /* owned: detach matches on it (a stale detach cannot clear
			    * a newer attachment) */
	int pid;
};

/* Locks path (silo run --create / silo workspace lock). Warnings are written
 * as NULL-terminated malloc'd strings into *warnings (may be NULL). */
int ws_lock(const char *state_dir, const char *path, enum ws_strategy strategy,
	    char ***warnings, struct sl_err *err);
/* Attaches a harness (secondary = 0) or a shell (secondary = 1). */
int ws_attach(const char *state_dir, const char *path, const char *owner_id, int pid,
	      int secondary, struct ws_attachment *out, struct sl_err *err);
int ws_detach(const char *state_dir, const struct ws_attachment *a, struct sl_err *err);
void ws_attachment_free(struct ws_attachment *a);

/* Policy `review_rules` (decisions 40): records each file with its SHA-256
 * for the locked workspace at path; unlock appends them after the built-in
 * rules (they add rules, never remove built-in ones). NULL-terminated list. */
int ws_set_review_rules(const char *state_dir, const char *path, const char *const *files,
			struct sl_err *err);

/* `silo workspace VERB` (lock, unlock, status, list, review) with the
 * arguments the command line parsed. Returns the exit code. */
struct ws_cli_args {
	const char *path;          /* NULL: none given */
	const char *strategy;      /* lock: NULL = auto */
	int create;                /* lock: create a missing directory */
	const char *size;          /* lock: image size ("8G"), NULL = from the content */
	const char *const *rules;  /* unlock: NULL-terminated, may be NULL */
	int json;
	int color;                 /* colour the review */
};
int ws_cli(const char *state_dir, const char *verb, const struct ws_cli_args *a);
/* Every locked workspace's canonical path (NULL-terminated, owned). */
char **ws_locked_paths(const char *state_dir, struct sl_err *err);

#endif
