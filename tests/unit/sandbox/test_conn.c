/* The harness side of the helper connection (sandbox/sb_conn.c) and of the
 * egress relay (sandbox/sb_relay.c), against a scripted fake helper on the
 * other end of a socketpair and against plain sockets: ids, concurrency,
 * chunks, Err, and every way an untrusted helper can misbehave. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_int.h"

struct got {
	int calls, fatal, chunks;
	char err[256];
	char payload[32];
	char chunk_data[64];
};

static void on_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct got *g = ud;
	g->calls++;
	g->fatal = fatal;
	snprintf(g->err, sizeof(g->err), "%s", err ? err : "");
	snprintf(g->payload, sizeof(g->payload), "%s",
		 result ? jv_get_str(result, "payload") : "");
}

static void on_chunk(void *ud, const char *stream, const char *data, size_t n)
{
	struct got *g = ud;
	g->chunks++;
	size_t l = strlen(g->chunk_data);
	snprintf(g->chunk_data + l, sizeof(g->chunk_data) - l, "%s:%.*s;", stream, (int)n, data);
}

/* the engine ignores SIGPIPE (sb_new does too); these tests skip sb_new */
__attribute__((constructor)) static void ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static int lost_calls;
static void on_lost(void *ud, const char *why)
{
	SL_UNUSED(ud);
	SL_UNUSED(why);
	lost_calls++;
}

/* Reads one request line from the fake helper's end. */
static int read_line(int fd, char *buf, size_t n)
{
	size_t k = 0;
	while (k + 1 < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 2000) <= 0)
			break;
		if (read(fd, buf + k, 1) != 1)
			break;
		if (buf[k++] == '\n')
			break;
	}
	buf[k] = 0;
	return (int)k;
}

static void say(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));
	SL_UNUSED(n);
}

