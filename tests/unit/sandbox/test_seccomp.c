/* The seccomp table compiles to a filter the kernel accepts, denies what
 * sandbox.md 6.1 and decisions 21 list, and prints. The filter is installed
 * in a forked child only, never in the test process. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_native.h"

TEST(seccomp_dump_lists_rules)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(sb_seccomp_dump(f) == 0);
	fclose(f);
	const char *must[] = { "| mount |", "| ptrace", "| bpf |", "| keyctl |", "| io_uring_setup |",
			       "| clone3 |", "TIOCSTI", "| socket |", "x32", "| unshare |" };
	for (size_t i = 0; i < SL_ARRAY_LEN(must); i++) {
		int found = strstr(buf, must[i]) != NULL;
		/* ptrace stays allowed (decisions 21) */
		if (!strcmp(must[i], "| ptrace"))
			found = !found;
		if (!found)
			printf("#   dump: %s\n", must[i]);
		CHECK(found);
	}
	free(buf);
}

/* Runs fn in a child under the filter; returns its exit status. */
static int under_filter(int (*fn)(void))
{
	struct sock_filter *prog;
	unsigned short n;
	struct sl_err err;
	if (sb__seccomp_build(&prog, &n, &err)) {
		printf("#   build: %s\n", err.msg);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sb__seccomp_install(prog, n))
			_exit(99);
		_exit(fn());
	}
	free(prog);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int denied(long rc)
{
	return rc == -1 && errno == EPERM;
}

static int t_denials(void)
{
	int bad = 0;
	bad |= !denied(syscall(SYS_unshare, CLONE_NEWUSER)) << 0;
	bad |= !denied(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL)) << 1;
	bad |= !denied(syscall(SYS_keyctl, 0, 0, 0, 0, 0)) << 2;
	bad |= !denied(syscall(SYS_bpf, 0, NULL, 0)) << 3;
	bad |= !denied(socket(AF_PACKET, SOCK_RAW, 0)) << 4;
	bad |= !denied(socket(AF_INET, SOCK_RAW, 1)) << 5;
	bad |= !denied(syscall(SYS_io_uring_setup, 1, NULL)) << 6;
	/* high bits set: still TIOCSTI to the kernel, still denied */
	bad |= !denied(syscall(SYS_ioctl, 0, 0xdead00000000ul | TIOCSTI, "x")) << 7;
	long r = syscall(SYS_clone3, NULL, 0);
	bad |= !(r == -1 && errno == ENOSYS) << 8;
	bad |= !denied(syscall(SYS_mknodat, AT_FDCWD, "/tmp/sb-test-node", S_IFCHR | 0600, 0)) << 9;
	/* what must keep working */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bad |= (s < 0) << 10;
	if (s >= 0)
		close(s);
	int nl = socket(AF_NETLINK, SOCK_RAW, 0);
	bad |= (nl < 0) << 11;
	if (nl >= 0)
		close(nl);
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	bad |= (p < 0) << 12;
	if (p > 0)
		waitpid(p, NULL, 0);
	return bad ? 1 : 0;
}

TEST(seccomp_denies_in_child)
{
	CHECK(under_filter(t_denials) == 0);
}

static int t_x32(void)
{
	/* an x32 system call number: the filter kills the process */
	syscall(0x40000000 | SYS_getpid);
	return 0;
}

TEST(seccomp_kills_x32)
{
#if defined(__x86_64__)
	CHECK(under_filter(t_x32) == 128 + SIGSYS);
#endif
}
