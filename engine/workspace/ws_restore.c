/*
 * ws_restore.c: writing trees back at unlock and at lock rollback, always
 * through directory fds with O_NOFOLLOW, so nothing is ever written through
 * a symlink. An image restore recreates the scanned tree, renaming the
 * lock-time blob of each unchanged file back into place and copying the
 * rest (setuid/setgid stripped, FIFOs, sockets and devices left behind); the
 * directory strategy's tree is sanitised in place (same rules, plus hard
 * links broken); a rolled-back lock recreates what is missing from blobs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ws_int.h"

static char *join(const char *prefix, const char *name)
{
	return *prefix ? sl_xasprintf("%s/%s", prefix, name) : sl_xstrdup(name);
}

/* ---- copy out of an image (unlock) ---- */

struct out_walk {
	struct ws_list *cur;      /* filled when pre == NULL */
	struct ws_progress *pg;
	struct sl_err *err;
	const struct ws_list *pre; /* pass-1 scan of the source (sorted) or NULL */
	const struct ws_list *man; /* manifest (sorted) or NULL */
	int bfd;                   /* blobs directory, -1 when none */
	char **keep;               /* sorted shas the review still needs */
	size_t nkeep;
};

/* Makes sure dst/name is a fresh directory we can write into. */
static int ensure_dir(int dst, const char *name, const char *path, int *fresh,
		      struct sl_err *err)
{
	struct stat st;
	*fresh = 0;
	if (fstatat(dst, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				fchmod(fd, 0700);
				close(fd);
			}
			return 0;
		}
		if (ws__rm_at(dst, name))
			return sl_err_set(err, SL_EIO, "cannot replace %s", path);
	}
	if (mkdirat(dst, name, 0700)) {
		if (errno == EEXIST)
			return 0;
		return sl_err_set(err, SL_EIO, "cannot create directory %s: %s", path,
				  strerror(errno));
	}
	*fresh = 1;
	return 0;
}

