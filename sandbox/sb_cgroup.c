/*
 * sb_cgroup: a best-effort process limit for a native sandbox, so a fork
 * bomb inside cannot exhaust the host's pids. Uses the cgroup v1 `pids`
 * hierarchy or a cgroup v2 tree with the pids controller enabled, when the
 * harness may create groups there (as root here; an unprivileged harness
 * needs delegation). When neither works the sandbox runs without the limit
 * and the access report says so (`silo doctor` shows the controllers).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_int.h"

#define SB_PIDS_MAX 4096

static int write_to(const char *dir, const char *file, const char *val)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

char *sb__cgroup_limit(pid_t pid, int *limit)
{
	static const char *const roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup" };
	char id[13], val[32];
	sl_random_id(id);
	for (size_t i = 0; i < SL_ARRAY_LEN(roots); i++) {
		char probe[256];
		snprintf(probe, sizeof(probe), "%s/pids.max", roots[i]);
		/* v1: the hierarchy root has no pids.max but tasks; v2: the
		 * controller must be listed in the root's subtree_control */
		if (i == 0 && access(roots[i], W_OK))
			continue;
		if (i == 1) {
			char *ctl = sl_read_file("/sys/fs/cgroup/cgroup.subtree_control", NULL, 4096,
						 NULL);
			int ok = ctl && strstr(ctl, "pids");
			free(ctl);
			if (!ok)
				continue;
		}
		char *dir = sl_xasprintf("%s/silo-%s", roots[i], id);
		if (mkdir(dir, 0755)) {
			free(dir);
			continue;
		}
		/* SILO_SANDBOX_PIDS_MAX lowers the limit (tests) */
		const char *ev = getenv("SILO_SANDBOX_PIDS_MAX");
		int max = ev && atoi(ev) > 0 && atoi(ev) < SB_PIDS_MAX ? atoi(ev) : SB_PIDS_MAX;
		snprintf(val, sizeof(val), "%d", max);
		char pidv[32];
		snprintf(pidv, sizeof(pidv), "%d", (int)pid);
		if (write_to(dir, "pids.max", val) || write_to(dir, "cgroup.procs", pidv)) {
			rmdir(dir);
			free(dir);
			continue;
		}
		*limit = max;
		return dir;
	}
	*limit = 0;
	return NULL;
}

void sb__cgroup_remove(const char *dir)
{
	/* the sandbox's processes are gone (reaped) before this runs; the
	 * kernel may take a moment to drop them from the group */
	for (int i = 0; dir && i < 50; i++) {
		if (!rmdir(dir) || errno == ENOENT)
			return;
		usleep(2000);
	}
	if (dir)
		SL_WARN("sandbox", "could not remove cgroup %s: %s", dir, strerror(errno));
}
