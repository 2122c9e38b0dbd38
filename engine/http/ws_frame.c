/*
 * ws_frame: RFC 6455 framing without I/O (see ws_frame.h). Limits that a
 * peer could otherwise abuse: control frames of at most 125 bytes and never
 * fragmented, no reserved bits (we negotiate no extension), a 63-bit length
 * that must use the shortest form, and a whole-message cap checked before
 * any byte of an oversized frame is buffered.
 */
#include "http/ws_frame.h"

#include <mbedtls/sha1.h>
#include <stdio.h>
#include <string.h>

#include "json/jv.h"

#define WS_DEFAULT_MAX_MSG ((size_t)16 << 20)

int ws_hdr_parse(const uint8_t *p, size_t n, struct ws_hdr *h, struct sl_err *err)
{
	if (n < 2)
		return 0;
	memset(h, 0, sizeof *h);
	h->fin = (p[0] >> 7) & 1;
	h->opcode = p[0] & 0x0f;
	h->masked = (p[1] >> 7) & 1;
	if (p[0] & 0x70)
		return sl_err_set(err, SL_EPARSE, "websocket: reserved bits set");
	switch (h->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!h->fin)
			return sl_err_set(err, SL_EPARSE, "websocket: fragmented control frame");
		break;
	default:
		return sl_err_set(err, SL_EPARSE, "websocket: reserved opcode %d", h->opcode);
	}
	uint64_t len = p[1] & 0x7f;
	size_t need = 2;
	if (len == 126) {
		need = 4;
		if (n < need)
			return 0;
		len = ((uint64_t)p[2] << 8) | p[3];
		if (len < 126)
			return sl_err_set(err, SL_EPARSE, "websocket: length not in shortest form");
	} else if (len == 127) {
		need = 10;
		if (n < need)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | p[2 + i];
		if (len >> 63)
			return sl_err_set(err, SL_EPARSE, "websocket: 64-bit length with top bit set");
		if (len <= 0xffff)
			return sl_err_set(err, SL_EPARSE, "websocket: length not in shortest form");
	}
	if (h->opcode >= WS_OP_CLOSE && len > 125)
		return sl_err_set(err, SL_EPARSE, "websocket: control frame of %llu bytes",
				  (unsigned long long)len);
	if (h->masked) {
		if (n < need + 4)
			return 0;
		memcpy(h->mask, p + need, 4);
		need += 4;
	}
	h->len = len;
	h->hdr_len = need;
	return 1;
}

size_t ws_hdr_encode(uint8_t out[14], int fin, int opcode, uint64_t len, const uint8_t *mask)
{
	size_t i = 0;
	out[i++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	uint8_t m = mask ? 0x80 : 0;
	if (len < 126) {
		out[i++] = m | (uint8_t)len;
	} else if (len <= 0xffff) {
		out[i++] = m | 126;
		out[i++] = (uint8_t)(len >> 8);
		out[i++] = (uint8_t)len;
	} else {
		out[i++] = m | 127;
		for (int s = 56; s >= 0; s -= 8)
			out[i++] = (uint8_t)(len >> s);
	}
	if (mask) {
		memcpy(out + i, mask, 4);
		i += 4;
	}
	return i;
}

void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(off + i) & 3];
}

void ws_frame_append(struct sl_buf *out, int opcode, const void *p, size_t n,
		     const uint8_t *mask)
{
	uint8_t hdr[14];
	size_t hl = ws_hdr_encode(hdr, 1, opcode, n, mask);
	sl_buf_add(out, hdr, hl);
	size_t at = out->len;
	sl_buf_add(out, p, n);
	if (mask)
		ws_mask((uint8_t *)out->p + at, n, mask, 0);
}

void ws_parser_init(struct ws_parser *ps, int from_client, size_t max_msg)
{
	memset(ps, 0, sizeof *ps);
	ps->from_client = from_client;
	ps->max_msg = max_msg ? max_msg : WS_DEFAULT_MAX_MSG;
	sl_buf_init(&ps->in);
	sl_buf_init(&ps->msg);
}

void ws_parser_deinit(struct ws_parser *ps)
{
	sl_buf_free(&ps->in);
	sl_buf_free(&ps->msg);
}

static int fail(struct ws_parser *ps, int close_code, struct sl_err *err, const char *msg)
{
	ps->close_code = close_code;
	return sl_err_set(err, SL_EPARSE, "websocket: %s", msg);
}

