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

/* Drops the entries marked WS_F_NOT_RESTORED: they are not in the tree, so
 * neither hashing nor the review may list them as there. */
void ws__list_drop_unrestored(struct ws_list *l)
{
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].flags & WS_F_NOT_RESTORED) {
			free(l->v[i].path);
			free(l->v[i].target);
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
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

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		off += w;
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

#define HBLK (64 * 1024)

static int all_zero(const char *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	size_t k = n / 8;
	for (size_t i = 0; i < k; i++)
		if (w[i])
			return 0;
	for (size_t i = k * 8; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* One framed item of the digest stream: tag, 64-bit length, bytes for 'D'. */
static void feed(mbedtls_sha256_context *c, char tag, uint64_t len, const char *data)
{
	unsigned char h[9];
	h[0] = (unsigned char)tag;
	for (int i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)(len >> (8 * i));
	mbedtls_sha256_update_ret(c, h, sizeof h);
	if (data)
		mbedtls_sha256_update_ret(c, (const unsigned char *)data, (size_t)len);
}

int ws__hash_copy(int src, int dst, char sha[65], int64_t *size, int64_t *written,
		  struct sl_err *err)
{
	if (!buf)
		buf = sl_xmalloc(HBLK);
	struct stat st;
	if (fstat(src, &st))
		return sl_err_set(err, SL_EIO, "stat: %s", strerror(errno));
	off_t total = st.st_size, off = 0, next_data = 0;
	int seek_ok = 1;
	uint64_t zrun = 0;
	int64_t wrote = 0;
	mbedtls_sha256_context c;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	int rc = 0;
	while (off < total) {
		size_t n = total - off < HBLK ? (size_t)(total - off) : HBLK;
		if (seek_ok && next_data < off) {
			next_data = lseek(src, off, SEEK_DATA);
			if (next_data < 0) {
				if (errno == ENXIO) {
					next_data = total;
				} else {
					seek_ok = 0;
					next_data = off;
				}
			}
		}
		if (seek_ok && next_data >= off + (off_t)n) {
			/* whole blocks of hole: counted, never read */
			off_t end = next_data < total ? next_data : total;
			off_t skip = (end - off) / HBLK * HBLK;
			if (!skip)
				skip = (off_t)n;
			zrun += (uint64_t)skip;
			off += skip;
			continue;
		}
		ssize_t r = pread(src, buf, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = sl_err_set(err, SL_EIO, "read: %s", strerror(errno));
			break;
		}
		if (r == 0)
			break; /* shrank while we read: hash what is there */
		if (all_zero(buf, (size_t)r)) {
			zrun += (uint64_t)r;
		} else {
			if (zrun)
				feed(&c, 'Z', zrun, NULL);
			zrun = 0;
			feed(&c, 'D', (uint64_t)r, buf);
			if (dst >= 0 && pwrite_all(dst, buf, (size_t)r, off)) {
				rc = sl_err_set(err, SL_EIO, "write: %s", strerror(errno));
				break;
			}
			wrote += r;
		}
		off += r;
	}
	if (!rc && zrun)
		feed(&c, 'Z', zrun, NULL);
	if (!rc && dst >= 0 && ftruncate(dst, off))
		rc = sl_err_set(err, SL_EIO, "write: %s", strerror(errno));
	unsigned char h[32];
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (rc)
		return rc;
	sl_hex(h, sizeof h, sha);
	if (size)
		*size = off;
	if (written)
		*written = wrote;
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
		if (ws__hash_copy(fd, out, got, NULL, NULL, err))
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
	rc = ws__hash_copy(fd, out, sha, size, NULL, err);
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

struct snap {
	const char *blobs;
	int strict;
	struct ws_list *out;
	struct ws_progress *pg;
	struct sl_err *err;
};

static const char *special_name(mode_t m)
{
	return S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" : S_ISCHR(m) ? "character device"
		: S_ISBLK(m) ? "block device" : "special file";
}

static int snap_visit(struct ws_walker *w, const struct ws_wentry *e)
{
	struct snap *s = w->ud;
	if (e->depth > WS_DEPTH_MAX) {
		if (s->strict)
			return sl_err_set(s->err, SL_EINVAL,
					  "%.200s... is nested deeper than %d directory levels; silo "
					  "does not lock such a tree",
					  e->path, WS_DEPTH_MAX);
		ws__note(w->notes, e->path, 1, "nested deeper than %d directory levels: not restored",
			 WS_DEPTH_MAX);
		return 0;
	}
	if (s->strict && !utf8_ok((const unsigned char *)e->path)) {
		struct sl_buf b;
		sl_buf_init(&b);
		ws__escape_name(&b, e->path);
		int rc = sl_err_set(s->err, SL_EINVAL, "file name is not UTF-8: %s", b.p);
		sl_buf_free(&b);
		return rc;
	}
	const struct stat *st = &e->st;
	if (!S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode) && !S_ISREG(st->st_mode) && s->strict)
		return sl_err_set(s->err, SL_EINVAL,
				  "unsupported file type (%s) at %s; remove it and lock again",
				  special_name(st->st_mode), e->path);
	struct ws_node *n = ws__list_push(s->out);
	n->path = sl_xstrdup(e->path);
	n->mode = n->orig_mode = st->st_mode & 07777;
	if (S_ISDIR(st->st_mode)) {
		n->kind = WS_K_DIR;
		return WS_W_DESCEND;
	}
	if (S_ISLNK(st->st_mode)) {
		n->kind = WS_K_LINK;
		size_t cap = (size_t)st->st_size + 2;
		if (cap < 64)
			cap = 64;
		char *t = sl_xmalloc(cap);
		ssize_t k = readlinkat(e->dfd, e->name, t, cap - 1);
		if (k < 0) {
			free(t);
			s->out->n--;
			free(n->path);
			if (w->notes) {
				ws__note(w->notes, e->path, 0, "not restored: cannot read the link: %s",
					 strerror(errno));
				return 0;
			}
			return sl_err_set(s->err, SL_EIO, "cannot read link %s: %s", e->path,
					  strerror(errno));
		}
		t[k] = 0;
		n->target = t;
		return 0;
	}
	if (!S_ISREG(st->st_mode)) {
		n->kind = WS_K_SPECIAL;
		return 0;
	}
	n->kind = WS_K_FILE;
	n->size = st->st_size;
	n->alloc = (int64_t)st->st_blocks * 512;
	n->ino = st->st_ino;
	n->nlink = (unsigned)st->st_nlink;
	if (!s->blobs)
		return 0; /* hashed afterwards by hash_all, on every core */
	int fd = ws__open_read(e->dfd, e->name);
	if (fd < 0)
		return sl_err_set(s->err, SL_EIO, "cannot open %s: %s", e->path, strerror(errno));
	int rc = blob_store(s->blobs, fd, n->sha, &n->size, s->err);
	close(fd);
	if (rc) {
		sl_err_prefix(s->err, "%s", e->path);
		return rc;
	}
	if (s->pg) {
		s->pg->files++;
		s->pg->bytes += (uint64_t)n->size;
		ws__progress(s->pg, 0);
	}
	return 0;
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

static void *hash_loop(struct hash_job *j);

static void *hash_worker(void *arg)
{
	hash_loop(arg);
	hash_buf_free();
	return NULL;
}

static int open_node(int rootfd, const char *path)
{
	const char *base;
	int dfd = ws__open_parent(rootfd, path, &base);
	if (dfd < 0)
		return -1;
	int fd = ws__open_read(dfd, base);
	int e = errno;
	close(dfd);
	errno = e;
	return fd;
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
		if (n->kind != WS_K_FILE || n->link_of || (n->flags & WS_F_NOT_RESTORED))
			continue;
		struct sl_err e = { 0 };
		int fd = open_node(j->rootfd, n->path);
		int rc = fd < 0 ? sl_err_set(&e, SL_EIO, "cannot open %s: %s", n->path,
					     strerror(errno))
				: ws__hash_copy(fd, -1, n->sha, &n->size, NULL, &e);
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

/* Every path of a hard-linked inode but the first points at the first: one
 * read per inode (a file with 20 links is hashed once). */
static void mark_links(struct ws_list *l)
{
	struct ws_imap m = { 0 };
	for (size_t i = 0; i < l->n; i++) {
		struct ws_node *n = &l->v[i];
		if (n->kind != WS_K_FILE || n->nlink < 2)
			continue;
		int created;
		struct ws_ient *ie = ws__imap_get(&m, 0, (ino_t)n->ino, &created);
		if (created)
			ie->idx = i;
		else
			n->link_of = ie->idx + 1;
		ie->count++;
	}
	ws__imap_free(&m);
}

int ws__hash_all(int rootfd, struct ws_list *l, struct ws_progress *pg, struct sl_err *err)
{
	mark_links(l);
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
	if (j.failed)
		return err && err->code ? err->code : SL_EIO;
	for (size_t i = 0; i < l->n; i++) {
		struct ws_node *n = &l->v[i];
		if (n->link_of) {
			memcpy(n->sha, l->v[n->link_of - 1].sha, sizeof n->sha);
			n->size = l->v[n->link_of - 1].size;
		}
	}
	for (size_t i = 0; i < l->n; i++)
		l->v[i].link_of = 0; /* indexes die with the next sort */
	return 0;
}

int ws__snapshot(const char *root, const char *blobs, int strict, struct ws_list *out,
		 struct ws_progress *pg, struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct snap s = { blobs, strict, out, pg, err };
	struct ws_modes opened = { 0 };
	struct ws_walker w = { .visit = snap_visit, .ud = &s, .err = err, .defer = &opened };
	int rc = ws__walk(&w, fd, -1);
	if (!rc && !blobs)
		rc = ws__hash_all(fd, out, pg, err);
	ws__modes_apply(fd, &opened);
	ws__modes_free(&opened);
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

int ws__scan_image(const char *root, struct ws_list *out, struct ws_notes *notes,
		   struct ws_progress *pg, struct sl_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	struct snap s = { NULL, 0, out, pg, err };
	/* directories opened up stay open in the image: hashing needs them */
	struct ws_modes opened = { 0 };
	struct ws_walker w = { .visit = snap_visit, .ud = &s, .notes = notes, .err = err,
			       .defer = &opened };
	int rc = ws__walk(&w, fd, -1);
	ws__modes_free(&opened);
	if (!rc)
		rc = ws__hash_all(fd, out, pg, err);
	close(fd);
	ws__progress(pg, 1);
	if (rc)
		return rc;
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
	ws__list_sort(out);
	return 0;
}
