/*
 * sl_helper_ops: the one list of helper protocol operations (protocol.md
 * C3), shared by the Lua host (silo.helper.*), the harness side of the
 * protocol (sandbox/sb_proto.c) and the in-sandbox helper
 * (sandbox/helper/hp_req.c). It lives in base, the lowest layer, because all
 * three may include base and none may include another.
 *
 * Columns: enum suffix, engine name (what Lua and tools ask for), wire name
 * (the "op" field on the connection), the Ok payload variant the answer must
 * carry, and whether Lua may call it (the internal frames hello, cancel and
 * shutdown are the sandbox's own).
 */
#ifndef SL_HELPER_OPS_H
#define SL_HELPER_OPS_H

/* XX(NAME, engine, wire, payload, public) */
#define SL_HELPER_OP_MAP(XX)                                     \
	XX(HELLO, "hello", "hello", "hello", 0)                  \
	XX(EXEC, "exec", "exec", "exec", 1)                      \
	XX(READ, "read", "read_file", "file", 1)                 \
	XX(WRITE, "write", "write_file", "written", 1)           \
	XX(EDIT, "edit", "edit_file", "edited", 1)               \
	XX(LISTDIR, "listdir", "list_dir", "dir", 1)             \
	XX(FETCH, "fetch", "fetch", "fetched", 1)                \
	XX(CANCEL, "cancel", "cancel", "ack", 0)                 \
	XX(SHUTDOWN, "shutdown", "shutdown", "ack", 0)

enum sl_helper_op {
#define SL_XX(name, eng, wire, payload, pub) SL_HOP_##name,
	SL_HELPER_OP_MAP(SL_XX)
#undef SL_XX
	SL_HOP__COUNT
};

#endif
