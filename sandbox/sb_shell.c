/*
 * sb_shell: `silo shell` on the native backend (sandbox.md 6.1 "User
 * shell", 8; decisions 23). The shell runs in this instance's sandbox (the
 * CLI creates a fresh instance for it, started here if needed) by joining
 * the init's namespaces with setns, forking after the pid namespace join,
 * and repeating the lockdown (capabilities, no_new_privs, Landlock,
 * seccomp). It gets a fresh pty from the sandbox's own devpts instance: the
 * harness opens the master through /proc/<init>/root/dev/ptmx and relays it
 * to the caller's terminal, so nothing inside ever holds the user's real
 * terminal (TIOCSTI is also denied by seccomp). The call blocks until the
 * shell exits and returns its status (death by signal S -> 128 + S).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static const char *const ns_names[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
#define NNS (sizeof(ns_names) / sizeof(ns_names[0]))

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	SL_UNUSED(sig);
	winch = 1;
}

struct shell_child {
	const struct sb_child *c;
	int nsfd[NNS];
	int slave;
	int pidpipe; /* write end: the shell's pid for terminate_user_shell */
	int cgfd[SB_CG_MAX]; /* the sandbox's cgroup.procs files, or -1 */
	char *const *argv;
	const char *shell;
};

static __attribute__((noreturn)) void die(int fd, const char *msg)
{
	ssize_t n = write(fd, msg, strlen(msg));
	SL_UNUSED(n);
	_exit(127);
}

