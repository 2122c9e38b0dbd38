/*
 * silo-helper network tests: the egress relay (against a loopback echo
 * server on a Unix socket) and fetch (against a loopback proxy written here:
 * absolute-form http requests are answered directly; CONNECT is accepted and
 * the proxy itself terminates TLS with a certificate from a test CA made by
 * the openssl CLI, as the real proxy does with the session CA).
 */
#include "hh.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* ---- a loopback proxy ---- */

struct tls_id {
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
};

static struct {
	int ls;
	unsigned port;
	volatile int stop;
	pthread_t thr;
	int have_tls;
	struct tls_id good, bad; /* bad: same name, untrusted CA */
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	pthread_mutex_t mu;
	char log[8192];          /* request lines seen, one per line */
	char last_head[8192];    /* last inner request head + body */
} px = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct io {
	int fd;
	mbedtls_ssl_context *ssl;
};

static int io_read(struct io *io, char *p, size_t n)
{
	if (io->ssl) {
		int r;
		do
			r = mbedtls_ssl_read(io->ssl, (unsigned char *)p, n);
		while (r == MBEDTLS_ERR_SSL_WANT_READ);
		return r < 0 ? -1 : r;
	}
	struct pollfd pf = { .fd = io->fd, .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1)
		return -1;
	return (int)read(io->fd, p, n);
}

static void io_write(struct io *io, const char *p, size_t n)
{
	while (n) {
		int w = io->ssl ? mbedtls_ssl_write(io->ssl, (const unsigned char *)p, n)
				: (int)send(io->fd, p, n, MSG_NOSIGNAL);
		if (w == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Reads a request head (and a Content-Length body) into buf. */
static int read_req(struct io *io, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL;
	while (!(end = strstr(buf, "\r\n\r\n"))) {
		if (len + 1 >= cap)
			return -1;
		int r = io_read(io, buf + len, 1); /* byte-wise: never read past the head */
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = 0;
	}
	const char *cl = strcasestr(buf, "\r\ncontent-length:");
	size_t body = cl ? (size_t)atoi(cl + 17) : 0;
	while (body && len + 1 < cap) {
		int r = io_read(io, buf + len, body < cap - len - 1 ? body : cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
		body -= (size_t)r;
		buf[len] = 0;
	}
	return 0;
}

static void logline(const char *head)
{
	pthread_mutex_lock(&px.mu);
	size_t n = strcspn(head, "\r\n");
	size_t l = strlen(px.log);
	if (l + n + 2 < sizeof px.log) {
		memcpy(px.log + l, head, n);
		px.log[l + n] = '\n';
		px.log[l + n + 1] = 0;
	}
	pthread_mutex_unlock(&px.mu);
}

static void serve(struct io *io, const char *path, const char *head)
{
	char resp[1024];
	if (!strcmp(path, "/hello")) {
		const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: Yes\r\n\r\nhi";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/chunked")) {
		const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/close")) {
		const char *r = "HTTP/1.1 200 OK\r\n\r\nuntil close";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/redir")) {
		const char *r = "HTTP/1.1 302 Found\r\nLocation: hello\r\nContent-Length: 0\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/to-https")) {
		const char *r = "HTTP/1.1 301 Moved\r\nLocation: https://secure.test/hello\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/see-other")) {
		const char *r = "HTTP/1.1 303 See Other\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/loop")) {
		const char *r = "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/big")) {
		char big[200];
		memset(big, 'x', 100);
		int n = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%.100s", big);
		io_write(io, resp, (size_t)n);
	} else if (!strcmp(path, "/bigchunked")) {
		const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				"a\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/continue")) {
		const char *r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/short")) {
		const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
		io_write(io, r, strlen(r));
	} else if (!strcmp(path, "/404")) {
		const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
		io_write(io, r, strlen(r));
	} else { /* /echo: the request as received */
		int n = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
				 strlen(head));
		io_write(io, resp, (size_t)n);
		io_write(io, head, strlen(head));
	}
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	ssize_t w = send(*(int *)ctx, p, n, MSG_NOSIGNAL);
	return w < 0 ? -1 : (int)w;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	struct pollfd pf = { .fd = *(int *)ctx, .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1)
		return -1;
	ssize_t r = recv(*(int *)ctx, p, n, 0);
	return r < 0 ? -1 : (int)r;
}

