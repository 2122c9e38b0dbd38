/*
 * ws_snapshot.c: tree walks over directory fds that never follow symlinks.
 * The lock-time snapshot hashes every file (SHA-256, streamed) and can store
 * the bytes as content-addressed blobs; the manifest goes to SQLite in one
 * transaction. The same walker scans a mounted image at unlock (pass 1 of
 * the restore, ws_restore.c). Also the blob store, moving and removing
 * entries without following symlinks, and progress on a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ws_int.h"

#define BUFSZ (256 * 1024)

int ws__reopen_dir(int fd)
{
	return openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void ws__list_free(struct ws_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].target);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

struct ws_node *ws__list_push(struct ws_list *l)
{
	if (l->n == l->cap)
		l->v = sl_xrealloc(l->v, (l->cap = l->cap ? l->cap * 2 : 256) * sizeof *l->v);
	struct ws_node *n = &l->v[l->n++];
	memset(n, 0, sizeof *n);
	return n;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ws_node *)a)->path, ((const struct ws_node *)b)->path);
}

const struct ws_node *ws__list_find(const struct ws_list *l, const char *path)
{
	if (!l || !l->n)
		return NULL;
	struct ws_node key = { .path = (char *)path };
	return bsearch(&key, l->v, l->n, sizeof *l->v, node_cmp);
}

void ws__list_sort(struct ws_list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, node_cmp);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ws__progress(struct ws_progress *p, int final)
{
	if (!p || !p->tty)
		return;
	uint64_t now = mono_ms();
	if (!final && now - p->last_ms < 200)
		return;
	p->last_ms = now;
	if (final)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\r\033[K%s: %llu files, %.1f MiB", p->what,
			(unsigned long long)p->files, (double)p->bytes / (1024.0 * 1024.0));
	fflush(stderr);
}

static int utf8_ok(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2
			: (*s & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (n == 1 && *s < 0xc2))
			return 0;
		s++;
		for (int i = 0; i < n; i++, s++)
			if ((*s & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static __thread char *buf; /* per thread: hash_all runs several */

static void hash_buf_free(void)
{
	free(buf);
	buf = NULL;
}

int ws__hash_copy(int src, int dst, char sha[65], int64_t *size, struct sl_err *err)
{
	if (!buf)
		buf = sl_xmalloc(BUFSZ);
	mbedtls_sha256_context c;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	int64_t total = 0;
	for (;;) {
		ssize_t r = read(src, buf, BUFSZ);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			mbedtls_sha256_free(&c);
			return sl_err_set(err, SL_EIO, "read: %s", strerror(errno));
		}
		if (r == 0)
			break;
		mbedtls_sha256_update_ret(&c, (unsigned char *)buf, (size_t)r);
		if (dst >= 0 && write_all(dst, buf, (size_t)r)) {
			mbedtls_sha256_free(&c);
			return sl_err_set(err, SL_EIO, "write: %s", strerror(errno));
		}
		total += r;
	}
	unsigned char h[32];
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	sl_hex(h, sizeof h, sha);
	if (size)
		*size = total;
	return 0;
}

/* Copies fd into blobs/<sha> unless present: .incoming file, then rename. */
int ws__blob_put_fd(const char *blobs, int fd, const char *sha, struct sl_err *err)
{
	char *dst = sl_xasprintf("%s/%s", blobs, sha);
	struct stat st;
	int rc = 0;
	if (stat(dst, &st) == 0)
		goto out;
	char id[13];
	sl_random_id(id);
	char *tmp = sl_xasprintf("%s/.incoming-%s", blobs, id);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = sl_err_set(err, SL_EIO, "cannot create blob %s: %s", tmp, strerror(errno));
	} else {
		char got[65];
		if (lseek(fd, 0, SEEK_SET) < 0 || ws__hash_copy(fd, out, got, NULL, err))
			rc = err ? err->code : SL_EIO;
		if (close(out) && !rc)
			rc = sl_err_set(err, SL_EIO, "cannot write blob %s", tmp);
		if (!rc && rename(tmp, dst))
			rc = sl_err_set(err, SL_EIO, "cannot store blob %s: %s", dst,
					strerror(errno));
		if (rc)
			unlink(tmp);
	}
	free(tmp);
out:
	free(dst);
	return rc;
}

