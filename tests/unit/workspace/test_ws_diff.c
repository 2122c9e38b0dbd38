/* Unified diff output of the review (workspace.md 6). */
#include <stdlib.h>

#include "tap.h"
#include "workspace/ws_int.h"

static char *diff(const char *a, const char *b)
{
	struct sl_buf o;
	sl_buf_init(&o);
	ws__udiff(a, strlen(a), b, strlen(b), &o);
	return sl_buf_steal(&o);
}

TEST(diff_modify_middle_line)
{
	char *d = diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n");
	CHECK_STR(d, "--- locked\n+++ current\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
	free(d);
}

TEST(diff_added_and_deleted_files)
{
	char *d = diff("", "a\nb\n");
	CHECK_STR(d, "--- locked\n+++ current\n@@ -0,0 +1,2 @@\n+a\n+b\n");
	free(d);
	d = diff("x\n", "");
	CHECK_STR(d, "--- locked\n+++ current\n@@ -1 +0,0 @@\n-x\n");
	free(d);
}

TEST(diff_no_newline_marker)
{
	char *d = diff("a\nb", "a\nb\n");
	CHECK_STR(d, "--- locked\n+++ current\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	free(d);
}

TEST(diff_two_hunks)
{
	struct sl_buf a, b;
	sl_buf_init(&a);
	sl_buf_init(&b);
	for (int i = 1; i <= 30; i++) {
		sl_buf_printf(&a, "%d\n", i);
		sl_buf_printf(&b, "%d\n", i == 3 ? 333 : i == 25 ? 2525 : i);
	}
	struct sl_buf o;
	sl_buf_init(&o);
	ws__udiff(a.p, a.len, b.p, b.len, &o);
	CHECK(strstr(o.p, "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+333\n 4\n 5\n 6\n"));
	CHECK(strstr(o.p, "@@ -22,7 +22,7 @@\n 22\n 23\n 24\n-25\n+2525\n 26\n 27\n 28\n"));
	sl_buf_free(&a);
	sl_buf_free(&b);
	sl_buf_free(&o);
}

TEST(diff_large_rewrite_bounded)
{
	/* every line differs: past the edit-distance cap it still produces a
	 * correct (replace-all) diff */
	struct sl_buf a, b, o;
	sl_buf_init(&a);
	sl_buf_init(&b);
	sl_buf_init(&o);
	for (int i = 0; i < 3000; i++) {
		sl_buf_printf(&a, "a%d\n", i);
		sl_buf_printf(&b, "b%d\n", i);
	}
	ws__udiff(a.p, a.len, b.p, b.len, &o);
	CHECK(strstr(o.p, "@@ -1,3000 +1,3000 @@\n-a0\n"));
	CHECK(strstr(o.p, "+b2999\n"));
	sl_buf_free(&a);
	sl_buf_free(&b);
	sl_buf_free(&o);
}

TEST(escape_control_characters)
{
	struct sl_buf o;
	sl_buf_init(&o);
	ws__escape_name(&o, "a\nb\x1b[31m\\c");
	CHECK_STR(o.p, "a\\x0ab\\x1b[31m\\\\c");
	sl_buf_free(&o);
}
