/*
 * sb_native: the `native` backend (sandbox.md 6.1). The harness clones a
 * child into new user, mount, pid, network, IPC, UTS and cgroup namespaces;
 * the child maps its uid/gid to themselves, builds the filesystem view
 * (sb_mount.c), brings up loopback, drops every capability, sets
 * no_new_privs, applies Landlock and the seccomp filter and execs the
 * helper as pid 1 with the cleared environment of sandbox.md 3. The helper
 * connects back over <scratch>/helper.sock; sb_conn.c carries the protocol.
 *
 * Between clone() and exec() the child only makes system calls: everything
 * that allocates (mount plan, seccomp program, environment) is prepared by
 * the parent. A failure there is written to a CLOEXEC pipe, so the parent
 * reads either a reason or EOF (exec happened) and reports a clear start
 * error. Works as root (map 0->0, every capability set emptied and root's
 * exec privileges disabled by securebits) and unprivileged.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

#ifdef SILO_SANITIZED
#define SB_SANITIZED 1
#else
#define SB_SANITIZED 0
#endif

#define NS_FLAGS                                                                    \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | \
	 CLONE_NEWUTS | CLONE_NEWCGROUP)
#define HELLO_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 2000

static struct sb_native *impl(struct sb *sb)
{
	return sb->impl;
}

/* ---- environment (sandbox.md 3) ---- */

char **sb__env_build(const struct sb_config *cfg, const char *term)
{
	static const char *const ca_vars[] = { "SILO_PROXY_CA",	      "SSL_CERT_FILE",
					       "CURL_CA_BUNDLE",      "GIT_SSL_CAINFO",
					       "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
					       "CARGO_HTTP_CAINFO" };
	size_t nextra = 0;
	while (cfg->extra_env && cfg->extra_env[nextra])
		nextra++;
	char **env = sl_xcalloc(32 + nextra, sizeof(char *));
	size_t n = 0;
	env[n++] = sl_xasprintf("HTTP_PROXY=http://127.0.0.1:%d", SB_RELAY_PORT);
	env[n++] = sl_xasprintf("HTTPS_PROXY=http://127.0.0.1:%d", SB_RELAY_PORT);
	env[n++] = sl_xasprintf("ALL_PROXY=http://127.0.0.1:%d", SB_RELAY_PORT);
	for (size_t i = 0; i < SL_ARRAY_LEN(ca_vars); i++)
		env[n++] = sl_xasprintf("%s=" SB_IN_SCRATCH "/proxy-ca.pem", ca_vars[i]);
	env[n++] = sl_xstrdup("HOME=" SB_IN_SCRATCH "/home");
	env[n++] = sl_xstrdup("TMPDIR=" SB_IN_SCRATCH "/tmp");
	env[n++] = sl_xstrdup("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	env[n++] = sl_xasprintf("SILO_PROXY_RELAY=" SB_IN_SCRATCH "/proxy.sock:%d",
				SB_RELAY_PORT);
	env[n++] = sl_xstrdup("SILO_HELPER_CONNECT=unix:" SB_IN_SCRATCH "/helper.sock");
	if (term)
		env[n++] = sl_xasprintf("TERM=%s", term);
	for (size_t i = 0; i < nextra; i++)
		if (strchr(cfg->extra_env[i], '='))
			env[n++] = sl_xstrdup(cfg->extra_env[i]);
	return env;
}

void sb__env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* ---- child side (no allocation) ---- */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = (ssize_t)strlen(s);
	int rc = write(fd, s, (size_t)n) == n ? 0 : -1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!rc) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

#define CFAIL(...)                                   \
	do {                                         \
		snprintf(eb, ebn, __VA_ARGS__);      \
		return -1;                           \
	} while (0)

int sb__lockdown(const struct sb_child *c, int *ll_abi, char *eb, size_t ebn)
{
	/* root inside must not regain capabilities through exec */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
					     SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
					     SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0))
		CFAIL("securebits: %s", strerror(errno));
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			CFAIL("drop capability %d from the bounding set: %s", cap, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		CFAIL("clear ambient capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		CFAIL("no_new_privs: %s", strerror(errno));
	int abi = sb__landlock_apply(c->plan->ll, c->plan->nll);
	if (abi < 0)
		CFAIL("landlock: %s", strerror(-abi));
	*ll_abi = abi;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data))
		CFAIL("capset: %s", strerror(errno));
	int rc = sb__seccomp_install(c->bpf, c->nbpf);
	if (rc)
		CFAIL("seccomp: %s", strerror(-rc));
	return 0;
}