static void handle_tls(int fd, const char *host)
{
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	struct tls_id *id = strcmp(host, "wrong.test") ? &px.good : &px.bad;
	mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
				    MBEDTLS_SSL_PRESET_DEFAULT);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &px.drbg);
	mbedtls_ssl_conf_own_cert(&conf, &id->crt, &id->key);
	mbedtls_ssl_setup(&ssl, &conf);
	mbedtls_ssl_set_bio(&ssl, &fd, bio_send, bio_recv, NULL);
	int rc;
	do
		rc = mbedtls_ssl_handshake(&ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc == 0) {
		struct io io = { fd, &ssl };
		char head[8192] = "";
		if (read_req(&io, head, sizeof head) == 0) {
			logline(head);
			pthread_mutex_lock(&px.mu);
			snprintf(px.last_head, sizeof px.last_head, "%s", head);
			pthread_mutex_unlock(&px.mu);
			char path[512] = "";
			sscanf(head, "%*s %511s", path);
			serve(&io, path, head);
			mbedtls_ssl_close_notify(&ssl);
		}
	}
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
}

static void handle(int fd)
{
	struct io io = { fd, NULL };
	char head[8192] = "";
	if (read_req(&io, head, sizeof head) < 0)
		return;
	logline(head);
	char method[32] = "", target[512] = "";
	sscanf(head, "%31s %511s", method, target);
	if (!strcmp(method, "CONNECT")) {
		char host[256] = "";
		sscanf(target, "%255[^:]", host);
		if (!strcmp(host, "denied.test")) {
			const char *r = "HTTP/1.1 403 Forbidden\r\nContent-Length: 35\r\n\r\n"
					"denied.test: domain not allowlisted";
			io_write(&io, r, strlen(r));
			return;
		}
		io_write(&io, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
		if (px.have_tls)
			handle_tls(fd, host);
		return;
	}
	pthread_mutex_lock(&px.mu);
	snprintf(px.last_head, sizeof px.last_head, "%s", head);
	pthread_mutex_unlock(&px.mu);
	const char *path = strncmp(target, "http://", 7) ? target : strchr(target + 7, '/');
	serve(&io, path ? path : "/", head);
}

static void *proxy_thread(void *arg)
{
	while (!px.stop) {
		struct pollfd pf = { .fd = px.ls, .events = POLLIN };
		if (poll(&pf, 1, 100) != 1)
			continue;
		int c = accept(px.ls, NULL, NULL);
		if (c < 0)
			continue;
		handle(c);
		close(c);
	}
	return NULL;
}

static int listen_any(unsigned *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof sa;
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) || listen(s, 16) ||
	    getsockname(s, (struct sockaddr *)&sa, &l))
		return -1;
	*port = ntohs(sa.sin_port);
	return s;
}

static int load_id(struct tls_id *id, const char *dir, const char *name)
{
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s/%s.pem", dir, name);
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	mbedtls_x509_crt_init(&id->crt);
	mbedtls_pk_init(&id->key);
	return mbedtls_x509_crt_parse_file(&id->crt, crt) || mbedtls_pk_parse_keyfile(&id->key, key, NULL);
}

/* Makes ca/leaf (trusted) and ca2/leaf2 (untrusted) in dir; 0 or -1. */
static int make_certs(const char *dir)
{
	if (hh_sh("command -v openssl >/dev/null"))
		return -1;
	return hh_sh("exec >/dev/null 2>&1; cd %s && printf 'subjectAltName=DNS:secure.test,DNS:wrong.test\\n' > ext && "
		     "for c in ca ca2; do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		     "-nodes -keyout $c.key -out $c.pem -days 2 -subj /CN=silo-test-$c; done && "
		     "for l in leaf:ca leaf2:ca2; do n=${l%%:*}; c=${l#*:}; "
		     "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key "
		     "-out $n.csr -subj /CN=secure.test && "
		     "openssl x509 -req -in $n.csr -CA $c.pem -CAkey $c.key -CAcreateserial -out $n.pem "
		     "-days 2 -extfile ext || exit 1; done >/dev/null 2>&1",
		     dir) ? -1 : 0;
}

