/* Journal writer: schema and pragmas as replay.md 2.1 fixes them, seq
 * contiguity, the real and fake clocks, refusal of non-empty journals,
 * file mode, and sticky append failures. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "journal/jn_int.h"
#include "jt.h"
#include "tap.h"

/* First column of the first row of sql as text (owned), or NULL. */
static char *query1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return NULL;
	char *out = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		out = sl_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static void check_query(sqlite3 *db, const char *sql, const char *want)
{
	char *got = query1(db, sql);
	CHECK_STR(got, want);
	if (got && strcmp(got, want))
		printf("#   query: %s\n", sql);
	free(got);
}

TEST(schema_and_pragmas)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/a/b/s.db", dir); /* parents created */
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	CHECK(j != NULL);
	if (!j) {
		printf("#   %s\n", err.msg);
		goto out;
	}
	CHECK_STR(jn_path(j), path);
	CHECK(jt_append(j, "lifecycle", "{\"message\":\"harness starting\"}") == 0);

	/* While the writer is live, a second connection sees WAL. */
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	check_query(db, "PRAGMA journal_mode", "wal");
	check_query(db, "SELECT value FROM silo_journal WHERE key='schema_version'", "1");
	check_query(db, "SELECT value FROM silo_journal WHERE key='producer'",
		    "silo " SILO_VERSION);
	check_query(db, "SELECT count(*) FROM silo_journal", "2");
	check_query(db, "SELECT sql FROM sqlite_schema WHERE name='silo_journal'",
		    "CREATE TABLE silo_journal (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
	check_query(db, "SELECT group_concat(name || ':' || type || ':' || \"notnull\" || ':' || pk, ',')"
			" FROM pragma_table_info('records')",
		    "seq:INTEGER:0:1,logical:INTEGER:1:0,wall_ms:INTEGER:0:0,entry:TEXT:1:0,"
		    "body:TEXT:1:0");
	check_query(db, "SELECT group_concat(name, ',') FROM pragma_index_info('records_by_entry')",
		    "entry,seq");
	check_query(db, "SELECT tbl_name FROM sqlite_schema WHERE name='records_by_entry'",
		    "records");
	check_query(db, "SELECT entry || '|' || body FROM records WHERE seq=0",
		    "lifecycle|{\"message\":\"harness starting\"}");
	sqlite3_close(db);
	jn_close(j);

	/* After close: WAL persists in the header, the WAL file is gone or
	 * truncated to nothing by the TRUNCATE checkpoint. */
	char *wal = sl_xasprintf("%s-wal", path);
	struct stat st;
	CHECK(stat(wal, &st) != 0 || st.st_size == 0);
	free(wal);
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	check_query(db, "PRAGMA journal_mode", "wal");
	check_query(db, "SELECT count(*) FROM records", "1");
	sqlite3_close(db);

	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
out:
	free(path);
	jt_rmdir(dir);
}

/* synchronous is per connection: ask the writer's own connection. */
TEST(synchronous_normal)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_err err;
	struct jn *j = jn_open(path, NULL, &err);
	CHECK(j != NULL);
	check_query(jn__db(j), "PRAGMA synchronous", "1"); /* NORMAL */
	check_query(jn__db(j), "PRAGMA journal_mode", "wal");
	jn_close(j);
	free(path);
	jt_rmdir(dir);
}

TEST(seq_contiguous_and_fake_clock)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	CHECK(j != NULL);
	for (int i = 0; i < 500; i++)
		CHECK(jt_append(j, i % 2 ? "event" : "lifecycle", "{\"message\":\"x\"}") == i);
	CHECK(!jn_failed(j));
	jn_close(j);

	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	check_query(db, "SELECT count(*) || ',' || min(seq) || ',' || max(seq) FROM records",
		    "500,0,499");
	check_query(db, "SELECT count(*) FROM records WHERE wall_ms IS NOT NULL", "0");
	check_query(db, "SELECT count(*) FROM records WHERE logical != 0", "0");
	sqlite3_close(db);
	free(path);
	jt_rmdir(dir);
}

