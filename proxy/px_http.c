/*
 * px_http: strict HTTP/1.1 head parsing for the egress proxy. The proxy sits
 * between an untrusted sandbox and real servers, so any message two parties
 * could read differently is refused instead of repaired: bare LF, obs-fold,
 * whitespace before a colon, Content-Length together with
 * Transfer-Encoding, differing Content-Length values, codings other than a
 * single `chunked`, oversized lines and heads. Bodies are not decoded; the
 * chunk framer only finds where a chunked body ends so it can be relayed
 * verbatim. Target parsing (authority and absolute-form) lives here too.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "px_http.h"

int px_http_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && (!c || !strchr(extra, c)))
			return 0;
	}
	return 1;
}

int px_http_value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

int px_http_head_end(const char *buf, size_t len, size_t *head_len, struct sl_err *err)
{
	size_t line_start = 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\0')
			return sl_err_set(err, SL_EPARSE, "NUL byte in message head");
		if (c != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return sl_err_set(err, SL_EPARSE, "bare LF in message head");
		if (i + 1 - line_start > PX_MAX_LINE)
			return sl_err_set(err, SL_ELIMIT, "header line over %d bytes",
					  PX_MAX_LINE);
		if (i + 1 - line_start == 2) {
			if (i + 1 == 2)
				return sl_err_set(err, SL_EPARSE,
						  "empty line before the request line");
			*head_len = i + 1;
			return 0;
		}
		line_start = i + 1;
	}
	if (len >= PX_MAX_HEAD)
		return sl_err_set(err, SL_ELIMIT, "message head over %d bytes", PX_MAX_HEAD);
	if (len - line_start > PX_MAX_LINE)
		return sl_err_set(err, SL_ELIMIT, "header line over %d bytes", PX_MAX_LINE);
	return SL_EAGAIN;
}

int px_http_find(const struct px_head *h, const char *name, int from)
{
	size_t n = strlen(name);
	for (size_t i = from < 0 ? 0 : (size_t)from; i < h->nhdrs; i++)
		if (h->hdrs[i].nlen == n && !strncasecmp(h->hdrs[i].name, name, n))
			return (int)i;
	return -1;
}

/* Does a comma-separated header value list contain token tok? */
static int list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return 1;
	}
	return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (!n || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Parses the header lines in p[0..end) (each ending CRLF, the final blank
 * line excluded) and derives framing. */
static int parse_fields(const char *p, size_t i, size_t end, struct px_head *h,
			struct sl_err *err)
{
	h->nhdrs = 0;
	while (i < end) {
		const char *nl = memchr(p + i, '\n', end - i);
		size_t le = (size_t)(nl - p) - 1; /* index of the CR */
		const char *line = p + i;
		size_t ll = le - i;
		if (line[0] == ' ' || line[0] == '\t')
			return sl_err_set(err, SL_EPARSE, "obsolete line folding in header");
		const char *colon = memchr(line, ':', ll);
		if (!colon)
			return sl_err_set(err, SL_EPARSE, "header line without a colon");
		size_t nlen = (size_t)(colon - line);
		if (!px_http_token(line, nlen))
			return sl_err_set(err, SL_EPARSE, "invalid header name");
		const char *v = colon + 1, *ve = line + ll;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!px_http_value_ok(v, (size_t)(ve - v)))
			return sl_err_set(err, SL_EPARSE, "control character in header value");
		if (h->nhdrs >= PX_MAX_HDRS)
			return sl_err_set(err, SL_ELIMIT, "more than %d header fields",
					  PX_MAX_HDRS);
		h->hdrs[h->nhdrs++] = (struct px_hdr){ line, nlen, v, (size_t)(ve - v) };
		i = le + 2;
	}

	int have_cl = 0, have_te = 0, close = 0, ka = 0;
	for (size_t k = 0; k < h->nhdrs; k++) {
		const struct px_hdr *f = &h->hdrs[k];
		if (f->nlen == 14 && !strncasecmp(f->name, "content-length", 14)) {
			uint64_t n;
			if (parse_u64(f->val, f->vlen, &n))
				return sl_err_set(err, SL_EPARSE, "invalid Content-Length");
			if (have_cl && n != h->content_length)
				return sl_err_set(err, SL_EPARSE, "conflicting Content-Length");
			have_cl = 1;
			h->content_length = n;
		} else if (f->nlen == 17 && !strncasecmp(f->name, "transfer-encoding", 17)) {
			/* Only one field, exactly "chunked": anything else could be
			 * framed differently by the next hop. */
			if (have_te || f->vlen != 7 || strncasecmp(f->val, "chunked", 7))
				return sl_err_set(err, SL_EPARSE,
						  "unsupported Transfer-Encoding");
			have_te = 1;
		} else if (f->nlen == 10 && !strncasecmp(f->name, "connection", 10)) {
			if (list_has(f->val, f->vlen, "close"))
				close = 1;
			if (list_has(f->val, f->vlen, "keep-alive"))
				ka = 1;
			if (list_has(f->val, f->vlen, "upgrade"))
				h->upgrade = 1;
		} else if (f->nlen == 7 && !strncasecmp(f->name, "upgrade", 7)) {
			h->upgrade = 1;
		}
	}
	if (have_cl && have_te)
		return sl_err_set(err, SL_EPARSE, "both Content-Length and Transfer-Encoding");
	h->body = have_te ? PX_BODY_CHUNKED : have_cl ? PX_BODY_LENGTH : PX_BODY_NONE;
	h->keep_alive = h->minor >= 1 ? !close : ka && !close;
	return 0;
}

