/*
 * silo-helper protocol and exec tests: hello, exec output/env/cwd/errors,
 * timeout, cancel, concurrency, output cap, streamed chunks, the grace for
 * pipe-holding descendants, orphan reaping (also as pid 1 of a new pid
 * namespace), malformed and oversize lines, shutdown and EOF.
 */
#include "hh.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int started(struct hh *h)
{
	int ok = hh_start(h, NULL, NULL) == 0;
	CHECK(ok);
	return ok;
}

static struct jv *exec_wait(struct hh *h, uint64_t id, const char *cmd_json, int timeout_ms)
{
	hh_sendf(h, "{\"id\":%llu,\"op\":\"exec\",\"command\":%s,\"timeout_ms\":%d}",
		 (unsigned long long)id, cmd_json, timeout_ms);
	return hh_result(h, id, timeout_ms + 10000, NULL, NULL);
}

TEST(hello)
{
	struct hh h;
	if (!started(&h))
		return;
	hh_send(&h, "{\"id\":0,\"op\":\"hello\"}");
	struct jv *f = hh_result(&h, 0, 5000, NULL, NULL);
	struct jv *ok = hh_ok(f);
	CHECK_STR(jv_get_str(ok, "payload"), "hello");
	CHECK(jv_get_str(ok, "version") && *jv_get_str(ok, "version"));
	CHECK(jv_get_int(ok, "pid", -1) == h.pid);
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_basic)
{
	struct hh h;
	if (!started(&h))
		return;
	struct jv *f = exec_wait(&h, 1, "\"echo out; echo err >&2; exit 3\"", 5000);
	struct jv *ok = hh_ok(f);
	CHECK_STR(jv_get_str(ok, "payload"), "exec");
	CHECK(jv_get_int(ok, "exit_code", 99) == 3);
	CHECK_STR(jv_get_str(ok, "stdout"), "out\n");
	CHECK_STR(jv_get_str(ok, "stderr"), "err\n");
	CHECK(jv_is(jv_get(ok, "timed_out"), JV_BOOL) && !jv_get_bool(ok, "timed_out"));
	CHECK(jv_is(jv_get(ok, "truncated"), JV_BOOL) && !jv_get_bool(ok, "truncated"));
	CHECK(jv_is(jv_get(ok, "cancelled"), JV_BOOL) && !jv_get_bool(ok, "cancelled"));
	jv_unref(f);

	/* stdin is /dev/null; signal death gives -1; bytes are lossy UTF-8. */
	f = exec_wait(&h, 2, "\"cat; echo rc=$?\"", 5000);
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), "rc=0\n");
	jv_unref(f);
	f = exec_wait(&h, 3, "\"kill -9 $$\"", 5000);
	CHECK(jv_get_int(hh_ok(f), "exit_code", 0) == -1);
	CHECK(!jv_get_bool(hh_ok(f), "timed_out"));
	jv_unref(f);
	f = exec_wait(&h, 4, "\"printf 'a\\\\377b'\"", 5000);
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), "a\xEF\xBF\xBD" "b");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_with_closed_stdio)
{
	/* Sandboxes may start the helper with fds 0-2 closed; its pipes must
	 * not land there and be clobbered by the child's dup2. */
	struct hh h;
	const char *const wrap[] = { "sh", "-c", "exec \"$0\" \"$@\" <&- >&- 2>&-", NULL };
	CHECK(hh_start(&h, NULL, wrap) == 0);
	struct jv *f = exec_wait(&h, 1, "\"echo out; echo err >&2; cat\"", 5000);
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), "out\n");
	CHECK_STR(jv_get_str(hh_ok(f), "stderr"), "err\n");
	CHECK(jv_get_int(hh_ok(f), "exit_code", -5) == 0);
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_env_cwd)
{
	struct hh h;
	if (!started(&h))
		return;
	hh_sendf(&h, "{\"id\":1,\"op\":\"exec\",\"command\":\"echo $FOO-$HOME; pwd\","
		     "\"cwd\":\"%s\",\"env\":[[\"FOO\",\"bar\"],[\"HOME\",\"/nowhere\"]],"
		     "\"timeout_ms\":5000}", h.dir);
	struct jv *f = hh_result(&h, 1, 10000, NULL, NULL);
	char want[600];
	char *real = realpath(h.dir, NULL);
	snprintf(want, sizeof want, "bar-/nowhere\n%s\n", real ? real : h.dir);
	free(real);
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), want);
	jv_unref(f);

	/* Spawn failures: bad cwd, bad env name. */
	hh_send(&h, "{\"id\":2,\"op\":\"exec\",\"command\":\"true\",\"cwd\":\"/nonexistent/dir\","
		    "\"timeout_ms\":5000}");
	f = hh_result(&h, 2, 10000, NULL, NULL);
	CHECK_STR(hh_err(f), "cannot spawn shell: No such file or directory (os error 2)");
	jv_unref(f);
	hh_send(&h, "{\"id\":3,\"op\":\"exec\",\"command\":\"true\",\"env\":[[\"A=B\",\"x\"]],"
		    "\"timeout_ms\":5000}");
	f = hh_result(&h, 3, 10000, NULL, NULL);
	CHECK_STR(hh_err(f), "cannot spawn shell: invalid environment variable name \"A=B\"");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_timeout_and_cancel)
{
	struct hh h;
	if (!started(&h))
		return;
	struct jv *f = exec_wait(&h, 1, "\"echo before; sleep 30\"", 300);
	struct jv *ok = hh_ok(f);
	CHECK(jv_get_bool(ok, "timed_out"));
	CHECK(!jv_get_bool(ok, "cancelled"));
	CHECK(jv_get_int(ok, "exit_code", 0) == -1);
	CHECK_STR(jv_get_str(ok, "stdout"), "before\n");
	jv_unref(f);

	hh_send(&h, "{\"id\":2,\"op\":\"exec\",\"command\":\"echo part; sleep 30\",\"timeout_ms\":60000}");
	usleep(300 * 1000);
	hh_send(&h, "{\"id\":3,\"op\":\"cancel\",\"cancel_id\":2}");
	f = hh_result(&h, 3, 5000, NULL, NULL);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "ack");
	jv_unref(f);
	f = hh_result(&h, 2, 5000, NULL, NULL);
	ok = hh_ok(f);
	CHECK(jv_get_bool(ok, "cancelled"));
	CHECK(!jv_get_bool(ok, "timed_out"));
	CHECK(jv_get_int(ok, "exit_code", 0) == -1);
	CHECK_STR(jv_get_str(ok, "stdout"), "part\n");
	jv_unref(f);

	hh_send(&h, "{\"id\":4,\"op\":\"cancel\",\"cancel_id\":2}");
	f = hh_result(&h, 4, 5000, NULL, NULL);
	CHECK_STR(hh_err(f), "no cancellable request with id 2");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_concurrent)
{
	struct hh h;
	if (!started(&h))
		return;
	hh_send(&h, "{\"id\":10,\"op\":\"exec\",\"command\":\"sleep 0.5; echo slow\",\"timeout_ms\":10000}");
	hh_send(&h, "{\"id\":11,\"op\":\"exec\",\"command\":\"echo fast\",\"timeout_ms\":10000}");
	struct jv *first = hh_frame(&h, 10000);
	CHECK(jv_get_int(first, "id", -1) == 11);
	CHECK_STR(jv_get_str(hh_ok(first), "stdout"), "fast\n");
	struct jv *second = hh_frame(&h, 10000);
	CHECK(jv_get_int(second, "id", -1) == 10);
	CHECK_STR(jv_get_str(hh_ok(second), "stdout"), "slow\n");
	jv_unref(first);
	jv_unref(second);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_output_cap_and_stream)
{
	struct hh h;
	if (!started(&h))
		return;
	struct jv *f = exec_wait(&h, 1, "\"head -c 3000000 /dev/zero | tr '\\\\000' a; echo e >&2\"",
				 20000);
	struct jv *ok = hh_ok(f);
	const char *out = jv_get_str(ok, "stdout");
	CHECK(out && strlen(out) == 1048576);
	CHECK(out && out[0] == 'a' && out[1048575] == 'a');
	CHECK(jv_get_bool(ok, "truncated"));
	CHECK_STR(jv_get_str(ok, "stderr"), "e\n");
	jv_unref(f);

	/* Streamed: chunks carry exactly the kept bytes, <= 64 KiB each,
	 * before the final result. */
	struct sl_buf ch[2];
	sl_buf_init(&ch[0]);
	sl_buf_init(&ch[1]);
	int n = 0;
	hh_send(&h, "{\"id\":2,\"op\":\"exec\",\"command\":\"head -c 2000000 /dev/zero | tr '\\\\000' b; "
		    "echo x >&2; sleep 0.3; echo y >&2\",\"timeout_ms\":20000,\"stream\":true}");
	f = hh_result(&h, 2, 30000, ch, &n);
	ok = hh_ok(f);
	CHECK(jv_get_bool(ok, "truncated"));
	CHECK(ch[0].len == 1048576);
	CHECK(n >= 17); /* 1 MiB in <= 64 KiB pieces plus stderr */
	CHECK(ch[1].len == 4 && !memcmp(ch[1].p, "x\ny\n", 4));
	CHECK(jv_get_str(ok, "stdout") && ch[0].len == strlen(jv_get_str(ok, "stdout")));
	jv_unref(f);
	/* No chunk may follow the result. */
	hh_send(&h, "{\"id\":3,\"op\":\"hello\"}");
	f = hh_frame(&h, 5000);
	CHECK(jv_get_int(f, "id", -1) == 3);
	jv_unref(f);
	sl_buf_free(&ch[0]);
	sl_buf_free(&ch[1]);
	CHECK(hh_stop(&h) == 0);
}

