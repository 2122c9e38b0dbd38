/*
 * ws_container.c: where a locked workspace lives (decisions 39). ext4_loop:
 * an ext4 image built with `mkfs.ext4 -d`, loop-mounted by root under the
 * entry directory; ext4_fuse: the same image mounted with fuse2fs for users
 * without root; directory: a plain directory, the warned fallback. One mount
 * per entry, shared by the harness and every shell; the mount test is "mnt's
 * st_dev differs from its parent's".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ws_int.h"

void ws__paths(const struct ws_db *d, const char *id, struct ws_paths *p)
{
	p->entry = sl_xasprintf("%s/%s", d->root, id);
	p->blobs = sl_xasprintf("%s/blobs", p->entry);
	p->data = sl_xasprintf("%s/data", p->entry);
	p->img = sl_xasprintf("%s/workspace.img", p->entry);
	p->mnt = sl_xasprintf("%s/mnt", p->entry);
}

void ws__paths_free(struct ws_paths *p)
{
	free(p->entry);
	free(p->blobs);
	free(p->data);
	free(p->img);
	free(p->mnt);
	memset(p, 0, sizeof *p);
}

/* An executable file of that name in a PATH directory (or /sbin dirs, where
 * Debian keeps mkfs.ext4 out of a user's PATH). */
static char *find_tool(const char *name)
{
	const char *path = getenv("PATH");
	char *all = sl_xasprintf("%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
	char *save = NULL, *found = NULL;
	for (char *dir = strtok_r(all, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		if (!*dir)
			continue;
		char *p = sl_xasprintf("%s/%s", dir, name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(all);
	return found;
}

/* Runs argv, stderr captured; on failure: "<tool> <first arg> failed: <stderr>". */
static int run_tool(char *const argv[], struct sl_err *err)
{
	char *exe = find_tool(argv[0]);
	if (!exe)
		return sl_err_set(err, SL_EUNAVAIL, "%s not found", argv[0]);
	int efd = memfd_create("silo-tool-err", MFD_CLOEXEC);
	pid_t pid = fork();
	if (pid < 0) {
		free(exe);
		if (efd >= 0)
			close(efd);
		return sl_err_set(err, SL_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		if (efd >= 0)
			dup2(efd, 2);
		execv(exe, argv);
		_exit(127);
	}
	free(exe);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (efd >= 0)
			close(efd);
		return 0;
	}
	char msg[300] = "";
	if (efd >= 0) {
		ssize_t n = pread(efd, msg, sizeof msg - 1, 0);
		msg[n > 0 ? n : 0] = 0;
		close(efd);
		for (char *c = msg; *c; c++)
			if (*c == '\n')
				*c = *(c + 1) ? ' ' : 0;
	}
	if (!*msg)
		snprintf(msg, sizeof msg, "exit status %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return sl_err_set(err, SL_EIO, "%s %s failed: %s", argv[0], argv[1] ? argv[1] : "", msg);
}

enum ws_strategy ws__strategy_auto(char **why)
{
	char *mkfs = find_tool("mkfs.ext4");
	enum ws_strategy s = WS_STRATEGY_DIRECTORY;
	if (why)
		*why = NULL;
	if (!mkfs) {
		if (why)
			*why = sl_xstrdup("install e2fsprogs (provides mkfs.ext4) and fuse2fs to get "
					  "image locking");
		return s;
	}
	free(mkfs);
	if (geteuid() == 0 && access("/dev/loop-control", F_OK) == 0)
		return WS_STRATEGY_EXT4_LOOP;
	char *f = find_tool("fuse2fs");
	int fuse_ok = 0;
	if (f) {
		int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		char *fm = find_tool("fusermount");
		char *fm3 = fm ? NULL : find_tool("fusermount3");
		fuse_ok = fd >= 0 && (geteuid() == 0 || fm || fm3);
		if (fd >= 0)
			close(fd);
		free(fm);
		free(fm3);
		free(f);
	}
	if (fuse_ok)
		return WS_STRATEGY_EXT4_FUSE;
	if (why)
		*why = sl_xstrdup(f ? "fuse2fs cannot mount here (no access to /dev/fuse or no "
				      "fusermount); install the fuse package to get image locking"
				    : "install fuse2fs (and e2fsprogs for mkfs.ext4) to get image "
				      "locking");
	return s;
}

const char *ws__strategy_warning(enum ws_strategy s)
{
	switch (s) {
	case WS_STRATEGY_EXT4_LOOP:
	case WS_STRATEGY_EXT4_FUSE:
		return "the workspace image is visible to the host under the silo state directory "
		       "while a harness or shell is attached, and its size is fixed at lock time";
	default:
		return "directory strategy: the workspace contents now sit in a plain directory in "
		       "the silo state directory, guarded only by file permissions; host tools "
		       "that find them there can still change them";
	}
}

int ws__is_mounted(const char *mnt)
{
	struct stat a, b;
	if (stat(mnt, &a)) {
		/* a FUSE mount whose daemon died answers ENOTCONN */
		return errno == ENOTCONN;
	}
	char *parent = sl_xasprintf("%s/..", mnt);
	int rc = stat(parent, &b) == 0 && a.st_dev != b.st_dev;
	free(parent);
	return rc;
}

void ws__fmt_size(char out[32], uint64_t b)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, 32, "%llu B", (unsigned long long)b);
	else
		snprintf(out, 32, "%.1f %s", v, u[i]);
}

int ws__parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v <= 0)
		return -1;
	int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == 0)
		end++;
	if (*end || v * (double)(1ull << shift) > 1e18)
		return -1;
	*out = (uint64_t)(v * (double)(1ull << shift));
	return 0;
}

