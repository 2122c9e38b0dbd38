/*
 * The HTTP/1.1 client pieces under silo-helper's fetch: URLs, a connection
 * (TCP to the proxy, optionally TLS by mbedTLS inside a CONNECT tunnel) with
 * an inactivity timeout on every read and write, and response parsing
 * (status line, headers, content-length / chunked / until-close bodies).
 *
 * The peer is the engine's own proxy, but the bytes it relays come from the
 * internet: every length and count is bounded here, and a malformed response
 * is an error, never a crash.
 */
#include "hp_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)
#define HDRS_MAX 200

/* ---- URLs ---- */

void hp_url_free(struct hp_url *u)
{
	free(u->target);
	u->target = NULL;
}

static int host_char(unsigned char c)
{
	return isalnum(c) || strchr("-._~!$&'()*+,;=%", c);
}

/* Appends the path/query, percent-encoding what may not go on the wire raw
 * (controls, space, non-ASCII), as browsers do. */
static void add_target(struct sl_buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`')
			sl_buf_printf(b, "%%%02X", c);
		else
			sl_buf_addc(b, (char)c);
	}
}

int hp_url_parse(const char *s, size_t n, struct hp_url *u, struct sl_err *err)
{
	memset(u, 0, sizeof *u);
	const char *end = s + n, *p;
	if (n >= 7 && !strncasecmp(s, "http://", 7)) {
		p = s + 7;
	} else if (n >= 8 && !strncasecmp(s, "https://", 8)) {
		u->https = 1;
		p = s + 8;
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon && colon > s && colon - s < 20)
			return sl_err_set(err, SL_EINVAL, "unsupported URL scheme \"%.*s\"",
					  (int)(colon - s), s);
		return sl_err_set(err, SL_EINVAL, "relative URL without a base");
	}
	const char *a = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	const char *aend = p;
	if (memchr(a, '@', (size_t)(aend - a)))
		return sl_err_set(err, SL_EINVAL, "credentials in URLs are not supported");
	const char *hs = a, *he, *port_s = NULL;
	if (a < aend && *a == '[') {
		const char *rb = memchr(a, ']', (size_t)(aend - a));
		if (!rb)
			return sl_err_set(err, SL_EINVAL, "invalid IPv6 address");
		hs = a + 1;
		he = rb;
		u->ipv6 = 1;
		if (rb + 1 < aend) {
			if (rb[1] != ':')
				return sl_err_set(err, SL_EINVAL, "invalid authority");
			port_s = rb + 2;
		}
	} else {
		he = memchr(a, ':', (size_t)(aend - a));
		if (he)
			port_s = he + 1;
		else
			he = aend;
	}
	if (he == hs)
		return sl_err_set(err, SL_EINVAL, "empty host");
	if ((size_t)(he - hs) >= sizeof u->host)
		return sl_err_set(err, SL_EINVAL, "host name too long");
	for (const char *q = hs; q < he; q++) {
		unsigned char c = (unsigned char)*q;
		if (u->ipv6 ? !(isxdigit(c) || c == ':' || c == '.') : !host_char(c))
			return sl_err_set(err, SL_EINVAL, "invalid host character");
		u->host[q - hs] = (char)tolower(c);
	}
	if (u->ipv6) {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return sl_err_set(err, SL_EINVAL, "invalid IPv6 address");
	}
	u->port = u->https ? 443 : 80;
	if (port_s && port_s < aend) {
		unsigned long v = 0;
		for (const char *q = port_s; q < aend; q++) {
			if (!isdigit((unsigned char)*q) || q - port_s > 5)
				return sl_err_set(err, SL_EINVAL, "invalid port number");
			v = v * 10 + (unsigned long)(*q - '0');
		}
		if (v == 0 || v > 65535)
			return sl_err_set(err, SL_EINVAL, "invalid port number");
		u->port = (unsigned)v;
	}
	const char *frag = memchr(p, '#', (size_t)(end - p));
	if (frag)
		end = frag;
	struct sl_buf t;
	sl_buf_init(&t);
	if (p == end || *p != '/')
		sl_buf_addc(&t, '/');
	add_target(&t, p, (size_t)(end - p));
	u->target = sl_buf_steal(&t);
	return 0;
}

int hp_url_resolve(const struct hp_url *base, const char *loc, struct hp_url *out,
		   struct sl_err *err)
{
	size_t n = strlen(loc);
	const char *colon = strpbrk(loc, ":/?#");
	if (colon && *colon == ':')
		return hp_url_parse(loc, n, out, err);
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_adds(&b, base->https ? "https://" : "http://");
	if (n >= 2 && loc[0] == '/' && loc[1] == '/') {
		sl_buf_adds(&b, loc + 2);
	} else {
		hp_url_authority(base, 1, &b);
		if (loc[0] == '/') {
			sl_buf_adds(&b, loc);
		} else {
			/* Relative: against the base path's directory (or, for
			 * "?q", the base path itself). */
			const char *t = base->target;
			size_t plen = strcspn(t, "?");
			if (loc[0] != '?') {
				while (plen > 0 && t[plen - 1] != '/')
					plen--;
			}
			sl_buf_add(&b, t, plen);
			sl_buf_adds(&b, loc);
		}
	}
	int rc = hp_url_parse(b.p, b.len, out, err);
	sl_buf_free(&b);
	return rc;
}

void hp_url_authority(const struct hp_url *u, int with_default_port, struct sl_buf *b)
{
	sl_buf_printf(b, u->ipv6 ? "[%s]" : "%s", u->host);
	if (with_default_port || u->port != (u->https ? 443u : 80u))
		sl_buf_printf(b, ":%u", u->port);
}

/* ---- connection ---- */

void hp_conn_init(struct hp_conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void hp_conn_close(struct hp_conn *c)
{
	if (c->tls) {
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
		mbedtls_ctr_drbg_free(&c->drbg);
		mbedtls_entropy_free(&c->entropy);
		c->tls = 0;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;
	do
		r = poll(&p, 1, HP_FETCH_IO_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static long raw_read(int fd, void *p, size_t n)
{
	if (wait_fd(fd, POLLIN) < 0)
		return -1;
	ssize_t r;
	do
		r = recv(fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static long raw_write(int fd, const void *p, size_t n)
{
	if (wait_fd(fd, POLLOUT) < 0)
		return -1;
	ssize_t w;
	do
		w = send(fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w;
}

int hp_conn_dial(struct hp_conn *c, const char *host, unsigned port, struct sl_err *err)
{
	char os[160];
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	struct sockaddr *sa;
	socklen_t len;
	const char *h = strcmp(host, "localhost") ? host : "127.0.0.1";
	if (inet_pton(AF_INET, h, &s4.sin_addr) == 1) {
		sa = (struct sockaddr *)&s4;
		len = sizeof s4;
	} else if (inet_pton(AF_INET6, h, &s6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&s6;
		len = sizeof s6;
	} else {
		return sl_err_set(err, SL_EINVAL, "proxy host %s is not an IP address", host);
	}
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, sa, len) < 0)
		return sl_err_set(err, SL_EIO, "cannot connect to proxy %s:%u: %s", host, port,
				  hp_os_err(errno, os, sizeof os));
	return 0;
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	long w = raw_write(*(int *)ctx, p, n);
	return w < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)w;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	long r = raw_read(*(int *)ctx, p, n);
	if (r < 0)
		return errno == ETIMEDOUT ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)r;
}

static void tls_err(struct sl_err *err, const char *what, int rc)
{
	char m[200];
	mbedtls_strerror(rc, m, sizeof m);
	sl_err_set(err, SL_EIO, "%s: %s", what, m);
}

int hp_conn_tls(struct hp_conn *c, mbedtls_x509_crt *ca, const char *host, struct sl_err *err)
{
	static const char pers[] = "silo-helper fetch";
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_entropy_init(&c->entropy);
	c->tls = 1;
	int rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				       (const unsigned char *)pers, sizeof pers - 1);
	if (!rc)
		rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
						 MBEDTLS_SSL_TRANSPORT_STREAM,
						 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc) {
		tls_err(err, "TLS setup failed", rc);
		return -1;
	}
	/* Verification is never optional (protocol.md C3). */
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	if ((rc = mbedtls_ssl_setup(&c->ssl, &c->conf)) ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, host))) {
		tls_err(err, "TLS setup failed", rc);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	do
		rc = mbedtls_ssl_handshake(&c->ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc) {
		uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
		if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags) {
			char info[300];
			mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
			info[strcspn(info, "\n")] = 0; /* first reason is enough */
			sl_err_set(err, SL_EIO, "TLS handshake with %s failed: certificate verify failed: %s",
				   host, info);
		} else {
			char m[200];
			mbedtls_strerror(rc, m, sizeof m);
			sl_err_set(err, SL_EIO, "TLS handshake with %s failed: %s", host, m);
		}
		return -1;
	}
	return 0;
}

int hp_conn_write(struct hp_conn *c, const void *p, size_t n, struct sl_err *err)
{
	char os[160];
	const unsigned char *b = p;
	while (n) {
		long w;
		if (c->tls) {
			int r = mbedtls_ssl_write(&c->ssl, b, n);
			if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
				continue;
			if (r < 0) {
				tls_err(err, "TLS write failed", r);
				return -1;
			}
			w = r;
		} else {
			w = raw_write(c->fd, b, n);
			if (w < 0)
				return sl_err_set(err, SL_EIO, "write failed: %s",
						  hp_os_err(errno, os, sizeof os));
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static long fill(struct hp_conn *c, struct sl_err *err)
{
	char os[160];
	c->off = c->len = 0;
	if (!c->tls) {
		long r = raw_read(c->fd, c->buf, sizeof c->buf);
		if (r < 0) {
			if (errno == ETIMEDOUT)
				return sl_err_set(err, SL_ETIMEOUT, "timed out");
			return sl_err_set(err, SL_EIO, "read failed: %s", hp_os_err(errno, os, sizeof os));
		}
		c->len = (size_t)r;
		return r;
	}
	for (;;) {
		int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)c->buf, sizeof c->buf);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF || r == 0)
			return 0;
		if (r == MBEDTLS_ERR_SSL_TIMEOUT)
			return sl_err_set(err, SL_ETIMEOUT, "timed out");
		if (r < 0) {
			tls_err(err, "TLS read failed", r);
			return -1;
		}
		c->len = (size_t)r;
		return r;
	}
}

long hp_conn_read(struct hp_conn *c, void *p, size_t n, struct sl_err *err)
{
	if (c->off == c->len) {
		long r = fill(c, err);
		if (r <= 0)
			return r < 0 ? -1 : 0;
	}
	size_t k = c->len - c->off;
	if (k > n)
		k = n;
	memcpy(p, c->buf + c->off, k);
	c->off += k;
	return (long)k;
}

/* One line (without CRLF) into line; -1 on error or overflow. */
static int read_line(struct hp_conn *c, struct sl_buf *line, size_t max, struct sl_err *err)
{
	sl_buf_reset(line);
	for (;;) {
		if (c->off == c->len) {
			long r = fill(c, err);
			if (r < 0)
				return -1;
			if (r == 0)
				return sl_err_set(err, SL_EIO, "connection closed before the end of the response header");
		}
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		size_t k = nl ? (size_t)(nl - (c->buf + c->off)) : c->len - c->off;
		if (line->len + k > max)
			return sl_err_set(err, SL_ELIMIT, "response header too large");
		sl_buf_add(line, c->buf + c->off, k);
		c->off += k;
		if (nl) {
			c->off++;
			if (line->len && line->p[line->len - 1] == '\r')
				line->p[--line->len] = 0;
			return 0;
		}
	}
}

void hp_resp_free(struct hp_resp *r)
{
	for (size_t i = 0; i < r->n_hdrs; i++) {
		free((char *)r->hdrs[i].name);
		free((char *)r->hdrs[i].value);
	}
	free(r->hdrs);
	memset(r, 0, sizeof *r);
}

static int read_head_once(struct hp_conn *c, struct hp_resp *r, struct sl_err *err)
{
	struct sl_buf line;
	sl_buf_init(&line);
	size_t total = 0;
	int rc = -1;
	if (read_line(c, &line, HEAD_MAX, err) < 0)
		goto out;
	if (line.len < 12 || strncmp(line.p, "HTTP/1.", 7) || line.p[8] != ' ' ||
	    !isdigit((unsigned char)line.p[9]) || !isdigit((unsigned char)line.p[10]) ||
	    !isdigit((unsigned char)line.p[11]) || (line.len > 12 && line.p[12] != ' ')) {
		sl_err_set(err, SL_EPARSE, "malformed response status line");
		goto out;
	}
	r->status = (line.p[9] - '0') * 100 + (line.p[10] - '0') * 10 + (line.p[11] - '0');
	for (;;) {
		if (read_line(c, &line, HEAD_MAX, err) < 0)
			goto out;
		total += line.len + 2;
		if (total > HEAD_MAX) {
			sl_err_set(err, SL_ELIMIT, "response header too large");
			goto out;
		}
		if (line.len == 0)
			break;
		char *colon = memchr(line.p, ':', line.len);
		if (!colon || colon == line.p || line.p[0] == ' ' || line.p[0] == '\t') {
			sl_err_set(err, SL_EPARSE, "malformed response header line");
			goto out;
		}
		if (r->n_hdrs == HDRS_MAX) {
			sl_err_set(err, SL_ELIMIT, "too many response headers");
			goto out;
		}
		size_t nl = (size_t)(colon - line.p);
		const char *v = colon + 1, *ve = line.p + line.len;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		r->hdrs = sl_xrealloc(r->hdrs, (r->n_hdrs + 1) * sizeof *r->hdrs);
		struct hp_pair *h = &r->hdrs[r->n_hdrs++];
		char *name = sl_xstrndup(line.p, nl);
		for (char *q = name; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		h->name = name;
		h->name_len = nl;
		h->value = sl_xstrndup(v, (size_t)(ve - v));
		h->value_len = (size_t)(ve - v);
	}
	rc = 0;
out:
	sl_buf_free(&line);
	return rc;
}

int hp_resp_read_head(struct hp_conn *c, struct hp_resp *r, struct sl_err *err)
{
	for (int i = 0; i < 20; i++) {
		memset(r, 0, sizeof *r);
		if (read_head_once(c, r, err) < 0) {
			hp_resp_free(r);
			return -1;
		}
		/* 1xx interim responses (100 Continue, 103) precede the real one. */
		if (r->status >= 200 || r->status < 100 || r->status == 101)
			return 0;
		hp_resp_free(r);
	}
	return sl_err_set(err, SL_EPARSE, "too many interim responses");
}

const char *hp_resp_header(const struct hp_resp *r, const char *name)
{
	for (size_t i = 0; i < r->n_hdrs; i++)
		if (!strcmp(r->hdrs[i].name, name))
			return r->hdrs[i].value;
	return NULL;
}

/* Keeps bytes up to max; notes overflow. */
static void keep(struct sl_buf *out, uint64_t max, const char *p, size_t n, int *truncated)
{
	uint64_t room = max > out->len ? max - out->len : 0;
	if (n > room) {
		*truncated = 1;
		n = (size_t)room;
	}
	sl_buf_add(out, p, n);
}

static int body_chunked(struct hp_conn *c, uint64_t max, struct sl_buf *out, int *truncated,
			struct sl_err *err)
{
	struct sl_buf line;
	char buf[16384];
	sl_buf_init(&line);
	int rc = -1;
	for (;;) {
		if (read_line(c, &line, 4096, err) < 0)
			goto out;
		uint64_t size = 0;
		size_t i = 0, digits = 0;
		for (; i < line.len && isxdigit((unsigned char)line.p[i]); i++, digits++) {
			if (digits >= 15) {
				sl_err_set(err, SL_EPARSE, "chunk size too large");
				goto out;
			}
			int d = line.p[i];
			size = size * 16 + (uint64_t)(isdigit(d) ? d - '0' : (tolower(d) - 'a' + 10));
		}
		if (!digits || (i < line.len && line.p[i] != ';' && line.p[i] != ' ' && line.p[i] != '\t')) {
			sl_err_set(err, SL_EPARSE, "malformed chunk size");
			goto out;
		}
		if (size == 0)
			break;
		while (size) {
			long r = hp_conn_read(c, buf, size < sizeof buf ? size : sizeof buf, err);
			if (r < 0)
				goto out;
			if (r == 0) {
				sl_err_set(err, SL_EIO, "connection closed in the middle of a chunk");
				goto out;
			}
			keep(out, max, buf, (size_t)r, truncated);
			size -= (uint64_t)r;
			if (*truncated) {
				rc = 0;
				goto out;
			}
		}
		if (read_line(c, &line, 4096, err) < 0)
			goto out;
		if (line.len) {
			sl_err_set(err, SL_EPARSE, "missing CRLF after chunk data");
			goto out;
		}
	}
	/* Trailers are read and dropped. */
	do {
		if (read_line(c, &line, 4096, err) < 0)
			goto out;
	} while (line.len);
	rc = 0;
out:
	sl_buf_free(&line);
	return rc;
}

int hp_resp_read_body(struct hp_conn *c, const struct hp_resp *r, int head_req,
		      uint64_t max, struct sl_buf *out, int *truncated, struct sl_err *err)
{
	char buf[16384];
	*truncated = 0;
	if (head_req || r->status == 204 || r->status == 304 || r->status < 200)
		return 0;
	const char *te = hp_resp_header(r, "transfer-encoding");
	if (te && strcasestr(te, "chunked"))
		return body_chunked(c, max, out, truncated, err);
	const char *cl = hp_resp_header(r, "content-length");
	if (cl) {
		uint64_t len = 0;
		const char *q = cl;
		for (; isdigit((unsigned char)*q) && q - cl < 18; q++)
			len = len * 10 + (uint64_t)(*q - '0');
		if (q == cl || *q) {
			sl_err_set(err, SL_EPARSE, "invalid content-length \"%.40s\"", cl);
			return -1;
		}
		if (len > max) {
			*truncated = 1;
			len = max; /* the rest is never read: the connection closes */
		}
		while (len) {
			long n = hp_conn_read(c, buf, len < sizeof buf ? len : sizeof buf, err);
			if (n < 0)
				return -1;
			if (n == 0)
				return sl_err_set(err, SL_EIO, "connection closed before the end of the body");
			sl_buf_add(out, buf, (size_t)n);
			len -= (uint64_t)n;
		}
		return 0;
	}
	for (;;) {
		long n = hp_conn_read(c, buf, sizeof buf, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		keep(out, max, buf, (size_t)n, truncated);
		if (*truncated)
			return 0;
	}
}