TEST(exec_grace_and_reaping)
{
	struct hh h;
	if (!started(&h))
		return;
	/* A background child holds stdout: the answer comes after the 5 s
	 * grace, not after 30 s. */
	int64_t t0 = hh_ms();
	struct jv *f = exec_wait(&h, 1, "\"sleep 30 & echo done\"", 60000);
	int64_t took = hh_ms() - t0;
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), "done\n");
	CHECK(jv_get_int(hh_ok(f), "exit_code", -5) == 0);
	CHECK(took >= 4000 && took < 20000);
	jv_unref(f);

	/* An orphan (its parent exits at once) is adopted and reaped by the
	 * helper: it must not linger as a zombie. */
	f = exec_wait(&h, 2, "\"(sleep 0.3 </dev/null >/dev/null 2>&1 & echo $!)\"", 5000);
	const char *s = jv_get_str(hh_ok(f), "stdout");
	int pid = s ? atoi(s) : 0;
	CHECK(pid > 0);
	jv_unref(f);
	int gone = 0;
	for (int i = 0; i < 300 && pid > 0 && !gone; i++) {
		usleep(10000);
		gone = kill(pid, 0) < 0 && errno == ESRCH;
	}
	CHECK(gone);
	CHECK(hh_stop(&h) == 0);
}

