/*
 * sb: the sandbox backend interface (decisions 17). One vtable per backend
 * (native, mock; gvisor and microvm later). The engine owns one struct sb per
 * session (plus one per `silo shell`). Everything is asynchronous on the
 * session's libuv loop: helper requests complete through callbacks.
 *
 * Tools are Lua: sandbox-owned tools call silo.helper.<op>, which becomes
 * sb_helper_request(). The mock backend instead answers whole tool calls
 * from the fixture (intercept_tool) and never runs the Lua tool.
 */
#ifndef SB_H
#define SB_H

#include <stdio.h>
#include <uv.h>

#include "base/sl.h"
#include "json/jv.h"

struct sb;

/* Static configuration of one sandbox instance (all strings borrowed for the
 * lifetime of the sb). */
struct sb_config {
	const char *kind;          /* "native", "mock", ... (CLI spelling) */
	const char *workspace;     /* host path of the attached workspace mount */
	const char *const *read_allowlist; /* NULL-terminated, canonical paths */
	const char *const *allowed_domains; /* for the access report */
	const char *const *credential_hosts; /* names only */
	const char *const *tunnel_domains;
	const char *scratch_root;  /* NULL = $TMPDIR or /tmp */
	const char *cache_dir;     /* per-workspace toolchain caches, or NULL */
	const char *proxy_addr;    /* "127.0.0.1:port" of the harness proxy */
	const char *proxy_ca_pem;  /* session CA certificate (PEM), may be NULL */
	const char *const *extra_env; /* "NAME=value" placeholders, NULL-terminated */
	const char *const *notes;  /* extra access-report notes (lock caveats) */
	int deterministic;
	int unix_connect;          /* policy sandbox.unix_connect: commands may make Unix sockets */
	struct sb_limits {         /* policy `sandbox`; 0 = the default */
		uint64_t tmpfs_bytes;  /* each tmpfs: /tmp, /dev/shm, scratch home, tmp */
		uint64_t tmpfs_inodes; /* each tmpfs */
		uint64_t memory_bytes; /* the whole sandbox (cgroup) or each process */
		int pids_max;          /* processes in the sandbox */
	} limits;
};

/* Completion of one helper request. On success result is the Ok payload
 * object (owned by the callee: ref it to keep) and err NULL. A per-request
 * Err gives err = its message (tool-level). fatal != 0 means the helper
 * connection is gone (session-level failure, tools.md 1.2). */
typedef void (*sb_done_fn)(void *ud, struct jv *result, const char *err, int fatal);
/* Streamed exec output (protocol C6), optional. */
typedef void (*sb_chunk_fn)(void *ud, const char *stream, const char *data, size_t n);

struct sb_ops {
	const char *name;      /* "native" */
	const char *kind;      /* "linux-native" (access report, events) */
	int (*start)(struct sb *sb, struct sl_err *err);
	/* op: exec, read, write, edit, listdir, fetch (decisions 2). args owned
	 * by the callee. Returns a request id >= 0 (for cancel) or < 0 with err
	 * (then done is never called). */
	int64_t (*helper_request)(struct sb *sb, const char *op, struct jv *args,
				  sb_done_fn done, sb_chunk_fn chunk, void *ud,
				  struct sl_err *err);
	/* Cancels every in-flight exec (interrupt); partial output comes back
	 * through each request's done callback. */
	void (*interrupt)(struct sb *sb);
	/* New reference to the access report object (sandbox.md 7). */
	struct jv *(*access_report)(struct sb *sb);
	/* Runs argv (NULL: the user's shell) in a fresh instance with a pty
	 * relayed to the caller's terminal; returns the exit status (cli.md 2). */
	int (*user_shell)(struct sb *sb, char *const *argv, struct sl_err *err);
	void (*terminate_user_shell)(struct sb *sb);
	/* Stops the helper, tears down, removes scratch; idempotent; calls done
	 * (may be synchronous) when finished. */
	void (*shutdown)(struct sb *sb, void (*done)(void *ud), void *ud);
	/* Mock only: answers a sandbox-owned tool call from the fixture.
	 * Returns 0 with *output set, or SL_ESCRIPT with err = mismatch detail. */
	int (*intercept_tool)(struct sb *sb, const char *name, const struct jv *input,
			      struct jv **output, struct sl_err *err);
	void (*free)(struct sb *sb);
};

struct sb {
	const struct sb_ops *ops;
	uv_loop_t *loop;          /* borrowed: session */
	struct sb_config cfg;     /* borrowed strings */
	void *impl;               /* owned by the backend */
	/* Lifecycle notes go to the journal through this hook (may be NULL). */
	void (*note)(void *ud, const char *msg);
	void *note_ud;
};

/* Creates a backend instance by CLI name; NULL + err for unknown or
 * unavailable kinds (the message names what is missing). */
struct sb *sb_new(uv_loop_t *loop, const struct sb_config *cfg, struct sl_err *err);
void sb_free(struct sb *sb);

/* Registry of compiled backends; each backend file defines its ops. */
extern const struct sb_ops sb_mock_ops;
extern const struct sb_ops sb_native_ops; /* defined by sb_native.c */

/* Mock sandbox needs the fixture; set before start (sb_mock.c). */
struct fx;
void sb_mock_set_fixture(struct sb *sb, struct fx *fx);

/* ---- additions by the sandbox area ---- */

/* `silo debug seccomp`: prints the native backend's filter table
 * (Markdown). Returns 0. */
int sb_seccomp_dump(FILE *out);

/* `silo doctor [--json]`: which backends and kernel features work here
 * (user namespaces, seccomp, Landlock ABI, cgroups, runsc, KVM, the helper
 * binary), each with a remedy. Returns 1 when the default backend cannot
 * run, else 0. */
int sb_doctor(FILE *out, int json);

/* Startup canaries (issue 3 item 9), asynchronous on the sandbox's loop.
 * Runs a short self-test inside the started sandbox through one helper exec:
 * read a secret planted on the host outside the allowlist, write outside
 * the workspace (checked on the host afterwards), connect to a listener on
 * the host's loopback and to 169.254.169.254, open raw and packet sockets.
 * done gets passed = 1 only when every canary failed to get through, and
 * results = {passed, canaries: [{name, blocked, detail}]} (borrowed; the
 * backend also keeps it for the access report under "canaries"). Returns 0,
 * or < 0 with err when the test cannot be started (done is not called). */
typedef void (*sb_canary_fn)(void *ud, int passed, struct jv *results);
int sb_canaries(struct sb *sb, sb_canary_fn done, void *ud, struct sl_err *err);

#endif