static void spin(uv_loop_t *loop)
{
	for (int i = 0; i < 20; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

static struct sb_conn *open_pair(uv_loop_t *loop, int *peer)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	*peer = sv[1];
	struct sl_err err;
	return sb__conn_open(loop, sv[0], NULL, on_lost, NULL, &err);
}

static int64_t req(struct sb_conn *c, const char *op, const char *args, struct got *g)
{
	struct sl_err err;
	struct jv *a = jv_parse(args, strlen(args), NULL, &err);
	return sb__conn_request(c, op, a, on_done, on_chunk, g, &err);
}

TEST(conn_concurrent_out_of_order)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	struct sb_conn *c = open_pair(&loop, &peer);
	struct got a = { 0 }, b = { 0 };
	CHECK(req(c, "exec", "{\"command\":\"sleep 1\"}", &a) == 1);
	CHECK(req(c, "read_file", "{\"path\":\"/x\"}", &b) == 2);
	spin(&loop);
	char line[512];
	read_line(peer, line, sizeof(line));
	CHECK(strstr(line, "\"id\":1,\"op\":\"exec\",\"command\":\"sleep 1\",\"stream\":true") != NULL);
	read_line(peer, line, sizeof(line));
	CHECK_STR(line, "{\"id\":2,\"op\":\"read_file\",\"path\":\"/x\"}\n");
	/* answer 2 first, then a chunk and the result of 1; unknown ids dropped */
	say(peer, "{\"id\":2,\"result\":{\"Err\":\"cannot open /x: No such file\"}}\n"
		  "{\"id\":1,\"chunk\":{\"stream\":\"stdout\",\"data_b64\":\"aGk=\"}}\n"
		  "{\"id\":77,\"chunk\":{\"stream\":\"stdout\",\"data_b64\":\"aGk=\"}}\n"
		  "{\"id\":78,\"result\":{\"Err\":\"late\"}}\n"
		  "{\"id\":1,\"result\":{\"Ok\":{\"payload\":\"exec\",\"exit_code\":0,"
		  "\"stdout\":\"hi\",\"stderr\":\"\",\"timed_out\":false,\"truncated\":false}}}\n");
	spin(&loop);
	CHECK(b.calls == 1 && !b.fatal);
	CHECK_STR(b.err, "cannot open /x: No such file");
	CHECK(a.calls == 1 && !a.fatal);
	CHECK_STR(a.payload, "exec");
	CHECK(a.chunks == 1);
	CHECK_STR(a.chunk_data, "stdout:hi;");
	CHECK(sb__conn_alive(c));
	CHECK(sb__conn_pending(c) == 0);
	sb__conn_close(c);
	close(peer);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

static void garbage_case(const char *frame, const char *expect_err_part)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	lost_calls = 0;
	struct sb_conn *c = open_pair(&loop, &peer);
	struct got a = { 0 }, b = { 0 };
	req(c, "write_file", "{\"path\":\"/w\",\"content_b64\":\"\"}", &a);
	req(c, "list_dir", "{\"path\":\"/\"}", &b);
	spin(&loop);
	say(peer, frame);
	spin(&loop);
	CHECK(a.calls == 1 && a.fatal == 1);
	CHECK(b.calls == 1 && b.fatal == 1);
	if (!strstr(a.err, expect_err_part))
		printf("#   frame %s gave \"%s\"\n", frame, a.err);
	CHECK(strstr(a.err, expect_err_part) != NULL);
	CHECK_STR(b.err, "helper connection closed");
	CHECK(lost_calls == 1);
	CHECK(!sb__conn_alive(c));
	/* new requests are refused */
	struct got z = { 0 };
	CHECK(req(c, "read_file", "{\"path\":\"/x\"}", &z) < 0);
	sb__conn_close(c);
	close(peer);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(conn_garbage_closes)
{
	garbage_case("this is not json\n", "helper connection closed");
	garbage_case("{\"id\":1}\n", "helper connection closed");
	garbage_case("{\"id\":1,\"result\":{\"Ok\":{\"payload\":\"dir\",\"entries\":[]}}}\n",
		     "helper answered write_file with payload");
	garbage_case("{\"id\":1,\"result\":{\"Ok\":{\"payload\":\"written\",\"bytes\":\"3\"}}}\n",
		     "field bytes");
}

TEST(conn_eof_fails_pending)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	struct sb_conn *c = open_pair(&loop, &peer);
	struct got a = { 0 };
	req(c, "exec", "{\"command\":\"x\"}", &a);
	spin(&loop);
	close(peer);
	spin(&loop);
	CHECK(a.calls == 1 && a.fatal);
	CHECK_STR(a.err, "helper connection closed");
	sb__conn_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

/* A helper that stops answering: the request's own deadline fails it (and
 * every other pending one) and loses the connection, so the session ends
 * instead of hanging. */
TEST(conn_deadline_ends_silent_helper)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	lost_calls = 0;
	struct sb_conn *c = open_pair(&loop, &peer);
	sb__conn_set_deadlines(c, 100, 400);
	struct got a = { 0 }, b = { 0 }, x = { 0 };
	req(c, "read_file", "{\"path\":\"/x\"}", &b);
	spin(&loop);
	/* an answer in time keeps the connection */
	say(peer, "{\"id\":1,\"result\":{\"Err\":\"no\"}}\n");
	spin(&loop);
	CHECK(b.calls == 1 && !b.fatal);
	req(c, "exec", "{\"command\":\"x\",\"timeout_ms\":50}", &a);
	req(c, "list_dir", "{\"path\":\"/\"}", &x);
	for (int i = 0; i < 200 && !a.calls; i++) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	CHECK(a.calls == 1 && a.fatal == 1);
	CHECK(strstr(a.err, "did not answer exec request 2") != NULL);
	CHECK(x.calls == 1 && x.fatal == 1);
	CHECK(lost_calls == 1);
	CHECK(!sb__conn_alive(c));
	sb__conn_close(c);
	close(peer);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(conn_oversized_line)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	struct sb_conn *c = open_pair(&loop, &peer);
	struct got a = { 0 };
	req(c, "exec", "{\"command\":\"x\"}", &a);
	spin(&loop);
	/* stream more than the cap without a newline */
	fcntl(peer, F_SETFL, O_NONBLOCK);
	char *junk = malloc(1 << 20);
	memset(junk, 'x', 1 << 20);
	size_t sent = 0;
	for (int i = 0; i < 4000 && sent <= SB_MAX_LINE && !a.calls; i++) {
		ssize_t w = write(peer, junk, 1 << 20);
		if (w > 0)
			sent += (size_t)w;
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	free(junk);
	spin(&loop);
	CHECK(a.calls == 1 && a.fatal);
	sb__conn_close(c);
	close(peer);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(conn_cancel_execs)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int peer;
	struct sb_conn *c = open_pair(&loop, &peer);
	struct got a = { 0 }, b = { 0 }, d = { 0 };
	req(c, "exec", "{\"command\":\"sleep 9\"}", &a);
	req(c, "read_file", "{\"path\":\"/x\"}", &b);
	req(c, "exec", "{\"command\":\"sleep 8\"}", &d);
	sb__conn_cancel_execs(c);
	spin(&loop);
	char line[512];
	for (int i = 0; i < 3; i++)
		read_line(peer, line, sizeof(line));
	read_line(peer, line, sizeof(line));
	CHECK_STR(line, "{\"id\":4,\"op\":\"cancel\",\"cancel_id\":1}\n");
	read_line(peer, line, sizeof(line));
	CHECK_STR(line, "{\"id\":5,\"op\":\"cancel\",\"cancel_id\":3}\n");
	say(peer, "{\"id\":4,\"result\":{\"Ok\":{\"payload\":\"ack\"}}}\n"
		  "{\"id\":5,\"result\":{\"Err\":\"no cancellable request with id 3\"}}\n");
	spin(&loop);
	CHECK(sb__conn_alive(c));
	CHECK(sb__conn_pending(c) == 3);
	sb__conn_close(c);
	CHECK(a.calls == 1 && b.calls == 1 && d.calls == 1);
	close(peer);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(hello_handshake)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	say(sv[1], "{\"id\":0,\"result\":{\"Ok\":{\"payload\":\"hello\",\"version\":\"0.1.0\","
		   "\"pid\":1}}}\nextra");
	char *ver = NULL;
	int64_t pid = 0;
	struct sl_buf left;
	sl_buf_init(&left);
	struct sl_err err;
	CHECK(sb__hello(sv[0], 1000, &ver, &pid, &left, &err) == 0);
	CHECK_STR(ver, "0.1.0");
	CHECK(pid == 1);
	CHECK(left.len == 5 && !memcmp(left.p, "extra", 5));
	char line[128];
	read_line(sv[1], line, sizeof(line));
	CHECK_STR(line, "{\"id\":0,\"op\":\"hello\"}\n");
	free(ver);
	sl_buf_reset(&left);
	/* a wrong answer and a silent helper are setup errors */
	say(sv[1], "{\"id\":0,\"result\":{\"Ok\":{\"payload\":\"ack\"}}}\n");
	CHECK(sb__hello(sv[0], 1000, &ver, &pid, &left, &err) == SL_EPARSE);
	CHECK(sb__hello(sv[0], 100, &ver, &pid, &left, &err) == SL_ETIMEOUT);
	close(sv[1]);
	CHECK(sb__hello(sv[0], 1000, &ver, &pid, &left, &err) != 0);
	close(sv[0]);
	sl_buf_free(&left);
}

/* ---- relay ---- */

static int unix_client(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF while running the loop; returns bytes read. */
static size_t drain(uv_loop_t *loop, int fd, char *buf, size_t n)
{
	size_t k = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 2000; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		ssize_t r = read(fd, buf + k, n - 1 - k);
		if (r == 0)
			break;
		if (r > 0)
			k += (size_t)r;
		else
			usleep(1000);
	}
	buf[k] = 0;
	return k;
}

TEST(relay_stub_refuses)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	char dir[] = "/tmp/sb-relay-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/proxy.sock", dir);
	struct sl_err err;
	struct sb_relay *r = sb__relay_open(&loop, path, NULL, &err);
	CHECK(r != NULL);
	int fd = unix_client(path);
	CHECK(fd >= 0);
	say(fd, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	char buf[1024];
	drain(&loop, fd, buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	CHECK(strstr(buf, "proxy stub: all egress refused until the proxy is configured") != NULL);
	close(fd);
	sb__relay_close(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	unlink(path);
	rmdir(dir);
}

TEST(relay_pipes_to_proxy)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	/* a "proxy": a TCP listener that answers one line */
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(ls, (struct sockaddr *)&a, sizeof(a));
	listen(ls, 4);
	socklen_t al = sizeof(a);
	getsockname(ls, (struct sockaddr *)&a, &al);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
	char dir[] = "/tmp/sb-relay-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/proxy.sock", dir);
	struct sl_err err;
	CHECK(sb__relay_open(&loop, path, "nonsense", &err) == NULL);
	struct sb_relay *r = sb__relay_open(&loop, path, addr, &err);
	CHECK(r != NULL);
	int fd = unix_client(path);
	say(fd, "ping\n");
	int up = -1;
	for (int i = 0; i < 2000 && up < 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		struct pollfd p = { ls, POLLIN, 0 };
		if (poll(&p, 1, 1) == 1)
			up = accept(ls, NULL, NULL);
	}
	CHECK(up >= 0);
	char line[64];
	for (int i = 0; i < 2000; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		struct pollfd p = { up, POLLIN, 0 };
		if (poll(&p, 1, 1) == 1)
			break;
	}
	ssize_t n = read(up, line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = 0;
	CHECK_STR(line, "ping\n");
	say(up, "pong\n");
	close(up); /* the proxy closes: the sandbox side sees the data, then EOF */
	char buf[64];
	drain(&loop, fd, buf, sizeof(buf));
	CHECK_STR(buf, "pong\n");
	close(fd);
	close(ls);
	sb__relay_close(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	unlink(path);
	rmdir(dir);
}

/* The sandbox controls how many connections it opens to proxy.sock; each
 * costs the harness file descriptors, so past SB_RELAY_MAX_CONN at once the
 * relay closes new ones instead of running the harness out of fds. */
TEST(relay_caps_concurrent_connections)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	char dir[] = "/tmp/sb-relay-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/proxy.sock", dir);
	struct sl_err err;
	struct sb_relay *r = sb__relay_open(&loop, path, NULL, &err);
	CHECK(r != NULL);
	enum { EXTRA = 8, N = SB_RELAY_MAX_CONN + EXTRA };
	static int fds[N];
	int connected = 0;
	for (int i = 0; i < N; i++) {
		fds[i] = unix_client(path);
		if (fds[i] >= 0) {
			connected++;
			fcntl(fds[i], F_SETFL, O_NONBLOCK);
		}
		uv_run(&loop, UV_RUN_NOWAIT); /* accept, keeping the backlog short */
	}
	CHECK(connected == N);
	for (int i = 0; i < 50; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	int open_ok = 0, refused = 0;
	char c;
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		ssize_t k = read(fds[i], &c, 1);
		if (i < SB_RELAY_MAX_CONN && k < 0 && errno == EAGAIN)
			open_ok++;
		if (i >= SB_RELAY_MAX_CONN && k == 0)
			refused++;
	}
	CHECK(open_ok == SB_RELAY_MAX_CONN);
	CHECK(refused == EXTRA);
	/* a freed slot serves again */
	close(fds[0]);
	for (int i = 0; i < 50; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	int fd = unix_client(path);
	CHECK(fd >= 0);
	say(fd, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
	char buf[1024];
	drain(&loop, fd, buf, sizeof(buf));
	CHECK(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	close(fd);
	/* the relay closes while connections are still open: they free it */
	sb__relay_close(r);
	for (int i = 1; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	unlink(path);
	rmdir(dir);
}
