/*
 * The journal writer (replay.md 2.1-2.2): one SQLite database in WAL mode
 * per session, one committed transaction per record, seq from 0 without
 * gaps, and the session clock the journal shares with the event bus.
 *
 * Appends are serialized by the journal's own mutex; seq and the timestamp
 * are taken under it, so the order of seq is the order of time. The
 * connection is opened SQLITE_OPEN_NOMUTEX because that mutex already
 * serializes every use of it. Readers live in jn_read.c and open the file
 * read-only beside a live writer, which WAL allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jn_int.h"

#ifndef SILO_VERSION
#define SILO_VERSION "0.0.0"
#endif

/*
 * Pages the WAL may grow to before SQLite checkpoints it on commit. The
 * default (1000 pages, 4 MB) checkpoints every few hundred appends, and a
 * checkpoint syncs the WAL and the database; 8000 pages (32 MB) keeps that
 * to once every few thousand records. The WAL is truncated at close.
 */
#define JN_WAL_AUTOCHECKPOINT 8000

struct jn {
	char *path;               /* owned */
	sqlite3 *db;              /* owned */
	sqlite3_stmt *ins;        /* owned: the one INSERT every append reuses */
	struct sl_clock *clock;   /* borrowed: session, or &own_clock */
	struct sl_clock own_clock;
	pthread_mutex_t mu;       /* serializes appends: seq, time, insert */
	int64_t next_seq;
	int failed;               /* sticky; read with __atomic_load */
	struct sl_buf body;       /* scratch for the emitted body, under mu */
	struct sl_buf fixed;      /* scratch for a body repaired to UTF-8 */
};

