/*
 * bench_proxy_client: the load generator of tests/bench/bench_proxy.sh. A
 * blocking HTTPS/1.1 client on mbedTLS that talks either straight to an
 * upstream or through an HTTP proxy (CONNECT, then TLS inside), so the
 * direct baseline and the proxied run use the same client code.
 *
 *   bench_proxy_client MODE --host NAME --addr IP:PORT --ca PEM [--proxy IP:PORT]
 *                      [--n N] [--seconds S] [--size BYTES]
 * MODE: latency (N keep-alive GETs on one connection: median and mean ms),
 *       connrate (new connection + handshake + one GET, for S seconds),
 *       bulk (one GET of SIZE bytes: MB/s), ttfb (one fresh connection:
 *       ms until the first response byte).
 * Prints one line "MODE value unit".
 */
#define _GNU_SOURCE 1 /* strcasestr; CMake defines it too */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

static const char *host, *addr, *proxy, *ca_path;
static mbedtls_ssl_config conf;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_x509_crt ca;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *m)
{
	fprintf(stderr, "bench_proxy_client: %s\n", m);
	exit(1);
}

static int dial(const char *ipport)
{
	char ip[64];
	const char *c = strrchr(ipport, ':');
	if (!c || (size_t)(c - ipport) >= sizeof(ip))
		die("bad address");
	memcpy(ip, ipport, (size_t)(c - ipport));
	ip[c - ipport] = '\0';
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(c + 1)) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		die("bad IPv4 address");
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect failed");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	ssize_t r = send(*(int *)ctx, p, n, MSG_NOSIGNAL);
	return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)r;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	ssize_t r = recv(*(int *)ctx, p, n, 0);
	return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)r;
}

struct conn {
	int fd;
	mbedtls_ssl_context ssl;
	char buf[65536];
	size_t len;
};

static void open_conn(struct conn *c)
{
	c->len = 0;
	if (proxy) {
		c->fd = dial(proxy);
		char req[512], resp[1024];
		int n = snprintf(req, sizeof(req), "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n",
				 host, host);
		if (send(c->fd, req, (size_t)n, 0) != n)
			die("CONNECT send");
		size_t got = 0;
		while (got < sizeof(resp) - 1) {
			ssize_t r = recv(c->fd, resp + got, 1, 0);
			if (r <= 0)
				die("CONNECT reply");
			got += (size_t)r;
			resp[got] = '\0';
			if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
				break;
		}
		if (strncmp(resp, "HTTP/1.1 200", 12))
			die("CONNECT refused");
	} else {
		c->fd = dial(addr);
	}
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &conf) || mbedtls_ssl_set_hostname(&c->ssl, host))
		die("ssl setup");
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	int rc;
	while ((rc = mbedtls_ssl_handshake(&c->ssl)))
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			die("handshake failed");
}

static void close_conn(struct conn *c)
{
	mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
}

/* Sends a GET and reads the whole Content-Length response; returns body
 * bytes. *first (if set) gets the time of the first response byte. */
static size_t get(struct conn *c, const char *path, double *first)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
	if (mbedtls_ssl_write(&c->ssl, (unsigned char *)req, (size_t)n) != n)
		die("write");
	c->len = 0;
	char *end = NULL;
	while (!end) {
		int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)c->buf + c->len,
					 sizeof(c->buf) - 1 - c->len);
		if (r <= 0)
			die("read head");
		if (first && !c->len)
			*first = now_ms();
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
	}
	const char *cl = strcasestr(c->buf, "content-length:");
	if (!cl)
		die("no content-length");
	size_t want = strtoull(cl + 15, NULL, 10);
	size_t have = c->len - (size_t)(end + 4 - c->buf);
	while (have < want) {
		int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)c->buf, sizeof(c->buf));
		if (r <= 0)
			die("read body");
		have += (size_t)r;
	}
	return want;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long n = 2000, size = 64 << 20;
	double seconds = 5;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--host"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "--addr"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "--proxy"))
			proxy = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			ca_path = argv[i + 1];
		else if (!strcmp(argv[i], "--n"))
			n = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--size"))
			size = atol(argv[i + 1]);
	}
	if (!host || !ca_path || (!addr && !proxy))
		die("usage: MODE --host NAME --addr IP:PORT|--proxy IP:PORT --ca PEM");
	mbedtls_entropy_context ent;
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse_file(&ca, ca_path))
		die("cannot read the CA file");
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
				    MBEDTLS_SSL_PRESET_DEFAULT);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	/* AES-GCM and X25519 first, as the proxy does, so the direct baseline
	 * is not slowed by mbedTLS's portable ChaCha20 default */
	static const int suites[] = { MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				      MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0 };
	static const mbedtls_ecp_group_id curves[] = { MBEDTLS_ECP_DP_CURVE25519,
						       MBEDTLS_ECP_DP_SECP256R1,
						       MBEDTLS_ECP_DP_NONE };
	mbedtls_ssl_conf_ciphersuites(&conf, suites);
	mbedtls_ssl_conf_curves(&conf, curves);

	struct conn c;
	if (!strcmp(mode, "latency")) {
		double *t = calloc((size_t)n, sizeof(double)), sum = 0;
		open_conn(&c);
		for (long i = 0; i < 50; i++)
			get(&c, "/echo", NULL); /* warm up */
		for (long i = 0; i < n; i++) {
			double t0 = now_ms();
			get(&c, "/echo", NULL);
			t[i] = now_ms() - t0;
			sum += t[i];
		}
		close_conn(&c);
		qsort(t, (size_t)n, sizeof(double), cmp);
		printf("latency %.3f ms median %.3f ms mean\n", t[n / 2], sum / (double)n);
		free(t);
	} else if (!strcmp(mode, "connrate")) {
		double t0 = now_ms(), el;
		long k = 0;
		do {
			open_conn(&c);
			get(&c, "/echo", NULL);
			close_conn(&c);
			k++;
			el = now_ms() - t0;
		} while (el < seconds * 1000);
		printf("connrate %.1f conn/s\n", (double)k * 1000 / el);
	} else if (!strcmp(mode, "bulk")) {
		char path[64];
		snprintf(path, sizeof(path), "/big?n=%ld", size);
		open_conn(&c);
		double t0 = now_ms();
		size_t got = get(&c, path, NULL);
		double el = now_ms() - t0;
		close_conn(&c);
		printf("bulk %.1f MB/s\n", (double)got / 1e6 / (el / 1000));
	} else if (!strcmp(mode, "ttfb")) {
		double t0 = now_ms(), first = 0;
		open_conn(&c);
		get(&c, "/echo", &first);
		close_conn(&c);
		printf("ttfb %.2f ms\n", first - t0);
	} else {
		die("mode: latency | connrate | bulk | ttfb");
	}
	return 0;
}