static int parse_version(const char *s, size_t n, int *minor)
{
	if (n != 8 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1'))
		return -1;
	*minor = s[7] - '0';
	return 0;
}

int px_http_parse_request(const char *buf, size_t len, struct px_head *h, struct sl_err *err)
{
	memset(h, 0, sizeof(*h));
	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4))
		return sl_err_set(err, SL_EPARSE, "incomplete request head");
	const char *nl = memchr(buf, '\n', len);
	size_t ll = (size_t)(nl - buf) - 1;
	const char *sp1 = memchr(buf, ' ', ll);
	if (!sp1)
		return sl_err_set(err, SL_EPARSE, "malformed request line");
	const char *sp2 = memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - buf));
	if (!sp2)
		return sl_err_set(err, SL_EPARSE, "malformed request line");
	h->method = buf;
	h->mlen = (size_t)(sp1 - buf);
	h->target = sp1 + 1;
	h->tlen = (size_t)(sp2 - sp1 - 1);
	if (!px_http_token(h->method, h->mlen) || h->mlen > 32)
		return sl_err_set(err, SL_EPARSE, "invalid method");
	if (!h->tlen)
		return sl_err_set(err, SL_EPARSE, "empty request target");
	for (size_t i = 0; i < h->tlen; i++) {
		unsigned char c = (unsigned char)h->target[i];
		if (c <= 0x20 || c >= 0x7f)
			return sl_err_set(err, SL_EPARSE, "invalid byte in request target");
	}
	if (parse_version(sp2 + 1, ll - (size_t)(sp2 + 1 - buf), &h->minor))
		return sl_err_set(err, SL_EPARSE, "unsupported HTTP version");
	int rc = parse_fields(buf, ll + 2, len - 2, h, err);
	if (rc)
		return rc;
	/* RFC 9112 6.1: chunked framing in HTTP/1.0 is faulty; a 1.0 server
	 * may ignore it and read the body as the next request. */
	if (h->body == PX_BODY_CHUNKED && h->minor == 0)
		return sl_err_set(err, SL_EPARSE, "Transfer-Encoding in an HTTP/1.0 request");
	/* The head goes upstream as sent; an intermediary there that drops
	 * the fields Connection names would lose the framing (or Host) and
	 * read the body as a request of the sandbox's making. */
	for (int i = -1; (i = px_http_find(h, "connection", i + 1)) >= 0;) {
		const struct px_hdr *f = &h->hdrs[i];
		if (list_has(f->val, f->vlen, "content-length") ||
		    list_has(f->val, f->vlen, "transfer-encoding") ||
		    list_has(f->val, f->vlen, "host"))
			return sl_err_set(err, SL_EPARSE,
					  "Connection names a framing or Host field");
	}
	return 0;
}

int px_http_parse_response(const char *buf, size_t len, const char *req_method,
			   size_t req_mlen, struct px_head *h, struct sl_err *err)
{
	memset(h, 0, sizeof(*h));
	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4))
		return sl_err_set(err, SL_EPARSE, "incomplete response head");
	const char *nl = memchr(buf, '\n', len);
	size_t ll = (size_t)(nl - buf) - 1;
	/* "HTTP/1.x NNN[ reason]" */
	if (ll < 12 || parse_version(buf, 8, &h->minor) || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]) || (ll > 12 && buf[12] != ' '))
		return sl_err_set(err, SL_EPARSE, "malformed status line");
	h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (h->status < 100)
		return sl_err_set(err, SL_EPARSE, "malformed status line");
	if (!px_http_value_ok(buf + 12, ll - 12))
		return sl_err_set(err, SL_EPARSE, "control character in reason phrase");
	int rc = parse_fields(buf, ll + 2, len - 2, h, err);
	if (rc)
		return rc;
	int head_req = req_mlen == 4 && !memcmp(req_method, "HEAD", 4);
	if (head_req || h->status < 200 || h->status == 204 || h->status == 304) {
		h->body = PX_BODY_NONE;
	} else if (h->body == PX_BODY_NONE) {
		/* No framing: the body runs until the upstream closes. */
		h->body = PX_BODY_CLOSE;
		h->keep_alive = 0;
	}
	if (h->upgrade && h->status == 101)
		h->keep_alive = 0;
	return 0;
}

