/*
 * sb_mount: the filesystem view of the native sandbox (sandbox.md 6.1 step
 * 2). The parent builds a plan (all allocation and host-side checks happen
 * here: canonical paths, missing allowlist entries, symlinked baseline
 * dirs); the cloned child runs it with system calls only, because between
 * clone() and exec() it must not allocate (another thread of the harness may
 * hold the malloc lock).
 *
 * Shape of the run: make every mount private, mount a tmpfs on /tmp and
 * pivot_root into it with the old root at /.oldroot, then bind from
 * /.oldroot/<host path>. Read-only binds are remounted with
 * MS_REMOUNT|MS_BIND|MS_RDONLY|MS_NOSUID|MS_NODEV (never a plain remount:
 * as root that would turn the host's real filesystem read-only, decisions
 * 20), keeping the flags the kernel locks (noexec, atime); submounts follow
 * with mount_setattr(AT_RECURSIVE). /proc is mounted while the old root is
 * still attached (the kernel wants a fully visible proc for that), then the
 * old root is detached and the new root itself is made read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

#define OLD "/.oldroot"

static const char *const baseline[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
	"/etc/ssl", "/etc/alternatives", "/etc/ld.so.cache", NULL,
};

/* In-sandbox places an allowlist entry may not cover or sit under. */
static const char *const reserved[] = { "/proc", "/dev", SB_IN_WORKSPACE, SB_IN_SCRATCH, NULL };

static const char *const proc_masked_files[] = {
	"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/sched_debug",
	"/proc/timer_list", "/proc/timer_stats",
	/* kernel heap layout, readable to a sandbox root: exploit aids */
	"/proc/slabinfo", "/proc/vmallocinfo", "/proc/pagetypeinfo", NULL,
};
static const char *const proc_masked_dirs[] = { "/proc/acpi", "/proc/asound", "/proc/scsi", NULL };
static const char *const proc_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty", NULL };

const char *const *sb__baseline(void)
{
	return baseline;
}

static void add(struct sb_mplan *p, enum sb_mop type, char *src, char *dst, unsigned mode)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->ops = sl_xrealloc(p->ops, p->cap * sizeof(*p->ops));
	}
	p->ops[p->n++] = (struct sb_mount_op){ type, src, dst, mode };
}

static void add_ll(struct sb_mplan *p, const char *path, int write, int file)
{
	if (p->nll == SL_ARRAY_LEN(p->ll))
		return;
	p->ll[p->nll++] = (struct sb_ll_rule){ sl_xstrdup(path), write, file };
}

/* A baseline path as it exists on the host: dir or file bind, symlink copy. */
static void add_baseline(struct sb_mplan *p, const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = 0;
		add(p, MOP_SYMLINK, sl_xstrdup(target), sl_xstrdup(path), 0);
		return;
	}
	add(p, S_ISDIR(st.st_mode) ? MOP_BIND_RO : MOP_BIND_RO_FILE,
	    sl_xasprintf(OLD "%s", path), sl_xstrdup(path), 0);
	add_ll(p, path, 0, !S_ISDIR(st.st_mode));
}

static int check_allow(const char *canon, const char *given, struct sl_err *err)
{
	if (!strcmp(canon, "/"))
		return sl_err_set(err, SL_EDENIED, "--allow-read %s would expose the whole host",
				  given);
	for (size_t i = 0; reserved[i]; i++)
		if (sl_path_under(canon, reserved[i]))
			return sl_err_set(err, SL_EDENIED,
					  "--allow-read %s: %s is reserved inside the sandbox",
					  given, reserved[i]);
	return 0;
}

/* Toolchain caches (decisions 24): one directory per tool under the
 * workspace's cache dir, mounted writable over the scratch HOME. */
static const char *const cache_subdirs[] = { ".cargo", ".npm", ".cache", "go", ".ccache",
					     ".rustup", NULL };

static int add_caches(struct sb_mplan *p, const char *cache_dir, struct sl_err *err)
{
	if (sl_mkdir_p(cache_dir, 0700, err))
		return SL_EIO;
	char *c = realpath(cache_dir, NULL);
	if (!c)
		return sl_err_set(err, SL_EIO, "cache dir %s: %s", cache_dir, strerror(errno));
	for (size_t i = 0; cache_subdirs[i]; i++) {
		char *host = sl_xasprintf("%s/%s", c, cache_subdirs[i]);
		if (mkdir(host, 0700) && errno != EEXIST) {
			sl_err_set(err, SL_EIO, "cache dir %s: %s", host, strerror(errno));
			free(host);
			free(c);
			return SL_EIO;
		}
		add(p, MOP_BIND_RW, sl_xasprintf(OLD "%s", host),
		    sl_xasprintf(SB_IN_SCRATCH "/home/%s", cache_subdirs[i]), 0);
		free(host);
	}
	free(c);
	return 0;
}

