/*
 * silo-helper main: connects back to the engine, serves JSON Lines requests
 * (protocol.md C) and does the duties of pid 1 in the sandbox's pid
 * namespace (sandbox.md 4): reap every child including orphans, and when the
 * connection ends kill everything and exit.
 *
 * One thread owns the connection and is its single writer: a poll loop over
 * the connection, a signalfd for SIGCHLD, the exec pipes (hp_exec.c) and a
 * wake pipe. Blocking ops (file ops, fetch) run on detached worker threads
 * that post finished response lines back to the loop; only exec is
 * cancellable, and it lives on the loop itself. SIGCHLD is blocked in every
 * thread so only the loop's waitpid(-1) reaps.
 *
 * Off the sandbox (tests on the bare machine) the helper is not pid 1: it
 * makes itself a child subreaper so orphans still come to it, and at exit it
 * kills only its own process groups and children, never kill(-1).
 *
 * The helper is not dumpable: the commands it runs share its uid, and a
 * dumpable pid 1 would let any of them ptrace it, take its engine socket
 * with pidfd_getfd or read its memory through /proc/1/mem, and then forge
 * answers. (Its children become dumpable again at exec, as usual.)
 */
#include "hp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
	int conn;             /* owned: the engine connection */
	struct sl_buf in;     /* unparsed input */
	size_t scanned;       /* bytes of in known to hold no newline */
	int skipping;         /* discarding an oversize line */
	char sniff[256];      /* start of the oversize line */
	size_t sniff_len;
	struct sl_buf out;    /* queued output */
	size_t out_off;
	int sigfd;
	int wake[2];
	pthread_mutex_t mu;   /* guards posted */
	struct sl_buf posted; /* worker responses */
} g = { .conn = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

int64_t hp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void flush_out(void)
{
	while (g.out_off < g.out.len) {
		ssize_t w = write(g.conn, g.out.p + g.out_off, g.out.len - g.out_off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* EAGAIN: poll for POLLOUT; errors surface as EOF on read */
		g.out_off += (size_t)w;
	}
	if (g.out_off == g.out.len) {
		sl_buf_reset(&g.out);
		g.out_off = 0;
	} else if (g.out_off > (1 << 20) && g.out_off > g.out.len / 2) {
		memmove(g.out.p, g.out.p + g.out_off, g.out.len - g.out_off);
		g.out.len -= g.out_off;
		g.out_off = 0;
	}
}

void hp_send(const struct sl_buf *frame)
{
	sl_buf_add(&g.out, frame->p, frame->len);
	flush_out();
}

/* Kills our direct children (found through /proc); returns how many. */
static int kill_children(int me)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char path[300], buf[512];
		int pid = atoi(de->d_name);
		if (pid <= 0 || pid == me)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		char *rp = strrchr(buf, ')'); /* comm may hold spaces and parens */
		int ppid = 0;
		char state = 0;
		if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == me) {
			kill(pid, SIGKILL);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* Kills what the helper started and exits. As pid 1 that is everything in
 * the namespace. Otherwise (a subreaper on a bare machine) it is our exec
 * groups and our children; killing a child re-parents its own children to
 * us, so this repeats until no child is left (bounded). */
static void __attribute__((noreturn)) finish(int code)
{
	hp_exec_kill_all();
	if (getpid() == 1) {
		kill(-1, SIGKILL);
		_exit(code);
	}
	int me = getpid();
	for (int round = 0; round < 50 && kill_children(me) > 0; round++) {
		int64_t end = hp_now_ms() + 20;
		while (hp_now_ms() < end) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			usleep(1000);
		}
	}
	_exit(code);
}

/* Writes everything queued, waiting up to 2 s (shutdown ack). */
static void flush_blocking(void)
{
	int64_t end = hp_now_ms() + 2000;
	while (g.out_off < g.out.len && hp_now_ms() < end) {
		flush_out();
		struct pollfd p = { .fd = g.conn, .events = POLLOUT };
		if (g.out_off < g.out.len)
			poll(&p, 1, 100);
	}
}

struct work {
	struct hp_req req;
};

static void *worker(void *arg)
{
	struct work *w = arg;
	struct sl_buf b;
	sl_buf_init(&b);
	if (w->req.op == HP_OP_FETCH)
		hp_fetch_run(&w->req, &b);
	else
		hp_fs_run(&w->req, &b);
	hp_req_deinit(&w->req);
	free(w);
	pthread_mutex_lock(&g.mu);
	sl_buf_add(&g.posted, b.p, b.len);
	pthread_mutex_unlock(&g.mu);
	sl_buf_free(&b);
	char c = 1;
	while (write(g.wake[1], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void start_worker(struct hp_req *req)
{
	struct work *w = sl_xmalloc(sizeof *w);
	w->req = *req;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 512 * 1024);
	pthread_t t;
	int rc = pthread_create(&t, &at, worker, w);
	pthread_attr_destroy(&at);
	if (rc) {
		char os[160], msg[200];
		snprintf(msg, sizeof msg, "cannot start worker: %s", hp_os_err(rc, os, sizeof os));
		struct sl_buf b;
		sl_buf_init(&b);
		hp_out_err(&b, w->req.id, msg);
		hp_send(&b);
		sl_buf_free(&b);
		hp_req_deinit(&w->req);
		free(w);
	}
}

static void reply(uint64_t id, const char *err)
{
	struct sl_buf b;
	sl_buf_init(&b);
	if (err)
		hp_out_err(&b, id, err);
	else
		hp_out_ack(&b, id);
	hp_send(&b);
	sl_buf_free(&b);
}

static void handle_line(const char *line, size_t n)
{
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == n)
		return; /* blank line */
	struct hp_req req;
	struct sl_err err = { 0 };
	int rc = hp_req_parse(line, n, &req, &err);
	if (rc == HP_REQ_SKIP)
		return;
	if (rc == HP_REQ_BAD) {
		char msg[600];
		snprintf(msg, sizeof msg, "malformed request: %s", err.msg);
		reply(req.id, msg);
		return;
	}
	struct sl_buf b;
	sl_buf_init(&b);
	switch (req.op) {
	case HP_OP_HELLO:
		hp_out_ok_begin(&b, req.id, "hello");
		sl_buf_printf(&b, ",\"version\":\"%s\",\"pid\":%d", SILO_VERSION, (int)getpid());
		hp_out_ok_end(&b);
		hp_send(&b);
		hp_req_deinit(&req);
		break;
	case HP_OP_EXEC: {
		struct hp_req *r = sl_xmalloc(sizeof *r);
		*r = req;
		hp_exec_start(r);
		break;
	}
	case HP_OP_CANCEL:
		if (hp_exec_cancel(req.cancel_id) < 0) {
			char msg[100];
			snprintf(msg, sizeof msg, "no cancellable request with id %" PRIu64,
				 req.cancel_id);
			reply(req.id, msg);
		} else {
			reply(req.id, NULL);
		}
		hp_req_deinit(&req);
		break;
	case HP_OP_SHUTDOWN:
		reply(req.id, NULL);
		hp_req_deinit(&req);
		flush_blocking();
		finish(0);
	default:
		start_worker(&req);
		break;
	}
	sl_buf_free(&b);
}

static void end_skip(void)
{
	uint64_t id;
	g.skipping = 0;
	if (hp_req_sniff_id(g.sniff, g.sniff_len, &id)) {
		char msg[120];
		snprintf(msg, sizeof msg, "malformed request: line longer than %d bytes",
			 HP_LINE_MAX);
		reply(id, msg);
	}
}

/* Splits g.in into lines; an oversize line is discarded up to its newline
 * and answered with an error when its id can be read from its start.
 * g.scanned remembers how much of a partial line was already searched, so a
 * long line arriving in many reads is scanned once, not quadratically. */
static void process_input(void)
{
	size_t start = 0, from = g.scanned;
	for (;;) {
		char *nl = memchr(g.in.p + from, '\n', g.in.len - from);
		if (g.skipping) {
			if (!nl) {
				start = g.in.len;
				break;
			}
			start = from = (size_t)(nl - g.in.p) + 1;
			end_skip();
			continue;
		}
		if (!nl)
			break;
		size_t end = (size_t)(nl - g.in.p);
		handle_line(g.in.p + start, end - start);
		start = from = end + 1;
	}
	if (!g.skipping && g.in.len - start > HP_LINE_MAX) {
		g.skipping = 1;
		g.sniff_len = g.in.len - start < sizeof g.sniff ? g.in.len - start : sizeof g.sniff;
		memcpy(g.sniff, g.in.p + start, g.sniff_len);
		start = g.in.len;
	}
	memmove(g.in.p, g.in.p + start, g.in.len - start);
	g.in.len -= start;
	g.in.p[g.in.len] = 0;
	g.scanned = g.in.len;
}

static void read_conn(void)
{
	for (int round = 0; round < 64; round++) {
		sl_buf_reserve(&g.in, 65536);
		ssize_t r = read(g.conn, g.in.p + g.in.len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0)
			finish(0); /* EOF or a dead connection ends the helper */
		g.in.len += (size_t)r;
		g.in.p[g.in.len] = 0;
		process_input();
	}
}

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(g.sigfd, &si, sizeof si) > 0)
		;
	int st, pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		hp_exec_reaped(pid, st);
}

