/*
 * File ops for silo-helper: read, write, edit, listdir (protocol.md C3,
 * tools.md 3.1-3.3). Each runs on a worker thread, blocks as long as the
 * file system does, and appends one response line. The error texts are part
 * of the contract (tool results quote them verbatim): `<what> <path>:
 * <strerror> (os error <n>)` with the path exactly as the engine sent it.
 *
 * Access control is the sandbox's job, not ours: a denied open is just an
 * EACCES here.
 */
#include "hp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctx {
	const struct hp_req *req;
	struct sl_buf *out;
};

static void fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ctx *c, const char *fmt, ...)
{
	struct sl_buf m;
	sl_buf_init(&m);
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	hp_out_err(c->out, c->req->id, m.p ? m.p : "");
	sl_buf_free(&m);
}

/* fail() with `<what> <path>: <os>`. */
static void fail_os(struct ctx *c, const char *what, const char *path, const char *after,
		    int e)
{
	char os[160];
	fail(c, "%s %s%s: %s", what, path, after, hp_os_err(e, os, sizeof os));
}

static int bad_path(struct ctx *c, const char *what, const char *after)
{
	const struct hp_str *p = &c->req->path;
	if (!memchr(p->p, 0, p->n))
		return 0;
	fail(c, "%s %s%s: file name contained an unexpected NUL byte", what, p->p, after);
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to max bytes (all when max == SIZE_MAX); -1 with errno. */
static int read_upto(int fd, struct sl_buf *b, size_t max)
{
	while (b->len < max) {
		size_t want = max - b->len;
		if (want > 1 << 20)
			want = 1 << 20;
		sl_buf_reserve(b, want);
		ssize_t r = read(fd, b->p + b->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		b->len += (size_t)r;
		b->p[b->len] = 0;
	}
	return 0;
}

static void op_read(struct ctx *c)
{
	const struct hp_req *r = c->req;
	const char *path = r->path.p;
	if (bad_path(c, "cannot open", ""))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_os(c, "cannot open", path, "", errno);
	if (r->offset > 0) {
		off_t o = r->offset > INT64_MAX ? -1 : (off_t)r->offset;
		if (o < 0 || lseek(fd, o, SEEK_SET) < 0) {
			int e = o < 0 ? EINVAL : errno;
			close(fd);
			return fail_os(c, "cannot seek in", path, "", e);
		}
	}
	size_t cap = HP_READ_CAP;
	if (r->has_limit && r->limit < cap)
		cap = (size_t)r->limit;
	struct sl_buf b;
	sl_buf_init(&b);
	/* One byte past the cap tells whether more remains. */
	if (read_upto(fd, &b, cap + 1) < 0) {
		int e = errno;
		close(fd);
		sl_buf_free(&b);
		return fail_os(c, "cannot read", path, "", e);
	}
	close(fd);
	int truncated = b.len > cap;
	hp_out_ok_begin(c->out, r->id, "file");
	sl_buf_adds(c->out, ",\"content_b64\":\"");
	jv_b64_encode(c->out, b.p, truncated ? cap : b.len);
	sl_buf_printf(c->out, "\",\"truncated\":%s", truncated ? "true" : "false");
	hp_out_ok_end(c->out);
	sl_buf_free(&b);
}

/* mkdir -p; returns 0 or an errno. */
static int mkdir_all(char *dir)
{
	if (mkdir(dir, 0777) == 0)
		return 0;
	int e = errno;
	struct stat st;
	if (e == EEXIST)
		return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : EEXIST;
	if (e != ENOENT)
		return e;
	char *slash = strrchr(dir, '/');
	while (slash && slash > dir && slash[-1] == '/')
		slash--;
	if (!slash || slash == dir)
		return e;
	*slash = 0;
	int pe = mkdir_all(dir);
	*slash = '/';
	if (pe)
		return pe;
	if (mkdir(dir, 0777) == 0)
		return 0;
	e = errno;
	if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return e;
}

/* The parent directory as Rust's Path::parent() sees it, or NULL when
 * there is nothing to create (bare name or root). */
static char *parent_dir(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && path[0] == '/'))
		return NULL;
	return sl_xstrndup(path, n);
}

