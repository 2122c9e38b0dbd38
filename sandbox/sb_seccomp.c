/*
 * sb_seccomp: the native sandbox's system-call filter (sandbox.md 6.1 step 6,
 * decisions 21) as a data table, compiled with libseccomp in the parent and
 * exported as classic BPF so the child can install it without allocating.
 * Default allow; the native architecture only, every other ABI (including
 * x32 on x86_64) kills the process; denied calls get EPERM (clone3 gets
 * ENOSYS so libc falls back to clone, whose flags can be inspected).
 * `silo debug seccomp` prints the table through sb_seccomp_dump().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

enum sc_op { SC_ANY, SC_EQ, SC_NE, SC_MASKED_EQ };

struct sc_cond {
	enum sc_op op;
	unsigned arg;
	uint64_t mask, val; /* SC_MASKED_EQ: (arg & mask) == val */
};

struct sc_rule {
	const char *name;
	int err; /* errno returned */
	struct sc_cond c[2];
	const char *why;
};

#define ALL(n, why) { n, EPERM, { { SC_ANY, 0, 0, 0 } }, why }
#define CLONE_NEW(flag) \
	{ "clone", EPERM, { { SC_MASKED_EQ, 0, flag, flag } }, "new namespace (" #flag ")" }

static const struct sc_rule rules[] = {
	ALL("mount", "filesystem view is fixed"),
	ALL("umount2", "filesystem view is fixed"),
	ALL("pivot_root", "filesystem view is fixed"),
	ALL("chroot", "filesystem view is fixed"),
	ALL("fsopen", "new mount API"),
	ALL("fsconfig", "new mount API"),
	ALL("fsmount", "new mount API"),
	ALL("fspick", "new mount API"),
	ALL("move_mount", "new mount API"),
	ALL("open_tree", "new mount API"),
	ALL("mount_setattr", "new mount API"),
	ALL("swapon", "host memory"),
	ALL("swapoff", "host memory"),
	ALL("reboot", "host power"),
	ALL("kexec_load", "replaces the kernel"),
	ALL("kexec_file_load", "replaces the kernel"),
	ALL("init_module", "kernel modules"),
	ALL("finit_module", "kernel modules"),
	ALL("delete_module", "kernel modules"),
	ALL("settimeofday", "host clock"),
	ALL("clock_settime", "host clock"),
	ALL("clock_adjtime", "host clock"),
	ALL("adjtimex", "host clock"),
	ALL("sethostname", "host identity"),
	ALL("setdomainname", "host identity"),
	ALL("acct", "process accounting"),
	ALL("quotactl", "disk quotas"),
	ALL("quotactl_fd", "disk quotas"),
	ALL("bpf", "kernel attack surface"),
	ALL("perf_event_open", "kernel attack surface, side channels"),
	ALL("userfaultfd", "race amplifier for kernel exploits"),
	ALL("open_by_handle_at", "bypasses path checks"),
	ALL("name_to_handle_at", "file handles"),
	ALL("iopl", "raw port I/O"),
	ALL("ioperm", "raw port I/O"),
	ALL("syslog", "kernel log"),
	ALL("vhangup", "terminals"),
	ALL("lookup_dcookie", "kernel internals"),
	ALL("uselib", "obsolete loader"),
	ALL("keyctl", "kernel keyrings"),
	ALL("add_key", "kernel keyrings"),
	ALL("request_key", "kernel keyrings"),
	ALL("unshare", "new namespaces"),
	ALL("setns", "joining namespaces"),
	ALL("io_uring_setup", "io_uring bypasses this filter"),
	ALL("io_uring_enter", "io_uring bypasses this filter"),
	ALL("io_uring_register", "io_uring bypasses this filter"),
	CLONE_NEW(CLONE_NEWNS),
	CLONE_NEW(CLONE_NEWCGROUP),
	CLONE_NEW(CLONE_NEWUTS),
	CLONE_NEW(CLONE_NEWIPC),
	CLONE_NEW(CLONE_NEWUSER),
	CLONE_NEW(CLONE_NEWPID),
	CLONE_NEW(CLONE_NEWNET),
	{ "clone3", ENOSYS, { { SC_ANY, 0, 0, 0 } }, "flags not inspectable: libc falls back to clone" },
	{ "mknod", EPERM, { { SC_MASKED_EQ, 1, S_IFMT, S_IFCHR } }, "character devices" },
	{ "mknod", EPERM, { { SC_MASKED_EQ, 1, S_IFMT, S_IFBLK } }, "block devices" },
	{ "mknodat", EPERM, { { SC_MASKED_EQ, 2, S_IFMT, S_IFCHR } }, "character devices" },
	{ "mknodat", EPERM, { { SC_MASKED_EQ, 2, S_IFMT, S_IFBLK } }, "block devices" },
	/* ioctl numbers are compared on their low 32 bits: the kernel
	 * truncates the command to unsigned int, so high bits must not hide
	 * TIOCSTI from the filter */
	{ "ioctl", EPERM, { { SC_MASKED_EQ, 1, 0xffffffffu, TIOCSTI } }, "TIOCSTI: typing into a terminal" },
	{ "ioctl", EPERM, { { SC_MASKED_EQ, 1, 0xffffffffu, TIOCLINUX } }, "TIOCLINUX: console control" },
	{ "socket", EPERM, { { SC_EQ, 0, 0, AF_PACKET } }, "packet sockets" },
	{ "socket", EPERM, { { SC_NE, 0, 0, AF_NETLINK }, { SC_MASKED_EQ, 1, 0xf, SOCK_RAW } },
	  "raw sockets (netlink stays: getifaddrs)" },
	{ "socket", EPERM, { { SC_MASKED_EQ, 1, 0xf, SOCK_PACKET } }, "obsolete packet sockets" },
	/* vsock is not confined by the network namespace: on a VM host it
	 * reaches the hypervisor side (CID 2) directly */
	{ "socket", EPERM, { { SC_EQ, 0, 0, AF_VSOCK } }, "vsock bypasses the network namespace" },
};

static int cond_count(const struct sc_rule *r)
{
	int n = 0;
	for (int i = 0; i < 2; i++)
		if (r->c[i].op != SC_ANY)
			n++;
	return n;
}

int sb__seccomp_build(struct sock_filter **prog, unsigned short *len, struct sl_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return sl_err_set(err, SL_EUNAVAIL, "seccomp: cannot create a filter");
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; !rc && i < SL_ARRAY_LEN(rules); i++) {
		const struct sc_rule *r = &rules[i];
		int nr = seccomp_syscall_resolve_name(r->name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a system call on this architecture */
		struct scmp_arg_cmp cmp[2];
		int n = 0;
		for (int k = 0; k < 2; k++) {
			const struct sc_cond *c = &r->c[k];
			if (c->op == SC_EQ)
				cmp[n++] = (struct scmp_arg_cmp){ .arg = c->arg, .op = SCMP_CMP_EQ, .datum_a = c->val };
			else if (c->op == SC_NE)
				cmp[n++] = (struct scmp_arg_cmp){ .arg = c->arg, .op = SCMP_CMP_NE, .datum_a = c->val };
			else if (c->op == SC_MASKED_EQ)
				cmp[n++] = (struct scmp_arg_cmp){ .arg = c->arg, .op = SCMP_CMP_MASKED_EQ,
								  .datum_a = c->mask, .datum_b = c->val };
		}
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((unsigned)r->err), nr,
					    (unsigned)n, cmp);
		if (rc)
			sl_err_set(err, SL_EUNAVAIL, "seccomp: rule for %s: %s", r->name,
				   strerror(-rc));
	}
	if (rc) {
		if (rc != -EINVAL || !err || !err->msg[0])
			sl_err_set(err, SL_EUNAVAIL, "seccomp: %s", strerror(-rc));
		seccomp_release(ctx);
		return SL_EUNAVAIL;
	}
	int fd = memfd_create("silo-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd)) {
		if (fd >= 0)
			close(fd);
		seccomp_release(ctx);
		return sl_err_set(err, SL_EUNAVAIL, "seccomp: cannot export the filter");
	}
	seccomp_release(ctx);
	struct stat st;
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return sl_err_set(err, SL_EUNAVAIL, "seccomp: exported filter has a bad size");
	}
	*prog = sl_xmalloc((size_t)st.st_size);
	if (pread(fd, *prog, (size_t)st.st_size, 0) != st.st_size) {
		close(fd);
		free(*prog);
		*prog = NULL;
		return sl_err_set(err, SL_EUNAVAIL, "seccomp: cannot read the exported filter");
	}
	close(fd);
	*len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int sb__seccomp_install(const struct sock_filter *prog, unsigned short len)
{
	struct sock_fprog fp = { .len = len, .filter = (struct sock_filter *)prog };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0))
		return -errno;
	return 0;
}