int sb__confine(const struct sb_child *c, int *ll_abi, char *eb, size_t ebn)
{
	if (sethostname("silo-sandbox", 12))
		CFAIL("sethostname: %s", strerror(errno));
	if (lo_up())
		CFAIL("bring up lo: %s", strerror(errno));
	struct rlimit core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &core);
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_max > 65536) {
		nofile.rlim_max = 65536;
		if (nofile.rlim_cur > nofile.rlim_max)
			nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* the fallbacks where no cgroup holds the sandbox (sb_cgroup.c) */
	if (c->rl_nproc > 0) {
		struct rlimit r = { (rlim_t)c->rl_nproc, (rlim_t)c->rl_nproc };
		if (setrlimit(RLIMIT_NPROC, &r))
			CFAIL("RLIMIT_NPROC: %s", strerror(errno));
	}
	if (c->rl_data) {
		struct rlimit r = { (rlim_t)c->rl_data, (rlim_t)c->rl_data };
		if (setrlimit(RLIMIT_DATA, &r))
			CFAIL("RLIMIT_DATA: %s", strerror(errno));
	}
	return sb__lockdown(c, ll_abi, eb, ebn);
}

static void reset_signals(void)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
}

static __attribute__((noreturn)) void child_die(int fd, const char *msg)
{
	ssize_t n = write(fd, msg, strlen(msg));
	SL_UNUSED(n);
	_exit(127);
}

static __attribute__((noreturn)) void child_main(const struct sb_child *c)
{
	char eb[512], line[64];
	reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* a session of its own: no controlling terminal, so /dev/tty inside can
	 * never reach the user's terminal */
	if (setsid() < 0)
		child_die(c->errfd, "setsid failed");
	/* one line mapping the harness ids to themselves; no setgroups */
	snprintf(line, sizeof(line), "%u %u 1\n", c->uid, c->uid);
	if (write_str("/proc/self/uid_map", line))
		child_die(c->errfd, "write uid_map failed");
	if (write_str("/proc/self/setgroups", "deny"))
		child_die(c->errfd, "write setgroups failed");
	snprintf(line, sizeof(line), "%u %u 1\n", c->gid, c->gid);
	if (write_str("/proc/self/gid_map", line))
		child_die(c->errfd, "write gid_map failed");
	if (sb__mplan_run(c->plan, eb, sizeof(eb)))
		child_die(c->errfd, eb);
	if (chdir(SB_IN_WORKSPACE))
		child_die(c->errfd, "chdir /workspace failed");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (!c->keep_stderr && dup2(null, 2) < 0))
		child_die(c->errfd, "cannot attach /dev/null");
	/* nothing of the harness crosses exec: every other fd is CLOEXEC now */
	if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC))
		child_die(c->errfd, "close_range failed");
	int ll;
	if (sb__confine(c, &ll, eb, sizeof(eb)))
		child_die(c->errfd, eb);
	execve(c->argv[0], c->argv, c->envp);
	snprintf(eb, sizeof(eb), "exec %s: %s", c->argv[0], strerror(errno));
	child_die(c->errfd, eb);
}

/* Clones the sandbox child. Returns its pid (> 0) or -errno; *pidfd set. */
static pid_t spawn(const struct sb_child *c, int *pidfd)
{
	*pidfd = -1;
	long pid = syscall(SYS_clone, NS_FLAGS | CLONE_PIDFD | SIGCHLD, NULL, pidfd, NULL, NULL);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_main(c);
	return (pid_t)pid;
}

/* ---- parent side ---- */

