/*
 * ws_walk.c: the one tree walker behind snapshots, scans, restores and
 * removals. Everything it walks may have been written by the agent, so it
 * is iterative (an explicit stack, never recursion), fd-relative (no path
 * is ever handed to the kernel whole, so PATH_MAX does not apply), depth
 * capped (WS_DEPTH_MAX, except for removal), and keeps at most WS_FD_WINDOW
 * directories open per tree: an ancestor whose fd was closed is reopened
 * through ".." and checked by device and inode. A directory we own but
 * cannot read or search is made traversable while we are inside and gets
 * its mode back on the way out. Also: opening a long relative path below a
 * root in chunks, and removing a tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ws_int.h"

#define WS_FD_WINDOW 32

struct frame {
	int fd, dfd;        /* source / destination directory, -1 while closed */
	dev_t dev, ddev;
	ino_t ino, dino;
	char **names;       /* owned: the directory's entries, read on entry */
	size_t n, i;
	char *path;         /* owned: relative path ("" at the root), NULL without paths */
	struct ws_wentry self; /* the entry that led here (not for the root) */
	char *self_name;    /* owned */
	int restore_mode;   /* mode to put back on leaving, -1 when untouched */
};

static int read_names(int fd, char ***out, size_t *n)
{
	int fd2 = ws__reopen_dir(fd);
	DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!d) {
		int e = errno;
		if (fd2 >= 0)
			close(fd2);
		errno = e;
		return -1;
	}
	size_t cap = 16, k = 0;
	char **v = sl_xmalloc(cap * sizeof *v);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (k == cap)
			v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
		v[k++] = sl_xstrdup(de->d_name);
	}
	int e = errno;
	closedir(d);
	if (e) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		errno = e;
		return -1;
	}
	*out = v;
	*n = k;
	return 0;
}

static void frame_free(struct frame *f)
{
	for (size_t i = f->i; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->path);
	free(f->self_name);
	if (f->fd >= 0)
		close(f->fd);
	if (f->dfd >= 0)
		close(f->dfd);
}

/* Reopens frame k (closed) from frame k+1 (open) through "..". */
static int reopen_up(struct frame *st, size_t k)
{
	struct frame *f = &st[k], *c = &st[k + 1];
	struct stat s;
	if (f->fd < 0) {
		f->fd = openat(c->fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (f->fd < 0 || fstat(f->fd, &s) || s.st_dev != f->dev || s.st_ino != f->ino)
			goto moved;
	}
	if (f->dfd < 0 && c->dfd >= 0) {
		f->dfd = openat(c->dfd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (f->dfd < 0 || fstat(f->dfd, &s) || s.st_dev != f->ddev || s.st_ino != f->dino)
			goto moved;
	}
	return 0;
moved:
	errno = ESTALE; /* a directory moved under us: the tree is not quiet */
	return -1;
}

static int open_child(int dfd, const char *name, const struct stat *st, int *restore)
{
	*restore = -1;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES || st->st_uid != geteuid())
		return fd;
	/* ours but not readable or searchable (chmod 000): open it up while we
	 * are inside, put the mode back when we leave */
	if (fchmodat(dfd, name, (st->st_mode & 07777) | 0700, 0))
		return -1;
	*restore = (int)(st->st_mode & 07777);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fchmodat(dfd, name, (mode_t)*restore, 0);
		*restore = -1;
		errno = e;
	}
	return fd;
}

static char *join(const char *prefix, const char *name)
{
	return *prefix ? sl_xasprintf("%s/%s", prefix, name) : sl_xstrdup(name);
}

