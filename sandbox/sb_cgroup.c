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
#include <pthread.h>
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

/* Moving a process between cgroup v1 groups waits for an RCU grace period
 * (~20 ms on our machines): the move runs on a thread while the child sets
 * itself up, and is joined before the helper can fork. */
struct mover {
	pthread_t th;
	char *dir; /* owned */
	pid_t pid;
	int rc;
};

static void *move_main(void *arg)
{
	struct mover *m = arg;
	char pidv[32];
	snprintf(pidv, sizeof(pidv), "%d", (int)m->pid);
	m->rc = write_to(m->dir, "cgroup.procs", pidv);
	return NULL;
}

char *sb__cgroup_limit(pid_t pid, int *limit)
{
	static const char *const roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup" };
	const char *off = getenv("SILO_SANDBOX_PIDS_MAX");
	if (off && !strcmp(off, "0")) {
		*limit = 0;
		return NULL;
	}
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
		if (write_to(dir, "pids.max", val) ||
		    (pid > 0 && write_to(dir, "cgroup.procs", pidv))) {
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

struct sb_cgmove *sb__cgroup_move_start(const char *dir, pid_t pid)
{
	struct mover *m = sl_xcalloc(1, sizeof(*m));
	m->dir = sl_xstrdup(dir);
	m->pid = pid;
	if (pthread_create(&m->th, NULL, move_main, m)) {
		move_main(m);
		m->th = 0;
	}
	return (struct sb_cgmove *)m;
}

int sb__cgroup_move_join(struct sb_cgmove *mv)
{
	struct mover *m = (struct mover *)mv;
	if (!m)
		return -1;
	if (m->th)
		pthread_join(m->th, NULL);
	int rc = m->rc;
	free(m->dir);
	free(m);
	return rc;
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