static int proxy_start(const char *certdir)
{
	px.stop = 0;
	px.log[0] = 0;
	px.ls = listen_any(&px.port);
	if (px.ls < 0)
		return -1;
	px.have_tls = 0;
	if (certdir) {
		mbedtls_entropy_init(&px.ent);
		mbedtls_ctr_drbg_init(&px.drbg);
		if (mbedtls_ctr_drbg_seed(&px.drbg, mbedtls_entropy_func, &px.ent, NULL, 0) == 0 &&
		    load_id(&px.good, certdir, "leaf") == 0 && load_id(&px.bad, certdir, "leaf2") == 0)
			px.have_tls = 1;
	}
	return pthread_create(&px.thr, NULL, proxy_thread, NULL) ? -1 : 0;
}

static void proxy_stop(void)
{
	px.stop = 1;
	pthread_join(px.thr, NULL);
	close(px.ls);
	if (px.have_tls) {
		mbedtls_x509_crt_free(&px.good.crt);
		mbedtls_pk_free(&px.good.key);
		mbedtls_x509_crt_free(&px.bad.crt);
		mbedtls_pk_free(&px.bad.key);
		mbedtls_ctr_drbg_free(&px.drbg);
		mbedtls_entropy_free(&px.ent);
	}
}

static uint64_t fid = 1;

static struct jv *fetch(struct hh *h, const char *url, const char *extra)
{
	uint64_t id = fid++;
	hh_sendf(h, "{\"id\":%llu,\"op\":\"fetch\",\"url\":\"%s\",\"method\":\"GET\",\"max_bytes\":1000%s}",
		 (unsigned long long)id, url, extra ? extra : "");
	return hh_result(h, id, 30000, NULL, NULL);
}

static void check_body(struct jv *f, int status, const char *body, int truncated)
{
	struct jv *ok = hh_ok(f);
	if (!ok)
		printf("# error: %s\n", hh_err(f) ? hh_err(f) : "(no frame)");
	CHECK_STR(jv_get_str(ok, "payload"), "fetched");
	CHECK(jv_get_int(ok, "status", -1) == status);
	size_t n = 0;
	char *d = hh_b64(ok, "body_b64", &n);
	CHECK(d && n == strlen(body) && !memcmp(d, body, n));
	if (d && (n != strlen(body) || memcmp(d, body, n)))
		printf("# body: %s\n", d);
	CHECK(jv_get_bool(ok, "truncated") == truncated);
	free(d);
}

