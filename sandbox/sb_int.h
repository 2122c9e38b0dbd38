/*
 * sb_int: shared internals of the sandbox backends. The frame parser and the
 * line splitter (sb_proto.c) are pure so the fuzzer can drive them; the
 * helper connection (sb_conn.c), the egress relay (sb_relay.c), scratch and
 * helper location (sb_core.c) are used by every process-based backend; the
 * native backend is split into mounts, seccomp and Landlock files.
 */
#ifndef SB_INT_H
#define SB_INT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/sl_helper_ops.h"
#include "sandbox/sb.h"

/* Longest line the harness accepts from the helper. An exec result can carry
 * 2 x 1 MiB of output in which every control byte is escaped as \u00XX
 * (6x), plus framing; a 5 MiB read is 7 MiB of base64. 16 MiB covers both
 * with room, and anything longer is a broken or hostile helper. */
#define SB_MAX_LINE (16u << 20)
/* Largest decoded chunk frame (protocol C6 says <= 64 KiB). */
#define SB_MAX_CHUNK (64u << 10)
/* In-sandbox paths (native; sandbox.md 3 rewrites host scratch to /scratch). */
#define SB_IN_SCRATCH "/scratch"
#define SB_IN_WORKSPACE "/workspace"
#define SB_RELAY_PORT 3128

/* ---- sb_proto.c: frames from the helper (untrusted: sandbox) ---- */

enum sb_frame_kind { SB_FRAME_OK, SB_FRAME_ERR, SB_FRAME_CHUNK };

struct sb_frame {
	enum sb_frame_kind kind;
	uint64_t id;
	struct jv *ok;        /* owned: the Ok object (OK frames) */
	const char *payload;  /* borrowed from ok: its "payload" tag */
	char *err;            /* owned: the Err message (ERR frames) */
	char stream[8];       /* CHUNK: "stdout" or "stderr" */
	struct sl_buf data;   /* CHUNK: decoded bytes */
};

/* Parses one line (without its '\n'). 0 on success (f filled; clear it with
 * sb__frame_clear), SL_EPARSE with err for anything that is not a frame of
 * the protocol: the caller closes the connection. */
int sb__frame_parse(const char *line, size_t n, struct sb_frame *f, struct sl_err *err);
void sb__frame_clear(struct sb_frame *f);
/* Checks that an Ok object answers wire_op with the right payload variant
 * and field types (protocol C3). SL_EPARSE + err when it does not. */
int sb__payload_check(const char *wire_op, const struct jv *ok, struct sl_err *err);
/* Engine op name (decisions 2) to wire op; NULL for an unknown op. */
const char *sb__wire_op(const char *op);
/* Engine op name to its enum value, -1 when unknown. */
int sb__helper_op(const char *engine_op);
/* 1 when the op is one a tool may ask for (not hello, cancel, shutdown). */
int sb__helper_op_public(enum sl_helper_op op);
/* Appends the request line for (id, wire_op, args) to out, '\n'-terminated.
 * Members "id" and "op" of args are ignored. */
void sb__frame_request(struct sl_buf *out, uint64_t id, const char *wire_op,
		       const struct jv *args);

/* Splits a byte stream into lines with a length cap; blank lines skipped. */
struct sb_lines {
	struct sl_buf b; /* owned: the partial line */
	size_t max;      /* 0 = SB_MAX_LINE */
};
/* Calls on_line for each complete line. Returns 0, the first non-zero
 * on_line result, or SL_ELIMIT when a line exceeds the cap. */
int sb__lines_feed(struct sb_lines *lb, const char *p, size_t n,
		   int (*on_line)(void *ud, const char *line, size_t n), void *ud);
void sb__lines_free(struct sb_lines *lb);

/* ---- sb_conn.c: the harness side of the helper connection ---- */

struct sb_conn;
/* Blocking handshake on a freshly accepted socket: sends hello (id 0) and
 * waits up to timeout_ms for the hello payload. On success *version (owned)
 * and *pid are set and any bytes read past the reply are in leftover. */
int sb__hello(int fd, int timeout_ms, char **version, int64_t *pid, struct sl_buf *leftover,
	      struct sl_err *err);
/* Takes over fd (connected, after hello) on loop. on_lost is called once
 * when the connection goes away for any reason except sb__conn_close. */
struct sb_conn *sb__conn_open(uv_loop_t *loop, int fd, const struct sl_buf *leftover,
			      void (*on_lost)(void *ud, const char *why), void *ud,
			      struct sl_err *err);
int64_t sb__conn_request(struct sb_conn *c, const char *wire_op, struct jv *args,
			 sb_done_fn done, sb_chunk_fn chunk, void *ud, struct sl_err *err);
