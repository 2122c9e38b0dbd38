/*
 * libFuzzer target for a whole proxy connection: the input is what a
 * sandbox sends over one TCP connection to the proxy (request heads,
 * bodies, chunked framing, pipelined requests, CONNECT and what follows),
 * then, after the line "--upstream--", what the upstream answers. Both go
 * through real sockets and the connection machine (px_conn.c): head
 * parsing, policy, credential and placeholder rewriting, dialing, relay,
 * chunked and length framing both ways, tunnels and close.
 *
 * The process moves into a network namespace of its own at start (root
 * only), with the test upstream at 198.51.100.1 in a second one behind a
 * veth pair (the proxy refuses its own interface addresses): nothing
 * leaves those namespaces. Without them the target does nothing.
 *
 * Policy: up.test, tun.test (tunnel only) and mitm.test are allowed and
 * mapped to the upstream; evil.test is mapped but not allowed. up.test
 * gets a real credential and a placeholder; "@DUMMY@" in the input is
 * replaced by the placeholder's dummy value. Checks beyond no crash, leak
 * or hang: the sandbox never receives the real credential or the real
 * placeholder value, and every connection is gone once both ends closed.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/px_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UP_ADDR "198.51.100.1"
#define SEP "--upstream--\n"
#define SECRET "fuzz-real-credential-7f3a9c"
#define PH_REAL "fuzz-real-placeholder-value-51bd"

static uv_loop_t loop;
static struct px *px;
static uv_tcp_t up_listen[2];
static int ready; /* 1 ready, -1 no private network namespace */
static unsigned records;

/* One input's state. */
static struct {
	const char *up_data;
	size_t up_len;
	uv_tcp_t cl;
	uv_connect_t creq;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	struct sl_buf cl_out, got;
	int cl_open, cl_done;
	int up_open; /* upstream connections not yet closed */
} io;

struct up_conn {
	uv_tcp_t tcp;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	char *copy;
};

static int if_up(int s, const char *name, const char *addr)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (addr) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		if (ioctl(s, SIOCSIFADDR, &ifr))
			return -1;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* The proxy's namespace A (loopback; 198.51.100.2 on a veth) and the
 * upstream's namespace B behind it (198.51.100.1): the proxy refuses
 * upstreams at its own interface addresses. B is entered only to bind
 * the upstream's listening sockets, which stay in it. Root only. */
static int listen_up(uv_tcp_t *t, int port);

static int own_netns(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	int a = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int p[2];
	if (a < 0 || pipe(p))
		return -1;
	pid_t child = fork();
	if (child == 0) {
		if (unshare(CLONE_NEWNET) || write(p[1], "x", 1) != 1)
			_exit(1);
		pause(); /* holds namespace B until the parent is done */
		_exit(0);
	}
	char c, cmd[128], nsp[64];
	if (child < 0 || read(p[0], &c, 1) != 1)
		return -1;
	snprintf(cmd, sizeof(cmd), "ip link add fzv0 type veth peer name fzv1 netns %d", (int)child);
	snprintf(nsp, sizeof(nsp), "/proc/%d/ns/net", (int)child);
	int b = open(nsp, O_RDONLY | O_CLOEXEC);
	int rc = b < 0 || system(cmd) != 0 ? -1 : 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!rc)
		rc = if_up(s, "lo", NULL) || if_up(s, "fzv0", "198.51.100.2");
	close(s);
	if (!rc && !setns(b, CLONE_NEWNET)) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		rc = if_up(s, "lo", NULL) || if_up(s, "fzv1", UP_ADDR);
		close(s);
		uv_loop_init(&loop);
		if (!rc)
			rc = listen_up(&up_listen[0], 80) || listen_up(&up_listen[1], 443);
		if (setns(a, CLONE_NEWNET))
			abort(); /* never fuzz from the upstream's namespace */
	} else {
		rc = -1;
	}
	close(p[0]);
	close(p[1]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(a);
	if (b >= 0)
		close(b);
	return rc;
}

static void on_record(void *ud, const struct jv *rec)
{
	SL_UNUSED(ud);
	if (!jv_is(rec, JV_OBJECT))
		abort();
	records++;
}

/* A small policy hook so the deny path runs too. */
static char *on_request(void *ud, const struct jv *req)
{
	SL_UNUSED(ud);
	const char *path = jv_str_val(jv_get(req, "path"));
	return path && strstr(path, "/denied") ? sl_xstrdup("denied by the fuzz policy") : NULL;
}

