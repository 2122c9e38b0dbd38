/*
 * Test driver for silo-helper: starts the built helper on a Unix socket in
 * a temporary directory (no sandbox needed), sends request lines and waits
 * for frames by id. Shared by the test files of this directory.
 */
#ifndef HH_H
#define HH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/sl.h"
#include "json/jv.h"

struct hh {
	int fd;              /* connection to the helper */
	pid_t pid;           /* the helper (or its unshare wrapper) */
	struct sl_buf in;    /* unread bytes */
	struct jv *held[64]; /* frames received for other ids */
	size_t n_held;
	char dir[256];       /* scratch temp dir, removed by hh_stop */
};

/* How hh_start hands over the connect string: unix: in argv (default),
 * unix: in SILO_HELPER_CONNECT, or tcp: in argv. */
enum { HH_UNIX, HH_ENV, HH_TCP };
extern int hh_connect_mode;

/* Path of the built helper binary. */
const char *hh_helper_path(void);
/* Makes a fresh temp dir into out (size >= 256). */
void hh_tmpdir(char *out);

/* Starts the helper. env: NULL-terminated "NAME=value" added to the
 * environment (may be NULL); wrap: argv prefix such as {"unshare", ...}
 * (may be NULL). Returns 0 or -1. */
int hh_start(struct hh *h, const char *const *env, const char *const *wrap);
/* Closes the connection, waits for exit; returns the exit status or -1. */
int hh_stop(struct hh *h);

void hh_send(struct hh *h, const char *line); /* adds the newline */
void hh_sendf(struct hh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Next frame (any id) within timeout_ms; NULL on timeout/EOF. */
struct jv *hh_frame(struct hh *h, int timeout_ms);
/* Waits for the final result of id; chunks of that id are appended to
 * chunks[0] (stdout) / chunks[1] (stderr) if given and counted. Returns the
 * whole frame (owned) or NULL on timeout. */
struct jv *hh_result(struct hh *h, uint64_t id, int timeout_ms, struct sl_buf chunks[2],
		     int *n_chunks);
/* The Ok payload object of a result frame, or NULL. */
struct jv *hh_ok(struct jv *frame);
/* The Err string of a result frame, or NULL. */
const char *hh_err(struct jv *frame);

/* Decodes a base64 field of obj into a malloc'd NUL-terminated string. */
char *hh_b64(const struct jv *obj, const char *key, size_t *len);
/* Runs a shell command, returns its exit status. */
int hh_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t hh_ms(void);

#endif