/* One pass: hash while copying into blobs/.incoming-*, then name it. */
static int blob_store(const char *blobs, int fd, char sha[65], int64_t *size, struct sl_err *err)
{
	char id[13];
	sl_random_id(id);
	char *tmp = sl_xasprintf("%s/.incoming-%s", blobs, id);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	int rc = 0;
	if (out < 0) {
		rc = sl_err_set(err, SL_EIO, "cannot create blob %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	rc = ws__hash_copy(fd, out, sha, size, err);
	if (close(out) && !rc)
		rc = sl_err_set(err, SL_EIO, "cannot write blob %s", tmp);
	if (!rc) {
		char *dst = sl_xasprintf("%s/%s", blobs, sha);
		struct stat st;
		if (stat(dst, &st) == 0)
			unlink(tmp); /* same content already stored */
		else if (rename(tmp, dst))
			rc = sl_err_set(err, SL_EIO, "cannot store blob %s: %s", dst, strerror(errno));
		free(dst);
	}
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

struct walk {
	const char *blobs;
	int strict;
	int skip_lost_found;
	struct ws_list *out;
	struct ws_progress *pg;
	struct sl_err *err;
};

static char *join(const char *prefix, const char *name)
{
	return *prefix ? sl_xasprintf("%s/%s", prefix, name) : sl_xstrdup(name);
}

static const char *special_name(mode_t m)
{
	return S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" : S_ISCHR(m) ? "character device"
		: S_ISBLK(m) ? "block device" : "special file";
}

static int walk_dir(struct walk *w, int dfd, const char *prefix)
{
	int fd2 = ws__reopen_dir(dfd);
	DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!dir) {
		if (fd2 >= 0)
			close(fd2);
		return sl_err_set(w->err, SL_EIO, "cannot read directory %s: %s",
				  *prefix ? prefix : ".", strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(dir))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (!*prefix && w->skip_lost_found && !strcmp(nm, "lost+found"))
			continue;
		char *path = join(prefix, nm);
		struct stat st;
		if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = sl_err_set(w->err, SL_EIO, "cannot stat %s: %s", path,
					strerror(errno));
			free(path);
			break;
		}
		if (w->strict && !utf8_ok((const unsigned char *)path)) {
			struct sl_buf b;
			sl_buf_init(&b);
			ws__escape_name(&b, path);
			rc = sl_err_set(w->err, SL_EINVAL, "file name is not UTF-8: %s", b.p);
			sl_buf_free(&b);
			free(path);
			break;
		}
		struct ws_node *n = ws__list_push(w->out);
		n->path = path;
		n->mode = n->orig_mode = st.st_mode & 07777;
		if (S_ISDIR(st.st_mode)) {
			n->kind = WS_K_DIR;
			int sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot open directory %s: %s",
						path, strerror(errno));
				break;
			}
			char *pcopy = sl_xstrdup(path); /* out may be reallocated */
			rc = walk_dir(w, sub, pcopy);
			free(pcopy);
			close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			n->kind = WS_K_LINK;
			size_t cap = (size_t)st.st_size + 2;
			if (cap < 64)
				cap = 64;
			char *t = sl_xmalloc(cap);
			ssize_t k = readlinkat(dfd, nm, t, cap - 1);
			if (k < 0) {
				free(t);
				rc = sl_err_set(w->err, SL_EIO, "cannot read link %s: %s", path,
						strerror(errno));
				break;
			}
			t[k] = 0;
			n->target = t;
		} else if (S_ISREG(st.st_mode)) {
			n->kind = WS_K_FILE;
			if (!w->blobs) {
				/* hashed afterwards by hash_all, on every core */
				n->size = st.st_size;
				continue;
			}
			int fd = openat(dfd, nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				rc = sl_err_set(w->err, SL_EIO, "cannot open %s: %s", path,
						strerror(errno));
				break;
			}
			rc = w->blobs ? blob_store(w->blobs, fd, n->sha, &n->size, w->err)
				      : ws__hash_copy(fd, -1, n->sha, &n->size, w->err);
			close(fd);
			if (rc) {
				sl_err_prefix(w->err, "%s", path);
				break;
			}
			if (w->pg) {
				w->pg->files++;
				w->pg->bytes += (uint64_t)n->size;
				ws__progress(w->pg, 0);
			}
		} else {
			if (w->strict) {
				rc = sl_err_set(w->err, SL_EINVAL,
						"unsupported file type (%s) at %s; remove it and "
						"lock again",
						special_name(st.st_mode), path);
				break;
			}
			n->kind = WS_K_SPECIAL;
		}
	}
	closedir(dir);
	return rc;
}