static int write_etc(struct sb_mplan *p, const char *sc, struct sl_err *err)
{
	unsigned uid = getuid(), gid = getgid();
	const char *name = uid == 0 ? "root" : "silo";
	char *dir = sl_xasprintf("%s/etc", sc);
	char *files[3][2] = {
		{ "passwd", sl_xasprintf("%s:x:%u:%u:silo sandbox:" SB_IN_SCRATCH "/home:/bin/sh\n",
					 name, uid, gid) },
		{ "group", sl_xasprintf("%s:x:%u:\n", name, gid) },
		{ "hosts", sl_xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost\n") },
	};
	int rc = mkdir(dir, 0755) && errno != EEXIST
			 ? sl_err_set(err, SL_EIO, "mkdir %s: %s", dir, strerror(errno))
			 : 0;
	for (size_t i = 0; i < 3; i++) {
		char *host = sl_xasprintf("%s/%s", dir, files[i][0]);
		if (!rc)
			rc = sl_write_file(host, files[i][1], strlen(files[i][1]), 0644, err);
		if (!rc)
			add(p, MOP_BIND_RO_FILE, sl_xasprintf(OLD "%s", host),
			    sl_xasprintf("/etc/%s", files[i][0]), 0);
		free(host);
		free(files[i][1]);
	}
	free(dir);
	return rc;
}

struct sb_mplan *sb__mplan_new(const char *workspace, const char *scratch,
			       const char *const *allow, const char *cache_dir,
			       const char *helper, const struct sb_limits *lim,
			       struct sl_err *err)
{
	struct sb_mplan *p = sl_xcalloc(1, sizeof(*p));
	p->tmpfs_bytes = lim->tmpfs_bytes;
	p->tmpfs_inodes = lim->tmpfs_inodes;
	size_t nallow = 0;
	while (allow && allow[nallow])
		nallow++;
	p->readable = sl_xcalloc(nallow + SL_ARRAY_LEN(baseline) + 1, sizeof(char *));

	/* configured entries first (access report order), checked up front */
	for (size_t i = 0; i < nallow; i++) {
		char *c = realpath(allow[i], NULL);
		if (!c) {
			sl_err_set(err, SL_ENOENT, "--allow-read %s: %s", allow[i], strerror(errno));
			goto fail;
		}
		p->readable[p->nreadable++] = c;
		if (check_allow(c, allow[i], err))
			goto fail;
	}
	for (size_t i = 0; baseline[i]; i++)
		if (!access(baseline[i], F_OK))
			p->readable[p->nreadable++] = sl_xstrdup(baseline[i]);

	/* order matters: /tmp and /dev before anything mounted under them,
	 * the baseline before allowlist entries that may lie inside it */
	add(p, MOP_TMPFS, NULL, sl_xstrdup("/tmp"), 01777);
	add(p, MOP_DEV, NULL, sl_xstrdup("/dev"), 0);
	add(p, MOP_PROC, NULL, sl_xstrdup("/proc"), 0);
	for (size_t i = 0; baseline[i]; i++)
		add_baseline(p, baseline[i]);
	for (size_t i = 0; i < nallow; i++) {
		const char *c = p->readable[i];
		struct stat st;
		if (stat(c, &st)) {
			sl_err_set(err, SL_ENOENT, "--allow-read %s: %s", allow[i], strerror(errno));
			goto fail;
		}
		add(p, S_ISDIR(st.st_mode) ? MOP_BIND_RO : MOP_BIND_RO_FILE,
		    sl_xasprintf(OLD "%s", c), sl_xstrdup(c), 0);
		add_ll(p, c, 0, !S_ISDIR(st.st_mode));
	}

	char *ws = realpath(workspace, NULL);
	struct stat st;
	if (!ws || stat(ws, &st) || !S_ISDIR(st.st_mode)) {
		sl_err_set(err, SL_ENOENT, "workspace %s is not a directory", workspace);
		free(ws);
		goto fail;
	}
	add(p, MOP_BIND_RW, sl_xasprintf(OLD "%s", ws), sl_xstrdup(SB_IN_WORKSPACE), 0);
	free(ws);
	char *sc = realpath(scratch, NULL);
	if (!sc) {
		sl_err_set(err, SL_ENOENT, "scratch %s: %s", scratch, strerror(errno));
		goto fail;
	}
	/* the host scratch holds only what the harness put there: read-only;
	 * home and tmp are tmpfs on top (decisions 19) */
	add(p, MOP_BIND_RO, sl_xasprintf(OLD "%s", sc), sl_xstrdup(SB_IN_SCRATCH), 0);
	add(p, MOP_TMPFS, NULL, sl_xstrdup(SB_IN_SCRATCH "/home"), 0700);
	add(p, MOP_TMPFS, NULL, sl_xstrdup(SB_IN_SCRATCH "/tmp"), 0700);
	if (cache_dir && *cache_dir && add_caches(p, cache_dir, err)) {
		free(sc);
		goto fail;
	}
	if (helper) {
		/* bound rather than copied: no 1 MB write per start; the file
		 * <scratch>/bin/silo-helper is the mount point */
		char *h = realpath(helper, NULL);
		if (!h) {
			sl_err_set(err, SL_ENOENT, "helper %s: %s", helper, strerror(errno));
			free(sc);
			goto fail;
		}
		add(p, MOP_BIND_RO_FILE, sl_xasprintf(OLD "%s", h),
		    sl_xstrdup(SB_IN_SCRATCH "/bin/silo-helper"), 0);
		free(h);
	}
	/* synthesized /etc files, written here and bound over whatever /etc
	 * holds (also an allowlisted host /etc, read-only): one user,
	 * localhost only, no resolv.conf */
	if (write_etc(p, sc, err)) {
		free(sc);
		goto fail;
	}
	add(p, MOP_RBIND, sl_xstrdup(SB_IN_SCRATCH), sc, 0);

	add_ll(p, "/", 0, -1); /* list directories only; see sb_landlock.c */
	add_ll(p, "/etc", 0, 0);
	add_ll(p, "/proc", 0, 0);
	add_ll(p, "/dev", 0, 0);
	add_ll(p, SB_IN_WORKSPACE, 1, 0);
	add_ll(p, SB_IN_SCRATCH, 1, 0);
	add_ll(p, sc, 1, 0);
	add_ll(p, "/tmp", 1, 0);
	add_ll(p, "/dev/shm", 1, 0);
	add_ll(p, "/dev/pts", 1, 0);
	static const char *const rw_nodes[] = { "/dev/null", "/dev/zero", "/dev/full",
						"/dev/tty", "/dev/ptmx" };
	for (size_t i = 0; i < SL_ARRAY_LEN(rw_nodes); i++)
		add_ll(p, rw_nodes[i], 1, 1);
	return p;
fail:
	sb__mplan_free(p);
	return NULL;
}

void sb__mplan_free(struct sb_mplan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->ops[i].src);
		free(p->ops[i].dst);
	}
	free(p->ops);
	for (size_t i = 0; i < p->nreadable; i++)
		free(p->readable[i]);
	free(p->readable);
	for (size_t i = 0; i < p->nll; i++)
		free((char *)p->ll[i].path);
	free(p);
}

