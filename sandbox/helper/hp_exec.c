/*
 * exec for silo-helper (protocol.md C3, C4, C6): runs `sh -c <command>` in its
 * own process group with stdin on /dev/null, collects stdout and stderr up to
 * 1 MiB each, streams chunks when asked, enforces the timeout and serves
 * cancel. Everything runs on the main poll loop (hp_main.c): this file only
 * adds its pipes to the poll set, handles their events and timers, and is
 * told by the loop when a shell was reaped (the loop owns waitpid, since as
 * pid 1 it reaps every process in the namespace).
 *
 * An exec finishes when its shell has exited and both pipes reached EOF, or
 * 5 s after the exit if descendants still hold the pipes (they keep running;
 * only timeout and cancel kill the group).
 *
 * Each exec'd shell enters a Landlock domain of its own, nested in the
 * helper's, that scopes signals and abstract Unix sockets: nothing it
 * starts can signal the helper or reach an abstract socket made outside
 * the command (Landlock also refuses ptrace of a less nested process). The
 * cost: a process started by one exec cannot signal one started by another.
 *
 * Unless the engine allows them, commands cannot create Unix sockets
 * (socket(AF_UNIX) fails with EPERM; socketpair works): a host process
 * listening on a socket inside the workspace or an allowlisted directory
 * would otherwise be reachable, since neither the mounts nor Landlock
 * filter connect by path. The helper itself keeps them (its engine
 * connection and the egress relay).
 */
#include "hp.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct ex_stream {
	int fd;                /* owned: read end, -1 once closed */
	struct sl_buf data;    /* kept bytes (<= HP_STREAM_CAP) */
	size_t sent;           /* bytes already sent as chunks */
	int64_t pending_since; /* ms: oldest unsent byte arrived */
	int over;              /* bytes were dropped */
};

struct ex {
	struct ex *next;
	uint64_t id;
	int pid;          /* shell pid, 0 once reaped */
	int pgid;
	int exited, status;
	int64_t deadline; /* ms: timeout */
	int64_t grace_end;
	int timed_out, cancelled, killed, stream;
	struct ex_stream s[2];
};

static struct ex *execs;
static const char *const stream_names[2] = { "stdout", "stderr" };

static void reply_err(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_err(uint64_t id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct sl_buf b;
	sl_buf_init(&b);
	hp_out_err(&b, id, msg);
	hp_send(&b);
	sl_buf_free(&b);
}

static int has_nul(const char *p, size_t n)
{
	return p && memchr(p, 0, n) != NULL;
}

/* environ minus the names the request overrides, plus the overrides. */
static char **build_env(const struct hp_req *req)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = sl_xcalloc(n + req->n_pairs + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int dup = 0;
		for (size_t j = 0; j < req->n_pairs && !dup; j++)
			dup = req->pairs[j].name_len == nl &&
			      !memcmp(req->pairs[j].name, environ[i], nl);
		if (!dup)
			env[k++] = sl_xstrdup(environ[i]);
	}
	for (size_t j = 0; j < req->n_pairs; j++) {
		/* A later pair with the same name wins, as with repeated setenv. */
		int later = 0;
		for (size_t m = j + 1; m < req->n_pairs && !later; m++)
			later = req->pairs[m].name_len == req->pairs[j].name_len &&
				!memcmp(req->pairs[m].name, req->pairs[j].name,
					req->pairs[j].name_len);
		if (!later)
			env[k++] = sl_xasprintf("%s=%s", req->pairs[j].name,
						req->pairs[j].value);
	}
	env[k] = NULL;
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self 446
#endif
/* Debian's headers trail the kernel (ABI 6 scopes): our own names. */
#define HP_LL_CREATE_VERSION (1u << 0)
#define HP_LL_SCOPE_ABSTRACT_UNIX (1ull << 0)
#define HP_LL_SCOPE_SIGNAL (1ull << 1)

struct hp_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Enters a nested domain scoping signals and abstract sockets. 0, or an
 * errno when the kernel has the scopes (ABI >= 6) but refused them. */
static int own_domain(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, HP_LL_CREATE_VERSION);
	if (abi < 6)
		return 0; /* no scopes on this kernel: pid 1 is still non-dumpable */
	struct hp_ll_attr attr = { 0, 0, HP_LL_SCOPE_ABSTRACT_UNIX | HP_LL_SCOPE_SIGNAL };
	/* the sandbox set no_new_privs already; off the sandbox (tests) the
	 * child sets it itself, which restrict_self requires */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return errno;
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (fd < 0)
		return errno;
	int rc = (int)syscall(SYS_landlock_restrict_self, fd, 0);
	int e = errno;
	close(fd);
	return rc ? e : 0;
}

static int allow_unix;

void hp_exec_allow_unix(int allow)
{
	allow_unix = allow;
}

#if defined(__x86_64__)
#define HP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* socket(AF_UNIX, ...) -> EPERM; everything else goes on to the sandbox's
 * own filter (which kills foreign ABIs). 0 or an errno. */
