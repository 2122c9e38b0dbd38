/*
 * Journal readers: a journal is either the session's SQLite database
 * (recognised by the SQLite header, opened read-only so it can be read
 * while its writer is still appending, which WAL allows) or a JSON Lines
 * export of one (replay.md 2.4). Both yield the same envelope objects
 * {seq, time{logical, wall_ms?}, entry, <body fields>}, from which the
 * export re-emits byte-identical lines and the fixture generator
 * (jn_fixture.c) works. Also `silo journal list`.
 *
 * Everything read here is untrusted: a journal may be hand-edited or
 * corrupt, and every defect becomes an error naming the file and the line
 * or seq, never a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jn_int.h"

static const char sqlite_magic[16] = "SQLite format 3";

int jn__sniff(const char *path, struct sl_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return JN_FILE_MISSING;
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return sl_err_set(err, SL_EIO, "%s is not a regular file", path);
	}
	unsigned char head[512];
	ssize_t n;
	do
		n = read(fd, head, sizeof head);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return sl_err_set(err, SL_EIO, "cannot read %s: %s", path, strerror(e));
	if (n == 0)
		return JN_FILE_EMPTY;
	if (n >= 16 && !memcmp(head, sqlite_magic, 16))
		return JN_FILE_SQLITE;
	for (ssize_t i = 0; i < n; i++) {
		if (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')
			continue;
		return head[i] == '{' ? JN_FILE_JSONL : JN_FILE_OTHER;
	}
	return JN_FILE_JSONL; /* only blank lines so far: zero records */
}

int jn__check_schema(sqlite3 *db, const char *path, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT value FROM silo_journal WHERE key = 'schema_version'",
			       -1, &st, NULL)) {
		const char *why = sqlite3_errmsg(db);
		if (strstr(why, "no such table"))
			why = "no silo_journal table";
		return sl_err_set(err, SL_EPARSE, "%s is not a silo journal (%s)", path, why);
	}
	int rc = 0;
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_TEXT) {
		rc = sl_err_set(err, SL_EPARSE, "%s is not a silo journal (no schema_version)",
				path);
	} else {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(v, JN_SCHEMA_VERSION))
			rc = sl_err_set(err, SL_EPARSE,
					"journal %s has unknown schema version '%.40s' (this "
					"silo reads version " JN_SCHEMA_VERSION ")",
					path, v);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Opens a silo journal database read-only and checks its schema. */