/* Handles one complete frame whose (unmasked) payload is pl/n. */
static int frame(struct ws_parser *ps, const struct ws_hdr *h, const uint8_t *pl, size_t n,
		 ws_msg_fn fn, void *ud, struct sl_err *err)
{
	if (h->opcode >= WS_OP_CLOSE) {
		if (h->opcode == WS_OP_CLOSE) {
			int code;
			const char *r;
			size_t rl;
			if (ws_close_parse(pl, n, &code, &r, &rl) < 0)
				return fail(ps, WS_CLOSE_PROTOCOL, err, "malformed close frame");
		}
		return fn(ud, h->opcode, pl, n) ? 1 : 0;
	}
	if (h->opcode == WS_OP_CONT) {
		if (!ps->msg_op)
			return fail(ps, WS_CLOSE_PROTOCOL, err, "continuation without a message");
	} else {
		if (ps->msg_op)
			return fail(ps, WS_CLOSE_PROTOCOL, err, "new message inside a fragmented one");
		ps->msg_op = h->opcode;
		sl_buf_reset(&ps->msg);
	}
	if (ps->msg.len + n > ps->max_msg)
		return fail(ps, WS_CLOSE_TOO_BIG, err, "message too big");
	sl_buf_add(&ps->msg, pl, n);
	if (!h->fin)
		return 0;
	int op = ps->msg_op;
	ps->msg_op = 0;
	if (op == WS_OP_TEXT && !jv_utf8_valid(ps->msg.p ? ps->msg.p : "", ps->msg.len))
		return fail(ps, WS_CLOSE_BAD_DATA, err, "text message is not UTF-8");
	return fn(ud, op, (const uint8_t *)(ps->msg.p ? ps->msg.p : ""), ps->msg.len) ? 1 : 0;
}

int ws_parser_feed(struct ws_parser *ps, const uint8_t *p, size_t n, ws_msg_fn fn, void *ud,
		   struct sl_err *err)
{
	sl_buf_add(&ps->in, p, n);
	size_t off = 0;
	int rc = 0;
	while (off < ps->in.len) {
		struct ws_hdr h;
		const uint8_t *b = (const uint8_t *)ps->in.p + off;
		size_t avail = ps->in.len - off;
		rc = ws_hdr_parse(b, avail, &h, err);
		if (rc < 0) {
			ps->close_code = WS_CLOSE_PROTOCOL;
			break;
		}
		if (rc == 0)
			break;
		rc = 0;
		if (h.masked != ps->from_client) {
			rc = fail(ps, WS_CLOSE_PROTOCOL, err,
				  ps->from_client ? "unmasked client frame" : "masked server frame");
			break;
		}
		/* Reject before buffering: the declared length alone is enough. */
		if (h.opcode < WS_OP_CLOSE && h.len > ps->max_msg - ps->msg.len) {
			rc = fail(ps, WS_CLOSE_TOO_BIG, err, "message too big");
			break;
		}
		if (avail - h.hdr_len < h.len)
			break;
		uint8_t *pl = (uint8_t *)ps->in.p + off + h.hdr_len;
		if (h.masked)
			ws_mask(pl, (size_t)h.len, h.mask, 0);
		off += h.hdr_len + (size_t)h.len;
		rc = frame(ps, &h, pl, (size_t)h.len, fn, ud, err);
		if (rc != 0)
			break;
	}
	if (off) {
		memmove(ps->in.p, ps->in.p + off, ps->in.len - off);
		ps->in.len -= off;
		ps->in.p[ps->in.len] = 0;
	}
	return rc;
}

int ws_close_parse(const uint8_t *p, size_t n, int *code, const char **reason,
		   size_t *reason_len)
{
	*code = 1005;
	*reason = "";
	*reason_len = 0;
	if (n == 0)
		return 0;
	if (n == 1)
		return SL_EPARSE;
	int c = (p[0] << 8) | p[1];
	/* Codes a peer may send (RFC 6455 7.4.1-7.4.2). */
	if (c < 1000 || c == 1004 || c == 1005 || c == 1006 || (c > 1014 && c < 3000) || c > 4999)
		return SL_EPARSE;
	if (!jv_utf8_valid((const char *)p + 2, n - 2))
		return SL_EPARSE;
	*code = c;
	*reason = (const char *)p + 2;
	*reason_len = n - 2;
	return 0;
}

void ws_accept_key(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char dig[20];
	mbedtls_sha1_context c;
	mbedtls_sha1_init(&c);
	mbedtls_sha1_starts_ret(&c);
	mbedtls_sha1_update_ret(&c, (const unsigned char *)key, strlen(key));
	mbedtls_sha1_update_ret(&c, (const unsigned char *)guid, sizeof guid - 1);
	mbedtls_sha1_finish_ret(&c, dig);
	mbedtls_sha1_free(&c);
	struct sl_buf b;
	sl_buf_init(&b);
	jv_b64_encode(&b, dig, sizeof dig);
	snprintf(out, 29, "%s", b.p ? b.p : "");
	sl_buf_free(&b);
}
