/* The native backend through the sb API with the real silo-helper: start,
 * exec/read/write/edit/listdir, streaming, interrupt of a long exec,
 * shutdown and every start error the caller must see clearly. Skips (with a
 * note) when the helper is not built or namespaces are unavailable. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_native.h"

struct res {
	int done, fatal;
	char err[512];
	struct jv *r;
	char chunks[256];
};

static void on_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct res *s = ud;
	s->done = 1;
	s->fatal = fatal;
	snprintf(s->err, sizeof(s->err), "%s", err ? err : "");
	s->r = jv_ref(result);
}

static void on_chunk(void *ud, const char *stream, const char *data, size_t n)
{
	struct res *s = ud;
	size_t l = strlen(s->chunks);
	snprintf(s->chunks + l, sizeof(s->chunks) - l, "[%s]%.*s", stream, (int)n, data);
}

static int have_helper(void)
{
	struct sl_err err;
	char *p = sb__helper_find(&err);
	free(p);
	if (!p)
		printf("# skipping: %s\n", err.msg);
	return p != NULL;
}

static char ws[64];

static struct sb *start(uv_loop_t *loop, const char *const *allow, struct sl_err *err)
{
	strcpy(ws, "/tmp/sb-native-ws-XXXXXX");
	if (!mkdtemp(ws))
		return NULL;
	struct sb_config cfg = { .kind = "native", .workspace = ws, .read_allowlist = allow };
	static struct sb_config keep;
	keep = cfg;
	struct sb *sb = sb_new(loop, &keep, err);
	if (sb && sb->ops->start(sb, err)) {
		sb_free(sb);
		return NULL;
	}
	return sb;
}

static void wait_done(uv_loop_t *loop, struct res *r)
{
	while (!r->done)
		uv_run(loop, UV_RUN_ONCE);
}

static struct res call(struct sb *sb, const char *op, const char *args)
{
	struct res r = { 0 };
	struct sl_err err;
	struct jv *a = jv_parse(args, strlen(args), NULL, &err);
	if (sb->ops->helper_request(sb, op, a, on_done, on_chunk, &r, &err) < 0) {
		snprintf(r.err, sizeof(r.err), "%s", err.msg);
		r.done = -1;
		return r;
	}
	wait_done(sb->loop, &r);
	return r;
}

static void stop(struct sb *sb)
{
	uv_loop_t *loop = sb->loop;
	sb->ops->shutdown(sb, NULL, NULL);
	sb_free(sb);
	uv_run(loop, UV_RUN_DEFAULT);
	sl_rm_rf(ws);
}

TEST(native_tools_round_trip)
{
	if (!have_helper())
		return;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err;
	setenv("SILO_TEST_HARNESS_SECRET", "hunter2", 1);
	struct sb *sb = start(&loop, NULL, &err);
	if (!sb) {
		printf("# start failed: %s\n", err.msg);
		CHECK(0);
		return;
	}
	struct res r = call(sb, "exec",
			    "{\"command\":\"echo $HOME $TMPDIR $HTTP_PROXY; pwd; env | grep -c "
			    "SILO_TEST_HARNESS; exit 3\",\"timeout_ms\":10000}");
	CHECK(r.done == 1 && !r.err[0]);
	CHECK_STR(jv_get_str(r.r, "stdout"),
		  "/scratch/home /scratch/tmp http://127.0.0.1:3128\n/workspace\n0\n");
	CHECK(jv_get_int(r.r, "exit_code", 0) == 3);
	jv_unref(r.r);

	r = call(sb, "write", "{\"path\":\"/workspace/sub/f.txt\",\"content_b64\":\"YWJjIGFiYwo=\"}");
	CHECK(r.done == 1 && jv_get_int(r.r, "bytes", 0) == 8);
	jv_unref(r.r);
	char host[128];
	snprintf(host, sizeof(host), "%s/sub/f.txt", ws);
	char *txt = sl_read_file(host, NULL, 100, &err);
	CHECK_STR(txt, "abc abc\n");
	free(txt);
	r = call(sb, "edit", "{\"path\":\"/workspace/sub/f.txt\",\"old\":\"abc\",\"new\":\"x\"}");
	CHECK(r.done == 1 && r.r == NULL);
	CHECK(strstr(r.err, "matches 2 times") != NULL);
	r = call(sb, "edit",
		 "{\"path\":\"/workspace/sub/f.txt\",\"old\":\"abc\",\"new\":\"x\",\"replace_all\":true}");
	CHECK(jv_get_int(r.r, "replacements", 0) == 2);
	jv_unref(r.r);
	r = call(sb, "read", "{\"path\":\"/workspace/sub/f.txt\"}");
	CHECK_STR(jv_get_str(r.r, "content_b64"), "eCB4Cg==");
	jv_unref(r.r);
	r = call(sb, "listdir", "{\"path\":\"/workspace/sub\"}");
	struct jv *e = jv_at(jv_get(r.r, "entries"), 0);
	CHECK_STR(jv_get_str(e, "name"), "f.txt");
	jv_unref(r.r);
	r = call(sb, "read", "{\"path\":\"/etc/shadow\"}");
	CHECK(r.done == 1 && !r.fatal && strstr(r.err, "No such file") != NULL);
	r = call(sb, "nonsense", "{}");
	CHECK(r.done == -1);

	/* streamed output arrives before the final result */
	r = call(sb, "exec", "{\"command\":\"echo out; echo err >&2\",\"timeout_ms\":5000}");
	CHECK(strstr(r.chunks, "[stdout]out\n") != NULL);
	CHECK(strstr(r.chunks, "[stderr]err\n") != NULL);
	jv_unref(r.r);

	struct jv *rep = sb->ops->access_report(sb);
	CHECK_STR(jv_get_str(rep, "sandbox_kind"), "linux-native");
	CHECK_STR(jv_get_str(rep, "workspace_mount"), "/workspace");
	CHECK_STR(jv_get_str(rep, "scratch_dir"), "/scratch");
	CHECK(jv_len(jv_get(rep, "readable_paths")) >= 1);
	jv_unref(rep);
	stop(sb);
	CHECK(uv_loop_close(&loop) == 0);
}

