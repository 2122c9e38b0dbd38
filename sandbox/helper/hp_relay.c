/*
 * Egress relay for silo-helper (sandbox.md 5, protocol.md C5): with
 * SILO_PROXY_RELAY=<socket path>:<port>, listen on 127.0.0.1:<port> inside
 * the sandbox and pipe each accepted TCP connection byte for byte to a fresh
 * connection on the Unix socket, which the engine forwards to its proxy.
 * The relay never looks at the bytes: policy is the proxy's job.
 *
 * Threads keep this independent of the request loop: one accepts, one per
 * connection copies both directions (half-closes are passed on with
 * shutdown(SHUT_WR)). Accepting stops when the helper exits.
 * The multiplexed vport relay of the microVM (decisions 26) is hp_vrelay.c.
 */
#include "hp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un relay_sa;

#define FAIL(...)                                                              \
	do {                                                                   \
		sl_err_set(err, __VA_ARGS__);                                  \
		return -1;                                                     \
	} while (0)

struct pair {
	int tcp, unix_fd; /* owned */
};

/* Copies what is readable from `from` to `to`; 0 on EOF, -1 on error. */
static int pump(int from, int to)
{
	char buf[16384];
	ssize_t r;
	do
		r = read(from, buf, sizeof buf);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	for (ssize_t off = 0; off < r;) {
		ssize_t w = send(to, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += w;
	}
	return 1;
}

static void *pipe_thread(void *arg)
{
	struct pair *p = arg;
	int fd[2] = { p->tcp, p->unix_fd };
	int open_dir[2] = { 1, 1 }; /* [0]: tcp -> unix, [1]: unix -> tcp */
	while (open_dir[0] || open_dir[1]) {
		struct pollfd pf[2] = {
			{ .fd = open_dir[0] ? fd[0] : -1, .events = POLLIN },
			{ .fd = open_dir[1] ? fd[1] : -1, .events = POLLIN },
		};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int dead = 0;
		for (int i = 0; i < 2; i++) {
			if (!open_dir[i] || !pf[i].revents)
				continue;
			int r = pump(fd[i], fd[1 - i]);
			if (r < 0)
				dead = 1;
			else if (r == 0) {
				open_dir[i] = 0;
				shutdown(fd[1 - i], SHUT_WR);
			}
		}
		if (dead)
			break;
	}
	close(fd[0]);
	close(fd[1]);
	free(p);
	return NULL;
}

static void spawn(void *(*fn)(void *), void *arg)
{
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 128 * 1024);
	if (pthread_create(&t, &at, fn, arg)) {
		struct pair *p = arg;
		if (fn == pipe_thread) {
			close(p->tcp);
			close(p->unix_fd);
			free(p);
		}
	}
	pthread_attr_destroy(&at);
}

static void *accept_thread(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(100 * 1000); /* out of fds: back off */
				continue;
			}
			return NULL;
		}
		int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (u < 0 || connect(u, (struct sockaddr *)&relay_sa, sizeof relay_sa) < 0) {
			/* The engine side is gone or refusing: drop this client. */
			if (u >= 0)
				close(u);
			close(c);
			continue;
		}
		struct pair *p = sl_xmalloc(sizeof *p);
		p->tcp = c;
		p->unix_fd = u;
		spawn(pipe_thread, p);
	}
}

int hp_relay_start(const char *spec, struct sl_err *err)
{
	char os[160];
	if (!strncmp(spec, "vport:", 6)) {
		/* vport:<device>[:<port>] - the multiplexed relay (hp_vrelay.c). */
		char dev[512];
		unsigned vport = 3128;
		const char *d = spec + 6, *c = strrchr(d, ':');
		size_t dl = strlen(d);
		if (c && c[1] && strspn(c + 1, "0123456789") == strlen(c + 1)) {
			unsigned long v = strtoul(c + 1, NULL, 10);
			if (v == 0 || v > 65535 || strlen(c + 1) > 5)
				FAIL(SL_EINVAL, "\"%s\": bad port \"%s\"", spec, c + 1);
			vport = (unsigned)v;
			dl = (size_t)(c - d);
		}
		if (dl == 0 || dl >= sizeof dev)
			FAIL(SL_EINVAL, "\"%s\": bad device path", spec);
		memcpy(dev, d, dl);
		dev[dl] = 0;
		return hp_vrelay_start(dev, vport, err) < 0 ? -1 : 0;
	}
	const char *colon = strrchr(spec, ':');
	if (!colon)
		FAIL(SL_EINVAL, "\"%s\": expected <socket path>:<port>", spec);
	size_t plen = (size_t)(colon - spec);
	if (plen == 0)
		FAIL(SL_EINVAL, "\"%s\": empty socket path", spec);
	if (plen >= sizeof relay_sa.sun_path)
		FAIL(SL_EINVAL, "\"%s\": socket path too long", spec);
	const char *ps = colon + 1;
	char *end;
	errno = 0;
	unsigned long port = strtoul(ps, &end, 10);
	if (!*ps || *end || errno || port == 0 || port > 65535 || *ps < '0' || *ps > '9')
		FAIL(SL_EINVAL, "\"%s\": bad port \"%s\"", spec, ps);
	relay_sa.sun_family = AF_UNIX;
	memcpy(relay_sa.sun_path, spec, plen);
	relay_sa.sun_path[plen] = 0;

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 128) < 0) {
		int e = errno;
		if (ls >= 0)
			close(ls);
		FAIL(SL_EIO, "cannot listen on 127.0.0.1:%lu: %s", port,
				  hp_os_err(e, os, sizeof os));
	}
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, accept_thread, (void *)(intptr_t)ls);
	pthread_attr_destroy(&at);
	if (rc) {
		close(ls);
		FAIL(SL_EIO, "cannot start the relay thread: %s",
				  hp_os_err(rc, os, sizeof os));
	}
	return 0;
}