static int listen_unix(const char *path, struct sl_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return sl_err_set(err, SL_EINVAL, "socket path too long: %s", path);
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		sl_err_set(err, SL_EIO, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static long long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(struct sb_native *n)
{
	if (n->pid > 0)
		sb__cgroup_kill(&n->cg);
	if (n->pid > 0) {
		if (n->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, n->pidfd, SIGKILL, NULL, 0);
		else
			kill(n->pid, SIGKILL);
		int st;
		while (waitpid(n->pid, &st, 0) < 0 && errno == EINTR)
			;
		n->pid = 0;
	}
	if (n->pidfd >= 0) {
		close(n->pidfd);
		n->pidfd = -1;
	}
	sb__cgroup_close(&n->cg);
}

/* Waits for the helper to connect: errors from the child, its early exit
 * and the 15 s bound all become start errors. Returns the connected fd. */
static int await_helper(struct sb_native *n, int lfd, int errfd, struct sl_err *err)
{
	long long deadline = mono_ms() + HELLO_TIMEOUT_MS;
	int err_open = 1;
	for (;;) {
		long long left = deadline - mono_ms();
		if (left <= 0) {
			sl_err_set(err, SL_ETIMEOUT, "helper did not connect within %d s",
				   HELLO_TIMEOUT_MS / 1000);
			return -1;
		}
		struct pollfd p[3] = { { lfd, POLLIN, 0 }, { n->pidfd, POLLIN, 0 },
				       { err_open ? errfd : -1, POLLIN, 0 } };
		int r = poll(p, 3, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (p[2].revents) {
			char msg[512];
			ssize_t k = read(errfd, msg, sizeof(msg) - 1);
			if (k > 0) {
				msg[k] = 0;
				sl_err_set(err, SL_EUNAVAIL, "native sandbox setup failed: %s", msg);
				return -1;
			}
			err_open = 0; /* EOF: exec happened */
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				return fd;
		}
		if (p[1].revents) {
			int st = 0;
			waitpid(n->pid, &st, WNOHANG);
			sl_err_set(err, SL_EUNAVAIL,
				   "sandbox exited before the helper connected (%s %d)",
				   WIFSIGNALED(st) ? "signal" : "status",
				   WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			n->pid = 0;
			return -1;
		}
	}
}

/* A lost helper (EOF, garbage, or a missed answer deadline) ends the
 * sandbox at once: whatever is still running inside could be the process
 * that silenced the helper. shutdown/free later find nothing to reap. */
static void on_lost(void *ud, const char *why)
{
	struct sb *sb = ud;
	sb__note(sb, "sandbox helper connection lost: %s; sandbox ended", why);
	reap(impl(sb));
}

static int native_start(struct sb *sb, struct sl_err *err)
{
	struct sb_native *n = impl(sb);
	if (n->started)
		return sl_err_set(err, SL_ESTATE, "sandbox already started");
	if (!sb->cfg.workspace)
		return sl_err_set(err, SL_EINVAL, "native sandbox: no workspace");
	struct sb_child c = { .uid = getuid(), .gid = getgid() };
	const char *ks = getenv("SILO_SANDBOX_STDERR");
	c.keep_stderr = ks && *ks == '1';
	int rc = SL_EUNAVAIL, lfd = -1, errp[2] = { -1, -1 }, cfd = -1;
	char **env = NULL;
	char *sock = NULL, *helper = NULL;
	long long t0 = mono_us();
	if (sb__seccomp_build(&c.bpf, &c.nbpf, err))
		return SL_EUNAVAIL;
	SL_DEBUG("sandbox", "start: seccomp built at %lld us", mono_us() - t0);
	n->scratch = sb__scratch_create(&sb->cfg, err);
	if (!n->scratch)
		goto fail;
	SL_DEBUG("sandbox", "start: scratch created at %lld us", mono_us() - t0);
	helper = sb__helper_find(err);
	if (!helper)
		goto fail;
	sock = sl_xasprintf("%s/bin/silo-helper", n->scratch);
	if (sl_write_file(sock, "", 0, 0755, err))
		goto fail;
	free(sock);
	sock = NULL;
	sb__limits_resolve(&sb->cfg.limits, &n->lim);
	n->plan = sb__mplan_new(sb->cfg.workspace, n->scratch, sb->cfg.read_allowlist,
				sb->cfg.cache_dir, helper, &n->lim, err);
	if (!n->plan)
		goto fail;
	c.plan = n->plan;
	SL_DEBUG("sandbox", "start: plan built at %lld us", mono_us() - t0);
	sock = sl_xasprintf("%s/helper.sock", n->scratch);
	if ((lfd = listen_unix(sock, err)) < 0)
		goto fail;
	free(sock);
	sock = sl_xasprintf("%s/proxy.sock", n->scratch);
	n->relay = sb__relay_open(sb->loop, sock, sb->cfg.proxy_addr, err);
	if (!n->relay)
		goto fail;
	env = sb__env_build(&sb->cfg, NULL);
	c.envp = env;
	char *const argv[] = { SB_IN_SCRATCH "/bin/silo-helper",
			       "unix:" SB_IN_SCRATCH "/helper.sock",
			       sb->cfg.unix_connect ? "--unix-sockets=allow" : NULL, NULL };
	c.argv = argv;
	if (pipe2(errp, O_CLOEXEC)) {
		sl_err_set(err, SL_EIO, "pipe: %s", strerror(errno));
		goto fail;
	}
	c.errfd = errp[1];
	/* the groups exist before the clone, so the child knows which rlimit
	 * fallbacks it needs; it joins them below, before the helper can be
	 * asked to fork (descendants inherit the groups) */
	sb__cgroup_open(&n->cg, n->lim.pids_max, n->lim.memory_bytes);
	/* RLIMIT_NPROC counts per user namespace and uid, so it bounds this
	 * sandbox only; root is exempt from it (the pids cgroup covers root) */
	n->rl_nproc = c.uid != 0 && !n->cg.pids_max ? n->lim.pids_max : 0;
	/* per process, not per sandbox: the weaker fallback. A sanitized
	 * helper reserves terabytes of shadow memory at start, which
	 * RLIMIT_DATA counts, so sanitizer builds go without it (and say so) */
	n->rl_data = n->cg.mem_max || SB_SANITIZED ? 0 : n->lim.memory_bytes;
	c.rl_nproc = n->rl_nproc;
	c.rl_data = n->rl_data;
	SL_DEBUG("sandbox", "start: scratch, plan and sockets ready at %lld us", mono_us() - t0);
	pid_t pid = spawn(&c, &n->pidfd);
	close(errp[1]);
	errp[1] = -1;
	if (pid < 0) {
		sl_err_set(err, SL_EUNAVAIL,
			   "native sandbox unavailable: clone with new namespaces failed: %s "
			   "(user namespaces disabled? see silo doctor)",
			   strerror(-pid));
		goto fail;
	}
	n->pid = pid;
	struct sb_cgmove *mv = sb__cgroup_move_start(&n->cg, pid);
	cfd = await_helper(n, lfd, errp[0], err);
	int unmoved = mv && sb__cgroup_move_join(mv);
	if (cfd < 0)
		goto fail;
	if (unmoved) {
		/* fail closed: the child was set up without the rlimit
		 * fallbacks the group was to replace */
		sl_err_set(err, SL_EUNAVAIL, "could not move the sandbox into its cgroup %s",
			   n->cg.dir[0]);
		goto fail;
	}
	SL_DEBUG("sandbox", "start: helper connected at %lld us", mono_us() - t0);
	struct sl_buf left;
	sl_buf_init(&left);
	rc = sb__hello(cfd, HELLO_TIMEOUT_MS, &n->helper_version, &n->helper_pid, &left, err);
	if (!rc) {
		n->conn = sb__conn_open(sb->loop, cfd, &left, on_lost, sb, err);
		rc = n->conn ? 0 : SL_EIO;
		cfd = -1;
	}
	sl_buf_free(&left);
	if (rc)
		goto fail;
	SL_DEBUG("sandbox", "start: hello done at %lld us", mono_us() - t0);
	n->ll_abi = sb__landlock_abi();
	if (!n->ll_abi)
		/* decisions 18: run, but never weaker in silence */
		fputs("warning: Landlock is not available on this kernel; the native sandbox "
		      "runs with namespaces and seccomp only\n",
		      stderr);
	n->started = 1;
	sb__note(sb, "sandbox started: backend native, init pid %d, helper pid %lld version %s, "
		     "landlock %s",
		 (int)n->pid, (long long)n->helper_pid, n->helper_version,
		 n->ll_abi ? "on" : "unavailable");
	rc = 0;
	goto out;
fail:
	if (!rc)
		rc = SL_EUNAVAIL;
	if (cfd >= 0)
		close(cfd);
	reap(n);
	sb__relay_close(n->relay);
	n->relay = NULL;
	sb__scratch_remove(n->scratch);
	free(n->scratch);
	n->scratch = NULL;
out:
	if (lfd >= 0)
		close(lfd);
	if (errp[0] >= 0)
		close(errp[0]);
	free(sock);
	free(helper);
	sb__env_free(env);
	free(c.bpf);
	return rc;
}

static int64_t native_request(struct sb *sb, const char *op, struct jv *args, sb_done_fn done,
			      sb_chunk_fn chunk, void *ud, struct sl_err *err)
{
	struct sb_native *n = impl(sb);
	int k = sb__helper_op(op);
	const char *wire = sb__wire_op(op);
	if (k < 0 || !sb__helper_op_public((enum sl_helper_op)k)) {
		jv_unref(args);
		sl_err_set(err, SL_EINVAL, "unknown helper op \"%s\"", op ? op : "");
		return -1;
	}
	if (!n->started || n->stopped) {
		jv_unref(args);
		sl_err_set(err, SL_ESTATE, n->stopped ? "sandbox stopped" : "not started");
		return -1;
	}
	if (!args)
		args = jv_obj();
	return sb__conn_request(n->conn, wire, args, done, chunk, ud, err);
}

static void native_interrupt(struct sb *sb)
{
	struct sb_native *n = impl(sb);
	if (n->started && !n->stopped)
		sb__conn_cancel_execs(n->conn);
}

static struct jv *str_list(const char *const *v)
{
	struct jv *a = jv_arr();
	for (size_t i = 0; v && v[i]; i++)
		jv_push(a, jv_str(v[i]));
	return a;
}

static struct jv *native_access_report(struct sb *sb)
{
	struct sb_native *n = impl(sb);
	struct jv *r = jv_obj();
	jv_set(r, "sandbox_kind", jv_str(sb->ops->kind));
	jv_set(r, "workspace_mount", jv_str(SB_IN_WORKSPACE));
	jv_set(r, "scratch_dir", jv_str(n->started ? SB_IN_SCRATCH : ""));
	struct jv *rd = jv_arr();
	if (n->plan) {
		for (size_t i = 0; i < n->plan->nreadable; i++)
			jv_push(rd, jv_str(n->plan->readable[i]));
	} else {
		for (size_t i = 0; sb->cfg.read_allowlist && sb->cfg.read_allowlist[i]; i++)
			jv_push(rd, jv_str(sb->cfg.read_allowlist[i]));
		for (const char *const *b = sb__baseline(); *b; b++)
			if (!access(*b, F_OK))
				jv_push(rd, jv_str(*b));
	}
	jv_set(r, "readable_paths", rd);
	if (sb->cfg.cache_dir && *sb->cfg.cache_dir) {
		/* writable toolchain caches, listed so the user knows (decisions 24) */
		struct jv *c = jv_obj();
		jv_set(c, "host_dir", jv_str(sb->cfg.cache_dir));
		jv_set(c, "mounts", jv_str(SB_IN_SCRATCH "/home/{.cargo,.npm,.cache,go,.ccache,"
					    ".rustup}"));
		jv_set(r, "toolchain_caches", c);
	}
	jv_set(r, "allowed_domains", str_list(sb->cfg.allowed_domains));
	jv_set(r, "credential_domains", str_list(sb->cfg.credential_hosts));
	struct jv *notes = str_list(sb->cfg.notes);
	jv_push(notes, jv_str("no network interface but loopback; egress only through the "
			      "relay at 127.0.0.1:3128 to the harness proxy; no DNS inside"));
	jv_push(notes, jv_str("only the workspace, the scratch home/tmp and /tmp are writable; "
			      "unlisted host paths do not exist inside"));
	jv_push(notes, jv_str("seccomp filter on (silo debug seccomp lists it); "
			      "no capabilities, no_new_privs"));
	int abi = n->started ? n->ll_abi : sb__landlock_abi();
	jv_push(notes, abi ? jv_strf("Landlock ABI %d mirrors the mounts", abi)
			   : jv_str("Landlock unavailable on this kernel: mounts and seccomp "
				    "only"));
	if (!n->started) {
		/* what a start would ask for; how it is enforced is known after */
		struct sb_limits lim;
		sb__limits_resolve(&sb->cfg.limits, &lim);
		struct jv *l = jv_obj();
		jv_set(l, "tmpfs_bytes", jv_int((int64_t)lim.tmpfs_bytes));
		jv_set(l, "tmpfs_inodes", jv_int((int64_t)lim.tmpfs_inodes));
		jv_set(l, "memory_bytes", jv_int((int64_t)lim.memory_bytes));
		jv_set(l, "pids_max", jv_int(lim.pids_max));
		jv_set(r, "limits", l);
	} else {
		struct jv *l = jv_obj();
		jv_set(l, "tmpfs_bytes", jv_int((int64_t)n->lim.tmpfs_bytes));
		jv_set(l, "tmpfs_inodes", jv_int((int64_t)n->lim.tmpfs_inodes));
		jv_set(l, "memory_bytes", jv_int(n->cg.mem_max   ? (int64_t)n->cg.mem_max
						 : n->rl_data ? (int64_t)n->rl_data
							      : 0));
		jv_set(l, "memory_by", jv_str(n->cg.mem_max ? "cgroup"
					      : n->rl_data  ? "rlimit_data"
							    : "none"));
		jv_set(l, "pids_max", jv_int(n->cg.pids_max ? n->cg.pids_max : n->rl_nproc));
		jv_set(l, "pids_by", jv_str(n->cg.pids_max ? "cgroup"
					    : n->rl_nproc  ? "rlimit_nproc"
							   : "none"));
		jv_set(r, "limits", l);
		jv_push(notes, jv_strf("each tmpfs (/tmp, /dev/shm, scratch home and tmp) holds at "
				       "most %llu MiB and %llu inodes",
				       (unsigned long long)(n->lim.tmpfs_bytes >> 20),
				       (unsigned long long)n->lim.tmpfs_inodes));
		if (n->cg.mem_max)
			jv_push(notes, jv_strf("memory: at most %llu MiB for the whole sandbox "
					       "(memory cgroup)",
					       (unsigned long long)(n->cg.mem_max >> 20)));
		else if (n->rl_data)
			jv_push(notes, jv_strf("memory: at most %llu MiB of data per process "
					       "(RLIMIT_DATA; no memory cgroup here, see silo doctor)",
					       (unsigned long long)(n->rl_data >> 20)));
		else
			jv_push(notes, jv_str("memory: no limit (a sanitizer build without a memory "
					      "cgroup: RLIMIT_DATA would stop the sanitized helper)"));
		if (n->cg.pids_max)
			jv_push(notes, jv_strf("at most %d processes (pids cgroup)", n->cg.pids_max));
		else if (n->rl_nproc)
			jv_push(notes, jv_strf("at most %d processes (RLIMIT_NPROC in the sandbox's "
					       "user namespace)",
					       n->rl_nproc));
		else
			jv_push(notes, jv_str("no process limit (root without a pids cgroup, or "
					      "turned off; see silo doctor)"));
	}
	jv_push(notes, sb->cfg.unix_connect
			       ? jv_str("commands may create Unix sockets (policy sandbox.unix_connect): "
					"a host process listening on one in the workspace or an "
					"allowlisted directory is reachable")
			       : jv_str("commands cannot create Unix sockets (socketpair works); "
					"policy sandbox.unix_connect allows them"));
	jv_push(notes, jv_str("the workspace stays reachable on the host while attached"));
	jv_set(r, "notes", notes);
	if (n->canaries)
		jv_set(r, "canaries", jv_ref(n->canaries));
	return r;
}

/* ---- shutdown ---- */

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void finish_stop(struct sb *sb)
{
	struct sb_native *n = impl(sb);
	if (n->finishing)
		return;
	n->finishing = 1;
	if (n->stop_timer) {
		uv_close((uv_handle_t *)n->stop_timer, free_handle);
		n->stop_timer = NULL;
	}
	struct sb_conn *c = n->conn;
	n->conn = NULL;
	sb__conn_close(c);
	reap(n);
	sb__relay_close(n->relay);
	n->relay = NULL;
	sb__scratch_remove(n->scratch);
	free(n->scratch);
	n->scratch = NULL;
	void (*done)(void *) = n->stop_done;
	n->stop_done = NULL;
	n->finishing = 0;
	if (done)
		done(n->stop_ud);
}

static void on_stop_ack(void *ud, struct jv *result, const char *err, int fatal)
{
	SL_UNUSED(result);
	SL_UNUSED(err);
	SL_UNUSED(fatal);
	struct sb *sb = ud;
	finish_stop(sb);
}

static void on_stop_timeout(uv_timer_t *t)
{
	finish_stop(t->data);
}

static void native_shutdown(struct sb *sb, void (*done)(void *ud), void *ud)
{
	struct sb_native *n = impl(sb);
	if (n->stopped || !n->started) {
		n->stopped = n->stopped || n->started;
		if (done)
			done(ud);
		return;
	}
	n->stopped = 1;
	n->stop_done = done;
	n->stop_ud = ud;
	if (sb__conn_alive(n->conn)) {
		n->stop_timer = sl_xcalloc(1, sizeof(*n->stop_timer));
		uv_timer_init(sb->loop, n->stop_timer);
		n->stop_timer->data = sb;
		uv_timer_start(n->stop_timer, on_stop_timeout, STOP_TIMEOUT_MS, 0);
		if (sb__conn_request(n->conn, "shutdown", jv_obj(), on_stop_ack, NULL, sb, NULL) >= 0)
			return;
	}
	finish_stop(sb);
}

static void native_free(struct sb *sb)
{
	struct sb_native *n = impl(sb);
	if (!n)
		return;
	/* synchronous teardown when shutdown was never called */
	n->stop_done = NULL;
	if (n->stop_timer || n->conn || n->pid || n->scratch)
		finish_stop(sb);
	sb__mplan_free(n->plan);
	free(n->helper_version);
	jv_unref(n->canaries);
	free(n);
	sb->impl = NULL;
}

static int native_start_wrap(struct sb *sb, struct sl_err *err)
{
	if (!sb->impl) {
		struct sb_native *n = sl_xcalloc(1, sizeof(*n));
		n->pidfd = -1;
		sb->impl = n;
	}
	return native_start(sb, err);
}

/* user_shell lives in sb_shell.c */
int sb__native_user_shell(struct sb *sb, char *const *argv, struct sl_err *err);
void sb__native_terminate_user_shell(struct sb *sb);

static struct jv *native_access_report_wrap(struct sb *sb)
{
	if (!sb->impl) {
		struct sb_native *n = sl_xcalloc(1, sizeof(*n));
		n->pidfd = -1;
		sb->impl = n;
	}
	return native_access_report(sb);
}

static int64_t native_request_wrap(struct sb *sb, const char *op, struct jv *args,
				   sb_done_fn done, sb_chunk_fn chunk, void *ud,
				   struct sl_err *err)
{
	if (!sb->impl) {
		jv_unref(args);
		sl_err_set(err, SL_ESTATE, "not started");
		return -1;
	}
	return native_request(sb, op, args, done, chunk, ud, err);
}

static void native_interrupt_wrap(struct sb *sb)
{
	if (sb->impl)
		native_interrupt(sb);
}

static void native_shutdown_wrap(struct sb *sb, void (*done)(void *ud), void *ud)
{
	if (!sb->impl) {
		if (done)
			done(ud);
		return;
	}
	native_shutdown(sb, done, ud);
}

const struct sb_ops sb_native_ops = {
	.name = "native",
	.kind = "linux-native",
	.start = native_start_wrap,
	.helper_request = native_request_wrap,
	.interrupt = native_interrupt_wrap,
	.access_report = native_access_report_wrap,
	.user_shell = sb__native_user_shell,
	.terminate_user_shell = sb__native_terminate_user_shell,
	.shutdown = native_shutdown_wrap,
	.intercept_tool = NULL,
	.free = native_free,
};