static sqlite3 *open_db(const char *path, struct sl_err *err)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)) {
		sl_err_set(err, SL_EIO, "cannot open journal %s: %s", path,
			   db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	/* A checkpoint by the live writer may hold a lock for a moment. */
	sqlite3_busy_timeout(db, 5000);
	if (jn__check_schema(db, path, err)) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

struct jn_reader {
	char *path;         /* owned */
	sqlite3 *db;        /* owned; NULL for JSON Lines */
	sqlite3_stmt *st;   /* owned */
	FILE *f;            /* owned; JSON Lines */
	char *line;         /* owned: getline buffer */
	size_t cap;
	long lineno;
	int done;           /* end reached or an error reported */
	struct sl_err last; /* the error that ended the reader, repeated */
	struct jn_req_cache *reqs; /* owned: expanded llm_requests (jn_delta.c) */
};

struct jn_reader *jn_reader_open(const char *path, struct sl_err *err)
{
	if (!path || !*path) {
		sl_err_set(err, SL_EINVAL, "journal path is empty");
		return NULL;
	}
	int kind = jn__sniff(path, err);
	if (kind < 0)
		return NULL;
	if (kind == JN_FILE_MISSING) {
		sl_err_set(err, SL_ENOENT, "journal %s does not exist", path);
		return NULL;
	}
	if (kind == JN_FILE_OTHER) {
		sl_err_set(err, SL_EPARSE,
			   "%s is not a silo journal (neither a SQLite journal nor JSON Lines)",
			   path);
		return NULL;
	}
	struct jn_reader *r = sl_xcalloc(1, sizeof *r);
	r->path = sl_xstrdup(path);
	if (kind == JN_FILE_SQLITE) {
		r->db = open_db(path, err);
		if (!r->db)
			goto fail;
		if (sqlite3_prepare_v2(r->db,
				       "SELECT seq, logical, wall_ms, entry, body FROM records "
				       "ORDER BY seq",
				       -1, &r->st, NULL)) {
			sl_err_set(err, SL_EPARSE, "%s is not a silo journal (%s)", path,
				   sqlite3_errmsg(r->db));
			goto fail;
		}
		return r;
	}
	/* JN_FILE_JSONL or JN_FILE_EMPTY (a journal without records). */
	r->f = fopen(path, "rbe");
	if (!r->f) {
		sl_err_set(err, SL_EIO, "cannot open journal %s: %s", path, strerror(errno));
		goto fail;
	}
	return r;
fail:
	jn_reader_close(r);
	return NULL;
}

static struct jv *stop(struct jn_reader *r, struct sl_err *err)
{
	r->done = 1;
	if (err)
		*err = r->last;
	return NULL;
}

static struct jv *next_db(struct jn_reader *r, struct sl_err *err)
{
	sqlite3_stmt *st = r->st;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return stop(r, err);
	if (rc != SQLITE_ROW) {
		sl_err_set(&r->last, SL_EIO, "cannot read journal %s: %s", r->path,
			   sqlite3_errmsg(r->db));
		return stop(r, err);
	}
	int64_t seq = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
	    (sqlite3_column_type(st, 2) != SQLITE_INTEGER &&
	     sqlite3_column_type(st, 2) != SQLITE_NULL) ||
	    sqlite3_column_type(st, 3) != SQLITE_TEXT || sqlite3_column_type(st, 4) != SQLITE_TEXT) {
		sl_err_set(&r->last, SL_EPARSE, "journal %s: record seq %lld has malformed columns",
			   r->path, (long long)seq);
		return stop(r, err);
	}
	const char *body = (const char *)sqlite3_column_text(st, 4);
	struct sl_err perr;
	struct jv *fields = jv_parse(body, (size_t)sqlite3_column_bytes(st, 4), NULL, &perr);
	if (fields && jv_is(fields, JV_OBJECT) &&
	    (jv_get(fields, "seq") || jv_get(fields, "time") || jv_get(fields, "entry"))) {
		sl_err_set(&r->last, SL_EPARSE,
			   "journal %s: record seq %lld: body has a field named seq, time or entry",
			   r->path, (long long)seq);
		jv_unref(fields);
		return stop(r, err);
	}
	if (!fields || !jv_is(fields, JV_OBJECT)) {
		sl_err_set(&r->last, SL_EPARSE, "journal %s: record seq %lld: body %s: %s",
			   r->path, (long long)seq, fields ? "is not an object" : "is not JSON",
			   fields ? "" : perr.msg);
		jv_unref(fields);
		return stop(r, err);
	}
	struct jv *env = jv_obj();
	jv_set(env, "seq", jv_int(seq));
	struct jv *time = jv_obj();
	jv_set(time, "logical", jv_int(sqlite3_column_int64(st, 1)));
	if (sqlite3_column_type(st, 2) == SQLITE_INTEGER)
		jv_set(time, "wall_ms", jv_int(sqlite3_column_int64(st, 2)));
	jv_set(env, "time", time);
	jv_set(env, "entry", jv_str((const char *)sqlite3_column_text(st, 3)));
	for (size_t i = 0; i < jv_len(fields); i++)
		jv_set(env, jv_key_at(fields, i), jv_ref(jv_val_at(fields, i)));
	jv_unref(fields);
	return env;
}

/* Checks a parsed JSON Lines record for the envelope's shape. */
static const char *bad_envelope(const struct jv *v)
{
	if (!jv_is(v, JV_OBJECT))
		return "not a JSON object";
	const struct jv *seq = jv_get(v, "seq");
	if (!jv_is(seq, JV_INT) || jv_int_val(seq) < 0)
		return "no non-negative integer seq";
	const struct jv *time = jv_get(v, "time");
	if (!jv_is(time, JV_OBJECT) || !jv_is(jv_get(time, "logical"), JV_INT))
		return "no time.logical";
	const struct jv *wall = jv_get(time, "wall_ms");
	if (wall && !jv_is(wall, JV_INT))
		return "time.wall_ms is not an integer";
	if (!jv_is(jv_get(v, "entry"), JV_STRING))
		return "no entry";
	return NULL;
}

static struct jv *next_jsonl(struct jn_reader *r, struct sl_err *err)
{
	for (;;) {
		errno = 0;
		ssize_t n = getline(&r->line, &r->cap, r->f);
		if (n < 0) {
			if (ferror(r->f))
				sl_err_set(&r->last, SL_EIO, "cannot read journal %s: %s", r->path,
					   strerror(errno ? errno : EIO));
			return stop(r, err);
		}
		r->lineno++;
		size_t len = (size_t)n;
		while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
			len--;
		size_t i = 0;
		while (i < len && (r->line[i] == ' ' || r->line[i] == '\t'))
			i++;
		if (i == len)
			continue; /* blank line */
		struct sl_err perr;
		struct jv *v = jv_parse(r->line, len, NULL, &perr);
		if (!v) {
			sl_err_set(&r->last, SL_EPARSE, "journal %s: line %ld: %s", r->path,
				   r->lineno, perr.msg);
			return stop(r, err);
		}
		const char *why = bad_envelope(v);
		if (why) {
			jv_unref(v);
			sl_err_set(&r->last, SL_EPARSE,
				   "journal %s: line %ld: not a silo journal record (%s)", r->path,
				   r->lineno, why);
			return stop(r, err);
		}
		return v;
	}
}

struct jv *jn_reader_next(struct jn_reader *r, struct sl_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = 0;
	}
	if (!r)
		return NULL;
	if (r->done)
		return stop(r, err);
	struct jv *env = r->db ? next_db(r, err) : next_jsonl(r, err);
	const char *entry = jv_get_str(env, "entry");
	if (env && entry && !strcmp(entry, "llm_request")) {
		if (!r->reqs)
			r->reqs = jn__req_cache_new();
		if (jn__expand_request(r->reqs, env, r->path, &r->last)) {
			jv_unref(env);
			return stop(r, err);
		}
	}
	return env;
}