/* ---- targets ---------------------------------------------------------- */

int px_http_norm_host(char *host, int *is_ip, struct sl_err *err)
{
	size_t n = strlen(host);
	unsigned char tmp[16];
	*is_ip = 0;
	if (n && host[n - 1] == '.')
		host[--n] = '\0';
	if (!n)
		return sl_err_set(err, SL_EPARSE, "empty host name");
	if (n > PX_MAX_HOST)
		return sl_err_set(err, SL_ELIMIT, "host name over %d bytes", PX_MAX_HOST);
	if (strchr(host, ':')) {
		if (inet_pton(AF_INET6, host, tmp) != 1)
			return sl_err_set(err, SL_EPARSE, "invalid IPv6 literal");
		for (size_t i = 0; i < n; i++)
			host[i] = (char)tolower((unsigned char)host[i]);
		*is_ip = 6;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c >= 0x80)
			return sl_err_set(err, SL_EPARSE,
					  "non-ASCII host name (use its xn-- form)");
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return sl_err_set(err, SL_EPARSE, "invalid character in host name");
		if (c == '.' && (i == 0 || host[i - 1] == '.'))
			return sl_err_set(err, SL_EPARSE, "empty label in host name");
		host[i] = (char)tolower(c);
	}
	if (inet_pton(AF_INET, host, tmp) == 1)
		*is_ip = 4;
	return 0;
}

int px_http_parse_authority(const char *s, size_t n, int dflt_port, struct px_target *t,
			    struct sl_err *err)
{
	memset(t, 0, sizeof(*t));
	const char *hs = s, *he, *ps = NULL;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return sl_err_set(err, SL_EPARSE, "unterminated IPv6 literal");
		hs = s + 1;
		he = rb;
		if (rb + 1 < s + n) {
			if (rb[1] != ':')
				return sl_err_set(err, SL_EPARSE, "junk after IPv6 literal");
			ps = rb + 2;
		}
	} else {
		const char *c = memchr(s, ':', n);
		he = c ? c : s + n;
		ps = c ? c + 1 : NULL;
	}
	if (memchr(s, '@', n))
		return sl_err_set(err, SL_EPARSE, "user information in authority");
	if ((size_t)(he - hs) > PX_MAX_HOST)
		return sl_err_set(err, SL_ELIMIT, "host name over %d bytes", PX_MAX_HOST);
	memcpy(t->host, hs, (size_t)(he - hs));
	t->host[he - hs] = '\0';
	if (memchr(t->host, '\0', (size_t)(he - hs)) || (s[0] != '[' && strchr(t->host, ':')))
		return sl_err_set(err, SL_EPARSE, "invalid host");
	int rc = px_http_norm_host(t->host, &t->is_ip, err);
	if (rc)
		return rc;
	if (s[0] == '[' && t->is_ip != 6)
		return sl_err_set(err, SL_EPARSE, "invalid IPv6 literal");
	t->port = dflt_port;
	if (ps) {
		uint64_t p;
		/* sandbox.md 10.1: a port that does not parse means the default */
		if (!parse_u64(ps, (size_t)(s + n - ps), &p) && p > 0 && p < 65536)
			t->port = (int)p;
	}
	return 0;
}

int px_http_parse_absolute(const char *s, size_t n, struct px_target *t, struct sl_err *err)
{
	if (n < 8 || strncasecmp(s, "http://", 7))
		return sl_err_set(err, SL_EPARSE, "request target is not an http:// URL");
	const char *a = s + 7, *e = s + n;
	const char *slash = a;
	while (slash < e && *slash != '/' && *slash != '?' && *slash != '#')
		slash++;
	if (slash == a)
		return sl_err_set(err, SL_EPARSE, "URL without a host");
	int rc = px_http_parse_authority(a, (size_t)(slash - a), 80, t, err);
	if (rc)
		return rc;
	/* A port that does not parse is an error here (no CONNECT leniency). */
	const char *colon = a[0] == '[' ? memchr(a, ']', (size_t)(slash - a)) : a;
	colon = colon ? memchr(colon, ':', (size_t)(slash - colon)) : NULL;
	if (colon) {
		uint64_t p;
		if (parse_u64(colon + 1, (size_t)(slash - colon - 1), &p) || !p || p > 65535)
			return sl_err_set(err, SL_EPARSE, "invalid port in URL");
	}
	if (slash < e && *slash == '#')
		return sl_err_set(err, SL_EPARSE, "fragment in request target");
	if (slash < e && *slash == '?')
		return sl_err_set(err, SL_EPARSE, "URL query without a path");
	if (slash == e) {
		t->path = "/";
		t->plen = 1;
		t->path_noq = 1;
		return 0;
	}
	t->path = slash;
	t->plen = (size_t)(e - slash);
	const char *q = memchr(slash, '?', t->plen);
	t->path_noq = q ? (size_t)(q - slash) : t->plen;
	return 0;
}

