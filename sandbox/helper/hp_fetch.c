/*
 * fetch for silo-helper (protocol.md C3, decisions 32): one HTTP request
 * through the engine's egress proxy, following up to 10 redirects, each
 * hop again via the proxy. https URLs go through a CONNECT tunnel and TLS by
 * mbedTLS that trusts only the certificates in SILO_PROXY_CA (the session CA,
 * or the bundle the sandbox was given); verification is never off and SNI
 * is always set. http URLs are sent to the proxy in absolute form.
 *
 * Only the proxy resolves names (decisions 28): the helper never does DNS,
 * so the proxy URL must name an IP address (or localhost).
 * Runs on a worker thread; every read and write has a 60 s idle timeout.
 */
#include "hp_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/error.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CA_MAX (8 * 1024 * 1024)
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct proxy {
	char host[64];
	unsigned port;
};

static int tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int token(const char *p, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!tchar((unsigned char)p[i]))
			return 0;
	return 1;
}

/* Header values: visible ASCII, space, tab and obs-text; no CR, LF, NUL. */
static int field_value(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static int parse_proxy(const char *s, struct proxy *px, struct sl_err *err)
{
	const char *p = s;
	if (!strncasecmp(p, "http://", 7))
		p += 7;
	else if (strstr(p, "://"))
		return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": only http:// proxies are supported", s);
	size_t n = strcspn(p, "/");
	if (p[n] && strcmp(p + n, "/"))
		return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": unexpected path", s);
	if (memchr(p, '@', n))
		return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": credentials are not supported", s);
	const char *hs = p, *he, *ps = NULL;
	if (n && *p == '[') {
		he = memchr(p, ']', n);
		if (!he)
			return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": invalid IPv6 address", s);
		hs = p + 1;
		if (he + 1 < p + n) {
			if (he[1] != ':')
				return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": invalid authority", s);
			ps = he + 2;
		}
	} else {
		he = memchr(p, ':', n);
		if (he)
			ps = he + 1;
		else
			he = p + n;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof px->host)
		return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": bad host", s);
	memcpy(px->host, hs, (size_t)(he - hs));
	px->host[he - hs] = 0;
	unsigned char a[16];
	if (strcmp(px->host, "localhost") && inet_pton(AF_INET, px->host, a) != 1 &&
	    inet_pton(AF_INET6, px->host, a) != 1)
		return sl_err_set(err, SL_EINVAL,
				  "invalid proxy URL \"%s\": host must be an IP address (no DNS in the sandbox)",
				  s);
	px->port = 80;
	if (ps) {
		unsigned long v = 0;
		const char *q = ps;
		for (; q < p + n && *q >= '0' && *q <= '9' && q - ps < 6; q++)
			v = v * 10 + (unsigned long)(*q - '0');
		if (q == ps || q != p + n || v == 0 || v > 65535)
			return sl_err_set(err, SL_EINVAL, "invalid proxy URL \"%s\": invalid port number", s);
		px->port = (unsigned)v;
	}
	return 0;
}