void jn_reader_close(struct jn_reader *r)
{
	if (!r)
		return;
	jn__req_cache_free(r->reqs);
	sqlite3_finalize(r->st);
	sqlite3_close(r->db);
	if (r->f)
		fclose(r->f);
	free(r->line);
	free(r->path);
	free(r);
}

int jn_export(const char *path, FILE *out, struct sl_err *err)
{
	struct sl_err e = { 0 };
	struct jn_reader *r = NULL;
	if (!out) {
		sl_err_set(&e, SL_EINVAL, "journal export needs an output stream");
		goto done;
	}
	r = jn_reader_open(path, &e);
	if (!r)
		goto done;
	struct sl_buf b;
	sl_buf_init(&b);
	struct jv *v;
	while ((v = jn_reader_next(r, &e))) {
		sl_buf_reset(&b);
		jv_emit(v, &b, 0);
		sl_buf_addc(&b, '\n');
		jv_unref(v);
		if (fwrite(b.p, 1, b.len, out) != b.len) {
			sl_err_set(&e, SL_EIO, "cannot write the export of %s: %s", path,
				   strerror(errno));
			break;
		}
	}
	sl_buf_free(&b);
	jn_reader_close(r);
	if (!e.code && fflush(out))
		sl_err_set(&e, SL_EIO, "cannot write the export of %s: %s", path, strerror(errno));
done:
	if (err)
		*err = e;
	return e.code;
}