int ws__walk(struct ws_walker *w, int src_root, int dst_root)
{
	size_t cap = 16, depth = 0;
	struct frame *st = sl_xcalloc(cap, sizeof *st);
	int rc = 0;
	struct stat s;
	st[0].fd = ws__reopen_dir(src_root);
	st[0].dfd = dst_root >= 0 ? ws__reopen_dir(dst_root) : -1;
	st[0].restore_mode = -1;
	if (st[0].fd < 0 || (dst_root >= 0 && st[0].dfd < 0) || fstat(st[0].fd, &s) ||
	    read_names(st[0].fd, &st[0].names, &st[0].n)) {
		rc = sl_err_set(w->err, SL_EIO, "cannot read the top directory: %s", strerror(errno));
		goto out;
	}
	st[0].dev = s.st_dev;
	st[0].ino = s.st_ino;
	if (st[0].dfd >= 0 && fstat(st[0].dfd, &s) == 0) {
		st[0].ddev = s.st_dev;
		st[0].dino = s.st_ino;
	}
	st[0].path = w->no_paths ? NULL : sl_xstrdup("");
	for (;;) {
		struct frame *f = &st[depth];
		if (f->i == f->n) {
			/* leave: the parent must be open for the caller's leave() */
			if (depth == 0)
				break;
			if (reopen_up(st, depth - 1)) {
				rc = sl_err_set(w->err, SL_EIO, "cannot return from %s: %s",
						f->path ? f->path : f->self_name, strerror(errno));
				break;
			}
			struct frame *p = &st[depth - 1];
			if (f->restore_mode >= 0 && w->defer && f->path)
				ws__modes_add(w->defer, f->path, (unsigned)f->restore_mode);
			else if (f->restore_mode >= 0)
				fchmod(f->fd, (mode_t)f->restore_mode);
			struct ws_wentry e = f->self;
			e.dfd = p->fd;
			e.dst = p->dfd;
			e.name = f->self_name;
			e.path = f->path;
			e.fd = f->fd;
			e.dstfd = f->dfd;
			int lrc = w->leave ? w->leave(w, &e) : 0;
			frame_free(f);
			memset(f, 0, sizeof *f);
			depth--;
			if (lrc < 0) {
				rc = lrc;
				break;
			}
			continue;
		}
		char *name = f->names[f->i++];
		struct ws_wentry e = { 0 };
		e.dfd = f->fd;
		e.dst = f->dfd;
		e.name = name;
		e.depth = (int)depth + 1;
		e.fd = e.dstfd = -1;
		char *path = f->path ? join(f->path, name) : NULL;
		e.path = path;
		if (depth == 0 && w->skip_top && !strcmp(name, w->skip_top)) {
			free(path);
			free(name);
			continue;
		}
		if (fstatat(f->fd, name, &e.st, AT_SYMLINK_NOFOLLOW)) {
			if (w->notes && errno != ENOENT) {
				ws__note(w->notes, path ? path : name, 0, "not restored: cannot stat it: %s",
					 strerror(errno));
			} else if (!w->notes) {
				rc = sl_err_set(w->err, SL_EIO, "cannot stat %s: %s", path ? path : name,
						strerror(errno));
			}
			free(path);
			free(name);
			if (rc)
				break;
			continue;
		}
		int vrc = w->visit(w, &e);
		if (vrc < 0 || vrc != WS_W_DESCEND || !S_ISDIR(e.st.st_mode)) {
			free(path);
			free(name);
			if (vrc < 0) {
				rc = vrc;
				break;
			}
			continue;
		}
		int restore;
		int cfd = open_child(f->fd, name, &e.st, &restore);
		int cdfd = -1;
		if (cfd >= 0 && f->dfd >= 0) {
			cdfd = openat(f->dfd, name,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cdfd < 0) {
				int er = errno;
				close(cfd);
				cfd = -1;
				errno = er;
			}
		}
		char **names = NULL;
		size_t n = 0;
		if (cfd >= 0 && read_names(cfd, &names, &n)) {
			int er = errno;
			close(cfd);
			if (cdfd >= 0)
				close(cdfd);
			cfd = cdfd = -1;
			errno = er;
		}
		if (cfd < 0) {
			int er = errno;
			if (restore >= 0)
				fchmodat(f->fd, name, (mode_t)restore, 0);
			if (w->notes) {
				ws__note(w->notes, path ? path : name, 0,
					 "contents not restored: cannot open the directory: %s",
					 strerror(er));
				if (w->leave && f->dfd >= 0) {
					/* the copy's own directory still gets its mode */
					e.fd = e.dstfd = -1;
					w->leave(w, &e);
				}
			} else {
				rc = sl_err_set(w->err, SL_EIO, "cannot open directory %s: %s",
						path ? path : name, strerror(er));
			}
			free(path);
			free(name);
			if (rc)
				break;
			continue;
		}
		if (++depth == cap) {
			st = sl_xrealloc(st, (cap *= 2) * sizeof *st);
			memset(st + depth, 0, (cap - depth) * sizeof *st);
		}
		f = &st[depth - 1]; /* st may have moved */
		struct frame *c = &st[depth];
		memset(c, 0, sizeof *c);
		c->fd = cfd;
		c->dfd = cdfd;
		if (fstat(cfd, &s) == 0) {
			c->dev = s.st_dev;
			c->ino = s.st_ino;
		}
		if (cdfd >= 0 && fstat(cdfd, &s) == 0) {
			c->ddev = s.st_dev;
			c->dino = s.st_ino;
		}
		c->names = names;
		c->n = n;
		c->path = path;
		c->self = e;
		c->self.path = NULL;
		c->self.name = NULL;
		c->self_name = name;
		c->restore_mode = restore;
		/* keep the window: close the fds of the frame that fell out of it */
		if (depth >= WS_FD_WINDOW) {
			struct frame *old = &st[depth - WS_FD_WINDOW];
			if (old->fd >= 0) {
				close(old->fd);
				old->fd = -1;
			}
			if (old->dfd >= 0) {
				close(old->dfd);
				old->dfd = -1;
			}
		}
	}
out:
	while (1) {
		/* on an error: modes we opened up go back where we still can */
		if (st[depth].restore_mode >= 0 && st[depth].fd >= 0)
			fchmod(st[depth].fd, (mode_t)st[depth].restore_mode);
		frame_free(&st[depth]);
		if (depth == 0)
			break;
		depth--;
	}
	free(st);
	return rc;
}

