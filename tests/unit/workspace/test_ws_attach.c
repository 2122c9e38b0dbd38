/* Harness-facing API: lock (directory strategy, so it runs anywhere),
 * attach/detach with tokens, pruning of dead attachments, the unlock that
 * terminates live attachments, and the review it returns. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "workspace/ws_int.h"

static char state[256], wsdir[256];

static void setup(void)
{
	snprintf(state, sizeof state, "/tmp/ws-unit-XXXXXX");
	if (!mkdtemp(state))
		abort();
	snprintf(wsdir, sizeof wsdir, "%s-ws", state);
	mkdir(wsdir, 0755);
	char *p = sl_xasprintf("%s/hello.txt", wsdir);
	sl_write_file(p, "hello\n", 6, 0644, NULL);
	free(p);
	strcat(state, "/state");
}

static void teardown(void)
{
	char *s = sl_xstrdup(state);
	*strrchr(s, '/') = 0;
	sl_rm_rf(s);
	sl_rm_rf(wsdir);
	free(s);
}

static int spawn_sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static int dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

TEST(attach_detach_and_unlock_kills)
{
	setup();
	struct sl_err err = { 0 };
	char **w = NULL;
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, &w, &err) == 0);
	CHECK(w && w[0] && strstr(w[0], "directory strategy"));
	for (size_t i = 0; w && w[i]; i++)
		free(w[i]);
	free(w);
	/* locked twice */
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, NULL, &err) != 0);
	CHECK(strstr(err.msg, "already locked") != NULL);
	/* the original holds only the marker and is read-only */
	char *marker = sl_xasprintf("%s/" WS_MARKER, wsdir);
	char *hello = sl_xasprintf("%s/hello.txt", wsdir);
	size_t n;
	char *m = sl_read_file(marker, &n, 1 << 20, NULL);
	CHECK(m && strstr(m, "silo workspace unlock"));
	free(m);
	CHECK(access(hello, F_OK) != 0);

	int h = spawn_sleeper();
	struct ws_attachment a = { 0 }, b = { 0 }, s = { 0 };
	CHECK(ws_attach(state, wsdir, "harness1", h, 0, &a, &err) == 0);
	char *inmnt = sl_xasprintf("%s/hello.txt", a.mount ? a.mount : "/nonexistent");
	CHECK(access(inmnt, R_OK) == 0);
	free(inmnt);
	/* a second live harness is refused */
	CHECK(ws_attach(state, wsdir, "harness2", getpid(), 0, &b, &err) != 0);
	CHECK(strstr(err.msg, "already attached to harness harness1") != NULL);
	/* a shell shares the mount */
	int sh = spawn_sleeper();
	CHECK(ws_attach(state, wsdir, "shell", sh, 1, &s, &err) == 0);
	CHECK(a.mount && s.mount && !strcmp(a.mount, s.mount));
	/* detaching the shell keeps the harness */
	CHECK(ws_detach(state, &s, &err) == 0);
	ws_attachment_free(&s);
	CHECK(ws_attach(state, wsdir, "harness2", getpid(), 0, &b, &err) != 0);
	/* stale detach token does nothing */
	struct ws_attachment stale = a;
	stale.token = "000000000000";
	CHECK(ws_detach(state, &stale, &err) == 0);
	CHECK(ws_attach(state, wsdir, "harness2", getpid(), 0, &b, &err) != 0);

	/* the harness writes a change, then unlock terminates it */
	char *newf = sl_xasprintf("%s/new.txt", a.mount);
	sl_write_file(newf, "new\n", 4, 0644, NULL);
	free(newf);
	struct ws_db d;
	CHECK(ws__db_open(state, &d, &err) == 0);
	struct jv *rep = NULL;
	struct ws_review_opts o = { NULL, 0 };
	int rc = ws__unlock(&d, wsdir, &o, &rep, &err);
	if (rc)
		printf("# unlock: %s\n", err.msg);
	CHECK(rc == 0);
	/* unlock signalled and reaped its child harness */
	CHECK(kill(h, 0) != 0);
	kill(sh, SIGKILL);
	waitpid(sh, NULL, 0);
	const struct jv *ch = jv_get(rep, "changes");
	CHECK(jv_len(ch) == 1);
	CHECK_STR(jv_get_str(jv_at(ch, 0), "path"), "new.txt");
	CHECK_STR(jv_get_str(jv_at(ch, 0), "kind"), "added");
	CHECK(strstr(jv_get_str(jv_at(ch, 0), "diff"), "+new\n") != NULL);
	jv_unref(rep);
	CHECK(access(hello, R_OK) == 0 && access(marker, F_OK) != 0);
	/* unlock while unlocked */
	CHECK(ws__unlock(&d, wsdir, &o, &rep, &err) != 0 && strstr(err.msg, "not locked"));
	/* the saved review is there */
	char *canon = realpath(wsdir, NULL);
	struct jv *saved = ws__review_load(&d, canon, &err);
	CHECK(saved && jv_len(jv_get(saved, "changes")) == 1);
	jv_unref(saved);
	free(canon);
	ws__db_close(&d);
	/* attach to an unlocked path fails */
	CHECK(ws_attach(state, wsdir, "h", getpid(), 0, &b, &err) != 0);
	CHECK(strstr(err.msg, "not locked") != NULL);
	ws_attachment_free(&a);
	free(marker);
	free(hello);
	teardown();
}