/* ---- child side: system calls only ---- */

#define FAIL(what, path)                                                       \
	do {                                                                   \
		snprintf(eb, ebn, "%s %s: %s", what, path, strerror(errno));   \
		return -1;                                                     \
	} while (0)

/* mkdir -p inside the new root (a tmpfs we own), on a stack copy. */
static int mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -1;
	return 0;
}

static int mkparent(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return errno = ENAMETOOLONG, -1;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		return mkdirs(dir, 0755);
	}
	return 0;
}

static int touch(const char *path, unsigned mode)
{
	struct stat st;
	if (!lstat(path, &st))
		return 0; /* an existing mount point (possibly on a read-only mount) */
	if (mkparent(path))
		return -1;
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv))
		return 0;
	/* flags locked by the kernel in a user namespace must be repeated */
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Remounts one bind mount with extra flags, never touching the superblock. */
static int bind_remount(const char *path, unsigned long flags)
{
	flags |= MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
	return mount(NULL, path, NULL, flags | kept_flags(path), NULL);
}

static int make_ro_recursive(const char *path)
{
	if (bind_remount(path, MS_RDONLY))
		return -1;
	/* submounts: per-mount attributes, recursively (kernel >= 5.12) */
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					       MOUNT_ATTR_NODEV };
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) &&
	    errno != ENOSYS)
		return -1;
	return 0;
}

/* Options of a writable tmpfs: its mode and the plan's size limits. */
static void tmpfs_data(const struct sb_mplan *p, unsigned mode, char *out, size_t n)
{
	snprintf(out, n, "mode=%o,size=%llu,nr_inodes=%llu", mode,
		 (unsigned long long)p->tmpfs_bytes, (unsigned long long)p->tmpfs_inodes);
}