TEST(fetch_http)
{
	CHECK(proxy_start(NULL) == 0);
	char env1[100];
	snprintf(env1, sizeof env1, "HTTP_PROXY=http://127.0.0.1:%u/", px.port);
	const char *env[] = { env1, "HTTPS_PROXY=", "SILO_PROXY_CA=", NULL };
	struct hh h;
	if (hh_start(&h, env, NULL) < 0) {
		CHECK(0);
		proxy_stop();
		return;
	}
	struct jv *f = fetch(&h, "http://plain.test/hello", NULL);
	check_body(f, 200, "hi", 0);
	struct jv *hd = jv_get(hh_ok(f), "headers");
	int seen = 0;
	for (size_t i = 0; i < jv_len(hd); i++)
		if (!strcmp(jv_str_val(jv_at(jv_at(hd, i), 0)) ? jv_str_val(jv_at(jv_at(hd, i), 0)) : "",
			    "x-test") &&
		    !strcmp(jv_str_val(jv_at(jv_at(hd, i), 1)), "Yes"))
			seen = 1;
	CHECK(seen);
	jv_unref(f);
	CHECK(strstr(px.log, "GET http://plain.test/hello HTTP/1.1\n") != NULL);

	check_body(f = fetch(&h, "http://plain.test/chunked", NULL), 200, "hello world", 0);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test/close", NULL), 200, "until close", 0);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test:8080/redir", NULL), 200, "hi", 0);
	jv_unref(f);
	CHECK(strstr(px.log, "GET http://plain.test:8080/hello HTTP/1.1\n") != NULL);
	check_body(f = fetch(&h, "http://plain.test/continue", NULL), 200, "ok", 0);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test/404", NULL), 404, "nope", 0);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test/big", ",\"max_bytes\":10"), 200, "xxxxxxxxxx", 1);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test/bigchunked", ",\"max_bytes\":15"), 200,
		   "0123456789abcde", 1);
	jv_unref(f);
	check_body(f = fetch(&h, "http://plain.test/bigchunked", ",\"max_bytes\":20"), 200,
		   "0123456789abcdefghij", 0);
	jv_unref(f);

	/* Headers and body go out as given; Host is ours; POST after 303
	 * becomes a body-less GET. */
	hh_send(&h, "{\"id\":500,\"op\":\"fetch\",\"url\":\"http://plain.test/echo?q=1#frag\","
		    "\"method\":\"POST\",\"headers\":[[\"X-One\",\"1\"],[\"Content-Type\",\"text/plain\"]],"
		    "\"body_b64\":\"Ym9keQ==\",\"max_bytes\":4000}");
	f = hh_result(&h, 500, 30000, NULL, NULL);
	char *echo = hh_b64(hh_ok(f), "body_b64", NULL);
	CHECK(echo && !strncmp(echo, "POST http://plain.test/echo?q=1 HTTP/1.1\r\n", 42));
	CHECK(echo && strstr(echo, "\r\nHost: plain.test\r\n"));
	CHECK(echo && strstr(echo, "\r\nX-One: 1\r\n"));
	CHECK(echo && strstr(echo, "\r\nContent-Length: 4\r\n"));
	CHECK(echo && strstr(echo, "\r\n\r\nbody"));
	free(echo);
	jv_unref(f);
	hh_send(&h, "{\"id\":501,\"op\":\"fetch\",\"url\":\"http://plain.test/see-other\","
		    "\"method\":\"POST\",\"body_b64\":\"Ym9keQ==\",\"max_bytes\":4000}");
	f = hh_result(&h, 501, 30000, NULL, NULL);
	echo = hh_b64(hh_ok(f), "body_b64", NULL);
	CHECK(echo && !strncmp(echo, "GET http://plain.test/echo HTTP/1.1\r\n", 37));
	CHECK(echo && !strstr(echo, "body"));
	free(echo);
	jv_unref(f);

	f = fetch(&h, "http://plain.test/loop", NULL);
	CHECK_STR(hh_err(f), "fetch failed: too many redirects (more than 10)");
	jv_unref(f);
	f = fetch(&h, "http://plain.test/short", NULL);
	CHECK_STR(hh_err(f), "fetch body failed: connection closed before the end of the body");
	jv_unref(f);
	f = fetch(&h, "ftp://plain.test/x", NULL);
	CHECK_STR(hh_err(f), "fetch failed: invalid URL \"ftp://plain.test/x\": unsupported URL scheme \"ftp\"");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
	proxy_stop();
}

