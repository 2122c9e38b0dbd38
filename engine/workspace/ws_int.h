/*
 * ws_int.h: what the workspace files share — the registry handle (SQLite
 * workspaces.db plus the flock that serialises read-modify-write), entry
 * records, the tree listing used by snapshots and reviews, container
 * operations, journaled steps with fault injection, and the review.
 */
#ifndef WS_INT_H
#define WS_INT_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/sl.h"
#include "json/jv.h"
#include "workspace/ws.h"

#define WS_MARKER "LOCKED_BY_LLMDEVSILO"
#define WS_TEXT_MAX (1024 * 1024)

/* ---- registry (ws_registry.c) ---- */

struct ws_db {
	sqlite3 *db;      /* owned */
	int lockfd;       /* flock'ed registry lock file, -1 when not held */
	char *state_dir;  /* owned */
	char *root;       /* owned: <state>/workspaces */
	char *lock_path;  /* owned: <state>/workspaces.db.lock */
};

enum ws_state { WS_ST_LOCKING, WS_ST_LOCKED, WS_ST_UNLOCKING };

struct ws_entry {
	char *path;               /* owned: canonical key */
	char id[13];
	enum ws_state state;
	enum ws_strategy strategy;
	int root_mode;            /* -1 when unknown */
	int op_pid;               /* process running lock/unlock, 0 when none */
	char op_hint[32];
	int step;                 /* last journaled step of the operation */
	char *warnings;           /* owned: '\n'-separated extra warnings, or NULL */
};

struct ws_att {
	char token[13];
	int secondary;
	char owner[64];
	int pid;
	char hint[32];
};

int ws__db_open(const char *state_dir, struct ws_db *d, struct sl_err *err);
void ws__db_close(struct ws_db *d);
/* Takes the registry flock (polled every 50 ms up to budget_ms; 0 = the
 * default 30 s, SILO_WS_LOCK_TIMEOUT_MS overrides) and opens a write
 * transaction. ws__reg_end commits (ok) or rolls back, then drops the flock. */
int ws__reg_begin(struct ws_db *d, int budget_ms, struct sl_err *err);
int ws__reg_end(struct ws_db *d, int ok, struct sl_err *err);
int ws__exec(struct ws_db *d, const char *sql, struct sl_err *err);

/* 0 found, SL_ENOENT none. */
int ws__entry_get(struct ws_db *d, const char *path, struct ws_entry *e, struct sl_err *err);
int ws__entry_get_id(struct ws_db *d, const char *id, struct ws_entry *e, struct sl_err *err);
int ws__entry_put(struct ws_db *d, const struct ws_entry *e, struct sl_err *err);
int ws__entry_del(struct ws_db *d, const char *id, struct sl_err *err);
void ws__entry_free(struct ws_entry *e);
/* Every entry path (malloc'd array, NULL-terminated). */
char **ws__entry_paths(struct ws_db *d, struct sl_err *err);
int ws__set_step(struct ws_db *d, const char *id, int step, struct sl_err *err);

int ws__att_list(struct ws_db *d, const char *id, struct ws_att **out, size_t *n,
		 struct sl_err *err);
int ws__att_add(struct ws_db *d, const char *id, const struct ws_att *a, struct sl_err *err);
int ws__att_del(struct ws_db *d, const char *token, struct sl_err *err);
/* Removes dead attachments of entry id; returns the number left alive. */
int ws__att_prune(struct ws_db *d, const char *id, struct sl_err *err);

const char *ws__strategy_name(enum ws_strategy s);
int ws__strategy_parse(const char *s, enum ws_strategy *out);
const char *ws__state_name(enum ws_state s);
void ws__free_strv(char **v);

/* ---- processes ---- */
int ws__alive(int pid);
/* starttime of /proc/<pid>/stat, "" when unavailable. */
void ws__start_hint(int pid, char out[32]);
int ws__alive_hint(int pid, const char *hint);

/* ---- steps and fault injection ---- */
/* Journals step n of the operation on entry id, then honours
 * SILO_WS_FAULT_STEP: the process dies by SIGKILL at the matching fault
 * point (counted across the process). */
int ws__step(struct ws_db *d, const char *id, int n, struct sl_err *err);
void ws__fault_point(void);