TEST(eof_kills_children)
{
	struct hh h;
	if (!started(&h))
		return;
	struct sl_buf ch[2];
	sl_buf_init(&ch[0]);
	sl_buf_init(&ch[1]);
	hh_send(&h, "{\"id\":1,\"op\":\"exec\",\"command\":\"echo $$; exec sleep 60\","
		    "\"timeout_ms\":60000,\"stream\":true}");
	int pid = 0;
	for (int i = 0; i < 50 && !pid; i++) {
		struct jv *f = hh_frame(&h, 200);
		if (f) {
			size_t n;
			char *d = hh_b64(jv_get(f, "chunk"), "data_b64", &n);
			pid = d ? atoi(d) : 0;
			free(d);
			jv_unref(f);
		}
	}
	CHECK(pid > 0);
	CHECK(hh_stop(&h) == 0);
	int gone = 0;
	for (int i = 0; i < 300 && pid > 0 && !gone; i++) {
		gone = kill(pid, 0) < 0 && errno == ESRCH;
		usleep(10000);
	}
	CHECK(gone);
	sl_buf_free(&ch[0]);
	sl_buf_free(&ch[1]);
}

TEST(eof_kills_escaped_descendants)
{
	struct hh h;
	if (!started(&h))
		return;
	/* A grandchild in its own session, whose parent is an orphan adopted
	 * by the helper: neither the exec group kill nor one pass over the
	 * helper's children reaches it. */
	char cmd[800];
	snprintf(cmd, sizeof cmd,
		 "\"(setsid sh -c 'sleep 60 & echo $! > %s/pid; wait' >/dev/null 2>&1 &); "
		 "sleep 0.5; cat %s/pid\"", h.dir, h.dir);
	struct jv *f = exec_wait(&h, 1, cmd, 10000);
	const char *s = jv_get_str(hh_ok(f), "stdout");
	int pid = s ? atoi(s) : 0;
	CHECK(pid > 0);
	jv_unref(f);
	CHECK(pid > 0 && kill(pid, 0) == 0);
	CHECK(hh_stop(&h) == 0);
	int gone = 0;
	for (int i = 0; i < 300 && pid > 0 && !gone; i++) {
		gone = kill(pid, 0) < 0 && errno == ESRCH;
		usleep(10000);
	}
	CHECK(gone);
}

