/* The proxy in-process with policy hooks (no network beyond loopback):
 * allow_host decides instead of the list, on_request sees the request
 * shape of decisions 15 and can refuse with a reason, the hosts map feeds
 * the IP guard, records carry the notes, --mock drops connections, and
 * px_stop finishes with every handle closed. A client thread talks raw
 * HTTP to the proxy while the loop runs here. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/px.h"
#include "tap.h"

struct ctx {
	char addr[64];
	struct jv *records; /* array */
	struct jv *last_req;
	uv_async_t done;
	struct px *px;
	int stopped;
	char replies[4][2048];
	const char *const *reqs;
};

static int allow_host(void *ud, const char *host, int port, char **note)
{
	if (!strcmp(host, "hook.test"))
		return 1;
	*note = sl_xstrdup("not on the hook's list");
	return 0;
}

static char *on_request(void *ud, const struct jv *req)
{
	struct ctx *c = ud;
	jv_unref(c->last_req);
	c->last_req = jv_copy(req);
	const char *path = jv_get_str(req, "path");
	return path && !strncmp(path, "/deny", 5) ? sl_xstrdup("no deny paths") : NULL;
}

static void record(void *ud, const struct jv *r)
{
	struct ctx *c = ud;
	jv_push(c->records, jv_copy(r));
}