static void take_posted(void)
{
	char buf[256];
	while (read(g.wake[0], buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&g.mu);
	if (g.posted.len) {
		sl_buf_add(&g.out, g.posted.p, g.posted.len);
		sl_buf_reset(&g.posted);
	}
	pthread_mutex_unlock(&g.mu);
	flush_out();
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > 65535 || *s == '-' || *s == '+')
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int dial(const char *spec, struct sl_err *err)
{
	char os[160];
	int fd = -1;
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (!spec[5] || strlen(spec + 5) >= sizeof sa.sun_path)
			return sl_err_set(err, SL_EINVAL, "bad unix socket path in \"%s\"", spec);
		strcpy(sa.sun_path, spec + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
	} else if (!strncmp(spec, "tcp:", 4)) {
		const char *hp = spec + 4, *colon = strrchr(hp, ':');
		unsigned port;
		char host[64];
		if (!colon || parse_port(colon + 1, &port) || (size_t)(colon - hp) >= sizeof host)
			return sl_err_set(err, SL_EINVAL, "bad tcp address in \"%s\"", spec);
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = 0;
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		size_t hl = strlen(host);
		if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
			host[hl - 1] = 0;
			memmove(host, host + 1, hl - 1);
		}
		if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&s4, sizeof s4) == 0)
				return fd;
		} else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
			fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&s6, sizeof s6) == 0)
				return fd;
		} else {
			return sl_err_set(err, SL_EINVAL,
					  "bad tcp address in \"%s\": host must be an IP address", spec);
		}
	} else if (!strncmp(spec, "vport:", 6)) {
		if (!spec[6])
			return sl_err_set(err, SL_EINVAL, "empty device in \"%s\"", spec);
		fd = open(spec + 6, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	} else if (!strncmp(spec, "vsock:", 6)) {
		unsigned cid, port;
		char extra;
		if (sscanf(spec + 6, "%u:%u%c", &cid, &port, &extra) != 2)
			return sl_err_set(err, SL_EINVAL, "bad vsock address in \"%s\"", spec);
		struct sockaddr_vm sv = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sv, sizeof sv) == 0)
			return fd;
	} else {
		return sl_err_set(err, SL_EINVAL,
				  "unknown connect string \"%s\" (unix:, tcp:, vport:, vsock:)", spec);
	}
	int e = errno;
	if (fd >= 0)
		close(fd);
	return sl_err_set(err, SL_EIO, "cannot connect to %s: %s", spec, hp_os_err(e, os, sizeof os));
}