static void up_closed(uv_handle_t *h)
{
	struct up_conn *u = h->data;
	free(u->copy);
	free(u);
	io.up_open--;
}

static void up_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];
	SL_UNUSED(h);
	SL_UNUSED(hint);
	*b = uv_buf_init(buf, sizeof(buf));
}

static void up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	SL_UNUSED(b);
	if (n < 0 && !uv_is_closing((uv_handle_t *)s))
		uv_close((uv_handle_t *)s, up_closed);
}

static void up_written(uv_write_t *w, int status)
{
	SL_UNUSED(w);
	SL_UNUSED(status);
}

static void up_shut(uv_shutdown_t *r, int status)
{
	SL_UNUSED(r);
	SL_UNUSED(status);
}

/* The upstream answers at once with the input's upstream part, half
 * closes, and reads until the proxy closes. */
static void up_accept(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	struct up_conn *u = sl_xcalloc(1, sizeof(*u));
	uv_tcp_init(&loop, &u->tcp);
	u->tcp.data = u;
	io.up_open++;
	if (uv_accept(server, (uv_stream_t *)&u->tcp)) {
		uv_close((uv_handle_t *)&u->tcp, up_closed);
		return;
	}
	if (io.up_len) {
		u->copy = sl_xmalloc(io.up_len);
		memcpy(u->copy, io.up_data, io.up_len);
		uv_buf_t b = uv_buf_init(u->copy, (unsigned)io.up_len);
		uv_write(&u->wreq, (uv_stream_t *)&u->tcp, &b, 1, up_written);
	}
	uv_shutdown(&u->sreq, (uv_stream_t *)&u->tcp, up_shut);
	uv_read_start((uv_stream_t *)&u->tcp, up_alloc, up_read);
}

static int listen_up(uv_tcp_t *t, int port)
{
	struct sockaddr_in sa;
	uv_ip4_addr(UP_ADDR, port, &sa);
	uv_tcp_init(&loop, t);
	if (uv_tcp_bind(t, (struct sockaddr *)&sa, 0))
		return -1;
	return uv_listen((uv_stream_t *)t, 64, up_accept);
}

static int setup(void)
{
	if (ready)
		return ready;
	ready = -1;
	if (own_netns()) {
		fprintf(stderr, "fuzz_px_conn: no private network namespace; not running\n");
		return ready;
	}
	setenv("FUZZ_PX_SECRET", SECRET, 1);
	setenv("FUZZ_PX_PLACEHOLDER", PH_REAL, 1);
	static const char *const allow[] = { "up.test", "tun.test", "mitm.test", NULL };
	static const char *const tunnel[] = { "tun.test", NULL };
	static const struct px_credential cred[] = {
		{ .host = "up.test", .header = "Authorization", .env = "FUZZ_PX_SECRET",
		  .format = "Bearer {secret}" },
	};
	static const struct px_placeholder ph[] = {
		{ .env = "FUZZ_PX_PLACEHOLDER", .host = "up.test", .header = "x-api-key" },
	};
	struct jv *hosts = jv_obj();
	jv_set(hosts, "up.test", jv_str(UP_ADDR));
	jv_set(hosts, "tun.test", jv_str(UP_ADDR));
	jv_set(hosts, "mitm.test", jv_str(UP_ADDR));
	jv_set(hosts, "evil.test", jv_str(UP_ADDR));
	struct px_config cfg = {
		.allowed_domains = allow,
		.tunnel_domains = tunnel,
		.credentials = cred,
		.n_credentials = 1,
		.placeholders = ph,
		.n_placeholders = 1,
		.hosts = hosts,
		.on_request = on_request,
		.record = on_record,
	};
	struct sl_err err;
	px = px_new(&loop, &cfg, &err);
	jv_unref(hosts);
	if (!px || px_start(px, &err)) {
		fprintf(stderr, "fuzz_px_conn: %s\n", err.msg);
		abort();
	}
	/* short timers: a stalled connection ends the input quickly */
	px__set_timeouts(px, 300, 300);
	px->connect_ms = 300;
	px->tunnel_ms = 300;
	ready = 1;
	return ready;
}

