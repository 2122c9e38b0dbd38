/*
 * libFuzzer target for the harness side of the helper protocol
 * (sandbox/sb_proto.c): arbitrary bytes from an untrusted helper go through
 * the capped line splitter, every line through the frame parser, and every
 * accepted Ok object through each op's payload schema. Nothing may crash or
 * leak; an accepted frame must be internally consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sb_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ops[] = { "hello",     "exec",	"read_file", "write_file", "edit_file",
				   "list_dir", "fetch", "cancel",    "shutdown",   "bogus" };

static int on_line(void *ud, const char *line, size_t n)
{
	SL_UNUSED(ud);
	struct sb_frame f;
	struct sl_err err;
	if (sb__frame_parse(line, n, &f, &err))
		return 0; /* the connection would close; keep going for coverage */
	switch (f.kind) {
	case SB_FRAME_OK:
		if (!f.ok || !f.payload)
			abort();
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			sb__payload_check(ops[i], f.ok, &err);
		break;
	case SB_FRAME_ERR:
		if (!f.err)
			abort();
		break;
	case SB_FRAME_CHUNK:
		if (f.data.len > SB_MAX_CHUNK || (strcmp(f.stream, "stdout") && strcmp(f.stream, "stderr")))
			abort();
		break;
	}
	sb__frame_clear(&f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a small cap so the overflow path is reachable */
	struct sb_lines lb = { .max = 4096 };
	sl_buf_init(&lb.b);
	/* feed in two pieces to exercise partial lines */
	size_t half = size / 2;
	if (!sb__lines_feed(&lb, (const char *)data, half, on_line, NULL))
		sb__lines_feed(&lb, (const char *)data + half, size - half, on_line, NULL);
	sb__lines_free(&lb);
	/* the whole input as one line, as the parser sees it */
	on_line(NULL, (const char *)data, size);
	return 0;
}