void sl_clock_read(struct sl_clock *c, uint64_t *logical, int64_t *wall_ms)
{
	if (c->fake) {
		/* Nothing advances the fake clock: ordering is carried by seq. */
		*logical = __atomic_load_n(&c->logical, __ATOMIC_RELAXED);
		*wall_ms = -1;
		return;
	}
	*logical = __atomic_add_fetch(&c->logical, 1, __ATOMIC_RELAXED);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_fail(struct sl_err *err, sqlite3 *db, const char *path, const char *what)
{
	return sl_err_set(err, SL_EIO, "journal %s: %s: %s", path, what,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

static int exec(sqlite3 *db, const char *path, const char *sql, struct sl_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	int rc = sl_err_set(err, SL_EIO, "journal %s: %s", path, msg ? msg : "sqlite error");
	sqlite3_free(msg);
	return rc;
}

/* 1 when db has no tables at all (a database shell we may fill in). */
static int db_is_blank(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL))
		return 0;
	int blank = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;
	sqlite3_finalize(st);
	return blank;
}

/* Number of records, or -1 when the table cannot be read. */
static int64_t db_count(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM records", -1, &st, NULL))
		return -1;
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

/* Creates path (and its parent directories) as an empty private file. */
static int create_file(const char *path, struct sl_err *err)
{
	char *dir = sl_xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;
	if (slash && slash != dir) {
		*slash = 0;
		rc = sl_mkdir_p(dir, 0700, err);
	}
	free(dir);
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot create journal %s: %s", path,
				  strerror(errno));
	close(fd);
	return 0;
}

static const char schema_sql[] =
	"BEGIN;"
	"CREATE TABLE silo_journal (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE records ("
	" seq INTEGER PRIMARY KEY,"
	" logical INTEGER NOT NULL,"
	" wall_ms INTEGER,"
	" entry TEXT NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX records_by_entry ON records(entry, seq);"
	"INSERT INTO silo_journal (key, value) VALUES"
	" ('schema_version', '" JN_SCHEMA_VERSION "'),"
	" ('producer', 'silo " SILO_VERSION "');"
	"COMMIT;";

/*
 * Decides whether path may become a new journal: a missing or empty file,
 * a database without tables, or a silo journal without records (a session
 * that died before its first append). Anything else is refused so that seq
 * stays unique within one file (replay.md 2.1, decisions 36). Sets *fresh
 * when the schema still has to be created.
 */
static int prepare_path(const char *path, int *fresh, struct sl_err *err)
{
	int kind = jn__sniff(path, err);
	if (kind < 0)
		return kind;
	*fresh = 1;
	if (kind == JN_FILE_MISSING)
		return create_file(path, err);
	if (kind == JN_FILE_EMPTY) {
		struct stat st;
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			return sl_err_set(err, SL_EEXIST,
					  "journal %s exists and is not a regular file", path);
		if (chmod(path, 0600))
			return sl_err_set(err, SL_EIO, "cannot chmod journal %s: %s", path,
					  strerror(errno));
		return 0;
	}
	if (kind != JN_FILE_SQLITE)
		return sl_err_set(err, SL_EEXIST,
				  "%s already exists and is not a silo journal; refusing to "
				  "overwrite it",
				  path);
	sqlite3 *db = NULL;
	int rc = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL)) {
		rc = db_fail(err, db, path, "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (db_is_blank(db))
		goto out;
	*fresh = 0;
	struct sl_err why;
	if (jn__check_schema(db, path, &why)) {
		rc = sl_err_set(err, SL_EEXIST, "%s; refusing to overwrite it", why.msg);
		goto out;
	}
	int64_t n = db_count(db);
	if (n < 0)
		rc = sl_err_set(err, SL_EEXIST,
				"journal %s has no readable records table; refusing to use it",
				path);
	else if (n > 0)
		rc = sl_err_set(err, SL_EEXIST,
				"journal %s already holds %lld record(s); refusing to append "
				"to it (choose a new journal path)",
				path, (long long)n);
out:
	sqlite3_close(db);
	return rc;
}

struct jn *jn_open(const char *path, struct sl_clock *clock, struct sl_err *err)
{
	if (!path || !*path) {
		sl_err_set(err, SL_EINVAL, "journal path is empty");
		return NULL;
	}
	int fresh;
	if (prepare_path(path, &fresh, err))
		return NULL;

	struct jn *j = sl_xcalloc(1, sizeof *j);
	j->path = sl_xstrdup(path);
	j->clock = clock ? clock : &j->own_clock;
	pthread_mutex_init(&j->mu, NULL);
	sl_buf_init(&j->body);
	sl_buf_init(&j->fixed);

	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)) {
		db_fail(err, j->db, path, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(j->db, 5000);
	/* journal_mode answers with the mode it ended up in; anything but
	 * "wal" (e.g. on a file system without shared memory) is a failure. */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(j->db, "PRAGMA journal_mode=WAL", -1, &st, NULL)) {
		db_fail(err, j->db, path, "cannot set WAL mode");
		goto fail;
	}
	int wal = sqlite3_step(st) == SQLITE_ROW &&
		  !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	if (!wal) {
		sl_err_set(err, SL_EIO, "journal %s: cannot switch to WAL mode: %s", path,
			   sqlite3_errmsg(j->db));
		goto fail;
	}
	char pragmas[128];
	snprintf(pragmas, sizeof pragmas,
		 "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=%d;",
		 JN_WAL_AUTOCHECKPOINT);
	if (exec(j->db, path, pragmas, err))
		goto fail;
	if (fresh && exec(j->db, path, schema_sql, err)) {
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (sqlite3_prepare_v3(j->db,
			       "INSERT INTO records (seq, logical, wall_ms, entry, body) "
			       "VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, SQLITE_PREPARE_PERSISTENT, &j->ins, NULL)) {
		db_fail(err, j->db, path, "cannot prepare the insert");
		goto fail;
	}
	return j;
fail:
	jn_close(j);
	return NULL;
}

static int64_t append_failed(struct jn *j, const char *entry, const char *why)
{
	SL_ERROR("journal", "cannot append %s record to %s: %s", entry, j->path, why);
	__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
	return SL_EIO;
}

int64_t jn_append(struct jn *j, const char *entry, const struct jv *body)
{
	if (!j || !entry || !*entry)
		return SL_EINVAL;
	if (body && !jv_is(body, JV_OBJECT)) {
		append_failed(j, entry, "the body is not a JSON object");
		return SL_EINVAL;
	}
	/* Readers flatten the body into the envelope; a field with an
	 * envelope name would silently replace it there. */
	if (body && (jv_get(body, "seq") || jv_get(body, "time") || jv_get(body, "entry"))) {
		append_failed(j, entry, "the body has a field named seq, time or entry");
		return SL_EINVAL;
	}
	pthread_mutex_lock(&j->mu);
	uint64_t logical;
	int64_t wall_ms;
	sl_clock_read(j->clock, &logical, &wall_ms);
	sl_buf_reset(&j->body);
	if (body)
		jv_emit(body, &j->body, 0);
	else
		sl_buf_add(&j->body, "{}", 2);
	struct sl_buf *text = &j->body;
	if (!jv_utf8_valid(j->body.p, j->body.len)) {
		/* A string that is not UTF-8 would make the whole journal
		 * unreadable (readers parse strictly). JSON's own syntax is
		 * ASCII, so a lossy pass only touches string contents. */
		SL_WARN("journal", "%s record for %s: invalid UTF-8 replaced by U+FFFD", entry,
			j->path);
		sl_buf_reset(&j->fixed);
		jv_utf8_lossy(&j->fixed, j->body.p, j->body.len);
		text = &j->fixed;
	}

	int64_t seq = j->next_seq;
	sqlite3_stmt *st = j->ins;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)logical);
	if (wall_ms < 0)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, wall_ms);
	sqlite3_bind_text(st, 4, entry, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text->p, (int)text->len, SQLITE_STATIC);
	int rc = text->len > INT32_MAX ? SQLITE_TOOBIG : sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE) {
		j->next_seq++;
	} else {
		/* seq is not consumed, so the records that do land stay
		 * contiguous; the session learns of the loss via jn_failed(). */
		seq = append_failed(j, entry,
				    rc == SQLITE_TOOBIG ? "record too large" : sqlite3_errmsg(j->db));
	}
	pthread_mutex_unlock(&j->mu);
	return seq;
}

int jn_failed(const struct jn *j)
{
	return j && __atomic_load_n(&j->failed, __ATOMIC_RELAXED);
}

sqlite3 *jn__db(const struct jn *j)
{
	return j ? j->db : NULL;
}

const char *jn_path(const struct jn *j)
{
	return j ? j->path : NULL;
}

void jn_close(struct jn *j)
{
	if (!j)
		return;
	sqlite3_finalize(j->ins);
	if (j->db) {
		/* Fold the WAL into the database and truncate it, so a finished
		 * journal is one self-contained file. */
		int rc = sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						   NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			SL_WARN("journal", "checkpoint of %s failed: %s", j->path,
				sqlite3_errmsg(j->db));
		sqlite3_close(j->db);
	}
	pthread_mutex_destroy(&j->mu);
	sl_buf_free(&j->body);
	sl_buf_free(&j->fixed);
	free(j->path);
	free(j);
}
