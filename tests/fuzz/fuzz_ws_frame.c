/*
 * fuzz_ws_frame: feeds arbitrary bytes to the WebSocket message assembler
 * (both directions, split at a point taken from the input) and to the
 * close-payload parser. Checks that nothing crashes, that every delivered
 * text message is UTF-8 and within the size cap, and that re-encoding a
 * parsed header gives back a header that parses to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/ws_frame.h"
#include "json/jv.h"

#define MAX_MSG 4096

static int on_msg(void *ud, int op, const uint8_t *p, size_t n)
{
	(void)ud;
	if (n > MAX_MSG && op != WS_OP_CLOSE)
		abort();
	if (op == WS_OP_TEXT && !jv_utf8_valid((const char *)p, n))
		abort();
	if (op >= WS_OP_CLOSE && n > 125)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t split = data[0] % (size);
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (split > n)
		split = n;
	for (int side = 0; side < 2; side++) {
		struct ws_parser ps;
		struct sl_err err;
		ws_parser_init(&ps, side, MAX_MSG);
		if (ws_parser_feed(&ps, p, split, on_msg, NULL, &err) == 0)
			ws_parser_feed(&ps, p + split, n - split, on_msg, NULL, &err);
		ws_parser_deinit(&ps);
	}
	struct ws_hdr h, h2;
	struct sl_err err;
	if (ws_hdr_parse(p, n, &h, &err) == 1) {
		uint8_t out[14];
		size_t l = ws_hdr_encode(out, h.fin, h.opcode, h.len, h.masked ? h.mask : NULL);
		if (ws_hdr_parse(out, l, &h2, &err) != 1 || h2.len != h.len ||
		    h2.opcode != h.opcode || h2.fin != h.fin || h2.masked != h.masked)
			abort();
	}
	int code;
	const char *r;
	size_t rl;
	ws_close_parse(p, n, &code, &r, &rl);
	return 0;
}