/* Automatic size: four times the content plus 4 GiB, at least 8 GiB. The
 * image is sparse, so headroom costs only what the session writes; but it
 * is kept within the space the host really has (less a reserve), so that
 * the limit the agent is told is the one it meets. */
uint64_t ws__image_size(const char *dir, uint64_t content, uint64_t requested)
{
	uint64_t size = requested;
	if (!size) {
		size = 4 * content + (4ull << 30);
		if (size < (8ull << 30))
			size = 8ull << 30;
		struct statvfs vfs;
		if (statvfs(dir, &vfs) == 0) {
			uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
			uint64_t floor = 2 * content + (256ull << 20);
			uint64_t room = avail > (1ull << 30) ? avail - (1ull << 30) : avail / 2;
			if (size > room)
				size = room > floor ? room : floor;
		}
	}
	if (size < (64ull << 20))
		size = 64ull << 20;
	return (size + 4095) / 4096 * 4096;
}

int ws__ext4_build(const char *src, const char *img, uint64_t size, uint64_t entries,
		   struct sl_err *err)
{
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot create %s: %s", img, strerror(errno));
	int trc = ftruncate(fd, (off_t)size);
	close(fd);
	if (trc)
		return sl_err_set(err, SL_EIO, "cannot size %s: %s", img, strerror(errno));
	char owner[64];
	snprintf(owner, sizeof owner, "root_owner=%u:%u", (unsigned)geteuid(), (unsigned)getegid());
	/* inodes: one per 8 KiB (mkfs's default is 16 KiB, too few for trees
	 * of small files such as node_modules), and at least twice the tree */
	uint64_t inodes = size / 8192;
	if (inodes < 2 * entries + 16384)
		inodes = 2 * entries + 16384;
	if (inodes > 0xffffffffull)
		inodes = 0xffffffffull;
	char nbuf[32];
	snprintf(nbuf, sizeof nbuf, "%llu", (unsigned long long)inodes);
	/* -m 0: no blocks reserved for root, so every user meets the same limit */
	char *argv[] = { "mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", owner, "-N", nbuf,
			 "-d", (char *)src, (char *)img, NULL };
	return run_tool(argv, err);
}

static int wait_fuse_daemon(const char *img);

