/* Landlock on its own (sandbox/sb_landlock.c), without mounts or seccomp,
 * in a forked child: proves the second fence holds even if a mount were
 * mis-set. Skips when the kernel has no Landlock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_int.h"

static char dir[64];

static int child(void)
{
	struct sb_ll_rule rules[] = {
		{ "/", 0, -1 },       /* list directories only */
		{ "/usr", 0, 0 },     /* read + execute */
		{ "/lib", 0, 0 },
		{ "/lib64", 0, 0 },
		{ dir, 1, 0 },        /* read + write */
		{ "/dev/null", 1, 1 }, /* a file node */
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return 90;
	int abi = sb__landlock_apply(rules, SL_ARRAY_LEN(rules));
	if (abi <= 0)
		return 91;
	int bad = 0;
	/* reading outside every rule is denied (the file exists) */
	bad |= !(open("/etc/passwd", O_RDONLY) < 0 && errno == EACCES) << 0;
	/* the read-only tree is readable, not writable */
	bad |= (open("/usr/bin/env", O_RDONLY) < 0) << 1;
	bad |= !(open("/usr/.sb-landlock-test", O_WRONLY | O_CREAT, 0600) < 0 && errno == EACCES)
	       << 2;
	/* the writable tree is */
	char p[128];
	snprintf(p, sizeof(p), "%s/f", dir);
	int fd = open(p, O_WRONLY | O_CREAT, 0600);
	bad |= (fd < 0) << 3;
	if (fd >= 0)
		close(fd);
	/* device node rule and directory listing on "/" */
	bad |= (open("/dev/null", O_WRONLY) < 0) << 4;
	bad |= (open("/", O_RDONLY | O_DIRECTORY) < 0) << 5;
	bad |= !(open("/dev/zero", O_RDONLY) < 0 && errno == EACCES) << 6;
	/* a hard link out of the writable tree into it is refused */
	snprintf(p, sizeof(p), "%s/passwd", dir);
	bad |= !(link("/etc/passwd", p) < 0) << 7;
	return bad;
}

TEST(landlock_fences_alone)
{
	int abi = sb__landlock_abi();
	if (abi <= 0) {
		printf("# skipping: no Landlock here\n");
		return;
	}
	strcpy(dir, "/tmp/sb-landlock-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int st = 0;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("#   child status %d (bit mask of failed checks)\n", WEXITSTATUS(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sl_rm_rf(dir);
	CHECK(access("/usr/.sb-landlock-test", F_OK) != 0);
}