void ws__modes_add(struct ws_modes *m, const char *path, unsigned mode)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->paths = sl_xrealloc(m->paths, m->cap * sizeof *m->paths);
		m->modes = sl_xrealloc(m->modes, m->cap * sizeof *m->modes);
	}
	m->paths[m->n] = sl_xstrdup(path);
	m->modes[m->n++] = mode;
}

void ws__modes_apply(int rootfd, struct ws_modes *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *base;
		int dfd = ws__open_parent(rootfd, m->paths[i], &base);
		if (dfd >= 0) {
			fchmodat(dfd, base, m->modes[i], 0);
			close(dfd);
		}
		free(m->paths[i]);
	}
	m->n = 0;
}

void ws__modes_free(struct ws_modes *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->paths[i]);
	free(m->paths);
	free(m->modes);
	memset(m, 0, sizeof *m);
}

/* openat2 beneath dirfd, no symlinks, one chunk of a path (< PATH_MAX). */
static int open_chunk(int dirfd, const char *p, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	int fd = (int)syscall(SYS_openat2, dirfd, p, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, p, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

int ws__open_rel(int rootfd, const char *path, int flags)
{
	size_t len = strlen(path);
	if (len < 2048)
		return open_chunk(rootfd, path, flags);
	int cur = -1;
	const char *p = path;
	while (strlen(p) >= 2048) {
		/* cut at a '/' below the limit: the prefix names directories */
		const char *cut = p + 2047;
		while (cut > p && *cut != '/')
			cut--;
		if (cut == p) {
			if (cur >= 0)
				close(cur);
			errno = ENAMETOOLONG;
			return -1;
		}
		char *pre = sl_xstrndup(p, (size_t)(cut - p));
		int next = open_chunk(cur >= 0 ? cur : rootfd, pre, O_RDONLY | O_DIRECTORY);
		int e = errno;
		free(pre);
		if (cur >= 0)
			close(cur);
		if (next < 0) {
			errno = e;
			return -1;
		}
		cur = next;
		p = cut + 1;
	}
	int fd = open_chunk(cur, p, flags);
	int e = errno;
	close(cur);
	errno = e;
	return fd;
}

int ws__open_parent(int rootfd, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!slash)
		return ws__reopen_dir(rootfd);
	char *dir = sl_xstrndup(path, (size_t)(slash - path));
	int fd = ws__open_rel(rootfd, dir, O_RDONLY | O_DIRECTORY);
	int e = errno;
	free(dir);
	errno = e;
	return fd;
}

int ws__open_read(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 || errno != EACCES || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return fd;
	if (fchmodat(dirfd, name, (st.st_mode & 07777) | 0400, 0))
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	int e = errno;
	fchmodat(dirfd, name, st.st_mode & 07777, 0);
	errno = e;
	return fd;
}

/* ---- removal: no depth cap, no paths kept ---- */

struct rm_state {
	dev_t dev;
	int failed;
};

static int rm_visit(struct ws_walker *w, const struct ws_wentry *e)
{
	struct rm_state *r = w->ud;
	if (!S_ISDIR(e->st.st_mode)) {
		if (unlinkat(e->dfd, e->name, 0) && errno != ENOENT)
			r->failed = 1;
		return 0;
	}
	/* never descend into another filesystem (a still-mounted image) */
	if (e->st.st_dev != r->dev) {
		r->failed = 1;
		return 0;
	}
	if ((e->st.st_mode & 0700) != 0700)
		fchmodat(e->dfd, e->name, 0700, 0);
	return WS_W_DESCEND;
}

static int rm_leave(struct ws_walker *w, const struct ws_wentry *e)
{
	struct rm_state *r = w->ud;
	if (unlinkat(e->dfd, e->name, AT_REMOVEDIR) && errno != ENOENT)
		r->failed = 1;
	return 0;
}

int ws__rm_at(int dirfd, const char *name)
{
	struct stat st, pst;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : SL_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) && errno != ENOENT ? SL_EIO : 0;
	if (fstat(dirfd, &pst) == 0 && pst.st_dev != st.st_dev)
		return SL_EDENIED;
	if ((st.st_mode & 0700) != 0700)
		fchmodat(dirfd, name, 0700, 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return SL_EIO;
	struct rm_state r = { st.st_dev, 0 };
	struct sl_err err = { 0 };
	struct ws_walker w = { .visit = rm_visit, .leave = rm_leave, .ud = &r, .no_paths = 1,
			       .err = &err };
	int rc = ws__walk(&w, fd, -1);
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
		r.failed = 1;
	return rc || r.failed ? SL_EIO : 0;
}

/* ---- inode map: hard links seen during one walk ---- */

void ws__imap_free(struct ws_imap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].path);
	free(m->v);
	memset(m, 0, sizeof *m);
}

static size_t ihash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

struct ws_ient *ws__imap_get(struct ws_imap *m, dev_t dev, ino_t ino, int *created)
{
	*created = 0;
	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct ws_ient *nv = sl_xcalloc(ncap, sizeof *nv);
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].used)
				continue;
			size_t j = ihash(m->v[i].dev, m->v[i].ino, ncap);
			while (nv[j].used)
				j = (j + 1) & (ncap - 1);
			nv[j] = m->v[i];
		}
		free(m->v);
		m->v = nv;
		m->cap = ncap;
	}
	size_t j = ihash(dev, ino, m->cap);
	while (m->v[j].used) {
		if (m->v[j].dev == dev && m->v[j].ino == ino)
			return &m->v[j];
		j = (j + 1) & (m->cap - 1);
	}
	m->v[j].used = 1;
	m->v[j].dev = dev;
	m->v[j].ino = ino;
	m->n++;
	*created = 1;
	return &m->v[j];
}
