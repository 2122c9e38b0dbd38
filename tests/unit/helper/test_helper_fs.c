/*
 * silo-helper file op tests: read (offset, limit, truncation, errors),
 * write (parents, append, errors), edit (every error in spec order) and
 * listdir (sorting, lstat semantics). All files live in the test's temp dir.
 */
#include "hh.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t next_id = 100;

static struct jv *req(struct hh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static struct jv *req(struct hh *h, const char *fmt, ...)
{
	struct sl_buf b;
	sl_buf_init(&b);
	uint64_t id = next_id++;
	sl_buf_printf(&b, "{\"id\":%llu,", (unsigned long long)id);
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	sl_buf_addc(&b, '}');
	hh_send(h, b.p);
	sl_buf_free(&b);
	return hh_result(h, id, 10000, NULL, NULL);
}

static void put(const char *dir, const char *name, const char *content, size_t n)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	sl_write_file(p, content, n, 0644, NULL);
}

static char *get(const char *dir, const char *name)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *fp = fopen(p, "rb");
	if (!fp)
		return NULL;
	char *s = sl_xcalloc(1, 1 << 16);
	size_t n = fread(s, 1, (1 << 16) - 1, fp);
	s[n] = 0;
	fclose(fp);
	return s;
}

/* Checks a `file` payload: content and truncated flag. */
static void check_file(struct jv *f, const char *want, int truncated)
{
	size_t n = 0;
	char *d = hh_b64(hh_ok(f), "content_b64", &n);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "file");
	CHECK(d && n == strlen(want) && !memcmp(d, want, n));
	CHECK(jv_get_bool(hh_ok(f), "truncated") == truncated);
	free(d);
	jv_unref(f);
}

TEST(read_file)
{
	struct hh h;
	if (hh_start(&h, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	const char *d = h.dir;
	put(d, "a.txt", "0123456789", 10);
	check_file(req(&h, "\"op\":\"read_file\",\"path\":\"%s/a.txt\"", d), "0123456789", 0);
	check_file(req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"offset\":3,\"limit\":4", d), "3456", 1);
	check_file(req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"offset\":6,\"limit\":4", d), "6789", 0);
	check_file(req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"offset\":50", d), "", 0);
	check_file(req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"limit\":0", d), "", 1);
	check_file(req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"offset\":10,\"limit\":0", d), "", 0);

	/* The 5 MiB cap applies even with a larger limit. */
	char big[600];
	snprintf(big, sizeof big, "%s/big", d);
	int fd = open(big, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (6 << 20)) == 0);
	close(fd);
	struct jv *f = req(&h, "\"op\":\"read\",\"path\":\"%s\",\"limit\":99999999", big);
	size_t n = 0;
	char *data = hh_b64(hh_ok(f), "content_b64", &n);
	CHECK(n == 5242880);
	CHECK(jv_get_bool(hh_ok(f), "truncated"));
	free(data);
	jv_unref(f);

	char want[700];
	f = req(&h, "\"op\":\"read\",\"path\":\"%s/missing\"", d);
	snprintf(want, sizeof want, "cannot open %s/missing: No such file or directory (os error 2)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	f = req(&h, "\"op\":\"read\",\"path\":\"%s\"", d);
	snprintf(want, sizeof want, "cannot read %s: Is a directory (os error 21)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	/* where an offset past any file fails (the seek or the read), and with
	 * which errno, is the filesystem's choice (tmpfs and ext4 differ) */
	f = req(&h, "\"op\":\"read\",\"path\":\"%s/a.txt\",\"offset\":9223372036854775807", d);
	const char *e = hh_err(f);
	snprintf(want, sizeof want, " %s/a.txt: ", d);
	CHECK(e && (!strncmp(e, "cannot seek in ", 15) || !strncmp(e, "cannot read ", 12)) &&
	      strstr(e, want) && strstr(e, "(os error "));
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(write_file)
{
	struct hh h;
	if (hh_start(&h, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	const char *d = h.dir;
	/* "hello\n" */
	struct jv *f = req(&h, "\"op\":\"write_file\",\"path\":\"%s/x/y/z.txt\",\"content_b64\":\"aGVsbG8K\"", d);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "written");
	CHECK(jv_get_int(hh_ok(f), "bytes", -1) == 6);
	jv_unref(f);
	char *s = get(d, "x/y/z.txt");
	CHECK_STR(s, "hello\n");
	free(s);
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/x/y/z.txt\",\"content_b64\":\"YWdhaW4=\",\"append\":true", d);
	CHECK(jv_get_int(hh_ok(f), "bytes", -1) == 5);
	jv_unref(f);
	s = get(d, "x/y/z.txt");
	CHECK_STR(s, "hello\nagain");
	free(s);
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/x/y/z.txt\",\"content_b64\":\"\"", d);
	CHECK(jv_get_int(hh_ok(f), "bytes", -1) == 0);
	jv_unref(f);
	s = get(d, "x/y/z.txt");
	CHECK_STR(s, "");
	free(s);

	char want[700];
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/q\",\"content_b64\":\"@@@\"", d);
	CHECK(hh_err(f) && !strncmp(hh_err(f), "invalid base64: ", 16));
	jv_unref(f);
	put(d, "file", "x", 1);
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/file/sub/a\",\"content_b64\":\"\"", d);
	snprintf(want, sizeof want, "cannot create directory %s/file/sub: Not a directory (os error 20)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/x\",\"content_b64\":\"\",\"append\":true", d);
	snprintf(want, sizeof want, "cannot open %s/x for appending: Is a directory (os error 21)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	f = req(&h, "\"op\":\"write\",\"path\":\"%s/x\",\"content_b64\":\"\"", d);
	snprintf(want, sizeof want, "cannot write %s/x: Is a directory (os error 21)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(edit_file)
{
	struct hh h;
	if (hh_start(&h, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	const char *d = h.dir;
	char want[700];
	put(d, "e.txt", "aaa b aaa", 9);
	struct jv *f = req(&h, "\"op\":\"edit_file\",\"path\":\"%s/e.txt\",\"old\":\"\",\"new\":\"x\"", d);
	CHECK_STR(hh_err(f), "old string is empty");
	jv_unref(f);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/none\",\"old\":\"a\",\"new\":\"x\"", d);
	snprintf(want, sizeof want, "cannot read %s/none: No such file or directory (os error 2)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	put(d, "bin", "\xff\xfe", 2);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/bin\",\"old\":\"a\",\"new\":\"x\"", d);
	snprintf(want, sizeof want, "%s/bin is not valid UTF-8 text", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/e.txt\",\"old\":\"zzz\",\"new\":\"x\"", d);
	CHECK_STR(hh_err(f), "old string not found");
	jv_unref(f);
	/* "aa" occurs twice without overlap in "aaa b aaa". */
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/e.txt\",\"old\":\"aa\",\"new\":\"x\"", d);
	CHECK_STR(hh_err(f), "old string matches 2 times; set replace_all to change every occurrence");
	jv_unref(f);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/e.txt\",\"old\":\"aa\",\"new\":\"<\\u00e9>\",\"replace_all\":true", d);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "edited");
	CHECK(jv_get_int(hh_ok(f), "replacements", -1) == 2);
	jv_unref(f);
	char *s = get(d, "e.txt");
	CHECK_STR(s, "<\xc3\xa9>a b <\xc3\xa9>a");
	free(s);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/e.txt\",\"old\":\" b \",\"new\":\"\"", d);
	CHECK(jv_get_int(hh_ok(f), "replacements", -1) == 1);
	jv_unref(f);
	s = get(d, "e.txt");
	CHECK_STR(s, "<\xc3\xa9>a<\xc3\xa9>a");
	free(s);
	/* Mode is kept: the file is rewritten in place. */
	char p[600];
	snprintf(p, sizeof p, "%s/e.txt", d);
	chmod(p, 0751);
	f = req(&h, "\"op\":\"edit\",\"path\":\"%s/e.txt\",\"old\":\"<\",\"new\":\"[\",\"replace_all\":true", d);
	CHECK(jv_get_int(hh_ok(f), "replacements", -1) == 2);
	jv_unref(f);
	struct stat st;
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0751);
	CHECK(hh_stop(&h) == 0);
}

