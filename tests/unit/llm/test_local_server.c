/*
 * The managed local server (llm_manage_server): calls wait until the
 * server answers its health check; a killed server is restarted and calls
 * work again; a server that keeps dying is restarted exactly twice, its
 * stderr lands in the notes, and calls then fail as transport errors;
 * llm_free stops it.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llm_fixture.h"
#include "tap.h"

struct notes {
	struct sl_buf all;
	int pid;
};

static void on_note(void *ud, const char *msg)
{
	struct notes *n = ud;
	sl_buf_printf(&n->all, "%s\n", msg);
	const char *p = strstr(msg, "local server started (pid ");
	if (p)
		n->pid = atoi(p + strlen("local server started (pid "));
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(local_server_start_health_restart_stop)
{
	if (fx_setup() < 0)
		return;
	int port = free_port();
	CHECK(port > 0);
	char url[64], cmd[2048];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	/* the server takes a moment to listen: calls must wait for it */
	snprintf(cmd, sizeof cmd,
		 "sleep 0.3; echo loading model >&2; exec python3 "
		 "'%s/tests/integration/fake_providers/fake_provider.py' --kind local --port %d",
		 fx_src(), port);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	struct llm *l = llm_new(&loop, "local", "llama", url, NULL, fx_lua_dir(), &err);
	CHECK(l != NULL);
	if (!l)
		return;
	struct notes n = { 0 };
	sl_buf_init(&n.all);
	llm_set_note(l, on_note, &n);
	CHECK(llm_manage_server(l, cmd, 20000, &err) == 0);
	struct jv *req = fx_request("llama", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(jv_at(jv_get(r.resp, "content"), 0), "text"), "Hello from fake.");
	fx_result_free(&r);
	CHECK(strstr(n.all.p, "local server ready") != NULL);
	CHECK(strstr(n.all.p, "local server stderr: loading model") != NULL);
	CHECK(strstr(n.all.p, "http POST " ) != NULL); /* the exchange is noted */
	/* kill it: it comes back, and the next call works */
	int first = n.pid;
	CHECK(first > 0);
	kill(-first, SIGKILL);
	for (int i = 0; i < 50 && !strstr(n.all.p, "restarting local server (1 of 2)"); i++)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(strstr(n.all.p, "restarting local server (1 of 2)") != NULL);
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK(r.resp != NULL);
	fx_result_free(&r);
	int second = n.pid;
	CHECK(second > 0 && second != first);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
	/* stopped: the process exits (we reap it, libuv no longer does) */
	int gone = 0;
	for (int i = 0; i < 50 && !gone; i++) {
		int st;
		gone = waitpid(second, &st, WNOHANG) == second || kill(second, 0) < 0;
		if (!gone)
			usleep(100000);
	}
	CHECK(gone);
	jv_unref(req);
	sl_buf_free(&n.all);
}

TEST(local_server_that_keeps_dying_is_given_up)
{
	if (fx_setup() < 0)
		return;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	struct llm *l = llm_new(&loop, "local", "llama", "http://127.0.0.1:9", NULL, fx_lua_dir(),
				&err);
	if (!l)
		return;
	struct notes n = { 0 };
	sl_buf_init(&n.all);
	llm_set_note(l, on_note, &n);
	CHECK(llm_manage_server(l, "echo boom >&2; exit 3", 5000, &err) == 0);
	struct jv *req = fx_request("llama", 0);
	struct fx_result r;
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(r.err, "class"), "transport");
	CHECK(strstr(jv_get_str(r.err, "message"), "died 3 times") != NULL);
	CHECK(strstr(jv_get_str(r.err, "message"), "stderr ended with: boom") != NULL);
	CHECK(count(n.all.p, "local server started") == 3);
	CHECK(count(n.all.p, "local server stderr: boom") == 3);
	CHECK(count(n.all.p, "exited (status 3)") == 3);
	CHECK(strstr(n.all.p, "restarting local server (2 of 2)") != NULL);
	CHECK(strstr(n.all.p, "restarting local server (3") == NULL);
	fx_result_free(&r);
	/* a later call fails at once, without a restart */
	CHECK(fx_run(l, &loop, req, &r) == 0);
	CHECK_STR(jv_get_str(r.err, "class"), "transport");
	CHECK(count(n.all.p, "local server started") == 3);
	fx_result_free(&r);
	jv_unref(req);
	llm_free(l);
	CHECK(fx_loop_close(&loop) == 0);
	sl_buf_free(&n.all);
	uv_loop_init(&loop);
	struct llm *l2 = llm_new(&loop, "local", NULL, "http://127.0.0.1:9", NULL, fx_lua_dir(),
				 &err);
	CHECK(l2 != NULL);
	CHECK(llm_manage_server(l2, "", 0, &err) < 0);
	llm_free(l2);
	CHECK(fx_loop_close(&loop) == 0);
}