/* Attaches img to a free loop device with LOOP_CONFIGURE (one ioctl, set up
 * with autoclear so the device goes away with the mount) and mounts it with
 * mount(2): no mount(8), which a minimal system lacks. Another process may
 * take the free device between LOOP_CTL_GET_FREE and LOOP_CONFIGURE (EBUSY):
 * ask for the next one. */
/* The loop device already backed by img (its path in dev), or -1. Two loop
 * devices on one image would be two filesystems writing one file: a mount
 * still alive elsewhere (a sandbox's mount namespace) or a device still
 * being torn down must be reused or waited for, never doubled. */
static int loop_find(const struct stat *ist, char dev[32])
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int found = -1;
	while (d && found < 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(dev, 32, "/dev/%s", de->d_name);
		int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct loop_info64 li;
		if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0 && li.lo_inode == ist->st_ino &&
		    li.lo_device == ist->st_dev)
			found = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
	return found;
}

static int loop_wait_gone(const char *img)
{
	struct stat ist;
	if (stat(img, &ist))
		return 0;
	for (int i = 0; i < 200; i++) { /* 10 s */
		char dev[32];
		int fd = loop_find(&ist, dev);
		if (fd < 0)
			return 0;
		close(fd);
		usleep(50000);
	}
	return -1;
}

static int loop_mount(const char *img, const char *mnt, struct sl_err *err)
{
	int ifd = open(img, O_RDWR | O_CLOEXEC);
	if (ifd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", img, strerror(errno));
	struct stat ist;
	char dev[32] = "";
	int lfd = fstat(ifd, &ist) == 0 ? loop_find(&ist, dev) : -1;
	if (lfd >= 0) {
		/* still attached: mounting it again shares its live filesystem */
		int rc = mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, NULL)
				 ? sl_err_set(err, SL_EAGAIN,
					      "mount %s on %s: %s (the image's loop device is still "
					      "in use; try again)",
					      dev, mnt, strerror(errno))
				 : 0;
		close(lfd);
		close(ifd);
		return rc;
	}
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		close(ifd);
		return sl_err_set(err, SL_EUNAVAIL, "cannot open /dev/loop-control: %s",
				  strerror(errno));
	}
	int rc = SL_EIO;
	for (int tries = 0; tries < 16; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			rc = sl_err_set(err, SL_EUNAVAIL, "no free loop device: %s", strerror(errno));
			break;
		}
		snprintf(dev, sizeof dev, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			rc = sl_err_set(err, SL_EIO, "cannot open %s: %s", dev, strerror(errno));
			break;
		}
		struct loop_config lc;
		memset(&lc, 0, sizeof lc);
		lc.fd = (unsigned)ifd;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)lc.info.lo_file_name, sizeof lc.info.lo_file_name, "%s", img);
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) {
			rc = 0;
			break;
		}
		int e = errno;
		close(lfd);
		lfd = -1;
		if (e != EBUSY) {
			rc = sl_err_set(err, SL_EIO, "LOOP_CONFIGURE %s: %s", dev, strerror(e));
			break;
		}
	}
	close(ctl);
	close(ifd);
	if (rc == 0 && lfd < 0)
		rc = sl_err_set(err, SL_EIO, "no free loop device after 16 attempts");
	if (rc == 0 && mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, NULL))
		rc = sl_err_set(err, SL_EIO, "mount %s on %s: %s", dev, mnt, strerror(errno));
	/* autoclear: once our fd is closed, the device detaches with the mount,
	 * or right now when the mount failed */
	if (lfd >= 0)
		close(lfd);
	return rc;
}