/* Runs in the forked child: join, fork into the pid namespace, exec. */
static __attribute__((noreturn)) void join_and_run(const struct shell_child *s)
{
	char eb[512];
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Until exec this process holds a copy of the harness's memory; once it
	 * has joined the sandbox's pid namespace nothing inside may ptrace it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* into the sandbox's cgroups first: the shell forks from here */
	for (size_t i = 0; i < SB_CG_MAX; i++)
		if (s->cgfd[i] >= 0 && write(s->cgfd[i], "0", 1) != 1)
			die(2, "cannot join the sandbox's cgroup\n");
	for (size_t i = 0; i < NNS; i++)
		if (s->nsfd[i] >= 0 && setns(s->nsfd[i], 0)) {
			snprintf(eb, sizeof(eb), "setns %s: %s\n", ns_names[i], strerror(errno));
			die(2, eb);
		}
	if (chdir(SB_IN_WORKSPACE))
		die(2, "chdir /workspace failed\n");
	pid_t g = fork();
	if (g < 0)
		die(2, "fork into the sandbox failed\n");
	if (g == 0) {
		setsid();
		if (ioctl(s->slave, TIOCSCTTY, 0) || dup2(s->slave, 0) < 0 || dup2(s->slave, 1) < 0 ||
		    dup2(s->slave, 2) < 0)
			die(2, "cannot attach the pty\n");
		syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
		struct rlimit core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &core);
		int ll;
		if (sb__lockdown(s->c, &ll, eb, sizeof(eb))) {
			strcat(eb, "\n");
			die(2, eb);
		}
		extern char **environ;
		environ = s->c->envp;
		if (s->argv && s->argv[0]) {
			execvp(s->argv[0], s->argv);
			snprintf(eb, sizeof(eb), "silo shell: %s: %s\n", s->argv[0], strerror(errno));
			die(2, eb);
		}
		const char *sh = s->shell && !access(s->shell, X_OK) ? s->shell : "/bin/sh";
		execl(sh, sh, "-i", (char *)NULL);
		snprintf(eb, sizeof(eb), "silo shell: %s: %s\n", sh, strerror(errno));
		die(2, eb);
	}
	ssize_t w = write(s->pidpipe, &g, sizeof(g));
	SL_UNUSED(w);
	close(s->pidpipe);
	close(s->slave);
	int st;
	while (waitpid(g, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { fd, POLLOUT, 0 };
			poll(&pf, 1, 100);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Relays the caller's stdin/stdout and the pty master until the child
 * exits and the master has drained. */
static void relay(int master, int pidfd)
{
	char buf[16384];
	int in_open = 1, child_done = 0;
	for (;;) {
		if (winch) {
			winch = 0;
			struct winsize ws;
			if (!ioctl(0, TIOCGWINSZ, &ws))
				ioctl(master, TIOCSWINSZ, &ws);
		}
		struct pollfd p[3] = { { in_open ? 0 : -1, POLLIN, 0 },
				       { master, POLLIN, 0 },
				       { child_done ? -1 : pidfd, POLLIN, 0 } };
		int r = poll(p, 3, child_done ? 50 : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0) {
				if (write_all(1, buf, (size_t)n))
					break;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (child_done || n == 0 || errno == EIO)
				break;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n > 0) {
				write_all(master, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				/* EOF on a non-terminal stdin: pass it on as ^D */
				in_open = 0;
				write_all(master, "\x04", 1);
			}
		}
		if (p[2].revents)
			child_done = 1;
		else if (child_done && r == 0)
			break;
	}
}

int sb__native_user_shell(struct sb *sb, char *const *argv, struct sl_err *err)
{
	if (argv && !argv[0])
		return sl_err_set(err, SL_EUSAGE, "silo shell: empty command");
	if (!sb->impl || !((struct sb_native *)sb->impl)->started) {
		if (sb->ops->start(sb, err))
			return -1;
	}
	struct sb_native *n = sb->impl;
	struct shell_child s = { .argv = argv, .shell = getenv("SHELL"), .slave = -1,
				  .cgfd = { -1, -1 } };
	struct sb_child c = { .plan = n->plan };
	for (size_t i = 0; i < NNS; i++)
		s.nsfd[i] = -1;
	int rc = -1, master = -1, pp[2] = { -1, -1 }, pidfd = -1;
	char **env = NULL;
	if (sb__seccomp_build(&c.bpf, &c.nbpf, err))
		return -1;
	char path[128];
	for (size_t i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)n->pid, ns_names[i]);
		s.nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (s.nsfd[i] < 0) {
			sl_err_set(err, SL_EIO, "silo shell: cannot open %s: %s", path, strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/root/dev/ptmx", (int)n->pid);
	master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0;
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) ||
	    (s.slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0) {
		sl_err_set(err, SL_EIO, "silo shell: cannot open a pty in the sandbox: %s",
			   strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n->cg.n; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", n->cg.dir[i]);
		s.cgfd[i] = open(path, O_WRONLY | O_CLOEXEC);
	}
	const char *term = getenv("TERM");
	env = sb__env_build(&sb->cfg, term && *term ? term : NULL);
	c.envp = env;
	s.c = &c;
	if (pipe2(pp, O_CLOEXEC)) {
		sl_err_set(err, SL_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	s.pidpipe = pp[1];
	struct winsize ws;
	if (!ioctl(0, TIOCGWINSZ, &ws))
		ioctl(master, TIOCSWINSZ, &ws);
	pid_t child = fork();
	if (child < 0) {
		sl_err_set(err, SL_EIO, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		close(master);
		join_and_run(&s);
	}
	close(pp[1]);
	pp[1] = -1;
	close(s.slave);
	s.slave = -1;
	pid_t g = 0;
	if (read(pp[0], &g, sizeof(g)) == sizeof(g))
		n->shell_pgid = g;
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	struct termios saved;
	int raw = isatty(0) && !tcgetattr(0, &saved);
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
	}
	struct sigaction sa = { .sa_handler = on_winch }, old;
	sigaction(SIGWINCH, &sa, &old);
	relay(master, pidfd);
	sigaction(SIGWINCH, &old, NULL);
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	int st = 0;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	n->shell_pgid = 0;
	rc = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	sb__note(sb, "user shell ended with status %d", rc);
out:
	for (size_t i = 0; i < NNS; i++)
		if (s.nsfd[i] >= 0)
			close(s.nsfd[i]);
	if (master >= 0)
		close(master);
	if (s.slave >= 0)
		close(s.slave);
	for (size_t i = 0; i < SB_CG_MAX; i++)
		if (s.cgfd[i] >= 0)
			close(s.cgfd[i]);
	if (pidfd >= 0)
		close(pidfd);
	if (pp[0] >= 0)
		close(pp[0]);
	if (pp[1] >= 0)
		close(pp[1]);
	sb__env_free(env);
	free(c.bpf);
	return rc;
}

void sb__native_terminate_user_shell(struct sb *sb)
{
	struct sb_native *n = sb->impl;
	pid_t g = n ? n->shell_pgid : 0;
	if (g <= 0)
		return;
	kill(-g, SIGTERM);
	struct timespec tick = { 0, 25 * 1000 * 1000 };
	for (int i = 0; i < 80; i++) {
		if (kill(-g, 0) && errno == ESRCH)
			return;
		nanosleep(&tick, NULL);
	}
	kill(-g, SIGKILL);
}
