/*
 * ws_restore.c: writing trees back at unlock and at lock rollback, always
 * through directory fds with O_NOFOLLOW, so nothing is ever written through
 * a symlink, and with the walker of ws_walk.c, so no tree is too deep or
 * too wide to finish. An image restore recreates the scanned tree, renaming
 * the lock-time blob of each unchanged file back into place and copying the
 * rest hole-aware, hard links as links and within a byte budget (setuid and
 * setgid stripped, FIFOs, sockets and devices left behind); the directory
 * strategy's tree is sanitised in place (same rules; a hard link shared
 * with a file outside gets its own copy); a rolled-back lock recreates what
 * is missing from blobs. An entry that cannot be restored is a note in the
 * review, never the end of the unlock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ws_int.h"

/* ---- copy out of an image (unlock) or across filesystems ---- */

struct out_walk {
	struct ws_progress *pg;
	struct sl_err *err;
	struct ws_list *pre;       /* pass-1 scan of the source (sorted) or NULL */
	const struct ws_list *man; /* manifest (sorted) or NULL */
	int bfd;                   /* blobs directory, -1 when none */
	char **keep;               /* sorted shas the review still needs */
	size_t nkeep;
	int droot;                 /* destination root */
	struct ws_imap links;      /* source inode -> first restored path */
	uint64_t budget, written;  /* budget 0: unlimited */
	struct ws_notes *notes;    /* NULL: failures abort */
	struct ws_modes *defer;    /* closed directory modes, applied after the review */
	struct ws_notes *skipped;  /* without a scan: what is left behind */
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An unchanged file whose lock-time blob the review does not need: the
 * blob itself is renamed into place (no copy, no block freed). */
static int reuse_blob(struct out_walk *w, const char *path, int dst, const char *nm,
		      unsigned mode)
{
	if (w->bfd < 0 || !w->pre)
		return 0;
	const struct ws_node *p = ws__list_find(w->pre, path), *m = ws__list_find(w->man, path);
	if (!p || !m || m->kind != WS_K_FILE || p->kind != WS_K_FILE || strcmp(p->sha, m->sha))
		return 0;
	const char *sha = m->sha;
	if (w->nkeep && bsearch(&sha, w->keep, w->nkeep, sizeof *w->keep, str_cmp))
		return 0;
	if (renameat(w->bfd, sha, dst, nm))
		return 0; /* already used for another path, or another filesystem */
	fchmodat(dst, nm, mode, 0);
	return 1;
}

static void left_behind(struct out_walk *w, const char *path)
{
	struct ws_node *n = w->pre ? (struct ws_node *)ws__list_find(w->pre, path) : NULL;
	if (n)
		n->flags |= WS_F_NOT_RESTORED;
}

/* A failure on one entry: a note (it stays behind) or, without notes, the
 * end of the copy. */
static int entry_fail(struct out_walk *w, const char *path, const char *what, int e)
{
	if (!w->notes)
		return sl_err_set(w->err, SL_EIO, "cannot restore %s: %s: %s", path, what,
				  strerror(e));
	ws__note(w->notes, path, 0, "not restored: %s: %s", what, strerror(e));
	left_behind(w, path);
	return 0;
}

/* Makes room for dst/name: a leftover of an earlier attempt goes. */
static void clear_slot(int dst, const char *name)
{
	struct stat st;
	if (fstatat(dst, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		ws__rm_at(dst, name);
}

static int copy_file(struct out_walk *w, const struct ws_wentry *e, unsigned mode)
{
	const char *path = e->path;
	/* a second path of one inode becomes a link to the first one restored */
	if (e->st.st_nlink > 1) {
		int created;
		struct ws_ient *ie = ws__imap_get(&w->links, e->st.st_dev, e->st.st_ino, &created);
		if (!created && ie->path) {
			const char *base;
			int pfd = ws__open_parent(w->droot, ie->path, &base);
			int ok = pfd >= 0 && linkat(pfd, base, e->dst, e->name, 0) == 0;
			if (pfd >= 0)
				close(pfd);
			if (ok)
				return 0;
		} else if (created) {
			ie->path = sl_xstrdup(path);
		}
	}
	if (reuse_blob(w, path, e->dst, e->name, mode))
		return 0;
	uint64_t need = (uint64_t)e->st.st_blocks * 512;
	if (w->budget && w->written + need > w->budget) {
		char a[32], b[32];
		ws__fmt_size(a, need);
		ws__fmt_size(b, w->budget);
		if (!w->notes)
			return sl_err_set(w->err, SL_EIO, "restoring %s would pass %s", path, b);
		ws__note(w->notes, path, 1,
			 "not restored: its %s would take the restore past %s, the space the "
			 "image really used",
			 a, b);
		left_behind(w, path);
		return 0;
	}
	int in = ws__open_read(e->dfd, e->name);
	if (in < 0)
		return entry_fail(w, path, "cannot open it", errno);
	int out = openat(e->dst, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0600);
	if (out < 0) {
		int er = errno;
		close(in);
		return entry_fail(w, path, "cannot create it", er);
	}
	char sha[65];
	int64_t size = 0, wrote = 0;
	struct sl_err cerr = { 0 };
	int rc = ws__hash_copy(in, out, sha, &size, &wrote, &cerr);
	int er = errno;
	close(in);
	if (!rc && fchmod(out, mode))
		rc = SL_EIO;
	if (close(out) && !rc)
		rc = SL_EIO;
	w->written += (uint64_t)wrote;
	if (rc) {
		unlinkat(e->dst, e->name, 0);
		if (!w->notes)
			return sl_err_set(w->err, SL_EIO, "cannot restore %s: %s", path,
					  cerr.msg[0] ? cerr.msg : strerror(er));
		ws__note(w->notes, path, 0, "not restored: %s",
			 cerr.msg[0] ? cerr.msg : strerror(er));
		left_behind(w, path);
	}
	if (w->pg) {
		w->pg->files++;
		w->pg->bytes += (uint64_t)size;
		ws__progress(w->pg, 0);
		if (w->pg->files == 2)
			ws__fault_point();
	}
	return 0;
}

static int out_visit(struct ws_walker *ww, const struct ws_wentry *e)
{
	struct out_walk *w = ww->ud;
	const char *path = e->path;
	unsigned mode = e->st.st_mode & 07777;
	if (e->depth > WS_DEPTH_MAX) {
		/* the scan has noted it already when there was one */
		if (!w->pre)
			ws__note(w->notes ? w->notes : w->skipped, path, 1,
				 "nested deeper than %d directory levels: not restored", WS_DEPTH_MAX);
		return 0;
	}
	if (S_ISDIR(e->st.st_mode)) {
		if (mkdirat(e->dst, e->name, 0700)) {
			struct stat st;
			if (errno == EEXIST && fstatat(e->dst, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode)) {
				fchmodat(e->dst, e->name, 0700, 0);
			} else {
				clear_slot(e->dst, e->name);
				if (mkdirat(e->dst, e->name, 0700))
					return entry_fail(w, path, "cannot create the directory",
							  errno);
			}
		}
		return WS_W_DESCEND;
	}
	if (S_ISLNK(e->st.st_mode)) {
		size_t cap = (size_t)e->st.st_size + 2;
		char *t = sl_xmalloc(cap < 64 ? 64 : cap);
		ssize_t k = readlinkat(e->dfd, e->name, t, (cap < 64 ? 64 : cap) - 1);
		int rc = 0;
		if (k < 0) {
			rc = entry_fail(w, path, "cannot read the link", errno);
		} else {
			t[k] = 0;
			if (symlinkat(t, e->dst, e->name)) {
				int er = errno;
				if (er == EEXIST) {
					clear_slot(e->dst, e->name);
					er = symlinkat(t, e->dst, e->name) ? errno : 0;
				}
				if (er)
					rc = entry_fail(w, path, "cannot create the link", er);
			}
		}
		free(t);
		return rc;
	}
	if (S_ISREG(e->st.st_mode)) {
		clear_slot(e->dst, e->name);
		return copy_file(w, e, mode & ~06000u);
	}
	/* FIFOs, sockets, devices stay behind and are listed (by the scan, or
	 * here when there is none) */
	if (!w->pre)
		ws__note(w->skipped, path, 0, "special file, not restored");
	return 0;
}

static int out_leave(struct ws_walker *ww, const struct ws_wentry *e)
{
	struct out_walk *w = ww->ud;
	unsigned mode = e->st.st_mode & 07777;
	if (w->defer && (mode & 0700) != 0700 && e->path)
		ws__modes_add(w->defer, e->path, mode);
	else
		fchmodat(e->dst, e->name, mode, 0);
	return 0;
}

static int run_copy(struct out_walk *w, int src, int dst, const char *skip_top)
{
	w->droot = dst;
	/* the source's own modes never matter: it is an image or data/ */
	struct ws_modes src_modes = { 0 };
	struct ws_walker ww = { .visit = out_visit, .leave = out_leave, .ud = w,
				.notes = w->notes, .err = w->err, .skip_top = skip_top,
				.defer = &src_modes };
	int rc = ws__walk(&ww, src, dst);
	ws__modes_free(&src_modes);
	ws__imap_free(&w->links);
	ws__progress(w->pg, 1);
	return rc;
}

int ws__copy_tree_out(int src_dir, int dst_dir, const char *skip_top, struct ws_notes *notes,
		      struct ws_progress *pg, struct sl_err *err)
{
	struct out_walk w = { .pg = pg, .err = err, .bfd = -1, .skipped = notes };
	return run_copy(&w, src_dir, dst_dir, skip_top);
}

int ws__restore_image_tree(int src_dir, int dst_dir, struct ws_list *pre,
			   const struct ws_list *man, const char *blobs, uint64_t budget,
			   struct ws_notes *notes, struct ws_modes *defer, struct ws_progress *pg,
			   struct sl_err *err)
{
	/* shas of manifest files that are changed or gone: the review reads
	 * their blobs, so they are never moved */
	size_t nkeep = 0;
	char **keep = sl_xcalloc(man->n + 1, sizeof *keep);
	for (size_t i = 0; i < man->n; i++) {
		const struct ws_node *m = &man->v[i];
		if (m->kind != WS_K_FILE)
			continue;
		const struct ws_node *p = ws__list_find(pre, m->path);
		/* the same test as the review's: content, mode, stripped bits */
		if (!p || p->kind != WS_K_FILE || strcmp(p->sha, m->sha) || p->orig_mode != m->mode ||
		    (p->flags & WS_F_SUID_STRIPPED))
			keep[nkeep++] = (char *)m->sha;
	}
	qsort(keep, nkeep, sizeof *keep, str_cmp);
	int bfd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct out_walk w = { .pg = pg, .err = err, .pre = pre, .man = man, .bfd = bfd,
			      .keep = keep, .nkeep = nkeep, .budget = budget, .notes = notes,
			      .defer = defer };
	int rc = run_copy(&w, src_dir, dst_dir, NULL);
	if (bfd >= 0)
		close(bfd);
	free(keep);
	return rc;
}

/* ---- directory strategy: hygiene after moving back ---- */

struct san {
	struct ws_list *cur;
	struct ws_notes *notes;
	struct ws_progress *pg;
};

static int san_visit(struct ws_walker *w, const struct ws_wentry *e)
{
	struct san *s = w->ud;
	if (e->depth > WS_DEPTH_MAX) {
		/* it cannot be checked, so it does not stay */
		int rc = ws__rm_at(e->dfd, e->name);
		ws__note(s->notes, e->path, 1, "nested deeper than %d directory levels: %s",
			 WS_DEPTH_MAX, rc ? "could not be removed completely" : "removed");
		return 0;
	}
	const struct stat *st = &e->st;
	struct ws_node *n = ws__list_push(s->cur);
	n->path = sl_xstrdup(e->path);
	n->mode = n->orig_mode = st->st_mode & 07777;
	if (S_ISDIR(st->st_mode)) {
		n->kind = WS_K_DIR;
		return WS_W_DESCEND;
	}
	if (S_ISLNK(st->st_mode)) {
		n->kind = WS_K_LINK;
		size_t cap = (size_t)st->st_size + 2 < 64 ? 64 : (size_t)st->st_size + 2;
		char *t = sl_xmalloc(cap);
		ssize_t k = readlinkat(e->dfd, e->name, t, cap - 1);
		t[k < 0 ? 0 : k] = 0;
		n->target = t;
		return 0;
	}
	if (!S_ISREG(st->st_mode)) {
		n->kind = WS_K_SPECIAL;
		n->flags |= WS_F_SPECIAL_SKIPPED;
		if (unlinkat(e->dfd, e->name, 0) && errno != ENOENT)
			ws__note(s->notes, e->path, 1, "special file that could not be removed: %s",
				 strerror(errno));
		return 0;
	}
	n->kind = WS_K_FILE;
	n->size = st->st_size;
	n->alloc = (int64_t)st->st_blocks * 512;
	n->ino = st->st_ino;
	n->nlink = (unsigned)st->st_nlink;
	if (n->mode & 06000) {
		n->mode &= ~06000u;
		n->flags |= WS_F_SUID_STRIPPED;
		/* through an fd of the regular file itself: never a path */
		int fd = openat(e->dfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchmod(fd, n->mode)) {
			if (fd >= 0)
				close(fd);
			if (unlinkat(e->dfd, e->name, 0) == 0)
				ws__note(s->notes, e->path, 1,
					 "setuid/setgid file whose bit could not be stripped: removed");
			n->flags |= WS_F_NOT_RESTORED;
			return 0;
		}
		close(fd);
	}
	return 0;
}

static int node_ino_cmp(const void *a, const void *b)
{
	const struct ws_node *x = *(const struct ws_node *const *)a, *y = *(const struct ws_node *const *)b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Replaces root/path by a fresh inode with the same content. */
static int own_copy(int rootfd, const struct ws_node *n, struct sl_err *err)
{
	const char *base;
	int dfd = ws__open_parent(rootfd, n->path, &base);
	if (dfd < 0)
		return sl_err_set(err, SL_EIO, "cannot open the directory of %s: %s", n->path,
				  strerror(errno));
	char tmp[64], id[13];
	sl_random_id(id);
	snprintf(tmp, sizeof tmp, ".silo-restore-%s", id);
	int in = ws__open_read(dfd, base);
	int out = in < 0 ? -1 : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	char sha[65];
	int rc = in < 0 || out < 0 ? sl_err_set(err, SL_EIO, "%s: %s", n->path, strerror(errno))
				   : ws__hash_copy(in, out, sha, NULL, NULL, err);
	if (!rc && fchmod(out, n->mode))
		rc = sl_err_set(err, SL_EIO, "chmod %s: %s", n->path, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !rc)
		rc = sl_err_set(err, SL_EIO, "cannot write %s", n->path);
	if (!rc && renameat(dfd, tmp, dfd, base))
		rc = sl_err_set(err, SL_EIO, "cannot replace %s: %s", n->path, strerror(errno));
	if (rc)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc;
}

/* Makes root/path a link to root/first (both inside the workspace). */
static int relink(int rootfd, const char *first, const char *path)
{
	const char *b1, *b2;
	int d1 = ws__open_parent(rootfd, first, &b1), d2 = ws__open_parent(rootfd, path, &b2);
	char tmp[64], id[13];
	sl_random_id(id);
	snprintf(tmp, sizeof tmp, ".silo-restore-%s", id);
	int rc = d1 < 0 || d2 < 0 || linkat(d1, b1, d2, tmp, 0) || renameat(d2, tmp, d2, b2) ? -1 : 0;
	if (rc && d2 >= 0)
		unlinkat(d2, tmp, 0);
	if (d1 >= 0)
		close(d1);
	if (d2 >= 0)
		close(d2);
	return rc;
}

/* Hard links: when every link of an inode is inside the workspace they stay
 * links; when one is elsewhere (a link the agent made to a file outside),
 * the first path gets its own copy and the others are linked to it, so one
 * copy per inode, never one per link. */
static void fix_links(int rootfd, struct ws_list *cur, struct ws_notes *notes)
{
	size_t k = 0;
	struct ws_node **v = sl_xcalloc(cur->n + 1, sizeof *v);
	for (size_t i = 0; i < cur->n; i++)
		if (cur->v[i].kind == WS_K_FILE && cur->v[i].nlink > 1 &&
		    !(cur->v[i].flags & WS_F_NOT_RESTORED))
			v[k++] = &cur->v[i];
	qsort(v, k, sizeof *v, node_ino_cmp);
	for (size_t i = 0; i < k;) {
		size_t j = i;
		while (j < k && v[j]->ino == v[i]->ino)
			j++;
		if (j - i < v[i]->nlink) {
			struct sl_err e = { 0 };
			if (own_copy(rootfd, v[i], &e)) {
				ws__note(notes, v[i]->path, 1,
					 "hard link to a file outside the workspace that could not "
					 "be copied (%s): removed",
					 e.msg);
				const char *base;
				int dfd = ws__open_parent(rootfd, v[i]->path, &base);
				if (dfd >= 0) {
					unlinkat(dfd, base, 0);
					close(dfd);
				}
				v[i]->flags |= WS_F_NOT_RESTORED;
			} else {
				v[i]->flags |= WS_F_LINK_BROKEN;
			}
			for (size_t m = i + 1; m < j; m++) {
				if (v[i]->flags & WS_F_NOT_RESTORED || relink(rootfd, v[i]->path,
									       v[m]->path)) {
					const char *base;
					int dfd = ws__open_parent(rootfd, v[m]->path, &base);
					if (dfd >= 0) {
						unlinkat(dfd, base, 0);
						close(dfd);
					}
					v[m]->flags |= WS_F_NOT_RESTORED;
					ws__note(notes, v[m]->path, 1,
						 "hard link to a file outside the workspace: removed");
				} else {
					v[m]->flags |= WS_F_LINK_BROKEN;
				}
			}
		}
		i = j;
	}
	free(v);
}

int ws__sanitize_walk(const char *root, struct ws_list *cur, struct ws_notes *notes,
		      struct ws_modes *defer, struct ws_progress *pg, struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct san s = { cur, notes, pg };
	struct ws_walker w = { .visit = san_visit, .ud = &s, .notes = notes, .err = err,
			       .defer = defer };
	int rc = ws__walk(&w, fd, -1);
	if (!rc) {
		fix_links(fd, cur, notes);
		ws__list_drop_unrestored(cur);
		rc = ws__hash_all(fd, cur, pg, err);
	}
	close(fd);
	ws__progress(pg, 1);
	if (!rc)
		ws__list_sort(cur);
	return rc;
}

/* ---- lock rollback: put back what the manifest lists ---- */

static int put_back(int rootfd, const char *blobs, const struct ws_node *n, struct sl_err *err)
{
	const char *base;
	int dfd = ws__open_parent(rootfd, n->path, &base);
	if (dfd < 0)
		return sl_err_set(err, SL_EIO, "cannot open the directory of %s: %s", n->path,
				  strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		close(dfd);
		return 0;
	}
	if (n->kind == WS_K_DIR) {
		if (mkdirat(dfd, base, 0700) && errno != EEXIST)
			rc = sl_err_set(err, SL_EIO, "cannot recreate %s: %s", n->path,
					strerror(errno));
	} else if (n->kind == WS_K_LINK) {
		if (symlinkat(n->target, dfd, base))
			rc = sl_err_set(err, SL_EIO, "cannot recreate %s: %s", n->path,
					strerror(errno));
	} else {
		char *b = sl_xasprintf("%s/%s", blobs, n->sha);
		char tmp[64], id[13];
		sl_random_id(id);
		snprintf(tmp, sizeof tmp, ".silo-rollback-%s", id);
		int in = open(b, O_RDONLY | O_CLOEXEC);
		int out = in < 0 ? -1
				 : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					  0600);
		char sha[65];
		if (in < 0 || out < 0)
			rc = sl_err_set(err, SL_EIO, "cannot restore %s from %s: %s", n->path, b,
					strerror(errno));
		else
			rc = ws__hash_copy(in, out, sha, NULL, NULL, err);
		if (out >= 0) {
			if (!rc)
				fchmod(out, n->mode);
			if (close(out) && !rc)
				rc = SL_EIO;
		}
		if (in >= 0)
			close(in);
		if (!rc && renameat(dfd, tmp, dfd, base))
			rc = sl_err_set(err, SL_EIO, "cannot restore %s: %s", n->path,
					strerror(errno));
		if (rc)
			unlinkat(dfd, tmp, 0);
		free(b);
	}
	close(dfd);
	return rc;
}

int ws__restore_manifest(const char *root, const char *blobs, const struct ws_list *m,
			 struct sl_err *err)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	int rc = 0;
	for (size_t i = 0; i < m->n && !rc; i++)
		rc = put_back(rootfd, blobs, &m->v[i], err);
	/* directory modes last, deepest first, so contents could be written */
	for (size_t i = m->n; i-- > 0 && !rc;) {
		if (m->v[i].kind != WS_K_DIR)
			continue;
		const char *base;
		int dfd = ws__open_parent(rootfd, m->v[i].path, &base);
		if (dfd >= 0) {
			fchmodat(dfd, base, m->v[i].mode, 0);
			close(dfd);
		}
	}
	close(rootfd);
	return rc;
}