int ws__mount(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err)
{
	if (s == WS_STRATEGY_DIRECTORY) {
		struct stat st;
		if (lstat(p->data, &st) || !S_ISDIR(st.st_mode))
			return sl_err_set(err, SL_ESTATE,
					  "workspace entry %s is damaged: its data directory is "
					  "missing",
					  p->entry);
		return 0;
	}
	if (mkdir(p->mnt, 0700) && errno != EEXIST)
		return sl_err_set(err, SL_EIO, "cannot create %s: %s", p->mnt, strerror(errno));
	if (ws__is_mounted(p->mnt))
		return 0;
	if (access(p->img, F_OK))
		return sl_err_set(err, SL_ESTATE, "workspace entry %s is damaged: %s is missing",
				  p->entry, p->img);
	int rc;
	if (s == WS_STRATEGY_EXT4_LOOP) {
		rc = loop_mount(p->img, p->mnt, err);
	} else {
		if (wait_fuse_daemon(p->img))
			return sl_err_set(err, SL_EAGAIN,
					  "an earlier fuse2fs still serves %s (a process may still use "
					  "its lazily unmounted files); try again when it has exited",
					  p->img);
		char *argv[] = { "fuse2fs", p->img, p->mnt, "-o", "nosuid,nodev", NULL };
		rc = run_tool(argv, err);
	}
	if (rc)
		return rc;
	if (!ws__is_mounted(p->mnt))
		return sl_err_set(err, SL_EIO, "%s did not mount %s",
				  s == WS_STRATEGY_EXT4_LOOP ? "mount(2)" : "fuse2fs", p->img);
	return 0;
}

static int fuse_unmount(const char *mnt, int lazy, struct sl_err *err)
{
	if (geteuid() == 0)
		return umount2(mnt, lazy ? MNT_DETACH : 0) ? sl_err_set(err, SL_EIO, "umount %s: %s",
									 mnt, strerror(errno))
							   : 0;
	char *argv[] = { "fusermount", lazy ? "-uz" : "-u", (char *)mnt, NULL };
	int rc = run_tool(argv, err);
	if (rc == SL_EUNAVAIL) {
		argv[0] = "fusermount3";
		rc = run_tool(argv, err);
	}
	return rc;
}

/* fuse2fs writes its cache back after the unmount returns: wait until the
 * daemon serving img has exited, or a new mount would read a stale image
 * (and two daemons would write one image). */
static int wait_fuse_daemon(const char *img)
{
	for (int tries = 0; tries < 2400; tries++) { /* 120 s: it may fsync under load */
		DIR *d = opendir("/proc");
		int found = 0;
		struct dirent *de;
		while (d && !found && (de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			char path[64], buf[4096];
			snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = 0;
			const char *base = strrchr(buf, '/');
			if (strcmp(base ? base + 1 : buf, "fuse2fs"))
				continue;
			for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
				if (!strcmp(buf + i, img))
					found = 1;
		}
		if (d)
			closedir(d);
		if (!found)
			return 0;
		usleep(50000);
	}
	return -1;
}

int ws__umount(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err)
{
	int rc = ws__umount_raw(s, p, err);
	if (!rc && s == WS_STRATEGY_EXT4_FUSE && wait_fuse_daemon(p->img))
		rc = sl_err_set(err, SL_EAGAIN,
				"fuse2fs still serves %s 120 s after unmounting it (a process may "
				"still use its files)",
				p->img);
	return rc;
}

int ws__umount_raw(enum ws_strategy s, const struct ws_paths *p, struct sl_err *err)
{
	if (s == WS_STRATEGY_DIRECTORY || !ws__is_mounted(p->mnt))
		return 0;
	int rc;
	if (s == WS_STRATEGY_EXT4_LOOP)
		rc = umount2(p->mnt, 0) ? sl_err_set(err, SL_EIO, "umount %s: %s", p->mnt,
						     strerror(errno))
					: 0;
	else
		rc = fuse_unmount(p->mnt, 0, err);
	/* autoclear detaches the device once the filesystem is gone; the next
	 * mount must not start a second device beside a dying one */
	if (!rc && s == WS_STRATEGY_EXT4_LOOP)
		loop_wait_gone(p->img);
	if (!rc)
		return 0;
	usleep(500000);
	if (s == WS_STRATEGY_EXT4_LOOP)
		rc = umount2(p->mnt, MNT_DETACH) ? sl_err_set(err, SL_EIO, "umount %s: %s", p->mnt,
							      strerror(errno))
						 : 0;
	else
		rc = fuse_unmount(p->mnt, 1, err);
	return rc;
}