TEST(pid1_in_new_namespace)
{
	if (geteuid() != 0 || hh_sh("command -v unshare >/dev/null") != 0) {
		printf("# skipped: needs root and unshare\n");
		return;
	}
	struct hh h;
	const char *const wrap[] = { "unshare", "--pid", "--fork", "--mount-proc", NULL };
	CHECK(hh_start(&h, NULL, wrap) == 0);
	hh_send(&h, "{\"id\":0,\"op\":\"hello\"}");
	struct jv *f = hh_result(&h, 0, 5000, NULL, NULL);
	CHECK(jv_get_int(hh_ok(f), "pid", -1) == 1);
	jv_unref(f);
	/* Orphans die while their parent is gone; pid 1 must reap them. */
	f = exec_wait(&h, 1, "\"for i in 1 2 3; do (sleep 0.1 &) ; done; sleep 1; "
			    "cat /proc/[0-9]*/stat | awk '$3 == \\\"Z\\\"' | wc -l\"", 10000);
	const char *s = jv_get_str(hh_ok(f), "stdout");
	CHECK(s && atoi(s) == 0);
	jv_unref(f);
	/* Leftover processes die with the helper at EOF. */
	hh_send(&h, "{\"id\":2,\"op\":\"exec\",\"command\":\"(sleep 60 &); echo ok\",\"timeout_ms\":10000}");
	f = hh_result(&h, 2, 20000, NULL, NULL);
	CHECK_STR(jv_get_str(hh_ok(f), "stdout"), "ok\n");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(malformed_lines)
{
	struct hh h;
	if (!started(&h))
		return;
	hh_send(&h, "this is not json");
	hh_send(&h, "");
	hh_send(&h, "{\"op\":\"hello\"}");          /* no id: dropped */
	hh_send(&h, "{\"id\":-1,\"op\":\"hello\"}"); /* not a u64: dropped */
	hh_send(&h, "[1,2]");
	hh_send(&h, "{\"id\":1}");
	hh_send(&h, "{\"id\":2,\"op\":\"frobnicate\"}");
	hh_send(&h, "{\"id\":3,\"op\":\"exec\",\"timeout_ms\":5}");
	hh_send(&h, "{\"id\":4,\"op\":\"read_file\",\"path\":7}");
	hh_send(&h, "{\"id\":5,\"op\":\"cancel\",\"cancel_id\":\"x\"}");
	hh_send(&h, "{\"id\":6,\"op\":\"exec\",\"command\":\"true\",\"timeout_ms\":1,\"env\":[[\"A\"]]}");
	hh_send(&h, "{\"id\":7,\"op\":\"hello\"}");
	const char *want[] = {
		"malformed request: missing field \"op\"",
		"malformed request: unknown op \"frobnicate\"",
		"malformed request: missing field \"command\"",
		"malformed request: field \"path\" must be a string",
		"malformed request: field \"cancel_id\" must be a non-negative integer",
		"malformed request: field \"env\" must be a list of [name, value] string pairs",
	};
	for (int i = 0; i < 6; i++) {
		struct jv *f = hh_frame(&h, 5000);
		CHECK(jv_get_int(f, "id", -1) == i + 1);
		CHECK_STR(hh_err(f), want[i]);
		jv_unref(f);
	}
	struct jv *f = hh_frame(&h, 5000);
	CHECK(jv_get_int(f, "id", -1) == 7);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "hello");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(oversize_line)
{
	struct hh h;
	if (!started(&h))
		return;
	size_t n = 65u << 20;
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_adds(&b, "{\"id\":9,\"op\":\"write\",\"path\":\"/dev/null\",\"content_b64\":\"");
	sl_buf_reserve(&b, n + 8);
	memset(b.p + b.len, 'A', n);
	b.len += n;
	b.p[b.len] = 0;
	sl_buf_adds(&b, "\"}");
	hh_send(&h, b.p);
	sl_buf_free(&b);
	hh_send(&h, "{\"id\":10,\"op\":\"hello\"}");
	struct jv *f = hh_result(&h, 9, 30000, NULL, NULL);
	CHECK_STR(hh_err(f), "malformed request: line longer than 67108864 bytes");
	jv_unref(f);
	f = hh_result(&h, 10, 10000, NULL, NULL);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "hello");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
}