TEST(dead_attachments_are_pruned)
{
	setup();
	struct sl_err err = { 0 };
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, NULL, &err) == 0);
	struct ws_attachment a = { 0 }, b = { 0 };
	/* a process that is not running cannot attach */
	CHECK(ws_attach(state, wsdir, "gone", dead_pid(), 0, &a, &err) != 0);
	CHECK(strstr(err.msg, "not running") != NULL);
	/* one that dies while attached is pruned */
	int p = spawn_sleeper();
	CHECK(ws_attach(state, wsdir, "gone", p, 0, &a, &err) == 0);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	/* the recorded harness is dead: a new one may attach */
	CHECK(ws_attach(state, wsdir, "next", getpid(), 0, &b, &err) == 0);
	/* the stale detach of the dead one cannot clear the new one */
	CHECK(ws_detach(state, &a, &err) == 0);
	struct ws_attachment c = { 0 };
	CHECK(ws_attach(state, wsdir, "third", getpid(), 0, &c, &err) != 0);
	CHECK(ws_detach(state, &b, &err) == 0);
	ws_attachment_free(&a);
	ws_attachment_free(&b);
	struct ws_db d;
	CHECK(ws__db_open(state, &d, &err) == 0);
	struct jv *rep = NULL;
	CHECK(ws__unlock(&d, wsdir, NULL, &rep, &err) == 0);
	CHECK(rep && jv_len(jv_get(rep, "changes")) == 0);
	jv_unref(rep);
	ws__db_close(&d);
	teardown();
}

TEST(lock_refuses_bad_paths)
{
	setup();
	struct sl_err err = { 0 };
	CHECK(ws_lock(state, "/", WS_STRATEGY_DIRECTORY, NULL, &err) != 0);
	CHECK(ws_lock(state, state, WS_STRATEGY_DIRECTORY, NULL, &err) != 0);
	CHECK(strstr(err.msg, "state directory") != NULL);
	char *inside = sl_xasprintf("%s/workspaces/x", state);
	CHECK(ws_lock(state, inside, WS_STRATEGY_DIRECTORY, NULL, &err) != 0);
	free(inside);
	const char *home = getenv("HOME");
	char *old = home ? sl_xstrdup(home) : NULL;
	setenv("HOME", wsdir, 1);
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, NULL, &err) != 0);
	CHECK(strstr(err.msg, "home directory") != NULL);
	if (old)
		setenv("HOME", old, 1);
	free(old);
	teardown();
}

TEST(policy_review_rules_are_appended)
{
	setup();
	struct sl_err err = { 0 };
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, NULL, &err) == 0);
	char *rules = sl_xasprintf("%s-policy.lua", wsdir);
	const char *body = "return { { name = 'hello.txt', reason = 'policy: hello is sacred' } }\n";
	sl_write_file(rules, body, strlen(body), 0644, NULL);
	const char *files[] = { rules, NULL };
	CHECK(ws_set_review_rules(state, wsdir, files, &err) == 0);
	struct ws_attachment a = { 0 };
	CHECK(ws_attach(state, wsdir, "h", getpid(), 1, &a, &err) == 0);
	char *f = sl_xasprintf("%s/hello.txt", a.mount);
	sl_write_file(f, "changed\n", 8, 0644, NULL);
	free(f);
	CHECK(ws_detach(state, &a, &err) == 0);
	ws_attachment_free(&a);
	struct ws_db d;
	CHECK(ws__db_open(state, &d, &err) == 0);
	struct jv *rep = NULL;
	CHECK(ws__unlock(&d, wsdir, NULL, &rep, &err) == 0);
	const struct jv *fl = jv_get(rep, "auto_exec_flags");
	CHECK(jv_len(fl) == 1);
	CHECK_STR(jv_get_str(jv_at(fl, 0), "reason"), "policy: hello is sacred");
	jv_unref(rep);
	ws__db_close(&d);
	/* only for a locked path */
	CHECK(ws_set_review_rules(state, wsdir, files, &err) != 0);
	unlink(rules);
	free(rules);
	teardown();
}

TEST(recycled_pid_is_not_signalled)
{
	setup();
	struct sl_err err = { 0 };
	CHECK(ws_lock(state, wsdir, WS_STRATEGY_DIRECTORY, NULL, &err) == 0);
	int p = spawn_sleeper();
	struct ws_attachment a = { 0 };
	CHECK(ws_attach(state, wsdir, "h", p, 0, &a, &err) == 0);
	/* pretend the recorded process started at another time: the pid now
	 * belongs to someone else */
	struct ws_db d;
	CHECK(ws__db_open(state, &d, &err) == 0);
	CHECK(ws__exec(&d, "UPDATE attachments SET hint='1'", &err) == 0);
	struct jv *rep = NULL;
	CHECK(ws__unlock(&d, wsdir, NULL, &rep, &err) == 0);
	jv_unref(rep);
	CHECK(kill(p, 0) == 0); /* still alive: never signalled */
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	ws__db_close(&d);
	ws_attachment_free(&a);
	teardown();
}
