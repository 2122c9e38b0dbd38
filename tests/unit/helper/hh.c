/* Test driver for silo-helper: process start/stop and frame I/O (hh.h). */
#include "hh.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int hh_connect_mode = HH_UNIX;

int64_t hh_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *hh_helper_path(void)
{
	static char path[4096];
	if (path[0])
		return path;
	const char *b = getenv("SILO_BUILD");
	if (b && *b) {
		snprintf(path, sizeof path, "%s/silo-helper", b);
		if (access(path, X_OK) == 0)
			return path;
	}
	/* tests/test_helper -> ../silo-helper */
	char *d = sl_exe_dir();
	snprintf(path, sizeof path, "%s/../silo-helper", d ? d : ".");
	free(d);
	return path;
}

void hh_tmpdir(char *out)
{
	const char *t = getenv("TMPDIR");
	snprintf(out, 256, "%s/silo-helper-test-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(out))
		out[0] = 0;
}

int hh_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int hh_start(struct hh *h, const char *const *env, const char *const *wrap)
{
	memset(h, 0, sizeof *h);
	h->fd = -1;
	sl_buf_init(&h->in);
	if (access(hh_helper_path(), X_OK) < 0) {
		printf("# helper binary %s missing (build target silo-helper)\n", hh_helper_path());
		return -1;
	}
	hh_tmpdir(h->dir);
	if (!h->dir[0])
		return -1;
	char sock[400], conn[420], envconn[460];
	int ls;
	if (hh_connect_mode == HH_TCP) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t l = sizeof sa;
		ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1) ||
		    getsockname(ls, (struct sockaddr *)&sa, &l))
			return -1;
		snprintf(conn, sizeof conn, "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
	} else {
		snprintf(sock, sizeof sock, "%s/h.sock", h->dir);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
		ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1))
			return -1;
		snprintf(conn, sizeof conn, "unix:%s", sock);
	}
	snprintf(envconn, sizeof envconn, "SILO_HELPER_CONNECT=%s", conn);
	h->pid = fork();
	if (h->pid == 0) {
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		const char *argv[16];
		size_t n = 0;
		for (size_t i = 0; wrap && wrap[i] && n < 12; i++)
			argv[n++] = wrap[i];
		argv[n++] = hh_helper_path();
		if (hh_connect_mode == HH_ENV)
			putenv(envconn);
		else
			argv[n++] = conn;
		argv[n] = NULL;
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	struct pollfd p = { .fd = ls, .events = POLLIN };
	if (h->pid < 0 || poll(&p, 1, 10000) != 1) {
		close(ls);
		return -1;
	}
	h->fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	close(ls);
	return h->fd >= 0 ? 0 : -1;
}

int hh_stop(struct hh *h)
{
	int st = -1;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		int64_t end = hh_ms() + 10000;
		int r;
		while ((r = waitpid(h->pid, &st, WNOHANG)) == 0 && hh_ms() < end)
			usleep(10000);
		if (r == 0) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			st = -1;
		}
	}
	for (size_t i = 0; i < h->n_held; i++)
		jv_unref(h->held[i]);
	h->n_held = 0;
	sl_buf_free(&h->in);
	if (h->dir[0])
		sl_rm_rf(h->dir);
	return st;
}

void hh_send(struct hh *h, const char *line)
{
	size_t n = strlen(line);
	const char *p = line;
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, p, n);
	sl_buf_addc(&b, '\n');
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(h->fd, b.p + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	sl_buf_free(&b);
}

void hh_sendf(struct hh *h, const char *fmt, ...)
{
	struct sl_buf b;
	sl_buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	hh_send(h, b.p);
	sl_buf_free(&b);
}

struct jv *hh_frame(struct hh *h, int timeout_ms)
{
	int64_t end = hh_ms() + timeout_ms;
	for (;;) {
		char *nl = h->in.len ? memchr(h->in.p, '\n', h->in.len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - h->in.p);
			struct sl_err err;
			struct jv *v = jv_parse(h->in.p, n, NULL, &err);
			if (!v)
				printf("# unparseable frame: %.200s (%s)\n", h->in.p, err.msg);
			memmove(h->in.p, nl + 1, h->in.len - n - 1);
			h->in.len -= n + 1;
			if (v)
				return v;
			continue;
		}
		int64_t left = end - hh_ms();
		if (left <= 0)
			return NULL;
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			return NULL;
		sl_buf_reserve(&h->in, 65536);
		ssize_t r = read(h->fd, h->in.p + h->in.len, 65536);
		if (r <= 0)
			return NULL;
		h->in.len += (size_t)r;
	}
}

static int frame_id(const struct jv *f, uint64_t *id)
{
	struct jv *v = jv_get(f, "id");
	if (!jv_is(v, JV_INT))
		return 0;
	*id = (uint64_t)jv_int_val(v);
	return 1;
}

struct jv *hh_result(struct hh *h, uint64_t id, int timeout_ms, struct sl_buf chunks[2],
		     int *n_chunks)
{
	int64_t end = hh_ms() + timeout_ms;
	for (size_t i = 0; i < h->n_held; i++) {
		uint64_t fid;
		if (frame_id(h->held[i], &fid) && fid == id) {
			struct jv *f = h->held[i];
			memmove(&h->held[i], &h->held[i + 1], (h->n_held - i - 1) * sizeof *h->held);
			h->n_held--;
			return f;
		}
	}
	for (;;) {
		int64_t left = end - hh_ms();
		struct jv *f = left > 0 ? hh_frame(h, (int)left) : NULL;
		if (!f)
			return NULL;
		uint64_t fid;
		if (!frame_id(f, &fid) || fid != id) {
			if (h->n_held < SL_ARRAY_LEN(h->held))
				h->held[h->n_held++] = f;
			else
				jv_unref(f);
			continue;
		}
		struct jv *ch = jv_get(f, "chunk");
		if (ch && !jv_get(f, "result")) {
			if (n_chunks)
				(*n_chunks)++;
			if (chunks) {
				const char *s = jv_get_str(ch, "stream");
				size_t n;
				char *d = hh_b64(ch, "data_b64", &n);
				int k = s && !strcmp(s, "stderr");
				if (d)
					sl_buf_add(&chunks[k], d, n);
				free(d);
			}
			jv_unref(f);
			continue;
		}
		return f;
	}
}

struct jv *hh_ok(struct jv *frame)
{
	return jv_get(jv_get(frame, "result"), "Ok");
}

const char *hh_err(struct jv *frame)
{
	return jv_get_str(jv_get(frame, "result"), "Err");
}

char *hh_b64(const struct jv *obj, const char *key, size_t *len)
{
	const char *s = jv_get_str(obj, key);
	if (!s)
		return NULL;
	struct sl_buf b;
	struct sl_err err;
	sl_buf_init(&b);
	if (jv_b64_decode(&b, s, strlen(s), &err) < 0) {
		sl_buf_free(&b);
		return NULL;
	}
	if (len)
		*len = b.len;
	return sl_buf_steal(&b);
}
