/*
 * Response framing for silo-helper: `{"id":N,"result":{"Ok":{...}}}` and
 * `{"id":N,"result":{"Err":"..."}}` lines (protocol.md C2). Callers append
 * payload fields between hp_out_ok_begin() and hp_out_ok_end().
 *
 * Every string is passed through lossy UTF-8 decoding first: paths, file
 * names and command output may hold any bytes, and one invalid byte on the
 * wire would make the engine drop the whole connection.
 */
#include "hp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void hp_out_str(struct sl_buf *b, const char *s, size_t n)
{
	if (jv_utf8_valid(s, n)) {
		jv_emit_string(b, s, n);
		return;
	}
	struct sl_buf t;
	sl_buf_init(&t);
	jv_utf8_lossy(&t, s, n);
	jv_emit_string(b, t.p ? t.p : "", t.len);
	sl_buf_free(&t);
}

void hp_out_ok_begin(struct sl_buf *b, uint64_t id, const char *payload)
{
	sl_buf_printf(b, "{\"id\":%" PRIu64 ",\"result\":{\"Ok\":{\"payload\":\"%s\"", id,
		      payload);
}

void hp_out_ok_end(struct sl_buf *b)
{
	sl_buf_adds(b, "}}}\n");
}

void hp_out_err(struct sl_buf *b, uint64_t id, const char *msg)
{
	sl_buf_printf(b, "{\"id\":%" PRIu64 ",\"result\":{\"Err\":", id);
	hp_out_str(b, msg, strlen(msg));
	sl_buf_adds(b, "}}\n");
}

void hp_out_ack(struct sl_buf *b, uint64_t id)
{
	hp_out_ok_begin(b, id, "ack");
	hp_out_ok_end(b);
}

const char *hp_os_err(int errnum, char *buf, size_t size)
{
	snprintf(buf, size, "%s (os error %d)", strerror(errnum), errnum);
	return buf;
}
