/* The startup canaries must notice an escape: run against a fake backend
 * that executes on the bare host (no confinement at all), every canary that
 * can get through must be reported as not blocked and the result must not
 * pass. The fake redirects the one write into the OS baseline to a temp
 * path so the test never touches /usr. */
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_int.h"

static char tmpfile_path[64];

static int64_t host_exec(struct sb *sb, const char *op, struct jv *args, sb_done_fn done,
			 sb_chunk_fn chunk, void *ud, struct sl_err *err)
{
	SL_UNUSED(sb);
	SL_UNUSED(chunk);
	SL_UNUSED(err);
	struct sl_buf cmd;
	sl_buf_init(&cmd);
	const char *c = jv_get_str(args, "command");
	const char *hit = strstr(c, "/usr/.silo-canary");
	if (hit) {
		sl_buf_add(&cmd, c, (size_t)(hit - c));
		sl_buf_adds(&cmd, tmpfile_path);
		sl_buf_adds(&cmd, hit + strlen("/usr/.silo-canary"));
	} else {
		sl_buf_adds(&cmd, c);
	}
	FILE *p = popen(cmd.p, "r");
	struct sl_buf out;
	sl_buf_init(&out);
	char buf[4096];
	size_t n;
	while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0)
		sl_buf_add(&out, buf, n);
	int st = p ? pclose(p) : -1;
	struct jv *r = jv_obj();
	jv_set(r, "payload", jv_str("exec"));
	jv_set(r, "exit_code", jv_int(st));
	jv_set(r, "stdout", jv_strn(out.p ? out.p : "", out.len));
	jv_set(r, "stderr", jv_str(""));
	jv_set(r, "timed_out", jv_bool(0));
	jv_set(r, "truncated", jv_bool(0));
	done(ud, r, NULL, 0);
	jv_unref(r);
	jv_unref(args);
	sl_buf_free(&out);
	sl_buf_free(&cmd);
	SL_UNUSED(op);
	return 1;
}

static const struct sb_ops host_ops = { .name = "host", .kind = "none",
					.helper_request = host_exec };

struct seen {
	int called, passed;
	struct jv *res;
};

static void on_done(void *ud, int passed, struct jv *results)
{
	struct seen *s = ud;
	s->called = 1;
	s->passed = passed;
	s->res = jv_ref(results);
}

static int blocked(struct jv *res, const char *name)
{
	struct jv *a = jv_get(res, "canaries");
	for (size_t i = 0; i < jv_len(a); i++)
		if (!strcmp(jv_get_str(jv_at(a, i), "name"), name))
			return jv_get_bool(jv_at(a, i), "blocked");
	return -1;
}

TEST(canaries_detect_an_unconfined_backend)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	strcpy(tmpfile_path, "/tmp/sb-canary-test-XXXXXX");
	int fd = mkstemp(tmpfile_path);
	close(fd);
	struct sb sb = { .ops = &host_ops, .loop = &loop };
	struct seen s = { 0 };
	struct sl_err err;
	CHECK(sb_canaries(&sb, on_done, &s, &err) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(s.called);
	CHECK(!s.passed);
	CHECK(!jv_get_bool(s.res, "passed"));
	CHECK(blocked(s.res, "secret_read") == 0);
	CHECK(blocked(s.res, "write_outside") == 0);
	CHECK(blocked(s.res, "write_baseline") == 0);
	CHECK(blocked(s.res, "host_loopback") == 0);
	if (getuid() == 0)
		CHECK(blocked(s.res, "raw_socket") == 0);
	jv_unref(s.res);
	unlink(tmpfile_path);
	CHECK(uv_loop_close(&loop) == 0);
}