TEST(fetch_validation)
{
	char cafile[300];
	const char *env[] = { "HTTP_PROXY=http://127.0.0.1:9/", "HTTPS_PROXY=", cafile, NULL };
	snprintf(cafile, sizeof cafile, "SILO_PROXY_CA=/nonexistent/ca.pem");
	struct hh h;
	if (hh_start(&h, env, NULL) < 0) {
		CHECK(0);
		return;
	}
	struct {
		const char *req, *err;
	} cases[] = {
		{ "\"url\":\"http://a.test/\",\"method\":\"GE T\"", "invalid HTTP method \"GE T\"" },
		{ "\"url\":\"http://a.test/\",\"method\":\"GET\",\"headers\":[[\"Bad Name\",\"x\"]]",
		  "invalid header name \"Bad Name\"" },
		{ "\"url\":\"http://a.test/\",\"method\":\"GET\",\"headers\":[[\"X-A\",\"a\\r\\nb\"]]",
		  "invalid value for header \"X-A\"" },
		{ "\"url\":\"http://a.test/\",\"method\":\"GET\"",
		  "cannot read CA certificate /nonexistent/ca.pem: No such file or directory (os error 2)" },
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
		hh_sendf(&h, "{\"id\":%zu,\"op\":\"fetch\",%s,\"max_bytes\":10}", i + 1, cases[i].req);
		struct jv *f = hh_result(&h, i + 1, 10000, NULL, NULL);
		CHECK_STR(hh_err(f), cases[i].err);
		jv_unref(f);
	}
	CHECK(hh_stop(&h) == 0);

	/* A file that holds no certificate; a bad proxy URL; no proxy at all. */
	char dir[256];
	hh_tmpdir(dir);
	hh_sh("echo garbage > %s/bad.pem", dir);
	snprintf(cafile, sizeof cafile, "SILO_PROXY_CA=%s/bad.pem", dir);
	if (hh_start(&h, env, NULL) == 0) {
		hh_send(&h, "{\"id\":1,\"op\":\"fetch\",\"url\":\"http://a.test/\",\"method\":\"GET\",\"max_bytes\":1}");
		struct jv *f = hh_result(&h, 1, 10000, NULL, NULL);
		char want[400];
		snprintf(want, sizeof want, "invalid CA certificate %s/bad.pem: ", dir);
		CHECK(hh_err(f) && !strncmp(hh_err(f), want, strlen(want)));
		jv_unref(f);
		CHECK(hh_stop(&h) == 0);
	}
	const char *env2[] = { "HTTP_PROXY=socks5://x:1", "HTTPS_PROXY=", "SILO_PROXY_CA=", NULL };
	if (hh_start(&h, env2, NULL) == 0) {
		hh_send(&h, "{\"id\":1,\"op\":\"fetch\",\"url\":\"http://a.test/\",\"method\":\"GET\",\"max_bytes\":1}");
		struct jv *f = hh_result(&h, 1, 10000, NULL, NULL);
		CHECK_STR(hh_err(f), "invalid proxy URL \"socks5://x:1\": only http:// proxies are supported");
		jv_unref(f);
		CHECK(hh_stop(&h) == 0);
	}
	const char *env4[] = { "HTTP_PROXY=http://proxy.example:3128", "HTTPS_PROXY=", "SILO_PROXY_CA=", NULL };
	if (hh_start(&h, env4, NULL) == 0) {
		hh_send(&h, "{\"id\":1,\"op\":\"fetch\",\"url\":\"http://a.test/\",\"method\":\"GET\",\"max_bytes\":1}");
		struct jv *f = hh_result(&h, 1, 10000, NULL, NULL);
		CHECK_STR(hh_err(f), "invalid proxy URL \"http://proxy.example:3128\": host must be an IP "
				     "address (no DNS in the sandbox)");
		jv_unref(f);
		CHECK(hh_stop(&h) == 0);
	}
	/* Nothing listens on port 9 of loopback: no response at all. */
	const char *env3[] = { "HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=", "SILO_PROXY_CA=", NULL };
	if (hh_start(&h, env3, NULL) == 0) {
		hh_send(&h, "{\"id\":1,\"op\":\"fetch\",\"url\":\"http://a.test/\",\"method\":\"GET\",\"max_bytes\":1}");
		struct jv *f = hh_result(&h, 1, 10000, NULL, NULL);
		CHECK_STR(hh_err(f), "fetch failed: cannot connect to proxy 127.0.0.1:9: "
				     "Connection refused (os error 111)");
		jv_unref(f);
		CHECK(hh_stop(&h) == 0);
	}
	sl_rm_rf(dir);
}