static void op_write(struct ctx *c)
{
	const struct hp_req *r = c->req;
	const char *path = r->path.p;
	struct sl_buf data;
	struct sl_err err;
	sl_buf_init(&data);
	if (jv_b64_decode(&data, r->content_b64.p, r->content_b64.n, &err) < 0) {
		fail(c, "%s", err.msg);
		goto out;
	}
	if (bad_path(c, "cannot write", ""))
		goto out;
	char *dir = parent_dir(path);
	if (dir) {
		int e = mkdir_all(dir);
		if (e) {
			fail_os(c, "cannot create directory", dir, "", e);
			free(dir);
			goto out;
		}
		free(dir);
	}
	int fd;
	if (r->append) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (fd < 0) {
			fail_os(c, "cannot open", path, " for appending", errno);
			goto out;
		}
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			fail_os(c, "cannot write", path, "", errno);
			goto out;
		}
	}
	if (write_all(fd, data.p, data.len) < 0) {
		int e = errno;
		close(fd);
		fail_os(c, "cannot write", path, "", e);
		goto out;
	}
	if (close(fd) < 0 && errno != EINTR) {
		fail_os(c, "cannot write", path, "", errno);
		goto out;
	}
	hp_out_ok_begin(c->out, r->id, "written");
	sl_buf_printf(c->out, ",\"bytes\":%zu", data.len);
	hp_out_ok_end(c->out);
out:
	sl_buf_free(&data);
}

static void op_edit(struct ctx *c)
{
	const struct hp_req *r = c->req;
	const char *path = r->path.p;
	const struct hp_str *old = &r->old_s, *new = &r->new_s;
	struct sl_buf text, res;
	sl_buf_init(&text);
	sl_buf_init(&res);
	if (old->n == 0) {
		fail(c, "old string is empty");
		goto out;
	}
	if (bad_path(c, "cannot read", ""))
		goto out;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read_upto(fd, &text, SIZE_MAX) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		fail_os(c, "cannot read", path, "", e);
		goto out;
	}
	close(fd);
	const char *t = text.p ? text.p : "";
	if (!jv_utf8_valid(t, text.len)) {
		fail(c, "%s is not valid UTF-8 text", path);
		goto out;
	}
	size_t count = 0;
	for (const char *p = t, *end = t + text.len;;) {
		const char *m = memmem(p, (size_t)(end - p), old->p, old->n);
		if (!m)
			break;
		count++;
		p = m + old->n;
	}
	if (count == 0) {
		fail(c, "old string not found");
		goto out;
	}
	if (count > 1 && !r->replace_all) {
		fail(c, "old string matches %zu times; set replace_all to change every occurrence",
		     count);
		goto out;
	}
	for (const char *p = t, *end = t + text.len;;) {
		const char *m = memmem(p, (size_t)(end - p), old->p, old->n);
		if (!m) {
			sl_buf_add(&res, p, (size_t)(end - p));
			break;
		}
		sl_buf_add(&res, p, (size_t)(m - p));
		sl_buf_add(&res, new->p, new->n);
		p = m + old->n;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || write_all(fd, res.p ? res.p : "", res.len) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		fail_os(c, "cannot write", path, "", e);
		goto out;
	}
	close(fd);
	hp_out_ok_begin(c->out, r->id, "edited");
	sl_buf_printf(c->out, ",\"replacements\":%zu", count);
	hp_out_ok_end(c->out);
out:
	sl_buf_free(&text);
	sl_buf_free(&res);
}

struct ent {
	char *name;
	int is_dir;
	long long size;
};

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static void op_listdir(struct ctx *c)
{
	const struct hp_req *r = c->req;
	const char *path = r->path.p;
	if (bad_path(c, "cannot list", ""))
		return;
	DIR *d = opendir(path);
	if (!d)
		return fail_os(c, "cannot list", path, "", errno);
	struct ent *v = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = sl_xrealloc(v, cap * sizeof *v);
		}
		struct stat st;
		struct ent *e = &v[n++];
		e->name = sl_xstrdup(de->d_name);
		e->is_dir = 0;
		e->size = 0;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			e->is_dir = S_ISDIR(st.st_mode);
			e->size = (long long)st.st_size;
		}
	}
	int rerr = errno;
	closedir(d);
	if (rerr) {
		fail_os(c, "cannot list", path, "", rerr);
	} else {
		if (n)
			qsort(v, n, sizeof *v, ent_cmp);
		hp_out_ok_begin(c->out, r->id, "dir");
		sl_buf_adds(c->out, ",\"entries\":[");
		for (size_t i = 0; i < n; i++) {
			sl_buf_adds(c->out, i ? ",{\"name\":" : "{\"name\":");
			hp_out_str(c->out, v[i].name, strlen(v[i].name));
			sl_buf_printf(c->out, ",\"is_dir\":%s,\"size\":%lld}",
				      v[i].is_dir ? "true" : "false", v[i].size);
		}
		sl_buf_adds(c->out, "]");
		hp_out_ok_end(c->out);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void hp_fs_run(const struct hp_req *req, struct sl_buf *out)
{
	struct ctx c = { req, out };
	switch (req->op) {
	case HP_OP_READ:
		op_read(&c);
		break;
	case HP_OP_WRITE:
		op_write(&c);
		break;
	case HP_OP_EDIT:
		op_edit(&c);
		break;
	case HP_OP_LISTDIR:
		op_listdir(&c);
		break;
	default:
		hp_out_err(out, req->id, "unsupported op");
		break;
	}
}
