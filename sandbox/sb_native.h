/*
 * sb_native: internals shared by the native backend's files (sb_native.c
 * process and lifecycle, sb_mount.c filesystem view, sb_shell.c user shell).
 */
#ifndef SB_NATIVE_H
#define SB_NATIVE_H

#include <linux/filter.h>
#include <sys/types.h>

#include "sandbox/sb_int.h"

enum sb_mop {
	MOP_TMPFS,        /* dst, mode */
	MOP_DEV,          /* the minimal /dev */
	MOP_PROC,         /* fresh proc with masks */
	MOP_SYMLINK,      /* src = target, dst = link */
	MOP_BIND_RO,      /* directory, read-only, recursive */
	MOP_BIND_RO_FILE, /* file, read-only */
	MOP_BIND_RW,      /* directory, read/write (nosuid, nodev) */
	MOP_RBIND,        /* in-sandbox src to dst, flags kept */
};

struct sb_mount_op {
	enum sb_mop type;
	char *src, *dst; /* owned */
	unsigned mode;
};

/* Built in the parent, run by the child without allocating. */
struct sb_mplan {
	struct sb_mount_op *ops; /* owned */
	size_t n, cap;
	char **readable;         /* owned: access report's readable_paths */
	size_t nreadable;
	struct sb_ll_rule ll[64]; /* Landlock rules (paths owned) */
	size_t nll;
	uint64_t tmpfs_bytes, tmpfs_inodes; /* size= and nr_inodes= of each tmpfs */
};

const char *const *sb__baseline(void);
struct sb_mplan *sb__mplan_new(const char *workspace, const char *scratch,
			       const char *const *allow, const char *cache_dir,
			       const char *helper, const struct sb_limits *lim,
			       struct sl_err *err);
void sb__mplan_free(struct sb_mplan *p);
/* Child side: builds the new root and pivots into it. -1 with eb filled. */
int sb__mplan_run(const struct sb_mplan *p, char *eb, size_t ebn);

/* Everything the child needs, prepared by the parent. */
struct sb_child {
	const struct sb_mplan *plan;
	unsigned uid, gid;
	struct sock_filter *bpf; /* owned by the parent */
	unsigned short nbpf;
	char **envp;             /* NULL-terminated */
	char *const *argv;       /* NULL-terminated */
	int errfd;               /* write end of the error pipe (CLOEXEC) */
	int keep_stderr;
	int rl_nproc;            /* RLIMIT_NPROC to set, 0 = leave */
	uint64_t rl_data;        /* RLIMIT_DATA to set (bytes), 0 = leave */
};

/* Child-side confinement after the mounts (steps 3-6): hostname, lo up,
 * rlimits, no_new_privs, Landlock, capabilities, seccomp. Returns -1 with
 * eb filled. *ll_abi gets the Landlock ABI applied (0 = none). */
int sb__confine(const struct sb_child *c, int *ll_abi, char *eb, size_t ebn);
/* Drops every capability, sets no_new_privs, applies Landlock and seccomp:
 * the part a joining process (user shell) repeats. */
int sb__lockdown(const struct sb_child *c, int *ll_abi, char *eb, size_t ebn);

/* The environment of sandbox.md 3 (owned, NULL-terminated). */
char **sb__env_build(const struct sb_config *cfg, const char *term);
void sb__env_free(char **env);

/* Native instance state (sb->impl). */
struct sb_native {
	char *scratch;            /* owned: host path */
	struct sb_mplan *plan;    /* owned */
	pid_t pid;                /* init (helper) pid, 0 when none */
	int pidfd;                /* -1 when none */
	struct sb_conn *conn;     /* owned (self-freeing) */
	struct sb_relay *relay;   /* owned (self-freeing) */
	char *helper_version;     /* owned */
	int64_t helper_pid;       /* pid the helper reported */
	int ll_abi;               /* Landlock ABI in force, 0 none */
	int started, stopped, finishing;
	uv_timer_t *stop_timer;   /* owned while a shutdown waits */
	void (*stop_done)(void *ud);
	void *stop_ud;
	struct jv *canaries;      /* owned: last canary results, or NULL */
	pid_t shell_pgid;         /* user shell process group, 0 none */
	struct sb_limits lim;     /* resolved limits (sb__limits_resolve) */
	struct sb_cg cg;          /* owned: the cgroups that hold it */
	int rl_nproc;             /* RLIMIT_NPROC set inside, 0 none */
	uint64_t rl_data;         /* RLIMIT_DATA set inside (bytes), 0 none */
};

#endif