TEST(fetch_https)
{
	char dir[256];
	hh_tmpdir(dir);
	if (make_certs(dir) < 0) {
		printf("# skipped: openssl CLI unavailable\n");
		sl_rm_rf(dir);
		return;
	}
	CHECK(proxy_start(dir) == 0);
	CHECK(px.have_tls);
	char env1[100], env2[400];
	snprintf(env1, sizeof env1, "HTTPS_PROXY=http://127.0.0.1:%u", px.port);
	snprintf(env2, sizeof env2, "SILO_PROXY_CA=%s/ca.pem", dir);
	const char *env[] = { env1, env2, "HTTP_PROXY=http://127.0.0.1:9", NULL };
	struct hh h;
	if (hh_start(&h, env, NULL) < 0) {
		CHECK(0);
		proxy_stop();
		sl_rm_rf(dir);
		return;
	}
	struct jv *f = fetch(&h, "https://secure.test/hello", NULL);
	check_body(f, 200, "hi", 0);
	jv_unref(f);
	CHECK(strstr(px.log, "CONNECT secure.test:443 HTTP/1.1\nGET /hello HTTP/1.1\n") != NULL);
	check_body(f = fetch(&h, "https://secure.test:8443/chunked", NULL), 200, "hello world", 0);
	jv_unref(f);
	CHECK(strstr(px.log, "CONNECT secure.test:8443 HTTP/1.1\n") != NULL);
	/* http -> https redirect, each hop via the proxy. */
	check_body(f = fetch(&h, "http://secure.test/to-https", NULL), 200, "hi", 0);
	jv_unref(f);
	CHECK(strstr(px.log, "GET http://secure.test/to-https HTTP/1.1\nCONNECT secure.test:443") != NULL);
	/* Host header inside the tunnel. */
	f = fetch(&h, "https://secure.test/echo", ",\"headers\":[[\"Authorization\",\"Bearer t\"]]");
	char *echo = hh_b64(hh_ok(f), "body_b64", NULL);
	CHECK(echo && strstr(echo, "\r\nHost: secure.test\r\n") && strstr(echo, "Authorization: Bearer t"));
	free(echo);
	jv_unref(f);

	/* Certificate from an untrusted CA; name mismatch; refused CONNECT. */
	f = fetch(&h, "https://wrong.test/hello", NULL);
	const char *e = hh_err(f);
	CHECK(e && !strncmp(e, "fetch failed: TLS handshake with wrong.test failed: certificate verify failed", 75));
	jv_unref(f);
	f = fetch(&h, "https://other.test/hello", NULL);
	e = hh_err(f);
	CHECK(e && !strncmp(e, "fetch failed: TLS handshake with other.test failed: certificate verify failed", 75));
	jv_unref(f);
	f = fetch(&h, "https://denied.test/hello", NULL);
	CHECK_STR(hh_err(f), "fetch failed: proxy refused CONNECT to denied.test:443 (HTTP 403): "
			     "denied.test: domain not allowlisted");
	jv_unref(f);
	CHECK(hh_stop(&h) == 0);
	proxy_stop();
	sl_rm_rf(dir);
}

/* ---- relay ---- */

