/*
 * libFuzzer target for journal import: the input bytes are written as a
 * .jsonl journal and fed to the reader, the JSON Lines export and the
 * fixture generator. Properties checked beyond "no crash":
 * - every rejection carries a message naming the file;
 * - an accepted export is a fixed point (exporting the export gives the
 *   same bytes);
 * - an accepted journal yields a fixture that compiles as Lua, and the
 *   reported counts are non-negative.
 * Files go to one private temporary directory per process, removed at exit.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal/jn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir, *in_path, *again_path, *out_path;

static void cleanup(void)
{
	if (dir)
		sl_rm_rf(dir);
}

static void setup(void)
{
	if (dir)
		return;
	const char *tmp = getenv("TMPDIR");
	dir = sl_xasprintf("%s/fuzz-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	in_path = sl_xasprintf("%s/in.jsonl", dir);
	again_path = sl_xasprintf("%s/again.jsonl", dir);
	out_path = sl_xasprintf("%s/out.lua", dir);
	atexit(cleanup);
}

/* Exports path into a malloc'd string; NULL (err set) on failure. */
static char *export(const char *path, size_t *len, struct sl_err *err)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		abort();
	int rc = jn_export(path, f, err);
	fclose(f);
	if (rc) {
		if (!strstr(err->msg, path))
			abort(); /* an error that does not say which file */
		free(text);
		return NULL;
	}
	return text;
}

static void check_fixture(void)
{
	struct sl_err err;
	struct jn_fixture_stats st;
	if (jn_write_fixture(in_path, out_path, NULL, &st, &err)) {
		if (!err.msg[0])
			abort();
		return;
	}
	if (st.llm_turns < 0 || st.tool_execs < 0 || st.frontend_steps < 0)
		abort();
	free(st.workspace);
	free(st.policy_path);
	size_t n;
	char *src = sl_read_file(out_path, &n, 0, &err);
	if (!src)
		abort();
	lua_State *L = luaL_newstate();
	if (!L)
		abort();
	if (luaL_loadbuffer(L, src, n, "fixture") != LUA_OK) {
		fprintf(stderr, "generated fixture does not compile: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_close(L);
	free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	struct sl_err err;
	if (sl_write_file(in_path, data, size, 0600, &err))
		abort();

	/* Reader: walk to the end or the first error. */
	struct jn_reader *r = jn_reader_open(in_path, &err);
	if (r) {
		struct jv *v;
		while ((v = jn_reader_next(r, &err)))
			jv_unref(v);
		jn_reader_close(r);
	}

	size_t n1, n2;
	char *a = export(in_path, &n1, &err);
	if (a) {
		if (sl_write_file(again_path, a, n1, 0600, &err))
			abort();
		char *b = export(again_path, &n2, &err);
		if (!b || n1 != n2 || memcmp(a, b, n1))
			abort(); /* the export must be its own fixed point */
		free(b);
		free(a);
	}
	check_fixture();
	return 0;
}