static int load_ca(const char *path, mbedtls_x509_crt *ca, struct sl_err *err)
{
	char os[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot read CA certificate %s: %s", path,
				  hp_os_err(errno, os, sizeof os));
	struct sl_buf b;
	sl_buf_init(&b);
	for (;;) {
		sl_buf_reserve(&b, 65536);
		ssize_t r = read(fd, b.p + b.len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			sl_buf_free(&b);
			return sl_err_set(err, SL_EIO, "cannot read CA certificate %s: %s", path,
					  hp_os_err(e, os, sizeof os));
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		b.p[b.len] = 0;
		if (b.len > CA_MAX) {
			close(fd);
			sl_buf_free(&b);
			return sl_err_set(err, SL_ELIMIT, "invalid CA certificate %s: file too large", path);
		}
	}
	close(fd);
	sl_buf_reserve(&b, 1); /* PEM parsing wants the terminating NUL counted */
	int rc = mbedtls_x509_crt_parse(ca, (const unsigned char *)(b.p ? b.p : ""),
					b.len + (b.p && strstr(b.p, "-----BEGIN") ? 1 : 0));
	sl_buf_free(&b);
	/* rc > 0: some certificates of a bundle failed; fine if one parsed. */
	if (rc < 0 || ca->version == 0) {
		char m[200] = "no certificate found";
		if (rc < 0)
			mbedtls_strerror(rc, m, sizeof m);
		return sl_err_set(err, SL_EPARSE, "invalid CA certificate %s: %s", path, m);
	}
	return 0;
}

struct fetch {
	const struct hp_req *req;
	struct proxy px;
	mbedtls_x509_crt *ca; /* NULL until an https hop needs it */
	mbedtls_x509_crt ca_store;
	int ca_loaded;
	struct sl_buf body;   /* request body */
	const char *method;
	int keep_auth;        /* still on the original origin */
};

/* Reads a short non-2xx CONNECT reply body, flattened to one line. */
static void proxy_reason(struct hp_conn *c, const struct hp_resp *r, struct sl_buf *msg)
{
	struct sl_buf body;
	struct sl_err e;
	int trunc;
	sl_buf_init(&body);
	if (hp_resp_read_body(c, r, 0, 300, &body, &trunc, &e) == 0 && body.len) {
		for (size_t i = 0; i < body.len; i++)
			if ((unsigned char)body.p[i] < 0x20)
				body.p[i] = ' ';
		size_t n = body.len;
		while (n && body.p[n - 1] == ' ')
			n--;
		if (n) {
			sl_buf_adds(msg, ": ");
			sl_buf_add(msg, body.p, n);
		}
	}
	sl_buf_free(&body);
}

/* One hop. Returns 0, or -1 with err (*in_body says which phase failed). */
static int hop(struct fetch *f, const struct hp_url *u, struct hp_conn *c, struct hp_resp *resp,
	       struct sl_buf *body, int *truncated, int *in_body, struct sl_err *err)
{
	const struct hp_req *req = f->req;
	struct sl_buf b;
	sl_buf_init(&b);
	int rc = -1;
	*in_body = 0;
	if (hp_conn_dial(c, f->px.host, f->px.port, err) < 0)
		goto out;
	if (u->https) {
		sl_buf_adds(&b, "CONNECT ");
		hp_url_authority(u, 1, &b);
		sl_buf_adds(&b, " HTTP/1.1\r\nHost: ");
		hp_url_authority(u, 1, &b);
		sl_buf_adds(&b, "\r\n\r\n");
		if (hp_conn_write(c, b.p, b.len, err) < 0)
			goto out;
		struct hp_resp cr;
		if (hp_resp_read_head(c, &cr, err) < 0)
			goto out;
		if (cr.status / 100 != 2) {
			sl_buf_reset(&b);
			sl_buf_printf(&b, "proxy refused CONNECT to ");
			hp_url_authority(u, 1, &b);
			sl_buf_printf(&b, " (HTTP %d)", cr.status);
			proxy_reason(c, &cr, &b);
			sl_err_set(err, SL_EDENIED, "%s", b.p);
			hp_resp_free(&cr);
			goto out;
		}
		hp_resp_free(&cr);
		if (c->off != c->len) {
			sl_err_set(err, SL_EPARSE, "proxy sent data after the CONNECT reply");
			goto out;
		}
		if (!f->ca_loaded) {
			mbedtls_x509_crt_init(&f->ca_store);
			f->ca_loaded = 1;
			if (load_ca(SYSTEM_BUNDLE, &f->ca_store, err) < 0)
				goto out;
			f->ca = &f->ca_store;
		}
		if (!f->ca) {
			sl_err_set(err, SL_EUNAVAIL, "no CA certificates");
			goto out;
		}
		if (hp_conn_tls(c, f->ca, u->host, err) < 0)
			goto out;
	}
	sl_buf_reset(&b);
	sl_buf_printf(&b, "%s ", f->method);
	if (!u->https) {
		sl_buf_adds(&b, "http://");
		hp_url_authority(u, 0, &b);
	}
	sl_buf_printf(&b, "%s HTTP/1.1\r\n", u->target);
	int user_host = 0;
	for (size_t i = 0; i < req->n_pairs; i++) {
		const struct hp_pair *h = &req->pairs[i];
		if (!strcasecmp(h->name, "host"))
			user_host = 1;
	}
	if (!user_host) {
		sl_buf_adds(&b, "Host: ");
		hp_url_authority(u, 0, &b);
		sl_buf_adds(&b, "\r\n");
	}
	for (size_t i = 0; i < req->n_pairs; i++) {
		const struct hp_pair *h = &req->pairs[i];
		/* Framing is ours; credentials stay on the first origin. */
		if (!strcasecmp(h->name, "content-length") || !strcasecmp(h->name, "connection") ||
		    !strcasecmp(h->name, "transfer-encoding") ||
		    (!f->keep_auth && (!strcasecmp(h->name, "authorization") ||
				       !strcasecmp(h->name, "cookie") ||
				       !strcasecmp(h->name, "proxy-authorization"))))
			continue;
		sl_buf_printf(&b, "%s: %s\r\n", h->name, h->value);
	}
	if (f->body.len || !strcmp(f->method, "POST") || !strcmp(f->method, "PUT") ||
	    !strcmp(f->method, "PATCH"))
		sl_buf_printf(&b, "Content-Length: %zu\r\n", f->body.len);
	sl_buf_adds(&b, "Connection: close\r\n\r\n");
	if (hp_conn_write(c, b.p, b.len, err) < 0 ||
	    (f->body.len && hp_conn_write(c, f->body.p, f->body.len, err) < 0))
		goto out;
	if (hp_resp_read_head(c, resp, err) < 0)
		goto out;
	*in_body = 1;
	int redirect = (resp->status == 301 || resp->status == 302 || resp->status == 303 ||
			resp->status == 307 || resp->status == 308) &&
		       hp_resp_header(resp, "location");
	if (!redirect &&
	    hp_resp_read_body(c, resp, !strcmp(f->method, "HEAD"), req->max_bytes, body,
			      truncated, err) < 0)
		goto out;
	rc = 0;
out:
	sl_buf_free(&b);
	return rc;
}

static void reply_fetched(struct sl_buf *out, uint64_t id, const struct hp_resp *r,
			  const struct sl_buf *body, int truncated)
{
	hp_out_ok_begin(out, id, "fetched");
	sl_buf_printf(out, ",\"status\":%d,\"headers\":[", r->status);
	for (size_t i = 0; i < r->n_hdrs; i++) {
		sl_buf_adds(out, i ? ",[" : "[");
		hp_out_str(out, r->hdrs[i].name, r->hdrs[i].name_len);
		sl_buf_addc(out, ',');
		hp_out_str(out, r->hdrs[i].value, r->hdrs[i].value_len);
		sl_buf_addc(out, ']');
	}
	sl_buf_adds(out, "],\"body_b64\":\"");
	jv_b64_encode(out, body->p, body->len);
	sl_buf_printf(out, "\",\"truncated\":%s", truncated ? "true" : "false");
	hp_out_ok_end(out);
}

void hp_fetch_run(const struct hp_req *req, struct sl_buf *out)
{
	struct sl_err err = { 0 };
	struct fetch f = { .req = req, .keep_auth = 1 };
	struct hp_url url = { 0 }, next;
	struct hp_conn c;
	struct hp_resp resp = { 0 };
	struct sl_buf body, msg;
	char *method = NULL;
	sl_buf_init(&f.body);
	sl_buf_init(&body);
	sl_buf_init(&msg);
	hp_conn_init(&c);

	if (!token(req->method.p, req->method.n)) {
		sl_buf_printf(&msg, "invalid HTTP method \"%s\"", req->method.p);
		goto fail;
	}
	for (size_t i = 0; i < req->n_pairs; i++) {
		const struct hp_pair *h = &req->pairs[i];
		if (!token(h->name, h->name_len)) {
			sl_buf_printf(&msg, "invalid header name \"%s\"", h->name);
			goto fail;
		}
		if (!field_value(h->value, h->value_len)) {
			sl_buf_printf(&msg, "invalid value for header \"%s\"", h->name);
			goto fail;
		}
	}
	if (req->body_b64.p && jv_b64_decode(&f.body, req->body_b64.p, req->body_b64.n, &err) < 0) {
		sl_buf_adds(&msg, err.msg);
		goto fail;
	}
	const char *proxy = getenv("HTTPS_PROXY");
	if (!proxy || !*proxy)
		proxy = getenv("HTTP_PROXY");
	if (!proxy || !*proxy) {
		sl_buf_adds(&msg, "fetch failed: no proxy configured (HTTPS_PROXY and HTTP_PROXY are unset)");
		goto fail;
	}
	if (parse_proxy(proxy, &f.px, &err) < 0) {
		sl_buf_adds(&msg, err.msg);
		goto fail;
	}
	if (memchr(req->url.p, 0, req->url.n) || hp_url_parse(req->url.p, req->url.n, &url, &err) < 0) {
		sl_buf_printf(&msg, "fetch failed: invalid URL \"%s\": %s", req->url.p,
			      memchr(req->url.p, 0, req->url.n) ? "NUL byte" : err.msg);
		goto fail;
	}
	/* SILO_PROXY_CA is loaded for every fetch, so a bad CA file is
	 * reported whatever the scheme; without it, https falls back to the
	 * system bundle (bare-machine use). */
	const char *ca_path = getenv("SILO_PROXY_CA");
	if (ca_path && *ca_path) {
		mbedtls_x509_crt_init(&f.ca_store);
		f.ca_loaded = 1;
		if (load_ca(ca_path, &f.ca_store, &err) < 0) {
			sl_buf_adds(&msg, err.msg);
			goto fail;
		}
		f.ca = &f.ca_store;
	}
	method = sl_xstrdup(req->method.p);
	f.method = method;
	for (int hops = 0;; hops++) {
		int truncated = 0, in_body = 0;
		sl_buf_reset(&body);
		if (hop(&f, &url, &c, &resp, &body, &truncated, &in_body, &err) < 0) {
			sl_buf_printf(&msg, "%s: %s", in_body ? "fetch body failed" : "fetch failed",
				      err.msg);
			goto fail;
		}
		hp_conn_close(&c);
		const char *loc = hp_resp_header(&resp, "location");
		int st = resp.status;
		if (!(st == 301 || st == 302 || st == 303 || st == 307 || st == 308) || !loc) {
			reply_fetched(out, req->id, &resp, &body, truncated);
			goto done;
		}
		if (hops == HP_REDIRECTS_MAX) {
			sl_buf_printf(&msg, "fetch failed: too many redirects (more than %d)",
				      HP_REDIRECTS_MAX);
			goto fail;
		}
		if (hp_url_resolve(&url, loc, &next, &err) < 0) {
			sl_buf_printf(&msg, "fetch failed: invalid redirect location \"%.200s\": %s",
				      loc, err.msg);
			goto fail;
		}
		/* 303, and 301/302 after POST, turn into a body-less GET. */
		if ((st == 303 && strcmp(method, "HEAD")) ||
		    ((st == 301 || st == 302) && !strcmp(method, "POST"))) {
			free(method);
			method = sl_xstrdup("GET");
			f.method = method;
			sl_buf_reset(&f.body);
		}
		if (next.https != url.https || next.port != url.port || strcmp(next.host, url.host))
			f.keep_auth = 0;
		hp_url_free(&url);
		url = next;
		hp_resp_free(&resp);
	}
fail:
	hp_out_err(out, req->id, msg.p ? msg.p : "fetch failed");
done:
	hp_conn_close(&c);
	hp_resp_free(&resp);
	hp_url_free(&url);
	if (f.ca_loaded)
		mbedtls_x509_crt_free(&f.ca_store);
	free(method);
	sl_buf_free(&f.body);
	sl_buf_free(&body);
	sl_buf_free(&msg);
}