/* The sandbox may start us with fds 0-2 closed; pipes must not land there. */
static void sane_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);
			if (n >= 0 && n != fd) {
				dup2(n, fd);
				close(n);
			}
		}
}

int main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : getenv("SILO_HELPER_CONNECT");
	int bad = !spec || !*spec || (argc > 1 && argv[1][0] == '-');
	for (int i = 2; i < argc && !bad; i++) {
		if (!strcmp(argv[i], "--unix-sockets=allow"))
			hp_exec_allow_unix(1);
		else
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "usage: silo-helper <unix:PATH | tcp:HOST:PORT | vport:DEV | vsock:CID:PORT>"
				" [--unix-sockets=allow]\n"
				"       (or set SILO_HELPER_CONNECT)\n");
		return 2;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		perror("silo-helper: PR_SET_DUMPABLE");
		return 1;
	}
	sane_stdio();
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
	g.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g.sigfd < 0 || pipe2(g.wake, O_NONBLOCK | O_CLOEXEC)) {
		perror("silo-helper: setup");
		return 1;
	}
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1);

	struct sl_err err = { 0 };
	const char *relay = getenv("SILO_PROXY_RELAY");
	if (relay && *relay && hp_relay_start(relay, &err) < 0) {
		fprintf(stderr, "silo-helper: SILO_PROXY_RELAY: %s\n", err.msg);
		return 1;
	}
	/* The engine listens before starting us; retry briefly anyway so a
	 * slow bind is not fatal. */
	for (int tries = 0;; tries++) {
		g.conn = dial(spec, &err);
		if (g.conn >= 0)
			break;
		if (err.code != SL_EIO || tries >= 40) {
			fprintf(stderr, "silo-helper: %s\n", err.msg);
			return 1;
		}
		usleep(50 * 1000);
	}
	fcntl(g.conn, F_SETFL, fcntl(g.conn, F_GETFL) | O_NONBLOCK);
	sl_buf_init(&g.in);
	sl_buf_reserve(&g.in, 65536);

	struct pollfd *fds = NULL;
	size_t cap = 0;
	for (;;) {
		size_t want = 3 + hp_exec_npollfds();
		if (want > cap) {
			cap = want * 2;
			fds = sl_xrealloc(fds, cap * sizeof *fds);
		}
		fds[0] = (struct pollfd){ .fd = g.conn, .events = POLLIN };
		if (g.out_off < g.out.len)
			fds[0].events |= POLLOUT;
		fds[1] = (struct pollfd){ .fd = g.sigfd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = g.wake[0], .events = POLLIN };
		int timeout = -1;
		size_t n = hp_exec_pollfds(fds + 3, cap - 3, &timeout);
		if (poll(fds, 3 + n, timeout) < 0 && errno != EINTR) {
			perror("silo-helper: poll");
			finish(1);
		}
		if (fds[1].revents)
			reap();
		if (fds[2].revents)
			take_posted();
		hp_exec_service(fds + 3, n);
		if (fds[0].revents & POLLOUT)
			flush_out();
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_conn();
	}
}