static int setup_dev(const struct sb_mplan *p, char *eb, size_t ebn)
{
	char shm[96];
	tmpfs_data(p, 01777, shm, sizeof(shm));
	if (mkdir("/dev", 0755))
		FAIL("mkdir", "/dev");
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m"))
		FAIL("mount tmpfs", "/dev");
	char dst[64], src[64];
	for (size_t i = 0; dev_nodes[i]; i++) {
		snprintf(dst, sizeof(dst), "/dev/%s", dev_nodes[i]);
		snprintf(src, sizeof(src), OLD "/dev/%s", dev_nodes[i]);
		if (touch(dst, 0666))
			FAIL("create", dst);
		if (mount(src, dst, NULL, MS_BIND, NULL))
			FAIL("bind", dst);
	}
	if (mkdir("/dev/pts", 0755) || mkdir("/dev/shm", 01777))
		FAIL("mkdir", "/dev/pts");
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620"))
		FAIL("mount devpts", "/dev/pts");
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, shm))
		FAIL("mount tmpfs", "/dev/shm");
	static const char *const links[][2] = {
		{ "pts/ptmx", "/dev/ptmx" },       { "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(links); i++)
		if (symlink(links[i][0], links[i][1]))
			FAIL("symlink", links[i][1]);
	return 0;
}

static int setup_proc(char *eb, size_t ebn)
{
	if (mkdir("/proc", 0555))
		FAIL("mkdir", "/proc");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		FAIL("mount proc", "/proc");
	struct stat st;
	for (size_t i = 0; proc_masked_files[i]; i++) {
		if (lstat(proc_masked_files[i], &st))
			continue;
		if (mount("/dev/null", proc_masked_files[i], NULL, MS_BIND, NULL))
			FAIL("mask", proc_masked_files[i]);
	}
	for (size_t i = 0; proc_masked_dirs[i]; i++) {
		if (lstat(proc_masked_dirs[i], &st))
			continue;
		if (mount("tmpfs", proc_masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
			  "size=0"))
			FAIL("mask", proc_masked_dirs[i]);
	}
	for (size_t i = 0; proc_readonly[i]; i++) {
		if (lstat(proc_readonly[i], &st))
			continue;
		if (mount(proc_readonly[i], proc_readonly[i], NULL, MS_BIND | MS_REC, NULL) ||
		    make_ro_recursive(proc_readonly[i]))
			FAIL("read-only", proc_readonly[i]);
	}
	return 0;
}

static int run_op(const struct sb_mplan *p, const struct sb_mount_op *op, char *eb, size_t ebn)
{
	switch (op->type) {
	case MOP_TMPFS: {
		char data[96];
		tmpfs_data(p, op->mode, data, sizeof(data));
		if (mkdirs(op->dst, 0755))
			FAIL("mkdir", op->dst);
		if (mount("tmpfs", op->dst, "tmpfs", MS_NOSUID | MS_NODEV, data))
			FAIL("mount tmpfs", op->dst);
		return 0;
	}
	case MOP_DEV:
		return setup_dev(p, eb, ebn);
	case MOP_PROC:
		return setup_proc(eb, ebn);
	case MOP_SYMLINK:
		if (mkparent(op->dst))
			FAIL("mkdir for", op->dst);
		if (symlink(op->src, op->dst) && errno != EEXIST)
			FAIL("symlink", op->dst);
		return 0;
	case MOP_BIND_RO:
	case MOP_BIND_RW:
	case MOP_RBIND:
		if (mkdirs(op->dst, 0755))
			FAIL("mkdir", op->dst);
		break;
	case MOP_BIND_RO_FILE:
		if (touch(op->dst, 0644))
			FAIL("create", op->dst);
		break;
	}
	if (mount(op->src, op->dst, NULL, MS_BIND | MS_REC, NULL))
		FAIL("bind", op->dst);
	if (op->type == MOP_BIND_RW) {
		if (bind_remount(op->dst, 0))
			FAIL("remount nosuid,nodev", op->dst);
	} else if (op->type != MOP_RBIND) {
		if (make_ro_recursive(op->dst))
			FAIL("remount read-only", op->dst);
	}
	return 0;
}

int sb__mplan_run(const struct sb_mplan *p, char *eb, size_t ebn)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		FAIL("make private", "/");
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m"))
		FAIL("mount new root on", "/tmp");
	if (chdir("/tmp") || mkdir(&OLD[1], 0700))
		FAIL("prepare", "/tmp" OLD);
	if (syscall(SYS_pivot_root, ".", &OLD[1]))
		FAIL("pivot_root", "/tmp");
	if (chdir("/"))
		FAIL("chdir", "/");
	for (size_t i = 0; i < p->n; i++)
		if (run_op(p, &p->ops[i], eb, ebn))
			return -1;
	if (umount2(OLD, MNT_DETACH))
		FAIL("detach", OLD);
	if (rmdir(OLD))
		FAIL("rmdir", OLD);
	if (bind_remount("/dev", MS_RDONLY | MS_NOEXEC))
		FAIL("remount read-only", "/dev");
	if (bind_remount("/", MS_RDONLY))
		FAIL("remount read-only", "/");
	return 0;
}