static void exchange(const char *addr, const char *req, char *out, size_t n)
{
	char ip[64];
	const char *colon = strrchr(addr, ':');
	memcpy(ip, addr, (size_t)(colon - addr));
	ip[colon - addr] = '\0';
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	inet_pton(AF_INET, ip, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	out[0] = '\0';
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return;
	}
	size_t got = 0;
	ssize_t r;
	while (got + 1 < n && (r = read(fd, out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(fd);
}

static void *client(void *arg)
{
	struct ctx *c = arg;
	for (int i = 0; c->reqs[i]; i++)
		exchange(c->addr, c->reqs[i], c->replies[i], sizeof(c->replies[i]));
	uv_async_send(&c->done);
	return NULL;
}

static void on_stopped(void *ud)
{
	struct ctx *c = ud;
	c->stopped = 1;
	uv_close((uv_handle_t *)&c->done, NULL);
}

static void on_done(uv_async_t *a)
{
	struct ctx *c = a->data;
	px_stop(c->px, on_stopped, c);
}

static int run(struct ctx *c, struct px_config *cfg, const char *const *reqs)
{
	uv_loop_t loop;
	struct sl_err e;
	uv_loop_init(&loop);
	c->records = jv_arr();
	c->reqs = reqs;
	cfg->record = record;
	cfg->record_ud = c;
	cfg->hook_ud = c;
	c->px = px_new(&loop, cfg, &e);
	if (!c->px || px_start(c->px, &e)) {
		printf("# %s\n", e.msg);
		return -1;
	}
	snprintf(c->addr, sizeof(c->addr), "%s", px_addr(c->px));
	uv_async_init(&loop, &c->done, on_done);
	c->done.data = c;
	pthread_t t;
	pthread_create(&t, NULL, client, c);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(t, NULL);
	px_free(c->px);
	return uv_loop_close(&loop);
}

TEST(hooks_decide)
{
	static const char *const allow[] = { "list.test", NULL };
	struct jv *hosts = jv_obj();
	jv_set(hosts, "hook.test", jv_str("10.0.0.1"));
	struct px_config cfg = { .allowed_domains = allow, .hosts = hosts,
				 .allow_host = allow_host, .on_request = on_request };
	static const char *const reqs[] = {
		"GET http://hook.test/deny/x?secret=1 HTTP/1.1\r\nX-A: b\r\nConnection: close\r\n\r\n",
		"GET http://list.test/ HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET http://hook.test/fine HTTP/1.1\r\nConnection: close\r\n\r\n",
		NULL,
	};
	struct ctx c = { 0 };
	CHECK(run(&c, &cfg, reqs) == 0);
	CHECK(c.stopped);
	CHECK(!strncmp(c.replies[0], "HTTP/1.1 403", 12));
	CHECK(strstr(c.replies[0], "denied by policy: no deny paths") != NULL);
	/* the hook replaces the list: list.test is refused, with the note */
	CHECK(!strncmp(c.replies[1], "HTTP/1.1 403", 12));
	CHECK(strstr(c.replies[1], "not on the hook's list") != NULL);
	/* allowed by the hook, then the hosts map meets the IP guard */
	CHECK(!strncmp(c.replies[2], "HTTP/1.1 502", 12));
	CHECK(strstr(c.replies[2], "blocked address: hook.test resolves to 10.0.0.1 (private)"));
	/* on_request saw decisions 15's shape: path without the query */
	CHECK_STR(jv_get_str(c.last_req, "method"), "GET");
	CHECK_STR(jv_get_str(c.last_req, "host"), "hook.test");
	CHECK(jv_get_int(c.last_req, "port", 0) == 80);
	CHECK_STR(jv_get_str(c.last_req, "path"), "/fine");
	CHECK(jv_len(jv_get(c.last_req, "headers")) == 1);
	/* records: one per decision, notes as sandbox.md 10.8 */
	CHECK(jv_len(c.records) == 3);
	const struct jv *r0 = jv_at(c.records, 0), *r1 = jv_at(c.records, 1),
			*r2 = jv_at(c.records, 2);
	CHECK_STR(jv_get_str(r0, "note"), "policy: no deny paths");
	CHECK_STR(jv_get_str(r0, "path"), "/deny/x");
	CHECK(!jv_get_bool(r0, "allowed"));
	CHECK_STR(jv_get_str(r1, "note"), "domain not allowlisted");
	CHECK_STR(jv_get_str(r2, "note"), "blocked address");
	CHECK(!jv_get_bool(r2, "allowed"));
	char *all = jv_to_string(c.records, 0);
	CHECK(!strstr(all, "secret=1"));
	free(all);
	jv_unref(c.records);
	jv_unref(c.last_req);
	jv_unref(hosts);
}

TEST(hooks_mock_proxy)
{
	static const char *const allow[] = { "a.test", NULL };
	struct px_config cfg = { .allowed_domains = allow, .mock = 1 };
	static const char *const reqs[] = { "GET http://a.test/ HTTP/1.1\r\n\r\n", NULL };
	struct ctx c = { 0 };
	CHECK(run(&c, &cfg, reqs) == 0);
	CHECK(c.replies[0][0] == '\0'); /* closed without a byte */
	CHECK(jv_len(c.records) == 0);
	jv_unref(c.records);
}

TEST(hooks_bad_config)
{
	uv_loop_t loop;
	struct sl_err e;
	uv_loop_init(&loop);
	struct px_credential cr = { "a.test", "Bad Header", "PATH", NULL };
	struct px_config cfg = { .credentials = &cr, .n_credentials = 1 };
	CHECK(px_new(&loop, &cfg, &e) == NULL);
	CHECK(strstr(e.msg, "invalid header name") != NULL);
	struct px_placeholder ph = { "PX_TEST_SURELY_UNSET", "a.test", "X-Key", NULL, NULL };
	struct px_config cfg2 = { .placeholders = &ph, .n_placeholders = 1 };
	CHECK(px_new(&loop, &cfg2, &e) == NULL);
	CHECK(strstr(e.msg, "PX_TEST_SURELY_UNSET is not set") != NULL);
	struct px_config cfg3 = { .listen_addr = "nonsense" };
	struct px *px = px_new(&loop, &cfg3, &e);
	CHECK(px != NULL);
	if (px) {
		CHECK(px_start(px, &e) != 0);
		px_stop(px, NULL, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		px_free(px);
	}
	CHECK(uv_loop_close(&loop) == 0);
}