static int clear_slot(int dst, const char *name, const char *path, struct sl_err *err)
{
	struct stat st;
	if (fstatat(dst, name, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	if (ws__rm_at(dst, name))
		return sl_err_set(err, SL_EIO, "cannot replace %s", path);
	return 0;
}

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

/* fresh: dst was just created by us, so nothing in it needs replacing */
static int copy_out(struct out_walk *w, int src, int dst, const char *prefix, int fresh)
{
	int fd2 = ws__reopen_dir(src);
	DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!dir) {
		if (fd2 >= 0)
			close(fd2);
		return sl_err_set(w->err, SL_EIO, "cannot read %s: %s", prefix, strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(dir))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (!*prefix && !strcmp(nm, "lost+found"))
			continue;
		char *path = join(prefix, nm);
		struct stat st;
		if (fstatat(src, nm, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = sl_err_set(w->err, SL_EIO, "cannot stat %s: %s", path,
					strerror(errno));
			free(path);
			break;
		}
		/* with a pass-1 scan nothing is recorded here */
		struct ws_node local = { 0 };
		struct ws_node *n = w->pre ? &local : ws__list_push(w->cur);
		n->path = path;
		n->mode = n->orig_mode = st.st_mode & 07777;
		if (S_ISDIR(st.st_mode)) {
			n->kind = WS_K_DIR;
			int sub_fresh = 0;
			rc = fresh ? (mkdirat(dst, nm, 0700) ? sl_err_set(w->err, SL_EIO,
									   "cannot create directory %s: %s",
									   path, strerror(errno))
							     : (sub_fresh = 1, 0))
				   : ensure_dir(dst, nm, path, &sub_fresh, w->err);
			if (rc)
				break;
			int s2 = openat(src, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d2 = openat(dst, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot open directory %s: %s",
						path, strerror(errno));
			} else {
				char *pcopy = sl_xstrdup(path);
				unsigned mode = n->mode;
				rc = copy_out(w, s2, d2, pcopy, sub_fresh);
				free(pcopy);
				if (!rc)
					fchmod(d2, mode);
			}
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
		} else if (S_ISLNK(st.st_mode)) {
			n->kind = WS_K_LINK;
			char t[4096];
			ssize_t k = readlinkat(src, nm, t, sizeof t - 1);
			if (k < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot read link %s", path);
				break;
			}
			t[k] = 0;
			if (!w->pre)
				n->target = sl_xstrdup(t);
			rc = fresh ? 0 : clear_slot(dst, nm, path, w->err);
			if (!rc && symlinkat(t, dst, nm))
				rc = sl_err_set(w->err, SL_EIO, "cannot create symlink %s: %s",
						path, strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			n->kind = WS_K_FILE;
			if (n->mode & 06000) {
				n->mode &= ~06000u;
				n->flags |= WS_F_SUID_STRIPPED;
			}
			rc = fresh ? 0 : clear_slot(dst, nm, path, w->err);
			if (rc)
				break;
			if (reuse_blob(w, path, dst, nm, n->mode)) {
				n->size = st.st_size;
			} else {
				int in = openat(src, nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				int out = openat(dst, nm,
						 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
						 0600);
				if (in < 0 || out < 0)
					rc = sl_err_set(w->err, SL_EIO, "cannot restore %s: %s", path,
							strerror(errno));
				else
					rc = ws__hash_copy(in, out, n->sha, &n->size, w->err);
				if (!rc && fchmod(out, n->mode))
					rc = sl_err_set(w->err, SL_EIO, "chmod %s: %s", path,
							strerror(errno));
				if (in >= 0)
					close(in);
				if (out >= 0 && close(out) && !rc)
					rc = sl_err_set(w->err, SL_EIO, "cannot write %s", path);
				if (rc)
					sl_err_prefix(w->err, "%s", path);
			}
			if (w->pg) {
				w->pg->files++;
				w->pg->bytes += (uint64_t)n->size;
				ws__progress(w->pg, 0);
			}
			if (w->pg && w->pg->files == 2)
				ws__fault_point();
		} else {
			/* FIFOs, sockets, devices stay behind and are listed */
			n->kind = WS_K_SPECIAL;
			n->flags |= WS_F_SPECIAL_SKIPPED;
		}
		if (w->pre)
			free(path);
	}
	closedir(dir);
	return rc;
}

int ws__copy_tree_out(int src_dir, int dst_dir, const char *prefix, struct ws_list *cur,
		      struct ws_progress *pg, struct sl_err *err)
{
	struct out_walk w = { cur, pg, err, NULL, NULL, -1, NULL, 0 };
	int rc = copy_out(&w, src_dir, dst_dir, prefix, 0);
	ws__progress(pg, 1);
	if (!rc)
		ws__list_sort(cur);
	return rc;
}

int ws__restore_image_tree(int src_dir, int dst_dir, const struct ws_list *pre,
			   const struct ws_list *man, const char *blobs, struct ws_progress *pg,
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
	struct out_walk w = { NULL, pg, err, pre, man, bfd, keep, nkeep };
	int rc = copy_out(&w, src_dir, dst_dir, "", 0);
	ws__progress(pg, 1);
	if (bfd >= 0)
		close(bfd);
	free(keep);
	return rc;
}

/* ---- directory strategy: hygiene after moving back ---- */

static int sanitize(struct out_walk *w, int dfd, const char *prefix)
{
	int fd2 = ws__reopen_dir(dfd);
	DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!dir) {
		if (fd2 >= 0)
			close(fd2);
		return sl_err_set(w->err, SL_EIO, "cannot read %s: %s", prefix, strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(dir))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		char *path = join(prefix, nm);
		struct stat st;
		if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW)) {
			free(path);
			continue;
		}
		struct ws_node *n = ws__list_push(w->cur);
		n->path = path;
		n->mode = n->orig_mode = st.st_mode & 07777;
		if (S_ISDIR(st.st_mode)) {
			n->kind = WS_K_DIR;
			int sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot open %s", path);
				break;
			}
			char *pcopy = sl_xstrdup(path);
			rc = sanitize(w, sub, pcopy);
			free(pcopy);
			close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			n->kind = WS_K_LINK;
			char t[4096];
			ssize_t k = readlinkat(dfd, nm, t, sizeof t - 1);
			t[k < 0 ? 0 : k] = 0;
			n->target = sl_xstrdup(t);
		} else if (S_ISREG(st.st_mode)) {
			n->kind = WS_K_FILE;
			int fd = openat(dfd, nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot open %s", path);
				break;
			}
			if (st.st_nlink > 1) {
				/* a hard link may share its inode with a file outside
				 * the workspace: give the workspace its own copy */
				char tmp[64];
				char id[13];
				sl_random_id(id);
				snprintf(tmp, sizeof tmp, ".silo-restore-%s", id);
				int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
						 0600);
				if (out < 0 || ws__hash_copy(fd, out, n->sha, &n->size, w->err) ||
				    renameat(dfd, tmp, dfd, nm)) {
					if (out >= 0) {
						close(out);
						unlinkat(dfd, tmp, 0);
					}
					close(fd);
					rc = sl_err_set(w->err, SL_EIO, "cannot break hard link %s",
							path);
					break;
				}
				close(fd);
				fd = out;
				n->flags |= WS_F_LINK_BROKEN;
			} else {
				rc = ws__hash_copy(fd, -1, n->sha, &n->size, w->err);
			}
			if (n->mode & 06000) {
				n->mode &= ~06000u;
				n->flags |= WS_F_SUID_STRIPPED;
			}
			if (fchmod(fd, n->mode) && !rc)
				rc = sl_err_set(w->err, SL_EIO, "chmod %s: %s", path,
						strerror(errno));
			close(fd);
			if (w->pg) {
				w->pg->files++;
				w->pg->bytes += (uint64_t)n->size;
				ws__progress(w->pg, 0);
			}
		} else {
			n->kind = WS_K_SPECIAL;
			n->flags |= WS_F_SPECIAL_SKIPPED;
			unlinkat(dfd, nm, 0);
		}
	}
	closedir(dir);
	return rc;
}