/* Answer deadlines: an exec is due by its timeout_ms plus grace_ms, any
 * other request within op_ms; a missed one loses the connection. The
 * defaults are 10 s and 120 s. */
void sb__conn_set_deadlines(struct sb_conn *c, int grace_ms, int op_ms);
/* Sends cancel for every in-flight exec. */
void sb__conn_cancel_execs(struct sb_conn *c);
/* Number of requests still waiting for an answer. */
size_t sb__conn_pending(const struct sb_conn *c);
int sb__conn_alive(const struct sb_conn *c);
/* Fails every pending request ("helper connection closed"), closes the
 * handle and frees c once libuv is done with it. */
void sb__conn_close(struct sb_conn *c);

/* ---- sb_relay.c: harness side of the egress relay ---- */

struct sb_relay;
/* connections relayed at once per sandbox; more are closed on accept */
#define SB_RELAY_MAX_CONN 256
/* Listens on path; each connection is piped to proxy_addr ("host:port"), or
 * answered with the 403 stub when proxy_addr is NULL. */
struct sb_relay *sb__relay_open(uv_loop_t *loop, const char *path, const char *proxy_addr,
				struct sl_err *err);
void sb__relay_close(struct sb_relay *r);
extern const char sb__relay_stub_body[];

/* ---- sb_core.c: scratch and helper binary ---- */

/* Creates silo-scratch-<12hex> (0700) with home/ tmp/ bin/ and proxy-ca.pem;
 * returns the owned path. */
char *sb__scratch_create(const struct sb_config *cfg, struct sl_err *err);
void sb__scratch_remove(const char *path);
/* sandbox.md 4 search order; owned path or NULL + err. */
char *sb__helper_find(struct sl_err *err);
/* Copies the helper to <scratch>/bin/silo-helper (0755). */
int sb__helper_install(const char *scratch, struct sl_err *err);
void sb__note(struct sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- limits (sb_cgroup.c) ---- */

#define SB_TMPFS_BYTES_DEFAULT (1ull << 30)
#define SB_TMPFS_INODES_DEFAULT 262144ull
#define SB_MEMORY_BYTES_MAX_DEFAULT (8ull << 30) /* or half the RAM if less */
#define SB_PIDS_MAX_DEFAULT 4096
/* The limits in force: the configured ones, defaults for 0, lowered (never
 * raised) by SILO_SANDBOX_TMPFS_MB, SILO_SANDBOX_MEMORY_MB and
 * SILO_SANDBOX_PIDS_MAX (tests; PIDS_MAX=0 turns the process limit off). */
void sb__limits_resolve(const struct sb_limits *in, struct sb_limits *out);

/* ---- sb_cgroup.c ---- */

#define SB_CG_MAX 2
/* The sandbox's cgroups: v1 pids and memory groups, or one v2 group. */
struct sb_cg {
	char *dir[SB_CG_MAX]; /* owned */
	size_t n;
	int v2;               /* dir[n-1] is a v2 group (has cgroup.kill) */
	int pids_max;         /* in force, 0 = none */
	uint64_t mem_max;     /* bytes in force, 0 = none */
};
/* Creates what the host allows (best effort; 0 asks for nothing). */
void sb__cgroup_open(struct sb_cg *cg, int pids_max, uint64_t mem_max);
/* Moves pid into every group on a thread; join returns 0 when it got there. */
struct sb_cgmove;
struct sb_cgmove *sb__cgroup_move_start(const struct sb_cg *cg, pid_t pid);
int sb__cgroup_move_join(struct sb_cgmove *m);
void sb__cgroup_kill(const struct sb_cg *cg);
void sb__cgroup_close(struct sb_cg *cg);

/* ---- sb_seccomp.c ---- */

struct sock_filter;
/* Builds the filter (sandbox.md 6.1 step 6, decisions 21) as classic BPF;
 * *prog is malloc'd, *len is the number of instructions. */
int sb__seccomp_build(struct sock_filter **prog, unsigned short *len, struct sl_err *err);
/* Installs a prebuilt filter; async-signal-safe (no allocation). -errno. */
int sb__seccomp_install(const struct sock_filter *prog, unsigned short len);

/* ---- sb_landlock.c ---- */

/* Landlock ABI version of the running kernel, 0 when absent. */
int sb__landlock_abi(void);
/* One rule: an in-sandbox path and whether it is writable. */
struct sb_ll_rule {
	const char *path;
	int write;  /* 0 read+execute, 1 read+write */
	int file;   /* device node or file: file rights only */
};
/* Restricts the calling thread (after no_new_privs); allocation-free.
 * Returns the ABI used (0 = unavailable) or -errno. Missing paths are
 * skipped. */
int sb__landlock_apply(const struct sb_ll_rule *rules, size_t n);

#endif