static void *echo_thread(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (int n = 0; n < 2; n++) {
		int c = accept(ls, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[4096];
		ssize_t r;
		while ((r = read(c, buf, sizeof buf)) > 0)
			if (write(c, buf, (size_t)r) != r)
				break;
		close(c);
	}
	return NULL;
}

TEST(relay)
{
	char dir[256], sock[300], env1[400];
	hh_tmpdir(dir);
	snprintf(sock, sizeof sock, "%s/proxy.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	int us = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(us >= 0 && bind(us, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(us, 4) == 0);
	unsigned port;
	int tmp = listen_any(&port); /* a free port, released for the helper */
	close(tmp);
	pthread_t t;
	pthread_create(&t, NULL, echo_thread, (void *)(intptr_t)us);
	snprintf(env1, sizeof env1, "SILO_PROXY_RELAY=%s:%u", sock, port);
	const char *env[] = { env1, NULL };
	struct hh h;
	CHECK(hh_start(&h, env, NULL) == 0);
	for (int round = 0; round < 2; round++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(connect(c, (struct sockaddr *)&in, sizeof in) == 0);
		char msg[20000];
		for (size_t i = 0; i < sizeof msg; i++)
			msg[i] = (char)(i * 7 + (size_t)round);
		CHECK(write(c, msg, sizeof msg) == (ssize_t)sizeof msg);
		shutdown(c, SHUT_WR); /* the half-close must reach the echo server */
		char got[30000];
		size_t n = 0;
		ssize_t r;
		struct pollfd pf = { .fd = c, .events = POLLIN };
		while (n < sizeof got && poll(&pf, 1, 5000) == 1 && (r = read(c, got + n, sizeof got - n)) > 0)
			n += (size_t)r;
		CHECK(n == sizeof msg && !memcmp(got, msg, n));
		close(c);
	}
	CHECK(hh_stop(&h) == 0);
	pthread_join(t, NULL);
	close(us);
	sl_rm_rf(dir);

	/* Spec errors stop the helper before it serves. */
	const char *bad[] = { "nocolon", ":3128", "/tmp/x.sock:0", "/tmp/x.sock:99999", "/tmp/x.sock:12a" };
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
		CHECK(hh_sh("SILO_PROXY_RELAY='%s' %s unix:/nonexistent/h.sock 2>/dev/null", bad[i],
			    hh_helper_path()) == 1);
}

/* ---- multiplexed relay over a virtio-serial port (a pty stands in) ---- */

static struct {
	int m;
	volatile int stop;
	int opens[8];
	int n_opens;
} vh;

static void vh_write(int type, uint32_t id, const char *p, uint32_t n)
{
	unsigned char h[9] = { (unsigned char)type, (unsigned char)(id >> 24), (unsigned char)(id >> 16),
			       (unsigned char)(id >> 8), (unsigned char)id, (unsigned char)(n >> 24),
			       (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, h, 9);
	sl_buf_add(&b, p, n);
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(vh.m, b.p + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	sl_buf_free(&b);
}

/* The host end: echoes every stream's data back and closes when it does. */
static void *vhost_thread(void *arg)
{
	(void)arg;
	struct sl_buf in;
	sl_buf_init(&in);
	while (!vh.stop) {
		struct pollfd pf = { .fd = vh.m, .events = POLLIN };
		if (poll(&pf, 1, 100) != 1)
			continue;
		sl_buf_reserve(&in, 65536);
		ssize_t r = read(vh.m, in.p + in.len, 65536);
		if (r <= 0)
			continue;
		in.len += (size_t)r;
		size_t off = 0;
		while (in.len - off >= 9) {
			const unsigned char *h = (const unsigned char *)in.p + off;
			uint32_t id = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
			uint32_t n = (uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
			if (in.len - off < 9 + n)
				break;
			if (h[0] == 1 && vh.n_opens < 8)
				vh.opens[vh.n_opens++] = (int)id;
			else if (h[0] == 2)
				vh_write(2, id, in.p + off + 9, n);
			else if (h[0] == 3)
				vh_write(3, id, NULL, 0);
			off += 9 + n;
		}
		memmove(in.p, in.p + off, in.len - off);
		in.len -= off;
	}
	sl_buf_free(&in);
	return NULL;
}

TEST(vport_relay)
{
	char slave[128], env1[200];
	vh.m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(vh.m >= 0 && grantpt(vh.m) == 0 && unlockpt(vh.m) == 0 &&
	      ptsname_r(vh.m, slave, sizeof slave) == 0);
	struct termios t;
	tcgetattr(vh.m, &t);
	cfmakeraw(&t);
	tcsetattr(vh.m, TCSANOW, &t);
	unsigned port;
	int tmp = listen_any(&port);
	close(tmp);
	snprintf(env1, sizeof env1, "SILO_PROXY_RELAY=vport:%s:%u", slave, port);
	const char *env[] = { env1, NULL };
	vh.stop = 0;
	vh.n_opens = 0;
	pthread_t thr;
	pthread_create(&thr, NULL, vhost_thread, NULL);
	struct hh h;
	CHECK(hh_start(&h, env, NULL) == 0);
	for (int round = 0; round < 2; round++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(connect(c, (struct sockaddr *)&in, sizeof in) == 0);
		char msg[20000];
		for (size_t i = 0; i < sizeof msg; i++)
			msg[i] = (char)(i * 13 + (size_t)round);
		CHECK(write(c, msg, sizeof msg) == (ssize_t)sizeof msg);
		shutdown(c, SHUT_WR);
		char got[30000];
		size_t n = 0;
		ssize_t r;
		struct pollfd pf = { .fd = c, .events = POLLIN };
		while (n < sizeof got && poll(&pf, 1, 5000) == 1 && (r = read(c, got + n, sizeof got - n)) > 0)
			n += (size_t)r;
		CHECK(n == sizeof msg && !memcmp(got, msg, n));
		close(c);
	}
	CHECK(vh.n_opens == 2 && vh.opens[0] == 1 && vh.opens[1] == 2);
	CHECK(hh_stop(&h) == 0);
	vh.stop = 1;
	pthread_join(thr, NULL);
	close(vh.m);
	CHECK(hh_sh("SILO_PROXY_RELAY='vport:/nonexistent/port0' %s unix:/nonexistent/h.sock 2>/dev/null",
		    hh_helper_path()) == 1);
}
