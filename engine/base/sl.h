/*
 * sl: the base layer every module uses — error codes and messages, a growable
 * byte buffer, logging filtered by SILO_LOG, random ids, small path helpers.
 * Engine-internal allocations abort on host OOM (sl_xmalloc); the Lua states
 * have their own capped allocator and never go through these.
 */
#ifndef SL_H
#define SL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ERR_MAP(XX)                                                         \
	XX(OK, 0, "success")                                                   \
	XX(EINVAL, -1, "invalid argument")                                     \
	XX(ENOMEM, -2, "out of memory")                                        \
	XX(EIO, -3, "i/o error")                                               \
	XX(ENOENT, -4, "not found")                                            \
	XX(EDENIED, -5, "denied")                                              \
	XX(EPARSE, -6, "malformed input")                                      \
	XX(ELIMIT, -7, "limit exceeded")                                       \
	XX(ESTATE, -8, "wrong state")                                          \
	XX(EAGAIN, -9, "in progress")                                          \
	XX(EUNAVAIL, -10, "unavailable")                                       \
	XX(ESCRIPT, -11, "script failure")                                     \
	XX(EUSAGE, -12, "usage error")                                         \
	XX(ECANCEL, -13, "cancelled")                                          \
	XX(ETIMEOUT, -14, "timed out")                                         \
	XX(EEXIST, -15, "already exists")

enum sl_errcode {
#define XX(name, val, text) SL_##name = val,
	SL_ERR_MAP(XX)
#undef XX
};

struct sl_err {
	int code;
	char msg[512];
};

/* Sets code and message (printf-style); e may be NULL. Returns code. */
int sl_err_set(struct sl_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "<prefix>: ". */
void sl_err_prefix(struct sl_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *sl_strerror(int code);
const char *sl_errname(int code);

/* Growable byte buffer, always NUL-terminated after len. */
struct sl_buf {
	char *p; /* owned */
	size_t len, cap;
};
void sl_buf_init(struct sl_buf *b);
void sl_buf_free(struct sl_buf *b);
void sl_buf_reset(struct sl_buf *b);
void sl_buf_reserve(struct sl_buf *b, size_t extra);
void sl_buf_add(struct sl_buf *b, const void *p, size_t n);
void sl_buf_adds(struct sl_buf *b, const char *s);
void sl_buf_addc(struct sl_buf *b, char c);
void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sl_buf_vprintf(struct sl_buf *b, const char *fmt, va_list ap);
/* Appends s with terminal control characters shown as \xNN, never sent
 * (sl_term.c); newlines and tabs kept when keep_newlines. For text from
 * the model or the agent. */
void sl_term_escape(struct sl_buf *out, const char *s, int keep_newlines);
/* Hands the storage to the caller (free() it); b is reset. */
char *sl_buf_steal(struct sl_buf *b);

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t n, size_t m);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);
char *sl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logging to stderr, filtered by SILO_LOG ("warn", "info,proxy=trace"). */
enum sl_level { SL_LOG_ERROR, SL_LOG_WARN, SL_LOG_INFO, SL_LOG_DEBUG, SL_LOG_TRACE };
void sl_log_init(const char *spec);
int sl_log_enabled(const char *module, enum sl_level lv);
void sl_log(const char *module, enum sl_level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define SL_ERROR(mod, ...) sl_log(mod, SL_LOG_ERROR, __VA_ARGS__)
#define SL_WARN(mod, ...) sl_log(mod, SL_LOG_WARN, __VA_ARGS__)
#define SL_INFO(mod, ...) sl_log(mod, SL_LOG_INFO, __VA_ARGS__)
#define SL_DEBUG(mod, ...) sl_log(mod, SL_LOG_DEBUG, __VA_ARGS__)

/* Fills out with n random bytes from getrandom(2); returns 0 or SL_EIO. */
int sl_random(void *out, size_t n);
/* 12 lowercase hex chars + NUL (ids of harnesses, workspaces, shells). */
void sl_random_id(char out[13]);
void sl_hex(const void *p, size_t n, char *out /* 2n+1 */);

/* Path helpers. */
int sl_mkdir_p(const char *path, unsigned mode, struct sl_err *err);
int sl_rm_rf(const char *path);
/* Reads a whole file (NUL-terminated); NULL + err on failure. */
char *sl_read_file(const char *path, size_t *len, size_t max, struct sl_err *err);
int sl_write_file(const char *path, const void *p, size_t n, unsigned mode,
		  struct sl_err *err);
/* Canonical path; for a missing path, the nearest existing ancestor
 * canonicalized with the rest re-appended (sandbox.md 9). */
char *sl_canon_lenient(const char *path);
/* 1 when path equals dir or lies under it, component-wise. */
int sl_path_under(const char *path, const char *dir);
/* Directory of the running executable (owned). */
char *sl_exe_dir(void);

/* What silo installs beside its executable (docs/architecture.md). */
enum sl_res {
	SL_RES_LUA,      /* the lua/ folder: backends, tools, review rules */
	SL_RES_POLICIES, /* the policies/ folder: default.lua, examples */
	SL_RES_HELPER,   /* the silo-helper binary */
};
/* Path of a resource (owned), or NULL + err (SL_EINVAL: an override
 * variable names nothing; SL_ENOENT: not found anywhere). sl_res.c says
 * where it looks. */
char *sl_res_find(enum sl_res what, struct sl_err *err);

/* SHA-256 of a buffer as 64 lowercase hex chars + NUL. */
void sl_sha256_hex(const void *p, size_t n, char out[65]);

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_UNUSED(x) ((void)(x))

#endif