static void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];
	SL_UNUSED(h);
	SL_UNUSED(hint);
	*b = uv_buf_init(buf, sizeof(buf));
}

static void cl_closed(uv_handle_t *h)
{
	SL_UNUSED(h);
	io.cl_open = 0;
}

static void cl_finish(void)
{
	io.cl_done = 1;
	if (io.cl_open && !uv_is_closing((uv_handle_t *)&io.cl))
		uv_close((uv_handle_t *)&io.cl, cl_closed);
}

static void cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	SL_UNUSED(s);
	if (n > 0 && io.got.len < (1u << 22))
		sl_buf_add(&io.got, b->base, (size_t)n);
	else if (n < 0)
		cl_finish();
}

static void cl_written(uv_write_t *w, int status)
{
	SL_UNUSED(w);
	SL_UNUSED(status);
}

static void cl_shut(uv_shutdown_t *r, int status)
{
	SL_UNUSED(r);
	SL_UNUSED(status);
}

static void cl_connected(uv_connect_t *r, int status)
{
	SL_UNUSED(r);
	if (status < 0) {
		cl_finish();
		return;
	}
	if (io.cl_out.len) {
		uv_buf_t b = uv_buf_init(io.cl_out.p, (unsigned)io.cl_out.len);
		uv_write(&io.wreq, (uv_stream_t *)&io.cl, &b, 1, cl_written);
	}
	uv_shutdown(&io.sreq, (uv_stream_t *)&io.cl, cl_shut);
	uv_read_start((uv_stream_t *)&io.cl, cl_alloc, cl_read);
}

static void deadline_cb(uv_timer_t *t)
{
	SL_UNUSED(t);
	cl_finish();
	px__conn_kill_all(px);
}

/* The client bytes with every "@DUMMY@" replaced by the dummy value. */
static void build_client(const char *p, size_t n)
{
	const char *dummy = px_placeholder_value(px, "FUZZ_PX_PLACEHOLDER");
	const char *m;
	while ((m = memmem(p, n, "@DUMMY@", 7))) {
		sl_buf_add(&io.cl_out, p, (size_t)(m - p));
		sl_buf_adds(&io.cl_out, dummy);
		n -= (size_t)(m - p) + 7;
		p = m + 7;
	}
	sl_buf_add(&io.cl_out, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (setup() < 0 || size > 256 * 1024)
		return 0;
	const char *p = (const char *)data;
	const char *sep = memmem(p, size, SEP, strlen(SEP));
	size_t cn = sep ? (size_t)(sep - p) : size;
	memset(&io, 0, sizeof(io));
	sl_buf_init(&io.cl_out);
	sl_buf_init(&io.got);
	if (sep) {
		io.up_data = sep + strlen(SEP);
		io.up_len = size - cn - strlen(SEP);
	} else {
		io.up_data = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		io.up_len = strlen(io.up_data);
	}
	build_client(p, cn);

	struct sockaddr_in sa;
	char host[64];
	snprintf(host, sizeof(host), "%s", px_addr(px));
	char *colon = strrchr(host, ':');
	*colon = '\0';
	uv_ip4_addr(host, atoi(colon + 1), &sa);
	uv_tcp_init(&loop, &io.cl);
	io.cl_open = 1;
	uv_tcp_connect(&io.creq, &io.cl, (struct sockaddr *)&sa, cl_connected);

	uv_timer_t deadline;
	uv_timer_init(&loop, &deadline);
	uv_timer_start(&deadline, deadline_cb, 5000, 0);
	while (io.cl_open || px->n_conns || io.up_open)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);

	if (getenv("FUZZ_PX_VERBOSE"))
		fprintf(stderr, "--- sandbox got %zu bytes:\n%.*s\n", io.got.len, (int)io.got.len,
			io.got.p ? io.got.p : "");
	/* The sandbox never sees a real secret (unless the input itself holds
	 * it: libFuzzer learns the strings compared here). */
	if (io.got.len && !memmem(p, size, SECRET, strlen(SECRET)) && !memmem(p, size, PH_REAL, strlen(PH_REAL)) &&
	    (memmem(io.got.p, io.got.len, SECRET, strlen(SECRET)) ||
	     memmem(io.got.p, io.got.len, PH_REAL, strlen(PH_REAL))))
		abort();
	sl_buf_free(&io.cl_out);
	sl_buf_free(&io.got);
	return 0;
}