struct hash_job {
	int rootfd;
	struct ws_list *l;
	size_t next;          /* atomic */
	int failed;           /* atomic */
	struct ws_progress *pg;
	struct sl_err *err;
	pthread_mutex_t mu;
};

static int open_beneath(int rootfd, const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static void *hash_loop(struct hash_job *j);

static void *hash_worker(void *arg)
{
	hash_loop(arg);
	hash_buf_free();
	return NULL;
}

static void *hash_loop(struct hash_job *j)
{
	int lead = 0;
	for (;;) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i == 0)
			lead = 1; /* the thread that took the first item shows progress */
		if (i >= j->l->n || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
			break;
		struct ws_node *n = &j->l->v[i];
		if (n->kind != WS_K_FILE)
			continue;
		struct sl_err e = { 0 };
		int fd = open_beneath(j->rootfd, n->path);
		int rc = fd < 0 ? sl_err_set(&e, SL_EIO, "cannot open %s: %s", n->path,
					     strerror(errno))
				: ws__hash_copy(fd, -1, n->sha, &n->size, &e);
		if (fd >= 0)
			close(fd);
		if (rc) {
			pthread_mutex_lock(&j->mu);
			if (!__atomic_exchange_n(&j->failed, 1, __ATOMIC_RELAXED) && j->err)
				*j->err = e;
			pthread_mutex_unlock(&j->mu);
			break;
		}
		if (j->pg) {
			__atomic_fetch_add(&j->pg->files, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&j->pg->bytes, (uint64_t)n->size, __ATOMIC_RELAXED);
			if (lead)
				ws__progress(j->pg, 0);
		}
	}
	return NULL;
}

/* Hashes every file of l (paths relative to rootfd) on up to 4 threads:
 * SHA-256 is the lock's and the unlock's main CPU cost. */
static int hash_all(int rootfd, struct ws_list *l, struct ws_progress *pg, struct sl_err *err)
{
	struct hash_job j = { .rootfd = rootfd, .l = l, .pg = pg, .err = err };
	pthread_mutex_init(&j.mu, NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nt = cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
	pthread_t t[4];
	int started = 0;
	for (int i = 1; i < nt; i++)
		if (pthread_create(&t[started], NULL, hash_worker, &j) == 0)
			started++;
	hash_loop(&j);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j.mu);
	return j.failed ? (err && err->code ? err->code : SL_EIO) : 0;
}

int ws__snapshot(const char *root, const char *blobs, int strict, struct ws_list *out,
		 struct ws_progress *pg, struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct walk w = { blobs, strict, 0, out, pg, err };
	int rc = walk_dir(&w, fd, "");
	if (!rc && !blobs)
		rc = hash_all(fd, out, pg, err);
	close(fd);
	ws__progress(pg, 1);
	if (!rc)
		ws__list_sort(out);
	return rc;
}

