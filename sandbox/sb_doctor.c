/*
 * sb_doctor: `silo doctor [--json]` for the sandbox side — which backends
 * and kernel features work on this machine, measured rather than guessed
 * (a namespace clone, a filter installed in a throwaway child, a real native
 * sandbox running `true`), each failure with its remedy. The default
 * backend follows cli.md 4.3: native when user namespaces, seccomp and
 * Landlock work, else gvisor (not built yet); the return value says whether
 * that default can run.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct check {
	const char *name;
	int ok;
	char detail[256];
	char remedy[256];
};

static void set(struct check *c, const char *name, int ok, const char *remedy, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static void set(struct check *c, const char *name, int ok, const char *remedy, const char *fmt,
		...)
{
	c->name = name;
	c->ok = ok;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	snprintf(c->remedy, sizeof(c->remedy), "%s", ok || !remedy ? "" : remedy);
}

static int read_int(const char *path, long *v)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*v = strtol(buf, NULL, 10);
	return 0;
}

static void check_userns(struct check *c)
{
	long pid = syscall(SYS_clone,
			   CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
				   CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD,
			   NULL, NULL, NULL, NULL);
	if (pid == 0)
		_exit(0);
	int e = errno, st = 0;
	if (pid > 0)
		waitpid((pid_t)pid, &st, 0);
	if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		set(c, "user namespaces", 1, NULL, "user, mount, pid, net, ipc, uts, cgroup: ok");
		return;
	}
	long v;
	const char *rem = "enable user namespaces (sysctl user.max_user_namespaces=15000)";
	if (!read_int("/proc/sys/kernel/unprivileged_userns_clone", &v) && v == 0)
		rem = "sysctl -w kernel.unprivileged_userns_clone=1";
	else if (!read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) && v)
		rem = "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor "
		      "profile allowing userns for silo";
	else if (!read_int("/proc/sys/user/max_user_namespaces", &v) && v == 0)
		rem = "sysctl -w user.max_user_namespaces=15000";
	set(c, "user namespaces", 0, rem, "clone with new namespaces failed: %s", strerror(e));
}

static void check_seccomp(struct check *c)
{
	struct sock_filter *prog = NULL;
	unsigned short n = 0;
	struct sl_err err = { 0 };
	if (sb__seccomp_build(&prog, &n, &err)) {
		set(c, "seccomp", 0, "install libseccomp 2.5 or newer", "%s", err.msg);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sb__seccomp_install(prog, n))
			_exit(1);
		_exit(syscall(SYS_unshare, 0) == -1 && errno == EPERM ? 0 : 2);
	}
	free(prog);
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	int ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	set(c, "seccomp", ok, "a kernel with CONFIG_SECCOMP_FILTER",
	    ok ? "filter of %u instructions installs and denies" : "filter did not install (%u)",
	    (unsigned)n);
}

static void check_landlock(struct check *c)
{
	int abi = sb__landlock_abi();
	if (abi > 0)
		set(c, "landlock", 1, NULL, "ABI %d", abi);
	else
		set(c, "landlock", 0,
		    "a kernel with CONFIG_SECURITY_LANDLOCK and landlock in the lsm= boot list; "
		    "`--sandbox native` still runs without it, with a warning",
		    "not available");
}

static void check_cgroups(struct check *c)
{
	struct statfs fs;
	if (statfs("/sys/fs/cgroup", &fs)) {
		set(c, "cgroups", 0, "mount cgroup2 at /sys/fs/cgroup", "no /sys/fs/cgroup");
		return;
	}
	if ((unsigned long)fs.f_type == CGROUP2_SUPER_MAGIC) {
		char *ctl = sl_read_file("/sys/fs/cgroup/cgroup.controllers", NULL, 4096, NULL);
		int usable = ctl && (strstr(ctl, "pids") || strstr(ctl, "memory"));
		if (ctl) {
			size_t k = strlen(ctl);
			while (k && ctl[k - 1] == '\n')
				ctl[--k] = 0;
		}
		set(c, "cgroups", usable, "delegate the pids and memory controllers to silo's user",
		    "cgroup v2, controllers: %s (limits are best-effort)",
		    ctl && *ctl ? ctl : "none");
		free(ctl);
		return;
	}
	int v1 = !access("/sys/fs/cgroup/pids", F_OK) || !access("/sys/fs/cgroup/memory", F_OK);
	set(c, "cgroups", v1, "mount the cgroup v1 pids and memory hierarchies",
	    "cgroup v1%s (limits are best-effort)", v1 ? " pids/memory present" : "");
}

static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	char *copy = sl_xstrdup(path), *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = sl_xasprintf("%s/%s", d, name);
		if (!access(p, X_OK)) {
			free(copy);
			return p;
		}
		free(p);
	}
	free(copy);
	return NULL;
}

static void check_runsc(struct check *c)
{
	const char *env = getenv("SILO_RUNSC");
	char *p = env && *env ? sl_xstrdup(env) : find_in_path("runsc");
	if (!p || access(p, X_OK)) {
		set(c, "runsc", 0, "install gVisor (runsc) or set SILO_RUNSC", "not found");
	} else {
		set(c, "runsc", 1, NULL,
		    "%s (the gvisor backend is not built into this silo yet; use "
		    "--platform=ptrace and --network=none when it is)",
		    p);
	}
	free(p);
}

static void check_kvm(struct check *c)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		set(c, "kvm", 0, "load kvm_intel/kvm_amd and add the user to the kvm group",
		    "/dev/kvm: %s", strerror(errno));
		return;
	}
	close(fd);
	set(c, "kvm", 1, NULL,
	    "/dev/kvm opens (whether a stock guest boots is decided by a test boot; the "
	    "microvm backend is not built yet)");
}

static void check_helper(struct check *c)
{
	struct sl_err err = { 0 };
	char *p = sb__helper_find(&err);
	set(c, "helper", p != NULL, "build the silo-helper target or set SILO_HELPER_BIN", "%s",
	    p ? p : err.msg);
	free(p);
}

/* ---- a real native sandbox running `true` ---- */

