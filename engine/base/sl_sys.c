/* Logging, randomness, hashing and filesystem helpers shared by the engine. */
#include "sl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	enum sl_level deflt;
	int n;
	char mod[16][32];
	enum sl_level lv[16];
} logcfg = { .deflt = SL_LOG_WARN };

static int parse_level(const char *s, size_t n, enum sl_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug", "trace" };
	for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
		if (strlen(names[i]) == n && !strncmp(s, names[i], n)) {
			*out = (enum sl_level)i;
			return 0;
		}
	return -1;
}

void sl_log_init(const char *spec)
{
	logcfg.deflt = SL_LOG_WARN;
	logcfg.n = 0;
	if (!spec)
		return;
	while (*spec) {
		size_t n = strcspn(spec, ",");
		const char *eq = memchr(spec, '=', n);
		enum sl_level lv;
		if (!eq) {
			if (!parse_level(spec, n, &lv))
				logcfg.deflt = lv;
		} else if (logcfg.n < 16 && (size_t)(eq - spec) < 32 &&
			   !parse_level(eq + 1, n - (size_t)(eq - spec) - 1, &lv)) {
			memcpy(logcfg.mod[logcfg.n], spec, (size_t)(eq - spec));
			logcfg.mod[logcfg.n][eq - spec] = 0;
			logcfg.lv[logcfg.n++] = lv;
		}
		spec += n;
		if (*spec == ',')
			spec++;
	}
}

int sl_log_enabled(const char *module, enum sl_level lv)
{
	for (int i = 0; i < logcfg.n; i++)
		if (!strcmp(logcfg.mod[i], module))
			return lv <= logcfg.lv[i];
	return lv <= logcfg.deflt;
}

void sl_log(const char *module, enum sl_level lv, const char *fmt, ...)
{
	static const char *tags[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
	if (!sl_log_enabled(module, lv))
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s: %s\n", tags[lv], module, line);
}

int sl_random(void *out, size_t n)
{
	unsigned char *p = out;
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return SL_EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void sl_hex(const void *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[s[i] >> 4];
		out[2 * i + 1] = d[s[i] & 15];
	}
	out[2 * n] = 0;
}

void sl_random_id(char out[13])
{
	unsigned char r[6];
	if (sl_random(r, sizeof r)) {
		fputs("silo: getrandom failed\n", stderr);
		abort();
	}
	sl_hex(r, sizeof r, out);
}

void sl_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char h[32];
	mbedtls_sha256_ret(p, n, h, 0);
	sl_hex(h, sizeof h, out);
}

int sl_mkdir_p(const char *path, unsigned mode, struct sl_err *err)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof tmp)
		return sl_err_set(err, SL_EINVAL, "path too long: %s", path);
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST)
			return sl_err_set(err, SL_EIO, "cannot create directory %s: %s", tmp,
					  strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return sl_err_set(err, SL_EIO, "cannot create directory %s: %s", tmp,
				  strerror(errno));
	return 0;
}

int sl_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : SL_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) ? SL_EIO : 0;
	DIR *d = opendir(path);
	if (!d)
		return SL_EIO;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = sl_xasprintf("%s/%s", path, de->d_name);
		if (sl_rm_rf(sub))
			rc = SL_EIO;
		free(sub);
	}
	closedir(d);
	if (rmdir(path))
		rc = SL_EIO;
	return rc;
}

char *sl_read_file(const char *path, size_t *len, size_t max, struct sl_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sl_err_set(err, SL_EIO, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_reserve(&b, 4096);
	for (;;) {
		sl_buf_reserve(&b, 65536);
		ssize_t r = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sl_err_set(err, SL_EIO, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			sl_buf_free(&b);
			return NULL;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		b.p[b.len] = 0;
		if (max && b.len > max) {
			sl_err_set(err, SL_ELIMIT, "%s: larger than %zu bytes", path, max);
			close(fd);
			sl_buf_free(&b);
			return NULL;
		}
	}
	close(fd);
	b.p[b.len] = 0; /* an empty file never went through the add path */
	if (len)
		*len = b.len;
	return sl_buf_steal(&b);
}

int sl_write_file(const char *path, const void *p, size_t n, unsigned mode,
		  struct sl_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", path, strerror(errno));
	const char *s = p;
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			return sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(e));
		}
		s += w;
		n -= (size_t)w;
	}
	if (close(fd))
		return sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

char *sl_canon_lenient(const char *path)
{
	char buf[PATH_MAX];
	if (realpath(path, buf))
		return sl_xstrdup(buf);
	/* Walk up to the nearest existing ancestor, then re-append the rest. */
	char *copy = sl_xstrdup(path);
	char *rest = NULL;
	for (;;) {
		char *slash = strrchr(copy, '/');
		if (!slash || slash == copy) {
			char *r;
			if (slash == copy && realpath("/", buf))
				r = sl_xasprintf("/%s%s%s", copy + 1, rest ? "/" : "",
						 rest ? rest : "");
			else
				r = sl_xstrdup(path);
			free(copy);
			free(rest);
			return r;
		}
		char *tail = sl_xstrdup(slash + 1);
		*slash = 0;
		char *nrest = rest ? sl_xasprintf("%s/%s", tail, rest) : sl_xstrdup(tail);
		free(tail);
		free(rest);
		rest = nrest;
		if (realpath(copy, buf)) {
			char *r = sl_xasprintf("%s%s%s", strcmp(buf, "/") ? buf : "", "/",
					       rest);
			free(copy);
			free(rest);
			return r;
		}
	}
}

int sl_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	if (strncmp(path, dir, n))
		return 0;
	return path[n] == 0 || path[n] == '/';
}

char *sl_exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return sl_xstrdup(".");
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	return sl_xstrdup(buf);
}
