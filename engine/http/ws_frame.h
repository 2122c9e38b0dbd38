/*
 * ws_frame: the RFC 6455 WebSocket wire format as pure functions — frame
 * headers, masking, a message assembler (fragments, interleaved control
 * frames, UTF-8 check of text, size limit) and the handshake's accept key.
 * No I/O: the realtime LLM client (ws_client.c) and the interactive server
 * both use it. Input is untrusted: every malformed frame is an error with
 * the RFC's close code, never a crash (fuzzed by tests/fuzz/fuzz_ws_frame.c).
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/sl.h"

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1). */
enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_TOO_BIG = 1009,
};

struct ws_hdr {
	int fin;
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t len;     /* payload bytes */
	size_t hdr_len;   /* bytes of the header itself (2..14) */
};

/** Parses one frame header. Returns 1 when complete (h filled), 0 when more
 * bytes are needed, or <0 (SL_EPARSE) with err for a malformed header. */
int ws_hdr_parse(const uint8_t *p, size_t n, struct ws_hdr *h, struct sl_err *err);

/** Writes a frame header (2..14 bytes) into out; mask NULL = unmasked. */
size_t ws_hdr_encode(uint8_t out[14], int fin, int opcode, uint64_t len, const uint8_t *mask);

/** XORs p with mask, starting at payload offset off. */
void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off);

/** Appends one whole frame (header + payload, masked with mask if not
 * NULL) to out. */
void ws_frame_append(struct sl_buf *out, int opcode, const void *p, size_t n,
		     const uint8_t *mask);

/* Message assembler for one direction of a connection. */
struct ws_parser {
	int from_client;     /* 1: frames must be masked (server side) */
	size_t max_msg;      /* 0 = 16 MiB */
	struct sl_buf in;    /* unparsed bytes */
	struct sl_buf msg;   /* fragments of the message being assembled */
	int msg_op;          /* opcode of that message, 0 = none */
	int close_code;      /* code to send when feed failed */
};

void ws_parser_init(struct ws_parser *ps, int from_client, size_t max_msg);
void ws_parser_deinit(struct ws_parser *ps);

/* One complete message or control frame: opcode TEXT, BINARY, CLOSE,
 * PING or PONG. For CLOSE, p/n is the raw payload (ws_close_parse). The
 * callback returns non-zero to stop feeding (e.g. the owner is closing). */
typedef int (*ws_msg_fn)(void *ud, int opcode, const uint8_t *p, size_t n);

/** Feeds received bytes. Returns 0, 1 when the callback stopped it, or
 * <0 with err (ps->close_code says which close code to send). */
int ws_parser_feed(struct ws_parser *ps, const uint8_t *p, size_t n, ws_msg_fn fn, void *ud,
		   struct sl_err *err);

/** Splits a close payload: code (1005 when absent) and reason. Returns <0
 * for a malformed payload (length 1, bad code, reason not UTF-8). */
int ws_close_parse(const uint8_t *p, size_t n, int *code, const char **reason,
		   size_t *reason_len);

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 SHA-1 with the
 * RFC's GUID); out gets 28 chars + NUL. */
void ws_accept_key(const char *key, char out[29]);

#endif