/* ---- chunked framing -------------------------------------------------- */

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TR_START,
       CK_TR_LINE, CK_TR_LF, CK_END_LF, CK_DONE };

void px_chunk_init(struct px_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CK_SIZE;
}

uint64_t px_chunk_data_left(const struct px_chunk *c)
{
	return c->state == CK_DATA ? c->left : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

ssize_t px_chunk_feed(struct px_chunk *c, const char *p, size_t n, struct sl_err *err)
{
	size_t i = 0;
	while (i < n && c->state != CK_DONE) {
		char ch = p[i];
		switch (c->state) {
		case CK_SIZE: {
			int v = hexval(ch);
			if (v >= 0) {
				if (c->digits >= 15)
					return sl_err_set(err, SL_ELIMIT, "chunk size too large");
				c->left = c->left * 16 + (uint64_t)v;
				c->digits++;
			} else if (!c->digits) {
				return sl_err_set(err, SL_EPARSE, "invalid chunk size");
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CK_EXT;
				c->line = 0;
			} else if (ch == '\r') {
				c->state = CK_SIZE_LF;
			} else {
				return sl_err_set(err, SL_EPARSE, "invalid chunk size");
			}
			i++;
			break;
		}
		case CK_EXT:
			if (ch == '\r')
				c->state = CK_SIZE_LF;
			else if (ch == '\n' || ch == '\0')
				return sl_err_set(err, SL_EPARSE, "invalid chunk extension");
			else if (++c->line > 4096)
				return sl_err_set(err, SL_ELIMIT, "chunk extension too long");
			i++;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return sl_err_set(err, SL_EPARSE, "chunk size line without LF");
			i++;
			c->digits = 0;
			if (c->left == 0) {
				c->state = CK_TR_START;
			} else {
				c->state = CK_DATA;
			}
			break;
		case CK_DATA: {
			size_t take = n - i;
			if (take > c->left)
				take = (size_t)c->left;
			c->left -= take;
			c->payload += take;
			i += take;
			if (!c->left)
				c->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (ch != '\r')
				return sl_err_set(err, SL_EPARSE, "chunk data overruns its size");
			c->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return sl_err_set(err, SL_EPARSE, "chunk data without CRLF");
			c->state = CK_SIZE;
			i++;
			break;
		case CK_TR_START:
			if (ch == '\r') {
				c->state = CK_END_LF;
			} else if (ch == ' ' || ch == '\t') {
				return sl_err_set(err, SL_EPARSE, "folded trailer");
			} else {
				c->state = CK_TR_LINE;
				c->line = 1;
			}
			i++;
			break;
		case CK_TR_LINE:
			if (ch == '\r')
				c->state = CK_TR_LF;
			else if (ch == '\n' || ch == '\0')
				return sl_err_set(err, SL_EPARSE, "invalid trailer");
			i++;
			break;
		case CK_TR_LF:
			if (ch != '\n')
				return sl_err_set(err, SL_EPARSE, "trailer without LF");
			c->state = CK_TR_START;
			i++;
			break;
		case CK_END_LF:
			if (ch != '\n')
				return sl_err_set(err, SL_EPARSE, "chunked body end without LF");
			c->state = CK_DONE;
			c->done = 1;
			i++;
			break;
		}
		if (c->state >= CK_TR_START && c->state <= CK_END_LF && ++c->trailers > 8192)
			return sl_err_set(err, SL_ELIMIT, "trailers over 8192 bytes");
	}
	return (ssize_t)i;
}

/* ---- domain patterns -------------------------------------------------- */

static size_t strip_dot(const char *s)
{
	size_t n = strlen(s);
	return n && s[n - 1] == '.' ? n - 1 : n;
}

int px_domain_match(const char *pattern, const char *host)
{
	if (!pattern || !host)
		return 0;
	size_t pl = strip_dot(pattern), hl = strip_dot(host);
	if (!pl || !hl)
		return 0;
	if (pl > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *suf = pattern + 2;
		size_t sl = pl - 2;
		if (hl == sl)
			return !strncasecmp(host, suf, sl);
		return hl > sl && host[hl - sl - 1] == '.' &&
		       !strncasecmp(host + hl - sl, suf, sl);
	}
	return pl == hl && !strncasecmp(pattern, host, pl);
}