static int refuse_unix_sockets(void)
{
#ifdef HP_AUDIT_ARCH
	/* args are 64 bits; the family is in the low half */
	const unsigned arg0 = offsetof(struct seccomp_data, args[0]) +
			      (__BYTE_ORDER == __BIG_ENDIAN ? 4 : 0);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HP_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		return errno;
#endif
	return 0;
}

/* Child side between fork and exec: only async-signal-safe calls. */
static void child(const struct hp_req *req, char **env, int out_w, int err_w, int fail_w)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	int e = own_domain();
	if (!e && !allow_unix)
		e = refuse_unix_sockets();
	if (e) {
		if (write(fail_w, &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	int nul = open("/dev/null", O_RDONLY);
	if (nul < 0)
		goto fail;
	if (dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		goto fail;
	if (req->cwd.p && chdir(req->cwd.p) < 0)
		goto fail;
	char *argv[] = { "sh", "-c", (char *)req->command.p, NULL };
	execve("/bin/sh", argv, env);
	if (errno == ENOENT)
		execvpe("sh", argv, env);
fail:
	e = errno;
	if (write(fail_w, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

void hp_exec_start(struct hp_req *req)
{
	uint64_t id = req->id;
	char os[160];
	if (has_nul(req->command.p, req->command.n) || has_nul(req->cwd.p, req->cwd.n)) {
		reply_err(id, "cannot spawn shell: nul byte found in provided data");
		goto out;
	}
	for (size_t i = 0; i < req->n_pairs; i++) {
		const struct hp_pair *p = &req->pairs[i];
		if (has_nul(p->name, p->name_len) || has_nul(p->value, p->value_len)) {
			reply_err(id, "cannot spawn shell: nul byte found in provided data");
			goto out;
		}
		if (!p->name_len || memchr(p->name, '=', p->name_len)) {
			reply_err(id, "cannot spawn shell: invalid environment variable name \"%.100s\"",
				  p->name);
			goto out;
		}
	}

	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pf[2] = { -1, -1 };
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(pf, O_CLOEXEC)) {
		reply_err(id, "cannot spawn shell: %s", hp_os_err(errno, os, sizeof os));
		for (int i = 0; i < 2; i++) {
			if (po[i] >= 0)
				close(po[i]);
			if (pe[i] >= 0)
				close(pe[i]);
			if (pf[i] >= 0)
				close(pf[i]);
		}
		goto out;
	}
	char **env = build_env(req);
	int pid = fork();
	if (pid == 0)
		child(req, env, po[1], pe[1], pf[1]);
	int fork_errno = errno;
	free_env(env);
	close(po[1]);
	close(pe[1]);
	close(pf[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		close(pf[0]);
		reply_err(id, "cannot spawn shell: %s", hp_os_err(fork_errno, os, sizeof os));
		goto out;
	}
	setpgid(pid, pid); /* also here, so a kill right away finds the group */
	int child_errno = 0;
	ssize_t r;
	do
		r = read(pf[0], &child_errno, sizeof child_errno);
	while (r < 0 && errno == EINTR);
	close(pf[0]);
	if (r == (ssize_t)sizeof child_errno) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		close(po[0]);
		close(pe[0]);
		reply_err(id, "cannot spawn shell: %s", hp_os_err(child_errno, os, sizeof os));
		goto out;
	}

	struct ex *x = sl_xcalloc(1, sizeof *x);
	x->id = id;
	x->pid = pid;
	x->pgid = pid;
	x->stream = req->stream;
	/* Clamp so now + timeout cannot overflow (~300 years). */
	uint64_t t = req->timeout_ms > ((uint64_t)1 << 53) ? ((uint64_t)1 << 53) : req->timeout_ms;
	x->deadline = hp_now_ms() + (int64_t)t;
	x->s[0].fd = po[0];
	x->s[1].fd = pe[0];
	for (int i = 0; i < 2; i++) {
		sl_buf_init(&x->s[i].data);
		fcntl(x->s[i].fd, F_SETFL, fcntl(x->s[i].fd, F_GETFL) | O_NONBLOCK);
	}
	x->next = execs;
	execs = x;
out:
	hp_req_deinit(req);
	free(req);
}

int hp_exec_cancel(uint64_t id)
{
	for (struct ex *x = execs; x; x = x->next) {
		if (x->id != id)
			continue;
		kill(-x->pgid, SIGKILL);
		x->killed = 1;
		if (!x->timed_out)
			x->cancelled = 1;
		/* Already exited: answer now rather than wait out the grace. */
		if (x->exited)
			x->grace_end = hp_now_ms();
		return 0;
	}
	return -1;
}

size_t hp_exec_npollfds(void)
{
	size_t n = 0;
	for (struct ex *x = execs; x; x = x->next)
		n += 2;
	return n;
}

static void lower(int *timeout, int64_t at, int64_t now)
{
	int64_t d = at - now;
	if (d < 0)
		d = 0;
	if (d > 60000)
		d = 60000;
	if (*timeout < 0 || d < *timeout)
		*timeout = (int)d;
}

size_t hp_exec_pollfds(struct pollfd *fds, size_t max, int *timeout)
{
	size_t n = 0;
	int64_t now = hp_now_ms();
	for (struct ex *x = execs; x && n + 2 <= max; x = x->next) {
		for (int i = 0; i < 2; i++) {
			fds[n].fd = x->s[i].fd; /* -1 is ignored by poll */
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			n++;
			if (x->stream && x->s[i].data.len > x->s[i].sent)
				lower(timeout, x->s[i].pending_since + HP_CHUNK_FLUSH_MS, now);
		}
		if (!x->exited && !x->killed)
			lower(timeout, x->deadline, now);
		if (x->exited)
			lower(timeout, x->grace_end, now);
	}
	return n;
}

static void send_chunks(struct ex *x, int i, int all)
{
	struct ex_stream *s = &x->s[i];
	while (s->data.len > s->sent) {
		size_t n = s->data.len - s->sent;
		if (n > HP_CHUNK_MAX)
			n = HP_CHUNK_MAX;
		else if (!all && n < HP_CHUNK_MAX &&
			 hp_now_ms() - s->pending_since < HP_CHUNK_FLUSH_MS)
			return;
		struct sl_buf b;
		sl_buf_init(&b);
		sl_buf_printf(&b, "{\"id\":%" PRIu64 ",\"chunk\":{\"stream\":\"%s\",\"data_b64\":\"",
			      x->id, stream_names[i]);
		jv_b64_encode(&b, s->data.p + s->sent, n);
		sl_buf_adds(&b, "\"}}\n");
		hp_send(&b);
		sl_buf_free(&b);
		s->sent += n;
		s->pending_since = hp_now_ms();
	}
}

static void drain(struct ex *x, int i)
{
	struct ex_stream *s = &x->s[i];
	char buf[65536];
	for (int round = 0; round < 16 && s->fd >= 0; round++) {
		ssize_t r = read(s->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		size_t keep = (size_t)r;
		if (s->data.len + keep > HP_STREAM_CAP) {
			keep = HP_STREAM_CAP - s->data.len;
			s->over = 1;
		}
		if (keep) {
			if (s->data.len == s->sent)
				s->pending_since = hp_now_ms();
			sl_buf_add(&s->data, buf, keep);
		}
	}
}

static void finish(struct ex *x)
{
	for (int i = 0; i < 2; i++) {
		if (x->stream)
			send_chunks(x, i, 1);
		if (x->s[i].fd >= 0)
			close(x->s[i].fd);
		x->s[i].fd = -1;
	}
	int code = -1;
	if (!x->timed_out && !x->cancelled && WIFEXITED(x->status))
		code = WEXITSTATUS(x->status);
	struct sl_buf b;
	sl_buf_init(&b);
	hp_out_ok_begin(&b, x->id, "exec");
	sl_buf_printf(&b, ",\"exit_code\":%d,\"stdout\":", code);
	hp_out_str(&b, x->s[0].data.p ? x->s[0].data.p : "", x->s[0].data.len);
	sl_buf_adds(&b, ",\"stderr\":");
	hp_out_str(&b, x->s[1].data.p ? x->s[1].data.p : "", x->s[1].data.len);
	sl_buf_printf(&b, ",\"timed_out\":%s,\"truncated\":%s,\"cancelled\":%s",
		      x->timed_out ? "true" : "false",
		      x->s[0].over || x->s[1].over ? "true" : "false",
		      x->cancelled ? "true" : "false");
	hp_out_ok_end(&b);
	hp_send(&b);
	sl_buf_free(&b);
	sl_buf_free(&x->s[0].data);
	sl_buf_free(&x->s[1].data);
}

void hp_exec_service(const struct pollfd *fds, size_t n)
{
	size_t k = 0;
	for (struct ex *x = execs; x && k + 2 <= n; x = x->next) {
		for (int i = 0; i < 2; i++, k++)
			if (fds[k].fd >= 0 && fds[k].fd == x->s[i].fd &&
			    (fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
				drain(x, i);
	}
	int64_t now = hp_now_ms();
	for (struct ex **pp = &execs; *pp;) {
		struct ex *x = *pp;
		if (!x->exited && !x->killed && now >= x->deadline) {
			kill(-x->pgid, SIGKILL);
			x->killed = 1;
			x->timed_out = 1;
		}
		if (x->stream)
			for (int i = 0; i < 2; i++)
				send_chunks(x, i, 0);
		if (x->exited && ((x->s[0].fd < 0 && x->s[1].fd < 0) || now >= x->grace_end)) {
			/* Take what the pipes still hold before closing them. */
			for (int i = 0; i < 2; i++)
				drain(x, i);
			finish(x);
			*pp = x->next;
			free(x);
			continue;
		}
		pp = &x->next;
	}
}

int hp_exec_reaped(int pid, int status)
{
	for (struct ex *x = execs; x; x = x->next) {
		if (x->pid != pid)
			continue;
		x->pid = 0;
		x->exited = 1;
		x->status = status;
		x->grace_end = hp_now_ms() + HP_GRACE_MS;
		if (x->cancelled)
			x->grace_end = hp_now_ms();
		return 1;
	}
	return 0;
}

void hp_exec_kill_all(void)
{
	for (struct ex *x = execs; x; x = x->next)
		kill(-x->pgid, SIGKILL);
}