TEST(shutdown_acks_then_exits)
{
	struct hh h;
	if (!started(&h))
		return;
	hh_send(&h, "{\"id\":0,\"op\":\"hello\"}");
	jv_unref(hh_result(&h, 0, 5000, NULL, NULL));
	hh_send(&h, "{\"id\":1,\"op\":\"shutdown\"}");
	struct jv *f = hh_result(&h, 1, 5000, NULL, NULL);
	CHECK_STR(jv_get_str(hh_ok(f), "payload"), "ack");
	jv_unref(f);
	int st;
	int64_t end = hh_ms() + 5000;
	int r;
	while ((r = waitpid(h.pid, &st, WNOHANG)) == 0 && hh_ms() < end)
		usleep(10000);
	CHECK(r == h.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	h.pid = 0;
	hh_stop(&h);
}

TEST(connect_strings)
{
	for (int mode = HH_ENV; mode <= HH_TCP; mode++) {
		struct hh h;
		hh_connect_mode = mode;
		int ok = hh_start(&h, NULL, NULL) == 0;
		hh_connect_mode = HH_UNIX;
		CHECK(ok);
		if (!ok)
			continue;
		struct jv *f = exec_wait(&h, 1, "\"echo via-$SILO_HELPER_CONNECT\"", 5000);
		const char *s = jv_get_str(hh_ok(f), "stdout");
		CHECK(s && !strncmp(s, mode == HH_ENV ? "via-unix:" : "via-\n", mode == HH_ENV ? 9 : 5));
		jv_unref(f);
		CHECK(hh_stop(&h) == 0);
	}
	/* A bad connect string is an error exit, not a hang. */
	CHECK(hh_sh("%s tcp:nohost 2>/dev/null", hh_helper_path()) == 1);
	CHECK(hh_sh("%s bogus:x 2>/dev/null", hh_helper_path()) == 1);
}

TEST(usage_without_connect_string)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "env -u SILO_HELPER_CONNECT %s 2>/dev/null", hh_helper_path());
	CHECK(hh_sh("%s", cmd) == 2);
}
