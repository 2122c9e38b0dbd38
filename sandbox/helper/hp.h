/*
 * hp: silo-helper, the small static program that runs inside the sandbox as
 * pid 1 of its pid namespace and serves the helper protocol (protocol.md C)
 * over one connection back to the engine. This header is internal to the
 * helper: request decoding (hp_req.c, pure, fuzzed), response framing
 * (hp_out.c), the event loop and pid-1 duties (hp_main.c), exec
 * (hp_exec.c), file ops (hp_fs.c), fetch (hp_fetch.c, hp_http.c) and the
 * egress relay (hp_relay.c; over virtio-serial, hp_vrelay.c).
 *
 * Everything the helper reads from the connection is untrusted: the engine
 * is trusted, but a confused peer must never crash or stop the helper.
 */
#ifndef HP_H
#define HP_H

#include <stddef.h>
#include <stdint.h>

#include "../../engine/base/sl.h"
#include "../../engine/base/sl_helper_ops.h"
#include "../../engine/json/jv.h"

/* Limits (protocol.md C3, C6). */
#define HP_STREAM_CAP (1024 * 1024)            /* exec: bytes kept per stream */
#define HP_READ_CAP (5 * 1024 * 1024)          /* read_file: max bytes */
#define HP_CHUNK_MAX (64 * 1024)               /* exec: bytes per chunk frame */
#define HP_CHUNK_FLUSH_MS 100                  /* exec: max chunk delay */
#define HP_GRACE_MS 5000                       /* exec: pipe holders after exit */
#define HP_LINE_MAX (64 * 1024 * 1024)         /* request line cap */
#define HP_REDIRECTS_MAX 10                    /* fetch: hops followed */
#define HP_FETCH_IO_MS 60000                   /* fetch: inactivity timeout */

/* The ops are the shared list (engine/base/sl_helper_ops.h). */
enum hp_op {
#define XX(name, eng, wire, payload, pub) HP_OP_##name = SL_HOP_##name,
	SL_HELPER_OP_MAP(XX)
#undef XX
};

/* A [name, value] pair (env, headers); strings borrowed from the request. */
struct hp_pair {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A string field borrowed from the parsed request (NULL when absent). */
struct hp_str {
	const char *p;
	size_t n;
};

/* One decoded request. Strings borrow from root, which the request owns. */
struct hp_req {
	uint64_t id;
	enum hp_op op;
	struct jv *root;        /* owned */
	struct hp_pair *pairs;  /* owned: exec env or fetch headers */
	size_t n_pairs;
	/* exec */
	struct hp_str command, cwd;
	uint64_t timeout_ms;
	int stream;
	/* read, write, edit, listdir */
	struct hp_str path;
	int has_offset, has_limit;
	uint64_t offset, limit;
	struct hp_str content_b64;
	int append;
	struct hp_str old_s, new_s;
	int replace_all;
	/* cancel */
	uint64_t cancel_id;
	/* fetch */
	struct hp_str url, method, body_b64;
	uint64_t max_bytes;
};

enum hp_parse_rc {
	HP_REQ_OK = 0,    /* req filled */
	HP_REQ_SKIP = 1,  /* not JSON, or no numeric id: drop silently */
	HP_REQ_BAD = 2,   /* req->id set, err holds the detail */
};

/*
 * Decodes one request line (without the trailing newline). Pure: no I/O.
 * On HP_REQ_OK the caller owns req and frees it with hp_req_deinit(); on
 * HP_REQ_BAD only req->id is meaningful and err->msg is the detail for
 * `malformed request: <detail>`.
 */
int hp_req_parse(const char *line, size_t n, struct hp_req *req, struct sl_err *err);
void hp_req_deinit(struct hp_req *req);
const char *hp_op_name(enum hp_op op);
/* Finds `{"id":<digits>` at the start of a (truncated) line; 1 if found. */
int hp_req_sniff_id(const char *p, size_t n, uint64_t *id);

/* Response framing (hp_out.c). Every string goes out as lossy UTF-8 so a
 * stray byte in a path never breaks the engine's parser. */
void hp_out_str(struct sl_buf *b, const char *s, size_t n);
void hp_out_ok_begin(struct sl_buf *b, uint64_t id, const char *payload);
void hp_out_ok_end(struct sl_buf *b);
void hp_out_err(struct sl_buf *b, uint64_t id, const char *msg);
void hp_out_ack(struct sl_buf *b, uint64_t id);
/* `<strerror> (os error <n>)` */
const char *hp_os_err(int errnum, char *buf, size_t size);

/* File ops (hp_fs.c): blocking, run on a worker thread; append one full
 * response line to out. */
void hp_fs_run(const struct hp_req *req, struct sl_buf *out);

/* Fetch (hp_fetch.c): blocking, run on a worker thread. */
void hp_fetch_run(const struct hp_req *req, struct sl_buf *out);

/* Egress relay (hp_relay.c): parses spec, binds, starts its thread.
 * Returns 0 or -1 with a message in err. */
int hp_relay_start(const char *spec, struct sl_err *err);
/* The multiplexed relay over a virtio-serial port (hp_vrelay.c). */
int hp_vrelay_start(const char *dev, unsigned port, struct sl_err *err);

/* Event loop services used by hp_exec.c (hp_main.c). */
void hp_send(const struct sl_buf *frame); /* queue bytes for the engine */
int64_t hp_now_ms(void);                  /* monotonic */

/* Exec (hp_exec.c): runs on the main loop. */
struct pollfd;
void hp_exec_start(struct hp_req *req); /* takes req */
/* Lets exec'd commands create Unix sockets (--unix-sockets=allow); by
 * default socket(AF_UNIX) fails with EPERM for them (socketpair works). */
void hp_exec_allow_unix(int allow);
int hp_exec_cancel(uint64_t id);        /* 0, or -1 when no such exec */
/* Adds the pipes to poll; lowers *timeout_ms to the next exec deadline. */
size_t hp_exec_pollfds(struct pollfd *fds, size_t max, int *timeout_ms);
size_t hp_exec_npollfds(void);
/* Handles poll results for the fds hp_exec_pollfds added, and timers. */
void hp_exec_service(const struct pollfd *fds, size_t n);
/* A child was reaped (SIGCHLD); returns 1 if it was an exec shell. */
int hp_exec_reaped(int pid, int status);
/* Kills every exec's process group (connection end). */
void hp_exec_kill_all(void);

#endif
