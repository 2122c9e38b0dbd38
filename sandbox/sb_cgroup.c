/*
 * sb_cgroup: best-effort process and memory limits for a native sandbox, so
 * a fork bomb or a memory hog inside cannot exhaust the host. Uses the
 * cgroup v1 `pids` and `memory` hierarchies, or one cgroup v2 group when
 * the root's subtree_control enables the controllers, wherever the harness
 * may create groups (as root here; an unprivileged harness needs
 * delegation). What could not be set is reported as 0 and the native
 * backend falls back to rlimits (sb_native.c); the access report and
 * `silo doctor` say which.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_int.h"

#define V1_PIDS "/sys/fs/cgroup/pids"
#define V1_MEMORY "/sys/fs/cgroup/memory"
#define V2_ROOT "/sys/fs/cgroup"

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

/* A new group under root with file=val set; owned dir or NULL. */
static char *make_group(const char *root, const char *id, const char *file, const char *val)
{
	char *dir = sl_xasprintf("%s/silo-%s", root, id);
	if (mkdir(dir, 0755)) {
		free(dir);
		return NULL;
	}
	if (write_to(dir, file, val)) {
		rmdir(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static int v2_has(const char *controller)
{
	char *ctl = sl_read_file(V2_ROOT "/cgroup.subtree_control", NULL, 4096, NULL);
	int ok = ctl && strstr(ctl, controller);
	free(ctl);
	return ok;
}

void sb__cgroup_open(struct sb_cg *cg, int pids_max, uint64_t mem_max)
{
	memset(cg, 0, sizeof(*cg));
	char id[13], pv[32], mv[32];
	sl_random_id(id);
	snprintf(pv, sizeof(pv), "%d", pids_max);
	snprintf(mv, sizeof(mv), "%" PRIu64, mem_max);
	/* v1: a hierarchy per controller; its root has no limit file but
	 * must be writable for us */
	if (pids_max > 0 && !access(V1_PIDS, W_OK) &&
	    (cg->dir[cg->n] = make_group(V1_PIDS, id, "pids.max", pv))) {
		cg->n++;
		cg->pids_max = pids_max;
	}
	if (mem_max && !access(V1_MEMORY, W_OK) &&
	    (cg->dir[cg->n] = make_group(V1_MEMORY, id, "memory.limit_in_bytes", mv))) {
		/* with swap, the same bound on memory plus swap (absent
		 * without swap accounting: ignored) */
		write_to(cg->dir[cg->n], "memory.memsw.limit_in_bytes", mv);
		cg->n++;
		cg->mem_max = mem_max;
	}
	if (cg->pids_max && cg->mem_max)
		return;
	/* v2: one group for both, when the controllers are delegated */
	int want_p = pids_max > 0 && !cg->pids_max && v2_has("pids");
	int want_m = mem_max && !cg->mem_max && v2_has("memory");
	if (!want_p && !want_m)
		return;
	char *dir = sl_xasprintf(V2_ROOT "/silo-%s", id);
	if (mkdir(dir, 0755)) {
		free(dir);
		return;
	}
	if (want_p && !write_to(dir, "pids.max", pv))
		cg->pids_max = pids_max;
	if (want_m && !write_to(dir, "memory.max", mv)) {
		write_to(dir, "memory.swap.max", "0");
		cg->mem_max = mem_max;
	}
	cg->v2 = 1;
	cg->dir[cg->n++] = dir;
}

/* Moving a process between cgroup v1 groups waits for an RCU grace period
 * (~20 ms on our machines, per hierarchy): the moves run on a thread while
 * the child sets itself up, and are joined before the helper can fork. */
struct mover {
	pthread_t th;
	char *dir[SB_CG_MAX]; /* owned copies */
	size_t n;
	pid_t pid;
	int rc;
};

static void *move_main(void *arg)
{
	struct mover *m = arg;
	char pidv[32];
	snprintf(pidv, sizeof(pidv), "%d", (int)m->pid);
	for (size_t i = 0; i < m->n; i++)
		if (write_to(m->dir[i], "cgroup.procs", pidv))
			m->rc = -1;
	return NULL;
}

struct sb_cgmove *sb__cgroup_move_start(const struct sb_cg *cg, pid_t pid)
{
	if (!cg->n)
		return NULL;
	struct mover *m = sl_xcalloc(1, sizeof(*m));
	for (size_t i = 0; i < cg->n; i++)
		m->dir[i] = sl_xstrdup(cg->dir[i]);
	m->n = cg->n;
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
	for (size_t i = 0; i < m->n; i++)
		free(m->dir[i]);
	free(m);
	return rc;
}

void sb__cgroup_kill(const struct sb_cg *cg)
{
	/* v2 only: every process of the sandbox, even one that left the pid
	 * namespace's view, is in the group */
	if (cg->v2 && cg->n)
		write_to(cg->dir[cg->n - 1], "cgroup.kill", "1");
}

void sb__cgroup_close(struct sb_cg *cg)
{
	for (size_t k = 0; k < cg->n; k++) {
		/* the sandbox's processes are gone (reaped) before this runs;
		 * the kernel may take a moment to drop them from the group */
		int i;
		for (i = 0; i < 50; i++) {
			if (!rmdir(cg->dir[k]) || errno == ENOENT)
				break;
			usleep(2000);
		}
		if (i == 50)
			SL_WARN("sandbox", "could not remove cgroup %s: %s", cg->dir[k],
				strerror(errno));
		free(cg->dir[k]);
	}
	memset(cg, 0, sizeof(*cg));
}

/* ---- the limits in force ---- */

static uint64_t env_mb(const char *name)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return 0;
	unsigned long long mb = strtoull(v, &end, 10);
	return *end || mb == 0 || mb > (1ull << 30) ? 0 : (uint64_t)mb << 20;
}

static uint64_t half_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 2 : 0;
}

void sb__limits_resolve(const struct sb_limits *in, struct sb_limits *out)
{
	*out = *in;
	if (!out->tmpfs_bytes)
		out->tmpfs_bytes = SB_TMPFS_BYTES_DEFAULT;
	if (!out->tmpfs_inodes)
		out->tmpfs_inodes = SB_TMPFS_INODES_DEFAULT;
	if (!out->memory_bytes) {
		uint64_t h = half_ram();
		out->memory_bytes = h && h < SB_MEMORY_BYTES_MAX_DEFAULT ? h
									 : SB_MEMORY_BYTES_MAX_DEFAULT;
	}
	if (!out->pids_max)
		out->pids_max = SB_PIDS_MAX_DEFAULT;
	uint64_t t = env_mb("SILO_SANDBOX_TMPFS_MB"), m = env_mb("SILO_SANDBOX_MEMORY_MB");
	if (t && t < out->tmpfs_bytes)
		out->tmpfs_bytes = t;
	if (m && m < out->memory_bytes)
		out->memory_bytes = m;
	const char *p = getenv("SILO_SANDBOX_PIDS_MAX");
	if (p && !strcmp(p, "0"))
		out->pids_max = 0;
	else if (p && atoi(p) > 0 && atoi(p) < out->pids_max)
		out->pids_max = atoi(p);
}