TEST(list_dir)
{
	struct hh h;
	if (hh_start(&h, NULL, NULL) < 0) {
		CHECK(0);
		return;
	}
	const char *d = h.dir;
	char p[600], q[600];
	put(d, "b.txt", "12345", 5);
	put(d, "A.txt", "1", 1);
	snprintf(p, sizeof p, "%s/sub", d);
	mkdir(p, 0755);
	snprintf(q, sizeof q, "%s/link", d);
	CHECK(symlink(p, q) == 0);
	snprintf(q, sizeof q, "%s/dangling", d);
	CHECK(symlink("/nonexistent/x", q) == 0);
	struct jv *f = req(&h, "\"op\":\"list_dir\",\"path\":\"%s\"", d);
	struct jv *e = jv_get(hh_ok(f), "entries");
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "dir");
	/* h.sock is in there too. */
	const char *names[] = { "A.txt", "b.txt", "dangling", "h.sock", "link", "sub" };
	CHECK(jv_len(e) == 6);
	for (size_t i = 0; i < 6 && i < jv_len(e); i++)
		CHECK_STR(jv_get_str(jv_at(e, i), "name"), names[i]);
	if (jv_len(e) == 6) {
		CHECK(jv_get_int(jv_at(e, 1), "size", -1) == 5);
		CHECK(!jv_get_bool(jv_at(e, 1), "is_dir"));
		CHECK(!jv_get_bool(jv_at(e, 4), "is_dir")); /* lstat: a link is not a dir */
		CHECK(jv_get_bool(jv_at(e, 5), "is_dir"));
	}
	jv_unref(f);
	f = req(&h, "\"op\":\"listdir\",\"path\":\"%s/sub\"", d);
	CHECK(jv_is(jv_get(hh_ok(f), "entries"), JV_ARRAY) && jv_len(jv_get(hh_ok(f), "entries")) == 0);
	jv_unref(f);
	char want[700];
	f = req(&h, "\"op\":\"listdir\",\"path\":\"%s/nope\"", d);
	snprintf(want, sizeof want, "cannot list %s/nope: No such file or directory (os error 2)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	f = req(&h, "\"op\":\"listdir\",\"path\":\"%s/b.txt\"", d);
	snprintf(want, sizeof want, "cannot list %s/b.txt: Not a directory (os error 20)", d);
	CHECK_STR(hh_err(f), want);
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}