static void fire_interrupt(uv_timer_t *t)
{
	struct sb *sb = t->data;
	sb->ops->interrupt(sb);
	uv_close((uv_handle_t *)t, NULL);
}

TEST(native_interrupt_long_exec)
{
	if (!have_helper())
		return;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err;
	struct sb *sb = start(&loop, NULL, &err);
	CHECK(sb != NULL);
	if (!sb)
		return;
	struct res r = { 0 };
	struct jv *a = jv_obj();
	jv_set(a, "command", jv_str("echo partial; sleep 30; echo never"));
	jv_set(a, "timeout_ms", jv_int(60000));
	time_t t0 = time(NULL);
	CHECK(sb->ops->helper_request(sb, "exec", a, on_done, NULL, &r, &err) >= 0);
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	t.data = sb;
	uv_timer_start(&t, fire_interrupt, 300, 0);
	wait_done(&loop, &r);
	CHECK(time(NULL) - t0 < 10);
	CHECK(jv_get_bool(r.r, "cancelled"));
	CHECK(jv_get_int(r.r, "exit_code", 0) == -1);
	CHECK_STR(jv_get_str(r.r, "stdout"), "partial\n");
	jv_unref(r.r);
	stop(sb);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(native_lifecycle_errors)
{
	if (!have_helper())
		return;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	struct sb_config cfg = { .kind = "native", .workspace = "/nonexistent-ws" };
	struct sb *sb = sb_new(&loop, &cfg, &err);
	CHECK(sb != NULL);
	/* before start */
	struct res r = { 0 };
	CHECK(sb->ops->helper_request(sb, "exec", jv_obj(), on_done, NULL, &r, &err) < 0);
	CHECK_STR(err.msg, "not started");
	CHECK(sb->ops->start(sb, &err) != 0);
	CHECK(strstr(err.msg, "workspace /nonexistent-ws") != NULL);
	sb_free(sb);

	const char *bad_allow[] = { "/nonexistent-allow", NULL };
	CHECK(start(&loop, bad_allow, &err) == NULL);
	CHECK(strstr(err.msg, "--allow-read /nonexistent-allow") != NULL);
	sl_rm_rf(ws);
	const char *root_allow[] = { "/", NULL };
	CHECK(start(&loop, root_allow, &err) == NULL);
	CHECK(strstr(err.msg, "whole host") != NULL);
	sl_rm_rf(ws);

	cfg.kind = "bogus";
	CHECK(sb_new(&loop, &cfg, &err) == NULL);
	CHECK(strstr(err.msg, "unknown sandbox kind") != NULL);

	char *saved = getenv("SILO_HELPER_BIN") ? sl_xstrdup(getenv("SILO_HELPER_BIN")) : NULL;
	setenv("SILO_HELPER_BIN", "/nonexistent/silo-helper", 1);
	CHECK(start(&loop, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "SILO_HELPER_BIN=/nonexistent/silo-helper is not a file") != NULL);
	sl_rm_rf(ws);
	/* a helper that is not a helper: exits before connecting */
	setenv("SILO_HELPER_BIN", "/bin/true", 1);
	CHECK(start(&loop, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "exited before the helper connected") != NULL ||
	      strstr(err.msg, "setup failed") != NULL);
	sl_rm_rf(ws);
	if (saved)
		setenv("SILO_HELPER_BIN", saved, 1);
	else
		unsetenv("SILO_HELPER_BIN");
	free(saved);

	/* after shutdown: refused; scratch gone */
	sb = start(&loop, NULL, &err);
	CHECK(sb != NULL);
	if (sb) {
		char *scratch = sl_xstrdup(((struct sb_native *)sb->impl)->scratch);
		struct stat st;
		CHECK(stat(scratch, &st) == 0 && (st.st_mode & 0777) == 0700);
		sb->ops->shutdown(sb, NULL, NULL);
		CHECK(sb->ops->helper_request(sb, "exec", jv_obj(), on_done, NULL, &r, &err) < 0);
		sb->ops->shutdown(sb, NULL, NULL); /* idempotent */
		uv_run(&loop, UV_RUN_DEFAULT);
		CHECK(stat(scratch, &st) != 0);
		free(scratch);
		sb_free(sb);
		sl_rm_rf(ws);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}