/* ---- restore notes: what restore did besides copying (ws_review.c) ---- */
struct ws_note {
	char *path; /* owned: workspace-relative, "" for the whole workspace */
	char *text; /* owned */
	int flag;   /* also listed with the review's warnings */
};
struct ws_notes {
	struct ws_note *v;
	size_t n, cap;
	size_t dropped; /* past the cap, counted only */
};
void ws__note(struct ws_notes *ns, const char *path, int flag, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void ws__notes_free(struct ws_notes *ns);

/* ---- tree listings (ws_snapshot.c) ---- */

enum ws_kind { WS_K_FILE = 'f', WS_K_LINK = 'l', WS_K_DIR = 'd', WS_K_SPECIAL = 's' };
enum {
	WS_F_SUID_STRIPPED = 1,  /* setuid/setgid removed at restore */
	WS_F_SPECIAL_SKIPPED = 2, /* FIFO/socket/device not restored */
	WS_F_LINK_BROKEN = 4,    /* hard link broken at restore */
	WS_F_NOT_RESTORED = 8,   /* left behind (see the restore notes) */
};

/* Directory levels below the workspace root that silo locks, scans and
 * restores: deeper trees are refused at lock and not restored at unlock
 * (every entry keeps its whole path, so depth costs memory squared). */
#define WS_DEPTH_MAX 1024
/* A file this much larger than what it stores is flagged as sparse. */
#define WS_SPARSE_MIN (16 << 20)

struct ws_node {
	char *path;   /* owned, relative, '/'-separated */
	char kind;
	char sha[65];
	int64_t size;
	int64_t alloc;      /* bytes stored (st_blocks * 512) */
	uint64_t ino;       /* with nlink > 1: hard links share it */
	unsigned nlink;
	size_t link_of;     /* 1 + index of the first path of the same inode, 0 */
	unsigned mode;     /* st_mode & 07777 */
	unsigned orig_mode; /* mode before stripping */
	char *target;      /* owned: symlink target */
	unsigned flags;
};

struct ws_list {
	struct ws_node *v;
	size_t n, cap;
};

/* A new open file description of the same directory (own read position). */
int ws__reopen_dir(int fd);

/* ---- the tree walker (ws_walk.c) ---- */
/* Directory modes put back only after the review has read the tree: a
 * directory of mode 000 would hide its files from it. Kept deepest first. */
struct ws_modes {
	char **paths; /* owned */
	unsigned *modes;
	size_t n, cap;
};
void ws__modes_add(struct ws_modes *m, const char *path, unsigned mode);
/* Applies and empties the list (rootfd: the tree the paths are under). */
void ws__modes_apply(int rootfd, struct ws_modes *m);
void ws__modes_free(struct ws_modes *m);

struct ws_wentry {
	int dfd, dst;       /* parent directory: source tree, destination tree (-1) */
	const char *name;
	const char *path;   /* relative path, NULL with no_paths */
	int depth;          /* 1 for entries of the root */
	struct stat st;     /* lstat of the source entry */
	int fd, dstfd;      /* in leave(): the directory itself (may be -1) */
};
enum { WS_W_NEXT = 0, WS_W_DESCEND = 1 };
struct ws_walker {
	/* < 0 aborts the walk; WS_W_DESCEND enters a directory (with a
	 * destination tree, visit() has created dst/name) */
	int (*visit)(struct ws_walker *w, const struct ws_wentry *e);
	/* after a directory's contents; parent fds are open */
	int (*leave)(struct ws_walker *w, const struct ws_wentry *e);
	void *ud;
	struct ws_notes *notes; /* per-entry failures become notes; NULL: they abort */
	struct sl_err *err;
	int no_paths;           /* removal: no path strings */
	struct ws_modes *defer; /* modes it opened up go here instead of back at once */
	const char *skip_top;   /* a root entry not to visit, or NULL */
};
/* Iterative, fd-relative, at most a window of open directories per tree. */
int ws__walk(struct ws_walker *w, int src_root, int dst_root);
/* Opens path below rootfd with no symlink and no escape, at any length. */
int ws__open_rel(int rootfd, const char *path, int flags);
/* The parent directory of path below rootfd; *base points into path. */
int ws__open_parent(int rootfd, const char *path, const char **base);
/* Opens a regular file for reading even when its owner (us) took away the
 * read bit, putting the mode back at once. */
int ws__open_read(int dirfd, const char *name);

struct ws_ient {
	int used;
	dev_t dev;
	ino_t ino;
	char *path;       /* owned: first path restored, or NULL */
	size_t idx;       /* first node index */
	unsigned count;
};
struct ws_imap {
	struct ws_ient *v;
	size_t n, cap;
};
struct ws_ient *ws__imap_get(struct ws_imap *m, dev_t dev, ino_t ino, int *created);
void ws__imap_free(struct ws_imap *m);
void ws__list_free(struct ws_list *l);
struct ws_node *ws__list_push(struct ws_list *l);
void ws__list_drop_unrestored(struct ws_list *l);
void ws__list_sort(struct ws_list *l);
const struct ws_node *ws__list_find(const struct ws_list *l, const char *path);

struct ws_progress {
	const char *what;
	int tty;
	uint64_t files, bytes, last_ms;
};
void ws__progress(struct ws_progress *p, int final);

/* Walks root (not following symlinks). blobs != NULL: every file's bytes are
 * stored in blobs/<sha256>. strict: special files, non-UTF-8 names and
 * trees deeper than WS_DEPTH_MAX fail. */
int ws__snapshot(const char *root, const char *blobs, int strict, struct ws_list *out,
		 struct ws_progress *pg, struct sl_err *err);
/* Hashes (and with hash_all's rules, dedups hard links of) every file of
 * l below rootfd on up to four threads. */
int ws__hash_all(int rootfd, struct ws_list *l, struct ws_progress *pg, struct sl_err *err);
int ws__manifest_save(struct ws_db *d, const char *id, const struct ws_list *l,
		      struct sl_err *err);
int ws__manifest_load(struct ws_db *d, const char *id, struct ws_list *l, struct sl_err *err);
/* The file's digest: SHA-256 over its content in 64 KiB blocks, where a
 * run of all-zero blocks counts by its length only, so holes are never
 * read and a sparse file costs what it stores. With dst_fd >= 0 the
 * content is copied too, holes kept; *written gets the bytes written. */
int ws__hash_copy(int src_fd, int dst_fd, char sha[65], int64_t *size, int64_t *written,
		  struct sl_err *err);
/* Stores the file at fd as blobs/<sha> (hash known). */
int ws__blob_put_fd(const char *blobs, int fd, const char *sha, struct sl_err *err);
/* Copies a tree (hole-aware, hard links kept as links); skip_top names a
 * root entry left out (or NULL). What is left behind (special files, too
 * deep) is noted in notes (may be NULL); other per-entry failures fail it. */
int ws__copy_tree_out(int src_dir, int dst_dir, const char *skip_top, struct ws_notes *notes,
		      struct ws_progress *pg, struct sl_err *err);
/* Pass 1 of an image restore: hashes the image's tree and marks what
 * restore will strip or skip; what cannot be read becomes a note. */
int ws__scan_image(const char *root, struct ws_list *out, struct ws_notes *notes,
		   struct ws_progress *pg, struct sl_err *err);
/* Pass 2: recreates the scanned tree under dst_dir; unchanged files take
 * their lock-time blob back by rename, everything else is copied, hole-
 * aware, hard links as links, at most budget bytes written in all (what
 * would exceed it stays behind with a note). */
int ws__restore_image_tree(int src_dir, int dst_dir, struct ws_list *pre,
			   const struct ws_list *man, const char *blobs, uint64_t budget,
			   struct ws_notes *notes, struct ws_modes *defer, struct ws_progress *pg,
			   struct sl_err *err);
/* Restores a manifest (lock rollback): recreates missing entries from blobs. */
int ws__restore_manifest(const char *root, const char *blobs, const struct ws_list *m,
			 struct sl_err *err);
/* Post-restore hygiene on a plain tree: strips setuid, removes specials and
 * what lies deeper than WS_DEPTH_MAX, gives hard links shared with a file
 * outside the workspace their own copy; fills cur, notes what it did. */
int ws__sanitize_walk(const char *root, struct ws_list *cur, struct ws_notes *notes,
		      struct ws_modes *defer, struct ws_progress *pg, struct sl_err *err);
/* renameat that also moves a directory lacking owner write permission
 * (moving a directory rewrites its ".." entry), keeping its mode. */
int ws__rename_at(int from, const char *name, int to);
/* Deletes root/name in a detached process (see ws_unlock.c). */
void ws__rm_detached(const char *root, const char *name);
/* Removes a tree relative to dirfd without following symlinks. */
int ws__rm_at(int dirfd, const char *name);

/* ---- containers (ws_container.c) ---- */
struct ws_paths {
	char *entry, *blobs, *data, *img, *mnt; /* owned */
};
void ws__paths(const struct ws_db *d, const char *id, struct ws_paths *p);
void ws__paths_free(struct ws_paths *p);
enum ws_strategy ws__strategy_auto(char **why);
int ws__is_mounted(const char *mnt);
/* The image size for a tree of content_bytes (requested: 0 = automatic):
 * generous headroom, since the image never grows, within the free space of
 * the filesystem holding dir. */
uint64_t ws__image_size(const char *dir, uint64_t content_bytes, uint64_t requested);
int ws__ext4_build(const char *src, const char *img, uint64_t size, uint64_t entries,
		   struct sl_err *err);
int ws__mount(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err);
int ws__umount(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err);
int ws__umount_raw(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err);
const char *ws__strategy_warning(enum ws_strategy s);

/* ---- review (ws_review.c, ws_diff.c, ws_rules.c) ---- */
struct ws_review_opts {
	const char *const *rule_files; /* extra rules, NULL-terminated, may be NULL */
	int color;
};
struct ws_rules;
struct ws_rules *ws__rules_load(const char *const *extra, struct sl_err *err);
void ws__rules_free(struct ws_rules *r);
/* Reason string (malloc'd) or NULL. */
char *ws__rules_check(struct ws_rules *r, const struct jv *change);
size_t ws__rules_count(const struct ws_rules *r);
char *ws__rules_sample(const struct ws_rules *r, size_t i, int flag);
/* Unified diff of two texts (headers --- locked / +++ current). */
void ws__udiff(const char *a, size_t an, const char *b, size_t bn, struct sl_buf *out);
/* Builds {changes[], auto_exec_flags[]}. */
struct jv *ws__review_build(const struct ws_list *old, const struct ws_list *cur,
			    const struct ws_notes *notes, const char *blobs, const char *root,
			    struct ws_rules *rules, struct sl_err *err);
void ws__review_render(const struct jv *rep, int color, struct sl_buf *out);
int ws__review_save(struct ws_db *d, const char *path, const char *id, const struct jv *rep,
		    struct sl_err *err);
struct jv *ws__review_load(struct ws_db *d, const char *path, struct sl_err *err);
void ws__escape_name(struct sl_buf *out, const char *s);

/* ---- operations ---- */
struct ws_lock_opts {
	enum ws_strategy strategy;
	int create;          /* create a missing directory (silo run --create) */
	uint64_t image_size; /* bytes, 0 = from the content */
};
int ws__lock(struct ws_db *d, const char *path, const struct ws_lock_opts *o, char **canon,
	     char ***warnings, struct sl_err *err);
/* "1.5 GiB" style, into out. */
void ws__fmt_size(char out[32], uint64_t bytes);
/* Parses "512M", "8G", "1T", plain bytes. 0 ok, -1 bad. */
int ws__parse_size(const char *s, uint64_t *out);
int ws__rollback_lock(struct ws_db *d, struct ws_entry *e, struct sl_err *err);
int ws__unlock(struct ws_db *d, const char *path, const struct ws_review_opts *o,
	       struct jv **report, struct sl_err *err);
/* Recovers dead operations and orphan entry dirs of every workspace, not
 * only the one a command names: any command heals any interrupted lock
 * (called by every command). */
void ws__recover(struct ws_db *d);
void ws__remove_marker(const char *root);
int ws__check_path(const struct ws_db *d, const char *canon, struct sl_err *err);
char *ws__canon_lenient(const char *path, struct sl_err *err);

#endif
