/*
 * px_http: the proxy's HTTP/1.1 head and body-framing parsers, and the IP
 * guard. Pure functions on byte buffers with no I/O, so the fuzzers and the
 * unit tests drive them directly. Everything here treats its input as
 * untrusted (sandbox or upstream) and refuses anything ambiguous rather than
 * guessing: that is what keeps request smuggling out (sandbox.md 10.1, 10.3).
 */
#ifndef PX_HTTP_H
#define PX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/sl.h"

#define PX_MAX_HEAD 65536   /* whole request/response head, bytes */
#define PX_MAX_LINE 8192    /* one request line or header line, bytes */
#define PX_MAX_HDRS 100     /* header fields per head */
#define PX_MAX_HOST 253     /* DNS name length */

struct px_hdr {
	const char *name; /* borrowed: points into the parsed head */
	size_t nlen;
	const char *val;  /* trimmed of surrounding blanks */
	size_t vlen;
};

enum px_body_kind {
	PX_BODY_NONE,    /* no body bytes follow the head */
	PX_BODY_LENGTH,  /* exactly content_length bytes */
	PX_BODY_CHUNKED, /* chunked framing, passed through verbatim */
	PX_BODY_CLOSE,   /* response only: until the upstream closes */
};

/* A parsed head. Strings point into the caller's buffer, which must
 * outlive the struct. */
struct px_head {
	/* request line */
	const char *method; size_t mlen;
	const char *target; size_t tlen;
	/* status line */
	int status;
	int minor;                  /* HTTP/1.<minor> */
	struct px_hdr hdrs[PX_MAX_HDRS];
	size_t nhdrs;
	size_t head_len;            /* bytes including the final CRLF CRLF */
	enum px_body_kind body;
	uint64_t content_length;
	int keep_alive;             /* after this message */
	int upgrade;                /* Upgrade header or Connection: upgrade */
};

/* Finds the end of a head in buf[0..len). Returns 0 and sets *head_len
 * when complete, SL_EAGAIN when more bytes are needed, SL_ELIMIT when the
 * head (or one line) is over the limits, SL_EPARSE on a bare LF or NUL. */
int px_http_head_end(const char *buf, size_t len, size_t *head_len, struct sl_err *err);

/* Parses a complete request head (len = head_len from px_http_head_end).
 * SL_EPARSE / SL_ELIMIT with a message on anything malformed. */
int px_http_parse_request(const char *buf, size_t len, struct px_head *h, struct sl_err *err);

/* Parses a complete response head; req_method decides whether a body
 * follows (HEAD, CONNECT). */
int px_http_parse_response(const char *buf, size_t len, const char *req_method,
			   size_t req_mlen, struct px_head *h, struct sl_err *err);

/* Case-insensitive header lookup; returns the index or -1. */
int px_http_find(const struct px_head *h, const char *name, int from);
/* 1 when name is a valid token (header field name). */
int px_http_token(const char *s, size_t n);
/* 1 when value may appear in a header field (no CR, LF, NUL or other CTLs
 * except HTAB). */
int px_http_value_ok(const char *s, size_t n);

/* Request targets. */
struct px_target {
	char host[PX_MAX_HOST + 3]; /* lowercased, trailing dot stripped, no [] */
	int port;
	int is_ip;                  /* 4 or 6 for literals, else 0 */
	const char *path;           /* borrowed: "/..." incl. query; "/" if empty */
	size_t plen;
	size_t path_noq;            /* length of path without the query */
};
/* `CONNECT host[:port]` authority (default port 443, also when the port
 * does not parse; `[v6]:port` accepted). */
int px_http_parse_authority(const char *s, size_t n, int dflt_port, struct px_target *t,
			    struct sl_err *err);
/* Absolute-form `http://authority/path?query` (default port 80). */
int px_http_parse_absolute(const char *s, size_t n, struct px_target *t, struct sl_err *err);
/* Normalises a host name in place: lowercase, one trailing dot stripped,
 * only LDH/underscore labels (non-ASCII, i.e. unencoded IDNA, is refused).
 * Sets *is_ip for IPv4/IPv6 literals. */
int px_http_norm_host(char *host, int *is_ip, struct sl_err *err);

/* Incremental chunked-body framing. Bytes are passed through unchanged;
 * the decoder only finds where the body ends and counts payload bytes. */
struct px_chunk {
	int state;
	uint64_t left;     /* data bytes left in the current chunk */
	unsigned digits;   /* hex digits of the current size */
	size_t line;       /* bytes of the current extension/trailer line */
	size_t trailers;   /* total trailer bytes */
	uint64_t payload;  /* data bytes seen */
	int done;
};
void px_chunk_init(struct px_chunk *c);
/* Consumes bytes of p[0..n) that belong to the body; returns the count
 * (stops at the end of the body, c->done set) or SL_EPARSE / SL_ELIMIT. */
ssize_t px_chunk_feed(struct px_chunk *c, const char *p, size_t n, struct sl_err *err);
/* Payload bytes that come next, before any framing byte (0 when the next
 * byte is framing). */
uint64_t px_chunk_data_left(const struct px_chunk *c);

/* Response scrubbing (px_scrub.c): every occurrence of a pattern's `from`
 * is overwritten in place by its `to` of the same length. */
struct px_scrub_pat {
	const char *from, *to;
	size_t len;
};
struct px_scrub {
	const struct px_scrub_pat *pats;
	size_t n;
};
/* Scrubs p[0..n) and returns how many leading bytes are final: the rest
 * is the start of a pattern that more data may complete. With `last` (no
 * more data follows) every byte is final. */
size_t px_scrub(const struct px_scrub *s, char *p, size_t n, int last);

/* IP guard (sandbox.md 10.3). Each returns NULL when the address may be
 * reached, else a static reason such as "loopback" or
 * "IPv4-mapped private". Addresses are in network byte order. */
const char *px_ipguard_v4(const uint8_t a[4]);
const char *px_ipguard_v6(const uint8_t a[16]);
const char *px_ipguard_sa(const struct sockaddr *sa);
/* Same for a literal string (IPv4 dotted quad or IPv6, without []);
 * "not an address" when it does not parse. */
const char *px_ipguard_str(const char *s);

/* Domain allowlist pattern match (sandbox.md 10.2): "*.suffix" matches
 * suffix and any name ending in ".suffix"; any other pattern matches
 * exactly; case-insensitive; one trailing dot stripped from both. */
int px_domain_match(const char *pattern, const char *host);

#endif