int ws__sanitize_walk(const char *root, struct ws_list *cur, struct ws_progress *pg,
		      struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct out_walk w = { .cur = cur, .pg = pg, .err = err, .bfd = -1 };
	int rc = sanitize(&w, fd, "");
	close(fd);
	ws__progress(pg, 1);
	if (!rc)
		ws__list_sort(cur);
	return rc;
}

/* ---- lock rollback: put back what the manifest lists ---- */

int ws__restore_manifest(const char *root, const char *blobs, const struct ws_list *m,
			 struct sl_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < m->n && !rc; i++) {
		const struct ws_node *n = &m->v[i];
		char *p = sl_xasprintf("%s/%s", root, n->path);
		struct stat st;
		if (lstat(p, &st) == 0) {
			free(p);
			continue;
		}
		if (n->kind == WS_K_DIR) {
			if (mkdir(p, 0700) && errno != EEXIST)
				rc = sl_err_set(err, SL_EIO, "cannot recreate %s: %s", p,
						strerror(errno));
		} else if (n->kind == WS_K_LINK) {
			if (symlink(n->target, p))
				rc = sl_err_set(err, SL_EIO, "cannot recreate %s: %s", p,
						strerror(errno));
		} else {
			char *b = sl_xasprintf("%s/%s", blobs, n->sha);
			char *tmp = sl_xasprintf("%s.silo-rollback", p);
			int in = open(b, O_RDONLY | O_CLOEXEC);
			int out = in < 0 ? -1
					 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
						0600);
			char sha[65];
			if (in < 0 || out < 0)
				rc = sl_err_set(err, SL_EIO, "cannot restore %s from %s: %s", p, b,
						strerror(errno));
			else
				rc = ws__hash_copy(in, out, sha, NULL, err);
			if (out >= 0) {
				if (!rc)
					fchmod(out, n->mode);
				if (close(out) && !rc)
					rc = SL_EIO;
			}
			if (in >= 0)
				close(in);
			if (!rc && rename(tmp, p))
				rc = sl_err_set(err, SL_EIO, "cannot restore %s: %s", p,
						strerror(errno));
			if (rc)
				unlink(tmp);
			free(b);
			free(tmp);
		}
		free(p);
	}
	/* directory modes last, deepest first, so contents could be written */
	for (size_t i = m->n; i-- > 0 && !rc;) {
		if (m->v[i].kind != WS_K_DIR)
			continue;
		char *p = sl_xasprintf("%s/%s", root, m->v[i].path);
		chmod(p, m->v[i].mode);
		free(p);
	}
	return rc;
}