static void fmt_cond(const struct sc_cond *c, char *out, size_t n)
{
	switch (c->op) {
	case SC_ANY:
		snprintf(out, n, "always");
		break;
	case SC_EQ:
		snprintf(out, n, "arg%u == %#llx", c->arg, (unsigned long long)c->val);
		break;
	case SC_NE:
		snprintf(out, n, "arg%u != %#llx", c->arg, (unsigned long long)c->val);
		break;
	case SC_MASKED_EQ:
		snprintf(out, n, "(arg%u & %#llx) == %#llx", c->arg, (unsigned long long)c->mask,
			 (unsigned long long)c->val);
		break;
	}
}

int sb_seccomp_dump(FILE *out)
{
	fprintf(out, "# silo native sandbox seccomp filter\n\n");
	fprintf(out, "Default action: allow. Architecture: native only; any other ABI "
		     "(including x32) kills the process.\n\n");
	fprintf(out, "| system call | condition | action | why |\n|---|---|---|---|\n");
	for (size_t i = 0; i < SL_ARRAY_LEN(rules); i++) {
		const struct sc_rule *r = &rules[i];
		char c1[96], c2[96], cond[200];
		fmt_cond(&r->c[0], c1, sizeof(c1));
		if (cond_count(r) > 1) {
			fmt_cond(&r->c[1], c2, sizeof(c2));
			snprintf(cond, sizeof(cond), "%s && %s", c1, c2);
		} else {
			snprintf(cond, sizeof(cond), "%s", c1);
		}
		int nr = seccomp_syscall_resolve_name(r->name);
		fprintf(out, "| %s%s | %s | %s | %s |\n", r->name,
			nr == __NR_SCMP_ERROR ? " (n/a here)" : "", cond,
			r->err == ENOSYS ? "ENOSYS" : "EPERM", r->why);
	}
	return 0;
}