TEST(real_clock)
{
	struct sl_clock c = { 0 };
	uint64_t l1, l2;
	int64_t w1, w2;
	sl_clock_read(&c, &l1, &w1);
	sl_clock_read(&c, &l2, &w2);
	CHECK(l2 > l1);
	CHECK(w1 > 1600000000000LL && w2 >= w1); /* Unix ms, after 2020 */

	struct sl_clock fake = { .fake = 1 };
	sl_clock_read(&fake, &l1, &w1);
	sl_clock_read(&fake, &l2, &w2);
	CHECK(l1 == 0 && l2 == 0 && w1 == -1 && w2 == -1);

	/* The journal shares the clock: other readers (the event bus) make
	 * its logical times strictly increasing but not contiguous. */
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_err err;
	struct jn *j = jn_open(path, &c, &err);
	CHECK(j != NULL);
	jt_append(j, "lifecycle", "{\"message\":\"a\"}");
	sl_clock_read(&c, &l1, &w1); /* an event bus read in between */
	jt_append(j, "lifecycle", "{\"message\":\"b\"}");
	jn_close(j);
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	char *want = sl_xasprintf("%llu,%llu", (unsigned long long)l1 - 1,
				  (unsigned long long)l1 + 1);
	check_query(db, "SELECT group_concat(logical, ',') FROM records", want);
	check_query(db, "SELECT count(*) FROM records WHERE wall_ms > 1600000000000", "2");
	sqlite3_close(db);
	free(want);
	free(path);
	jt_rmdir(dir);
}

TEST(refuses_non_empty_journal)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_err err;
	struct jn *j = jn_open(path, NULL, &err);
	CHECK(j != NULL);
	jt_append(j, "lifecycle", "{\"message\":\"a\"}");
	jn_close(j);

	err.code = 0;
	CHECK(jn_open(path, NULL, &err) == NULL);
	CHECK(err.code == SL_EEXIST);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK(strstr(err.msg, "already holds 1 record") != NULL);

	/* An unrelated file is not overwritten either. */
	char *txt = sl_xasprintf("%s/notes.txt", dir);
	jt_spit(txt, "hello\n", 6);
	CHECK(jn_open(txt, NULL, &err) == NULL);
	CHECK(strstr(err.msg, txt) != NULL && strstr(err.msg, "not a silo journal"));
	size_t n;
	char *back = jt_slurp(txt, &n);
	CHECK_STR(back, "hello\n");
	free(back);

	/* A journal created but never appended to may be reused, and an
	 * existing empty file becomes a journal (mode tightened to 0600). */
	char *empty = sl_xasprintf("%s/empty.db", dir);
	j = jn_open(empty, NULL, &err);
	jn_close(j);
	j = jn_open(empty, NULL, &err);
	CHECK(j != NULL);
	CHECK(jt_append(j, "lifecycle", "{\"message\":\"a\"}") == 0);
	jn_close(j);
	char *zero = sl_xasprintf("%s/zero.db", dir);
	jt_spit(zero, "", 0);
	j = jn_open(zero, NULL, &err);
	CHECK(j != NULL);
	jn_close(j);
	struct stat st;
	CHECK(stat(zero, &st) == 0 && (st.st_mode & 0777) == 0600);

	free(zero);
	free(empty);
	free(txt);
	free(path);
	jt_rmdir(dir);
}

TEST(failed_append_is_sticky)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_err err;
	struct jn *j = jn_open(path, NULL, &err);
	CHECK(j != NULL);
	CHECK(jt_append(j, "lifecycle", "{\"message\":\"a\"}") == 0);
	CHECK(!jn_failed(j));

	/* Not an object: refused, and the session learns of it. */
	struct jv *arr = jv_arr();
	CHECK(jn_append(j, "lifecycle", arr) < 0);
	jv_unref(arr);
	CHECK(jn_failed(j));
	/* Envelope names cannot be body fields (readers flatten bodies). */
	CHECK(jt_append(j, "lifecycle", "{\"message\":\"a\",\"seq\":3}") < 0);
	CHECK(jt_append(j, "lifecycle", "{\"message\":\"b\"}") == 1);

	/* A write the database refuses fails without consuming a seq. */
	char *p2 = sl_xasprintf("%s/t.db", dir);
	struct jn *j2 = jn_open(p2, NULL, &err);
	CHECK(jt_append(j2, "lifecycle", "{\"message\":\"a\"}") == 0);
	sqlite3 *db;
	CHECK(sqlite3_open(p2, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TRIGGER nope BEFORE INSERT ON records "
			       "WHEN NEW.entry = 'bad' BEGIN SELECT RAISE(ABORT, 'no'); END",
			       NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(jt_append(j2, "bad", "{}") < 0);
	CHECK(jn_failed(j2));
	CHECK(jt_append(j2, "lifecycle", "{\"message\":\"b\"}") == 1);
	CHECK(jn_failed(j2)); /* still sticky after a later success */
	jn_close(j2);
	free(p2);

	jn_close(j);
	free(path);
	jt_rmdir(dir);
}
