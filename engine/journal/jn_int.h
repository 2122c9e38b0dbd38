/*
 * jn internals shared by the writer (jn_write.c), the readers (jn_read.c)
 * and the fixture generator (jn_fixture.c). Nothing outside engine/journal
 * includes this.
 */
#ifndef JN_INT_H
#define JN_INT_H

#include <sqlite3.h>

#include "jn.h"

/* The one schema version this build reads and writes (replay.md 2.1). */
#define JN_SCHEMA_VERSION "1"

/* What a file looks like from its first bytes. */
enum jn_file_kind { JN_FILE_MISSING, JN_FILE_EMPTY, JN_FILE_SQLITE, JN_FILE_JSONL, JN_FILE_OTHER };

/* Sniffs path: a SQLite header, a first non-blank byte '{' (JSON Lines),
 * an empty file, or something else. Returns < 0 (err set) when the path
 * cannot be read (other than ENOENT, which is JN_FILE_MISSING). */
int jn__sniff(const char *path, struct sl_err *err);

/* Checks that db holds a silo journal of a schema version we read.
 * Returns 0 or SL_EPARSE with a message naming path. */
int jn__check_schema(sqlite3 *db, const char *path, struct sl_err *err);

/* The writer's connection, for tests that check its pragmas. */
sqlite3 *jn__db(const struct jn *j);

/* Lua source writer for fixtures (jn_lua.c): appends v as a Lua
 * expression at the given indent level, objects in stored key order
 * (callers sort free-form values beforehand). */
void jn__lua_value(struct sl_buf *out, const struct jv *v, int level);
/* Appends s as a double-quoted Lua string literal (replay.md 4.1). */
void jn__lua_string(struct sl_buf *out, const char *s, size_t n);
/* 1 when s can be written as a bare Lua table key. */
int jn__lua_bare_key(const char *s);

#endif