struct probe {
	int done, code;
	char err[256];
};

static void probe_done(void *ud, struct jv *result, const char *err, int fatal)
{
	SL_UNUSED(fatal);
	struct probe *p = ud;
	p->done = 1;
	p->code = result ? (int)jv_get_int(result, "exit_code", -1) : -1;
	snprintf(p->err, sizeof(p->err), "%s", err ? err : "");
}

static void check_native(struct check *c)
{
	char ws[] = "/tmp/silo-doctor-XXXXXX";
	if (!mkdtemp(ws)) {
		set(c, "native backend", 0, NULL, "cannot create a temp workspace");
		return;
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sb_config cfg = { .kind = "native", .workspace = ws };
	struct sl_err err = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sb *sb = sb_new(&loop, &cfg, &err);
	struct probe p = { 0 };
	if (sb && !sb->ops->start(sb, &err)) {
		struct jv *a = jv_obj();
		jv_set(a, "command", jv_str("true"));
		jv_set(a, "timeout_ms", jv_int(10000));
		if (sb->ops->helper_request(sb, "exec", a, probe_done, NULL, &p, &err) >= 0)
			while (!p.done && uv_run(&loop, UV_RUN_ONCE))
				;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (p.done && p.code == 0)
			set(c, "native backend", 1, NULL, "started and ran `true` in %ld ms", ms);
		else
			set(c, "native backend", 0, "see the failing items above", "exec failed: %s",
			    p.err[0] ? p.err : err.msg);
		sb->ops->shutdown(sb, NULL, NULL);
	} else {
		set(c, "native backend", 0, "see the failing items above", "%s", err.msg);
	}
	sb_free(sb);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	sl_rm_rf(ws);
}

int sb_doctor(FILE *out, int json)
{
	struct check c[9];
	memset(c, 0, sizeof(c));
	check_userns(&c[0]);
	check_seccomp(&c[1]);
	check_landlock(&c[2]);
	check_cgroups(&c[3]);
	check_helper(&c[4]);
	check_runsc(&c[5]);
	check_kvm(&c[6]);
	check_native(&c[7]);
	size_t nc = 8;
	int native_ok = c[0].ok && c[1].ok && c[7].ok;
	int default_ok = native_ok && c[2].ok; /* cli.md 4.3; gvisor not built */
	const char *why_default =
		default_ok ? "native"
		: native_ok ? "none: auto wants Landlock for native and gvisor is not built; "
			      "--sandbox native runs with a warning"
			    : "none: the native backend cannot run here";
	if (json) {
		struct jv *o = jv_obj();
		struct jv *feats = jv_arr();
		for (size_t i = 0; i < nc; i++) {
			struct jv *f = jv_obj();
			jv_set(f, "name", jv_str(c[i].name));
			jv_set(f, "ok", jv_bool(c[i].ok));
			jv_set(f, "detail", jv_str(c[i].detail));
			if (!c[i].ok && c[i].remedy[0])
				jv_set(f, "remedy", jv_str(c[i].remedy));
			jv_push(feats, f);
		}
		jv_set(o, "features", feats);
		struct jv *b = jv_arr();
		const struct {
			const char *name;
			int ok;
			const char *why;
		} be[] = {
			{ "native", native_ok, native_ok ? "" : "needs user namespaces, seccomp, helper" },
			{ "gvisor", 0, "not built into this silo yet" },
			{ "microvm", 0, "not built into this silo yet" },
			{ "mock", 1, "executes nothing; replay only" },
		};
		for (size_t i = 0; i < SL_ARRAY_LEN(be); i++) {
			struct jv *x = jv_obj();
			jv_set(x, "name", jv_str(be[i].name));
			jv_set(x, "available", jv_bool(be[i].ok));
			if (be[i].why[0])
				jv_set(x, "note", jv_str(be[i].why));
			jv_push(b, x);
		}
		jv_set(o, "backends", b);
		jv_set(o, "default", default_ok ? jv_str("native") : jv_null());
		jv_set(o, "default_note", jv_str(why_default));
		char *s = jv_to_string(o, JV_EMIT_PRETTY);
		fprintf(out, "%s\n", s);
		free(s);
		jv_unref(o);
	} else {
		fprintf(out, "sandbox features:\n");
		for (size_t i = 0; i < nc; i++) {
			fprintf(out, "  %-4s %-16s %s\n", c[i].ok ? "ok" : "FAIL", c[i].name,
				c[i].detail);
			if (!c[i].ok && c[i].remedy[0])
				fprintf(out, "       %-16s remedy: %s\n", "", c[i].remedy);
		}
		fprintf(out, "backends:\n  %-4s native\n  no   gvisor (not built yet)\n"
			     "  no   microvm (not built yet)\n  ok   mock (executes nothing)\n",
			native_ok ? "ok" : "no");
		fprintf(out, "default (--sandbox auto): %s\n", why_default);
	}
	return default_ok ? 0 : 1;
}