int ws__manifest_save(struct ws_db *d, const char *id, const struct ws_list *l,
		      struct sl_err *err)
{
	if (ws__exec(d, "BEGIN IMMEDIATE", err))
		return err ? err->code : SL_EIO;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db,
			       "INSERT OR REPLACE INTO manifest(entry_id,path,kind,sha256,size,mode,"
			       "target) VALUES(?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK) {
		sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
		ws__exec(d, "ROLLBACK", NULL);
		return SL_EIO;
	}
	int rc = 0;
	for (size_t i = 0; i < l->n && !rc; i++) {
		const struct ws_node *n = &l->v[i];
		const char *kind = n->kind == WS_K_FILE ? "file" : n->kind == WS_K_LINK ? "symlink"
								     : "dir";
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, n->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
		if (n->kind == WS_K_FILE) {
			sqlite3_bind_text(st, 4, n->sha, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, n->size);
		} else {
			sqlite3_bind_null(st, 4);
			sqlite3_bind_null(st, 5);
		}
		if (n->kind == WS_K_LINK) {
			sqlite3_bind_null(st, 6);
			sqlite3_bind_text(st, 7, n->target, -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_int(st, 6, (int)n->mode);
			sqlite3_bind_null(st, 7);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	}
	sqlite3_finalize(st);
	if (rc) {
		ws__exec(d, "ROLLBACK", NULL);
		return rc;
	}
	return ws__exec(d, "COMMIT", err);
}

int ws__manifest_load(struct ws_db *d, const char *id, struct ws_list *l, struct sl_err *err)
{
	sqlite3_stmt *st;
	memset(l, 0, sizeof *l);
	if (sqlite3_prepare_v2(d->db,
			       "SELECT path,kind,sha256,size,mode,target FROM manifest WHERE "
			       "entry_id=? ORDER BY path",
			       -1, &st, NULL) != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = 0;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		struct ws_node *n = ws__list_push(l);
		n->path = sl_xstrdup((const char *)sqlite3_column_text(st, 0));
		const char *k = (const char *)sqlite3_column_text(st, 1);
		n->kind = !strcmp(k, "file") ? WS_K_FILE : !strcmp(k, "symlink") ? WS_K_LINK
										   : WS_K_DIR;
		const char *sha = (const char *)sqlite3_column_text(st, 2);
		n->size = sqlite3_column_int64(st, 3);
		n->mode = n->orig_mode = (unsigned)sqlite3_column_int(st, 4);
		const char *t = (const char *)sqlite3_column_text(st, 5);
		if (n->kind == WS_K_FILE && (!sha || strlen(sha) != 64))
			rc = sl_err_set(err, SL_EPARSE, "manifest of entry %s is damaged at %s", id,
					n->path);
		else if (sha)
			memcpy(n->sha, sha, 65);
		if (n->kind == WS_K_LINK && !t)
			rc = sl_err_set(err, SL_EPARSE, "manifest of entry %s is damaged at %s", id,
					n->path);
		n->target = t ? sl_xstrdup(t) : NULL;
	}
	sqlite3_finalize(st);
	if (rc)
		ws__list_free(l);
	return rc;
}

int ws__rename_at(int from, const char *name, int to)
{
	if (renameat(from, name, to, name) == 0)
		return 0;
	struct stat st;
	int e = errno;
	if (e != EACCES || fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
	    (st.st_mode & 0200)) {
		errno = e;
		return -1;
	}
	if (fchmodat(from, name, (st.st_mode & 07777) | 0200, 0))
		return -1;
	if (renameat(from, name, to, name)) {
		e = errno;
		fchmodat(from, name, st.st_mode & 07777, 0);
		errno = e;
		return -1;
	}
	fchmodat(to, name, st.st_mode & 07777, 0);
	return 0;
}

int ws__rm_at(int dirfd, const char *name)
{
	struct stat st, pst;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : SL_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) && errno != ENOENT ? SL_EIO : 0;
	/* never descend into another filesystem (a still-mounted image) */
	if (fstat(dirfd, &pst) == 0 && pst.st_dev != st.st_dev)
		return SL_EDENIED;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return SL_EIO;
	fchmod(fd, 0700);
	int fd2 = ws__reopen_dir(fd);
	DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
	int rc = 0;
	if (!d) {
		if (fd2 >= 0)
			close(fd2);
		close(fd);
		return SL_EIO;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && ws__rm_at(fd, de->d_name))
			rc = SL_EIO;
	closedir(d);
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
		rc = SL_EIO;
	return rc;
}

int ws__scan_image(const char *root, struct ws_list *out, struct ws_progress *pg,
		   struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct walk w = { NULL, 0, 1, out, pg, err };
	int rc = walk_dir(&w, fd, "");
	if (!rc)
		rc = hash_all(fd, out, pg, err);
	close(fd);
	ws__progress(pg, 1);
	if (!rc) {
		ws__list_sort(out);
		/* what restore will do: specials stay behind, setuid is stripped */
		for (size_t i = 0; i < out->n; i++) {
			struct ws_node *n = &out->v[i];
			if (n->kind == WS_K_SPECIAL)
				n->flags |= WS_F_SPECIAL_SKIPPED;
			if (n->kind == WS_K_FILE && (n->mode & 06000)) {
				n->mode &= ~06000u;
				n->flags |= WS_F_SUID_STRIPPED;
			}
		}
	}
	return rc;
}