/* ---- silo journal list ---- */

struct summary {
	int64_t records;
	int64_t first_wall, last_wall; /* -1 when absent */
};

static int summarize_db(const char *path, struct summary *s, struct sl_err *err)
{
	sqlite3 *db = open_db(path, err);
	if (!db)
		return err->code;
	static const char *const sql[] = {
		"SELECT count(*) FROM records",
		"SELECT wall_ms FROM records ORDER BY seq ASC LIMIT 1",
		"SELECT wall_ms FROM records ORDER BY seq DESC LIMIT 1",
	};
	int64_t *dst[] = { &s->records, &s->first_wall, &s->last_wall };
	int rc = 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(sql) && !rc; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL)) {
			rc = sl_err_set(err, SL_EPARSE, "%s is not a silo journal (%s)", path,
					sqlite3_errmsg(db));
			break;
		}
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
			*dst[i] = sqlite3_column_int64(st, 0);
		else if (step != SQLITE_ROW && step != SQLITE_DONE)
			rc = sl_err_set(err, SL_EIO, "cannot read journal %s: %s", path,
					sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return rc;
}

static int summarize_jsonl(const char *path, struct summary *s, struct sl_err *err)
{
	struct jn_reader *r = jn_reader_open(path, err);
	if (!r)
		return err->code;
	struct jv *v;
	while ((v = jn_reader_next(r, err))) {
		int64_t wall = jv_get_int(jv_get(v, "time"), "wall_ms", -1);
		if (!s->records)
			s->first_wall = wall;
		s->last_wall = wall;
		s->records++;
		jv_unref(v);
	}
	jn_reader_close(r);
	return err->code;
}

static void fmt_wall(int64_t ms, char out[32])
{
	if (ms < 0) {
		strcpy(out, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		strcpy(out, "?");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_journal_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 3 && !strcmp(name + n - 3, ".db")) ||
				  (n > 6 && !strcmp(name + n - 6, ".jsonl")));
}

int jn_list(const char *state_dir, FILE *out, struct sl_err *err)
{
	if (!state_dir || !*state_dir || !out)
		return sl_err_set(err, SL_EINVAL, "journal list needs a state directory");
	char *dir = sl_xasprintf("%s/journals", state_dir);
	DIR *d = opendir(dir);
	if (!d) {
		int rc = 0;
		if (errno == ENOENT)
			fputs("no journals\n", out);
		else
			rc = sl_err_set(err, SL_EIO, "cannot list %s: %s", dir, strerror(errno));
		free(dir);
		return rc;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_journal_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = sl_xrealloc(names, cap * sizeof *names);
		}
		names[n++] = sl_xstrdup(de->d_name);
	}
	closedir(d);
	if (!n)
		fputs("no journals\n", out);
	else
		fprintf(out, "%-20s %8s %-20s %-20s %s\n", "JOURNAL", "RECORDS", "FIRST", "LAST",
			"PATH");
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		char *path = sl_xasprintf("%s/%s", dir, names[i]);
		char *id = names[i];
		*strrchr(id, '.') = 0;
		struct summary s = { 0, -1, -1 };
		struct sl_err e = { 0 };
		int rc = jn__sniff(path, &e) == JN_FILE_SQLITE ? summarize_db(path, &s, &e)
							       : summarize_jsonl(path, &s, &e);
		if (rc) {
			fprintf(out, "%-20s %8s %-20s %-20s %s (unreadable: %s)\n", id, "?", "-",
				"-", path, e.msg);
		} else {
			char first[32], last[32];
			fmt_wall(s.first_wall, first);
			fmt_wall(s.last_wall, last);
			fprintf(out, "%-20s %8lld %-20s %-20s %s\n", id, (long long)s.records,
				first, last, path);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
	if (fflush(out) || ferror(out))
		return sl_err_set(err, SL_EIO, "cannot write the journal list: %s",
				  strerror(errno));
	return 0;
}
