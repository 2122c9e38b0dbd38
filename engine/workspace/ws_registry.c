/*
 * ws_registry.c: the workspace registry in <state>/workspaces.db (SQLite,
 * WAL). Entries are keyed by canonical path; attachments, manifests, step
 * journal and saved reviews live in their own tables. Every read-modify-write
 * holds an exclusive flock on workspaces.db.lock (polled, 30 s budget) and
 * runs inside one transaction, so a crash leaves either the old or the new
 * record. Also: process liveness with start-time identity, and the journaled
 * step counter that fault injection hooks into.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ws_int.h"

static const char *schema =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS entries(path TEXT PRIMARY KEY, id TEXT UNIQUE NOT NULL,"
	" state TEXT NOT NULL, strategy TEXT NOT NULL, root_mode INTEGER,"
	" op_pid INTEGER DEFAULT 0, op_hint TEXT DEFAULT '', step INTEGER DEFAULT 0,"
	" warnings TEXT, created INTEGER);"
	"CREATE TABLE IF NOT EXISTS attachments(token TEXT PRIMARY KEY, entry_id TEXT NOT NULL,"
	" secondary INTEGER, owner TEXT, pid INTEGER, hint TEXT);"
	"CREATE TABLE IF NOT EXISTS manifest(entry_id TEXT, path TEXT, kind TEXT, sha256 TEXT,"
	" size INTEGER, mode INTEGER, target TEXT, PRIMARY KEY(entry_id, path)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS review_rules(entry_id TEXT, path TEXT, sha256 TEXT,"
	" PRIMARY KEY(entry_id, path));"
	"CREATE TABLE IF NOT EXISTS reviews(path TEXT PRIMARY KEY, entry_id TEXT,"
	" created INTEGER, report TEXT);"
	"INSERT OR IGNORE INTO meta VALUES('format','silo-workspaces-1');";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ws__exec(struct ws_db *d, const char *sql, struct sl_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sl_err_set(err, SL_EIO, "workspace registry %s/workspaces.db: %s", d->state_dir,
			   msg ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		return SL_EIO;
	}
	return 0;
}

int ws__db_open(const char *state_dir, struct ws_db *d, struct sl_err *err)
{
	memset(d, 0, sizeof *d);
	d->lockfd = -1;
	d->state_dir = sl_xstrdup(state_dir);
	d->root = sl_xasprintf("%s/workspaces", state_dir);
	d->lock_path = sl_xasprintf("%s/workspaces.db.lock", state_dir);
	if (sl_mkdir_p(state_dir, 0700, err) || sl_mkdir_p(d->root, 0700, err))
		goto fail;
	/* absolute paths everywhere: they are stored, compared and shown */
	char *real = realpath(state_dir, NULL);
	if (real) {
		free(d->state_dir);
		free(d->root);
		free(d->lock_path);
		d->state_dir = real;
		d->root = sl_xasprintf("%s/workspaces", real);
		d->lock_path = sl_xasprintf("%s/workspaces.db.lock", real);
	}
	char *dbp = sl_xasprintf("%s/workspaces.db", d->state_dir);
	int rc = sqlite3_open_v2(dbp, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		chmod(dbp, 0600);
	free(dbp);
	if (rc != SQLITE_OK) {
		sl_err_set(err, SL_EIO, "cannot open %s/workspaces.db: %s", state_dir,
			   d->db ? sqlite3_errmsg(d->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(d->db, 30000);
	if (ws__exec(d, schema, err))
		goto fail;
	if (ws__exec(d, "PRAGMA synchronous=NORMAL;", err))
		goto fail;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, "SELECT value FROM meta WHERE key='format'", -1, &st,
			       NULL) == SQLITE_OK) {
		int bad = 0;
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(st, 0);
			bad = !v || strcmp(v, "silo-workspaces-1");
		}
		sqlite3_finalize(st);
		if (bad) {
			sl_err_set(err, SL_ESTATE,
				   "%s/workspaces.db has an unknown format; refusing to change it",
				   state_dir);
			goto fail;
		}
	}
	return 0;
fail:
	ws__db_close(d);
	return err ? err->code : SL_EIO;
}

void ws__db_close(struct ws_db *d)
{
	if (d->lockfd >= 0)
		close(d->lockfd);
	if (d->db)
		sqlite3_close(d->db);
	free(d->state_dir);
	free(d->root);
	free(d->lock_path);
	memset(d, 0, sizeof *d);
	d->lockfd = -1;
}

int ws__reg_begin(struct ws_db *d, int budget_ms, struct sl_err *err)
{
	if (budget_ms <= 0) {
		const char *e = getenv("SILO_WS_LOCK_TIMEOUT_MS");
		budget_ms = e && atoi(e) > 0 ? atoi(e) : 30000;
	}
	int fd = open(d->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sl_err_set(err, SL_EIO, "cannot open registry lock %s: %s", d->lock_path,
				  strerror(errno));
	int64_t until = now_ms() + budget_ms;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return sl_err_set(err, SL_EIO, "registry lock %s: %s", d->lock_path,
					  strerror(errno));
		}
		if (now_ms() >= until) {
			close(fd);
			return sl_err_set(err, SL_ETIMEOUT,
					  "timed out after %d s waiting for the workspace registry lock %s "
					  "(another silo command holds it)",
					  budget_ms / 1000, d->lock_path);
		}
		usleep(50000);
	}
	char hint[32], buf[96];
	ws__start_hint(getpid(), hint);
	int n = snprintf(buf, sizeof buf, "{\"pid\":%d,\"start_hint\":\"%s\"}\n", (int)getpid(),
			 hint);
	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0) {
		/* diagnostics only */
	}
	d->lockfd = fd;
	if (ws__exec(d, "BEGIN IMMEDIATE", err)) {
		close(fd);
		d->lockfd = -1;
		return err ? err->code : SL_EIO;
	}
	return 0;
}

int ws__reg_end(struct ws_db *d, int ok, struct sl_err *err)
{
	int rc = 0;
	if (ok)
		rc = ws__exec(d, "COMMIT", err);
	if (!ok || rc)
		ws__exec(d, "ROLLBACK", NULL);
	if (d->lockfd >= 0) {
		close(d->lockfd);
		d->lockfd = -1;
	}
	return rc;
}

const char *ws__strategy_name(enum ws_strategy s)
{
	switch (s) {
	case WS_STRATEGY_EXT4_LOOP:
		return "ext4_loop";
	case WS_STRATEGY_EXT4_FUSE:
		return "ext4_fuse";
	case WS_STRATEGY_DIRECTORY:
		return "directory";
	default:
		return "auto";
	}
}

int ws__strategy_parse(const char *s, enum ws_strategy *out)
{
	static const enum ws_strategy all[] = { WS_STRATEGY_AUTO, WS_STRATEGY_EXT4_LOOP,
						WS_STRATEGY_EXT4_FUSE, WS_STRATEGY_DIRECTORY };
	for (size_t i = 0; i < SL_ARRAY_LEN(all); i++)
		if (!strcmp(s, ws__strategy_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return SL_EINVAL;
}

const char *ws__state_name(enum ws_state s)
{
	return s == WS_ST_LOCKING ? "locking" : s == WS_ST_UNLOCKING ? "unlocking" : "locked";
}

static enum ws_state state_parse(const char *s)
{
	if (s && !strcmp(s, "locking"))
		return WS_ST_LOCKING;
	if (s && !strcmp(s, "unlocking"))
		return WS_ST_UNLOCKING;
	return WS_ST_LOCKED;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? sl_xstrdup((const char *)t) : NULL;
}

static void col_cpy(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

#define ENTRY_COLS "path,id,state,strategy,root_mode,op_pid,op_hint,step,warnings"

static int entry_query(struct ws_db *d, const char *where, const char *key, struct ws_entry *e,
		       struct sl_err *err)
{
	char *sql = sl_xasprintf("SELECT " ENTRY_COLS " FROM entries WHERE %s=?", where);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			return SL_ENOENT;
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	}
	memset(e, 0, sizeof *e);
	e->path = col_dup(st, 0);
	col_cpy(st, 1, e->id, sizeof e->id);
	e->state = state_parse((const char *)sqlite3_column_text(st, 2));
	const char *sname = (const char *)sqlite3_column_text(st, 3);
	if (!sname || ws__strategy_parse(sname, &e->strategy))
		e->strategy = WS_STRATEGY_DIRECTORY;
	e->root_mode = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
	e->op_pid = sqlite3_column_int(st, 5);
	col_cpy(st, 6, e->op_hint, sizeof e->op_hint);
	e->step = sqlite3_column_int(st, 7);
	e->warnings = col_dup(st, 8);
	sqlite3_finalize(st);
	return 0;
}

int ws__entry_get(struct ws_db *d, const char *path, struct ws_entry *e, struct sl_err *err)
{
	return entry_query(d, "path", path, e, err);
}

int ws__entry_get_id(struct ws_db *d, const char *id, struct ws_entry *e, struct sl_err *err)
{
	return entry_query(d, "id", id, e, err);
}

int ws__entry_put(struct ws_db *d, const struct ws_entry *e, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db,
			       "INSERT OR REPLACE INTO entries(" ENTRY_COLS
			       ",created) VALUES(?,?,?,?,?,?,?,?,?,strftime('%s','now'))",
			       -1, &st, NULL) != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, e->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ws__state_name(e->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ws__strategy_name(e->strategy), -1, SQLITE_STATIC);
	if (e->root_mode >= 0)
		sqlite3_bind_int(st, 5, e->root_mode);
	sqlite3_bind_int(st, 6, e->op_pid);
	sqlite3_bind_text(st, 7, e->op_hint, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, e->step);
	if (e->warnings)
		sqlite3_bind_text(st, 9, e->warnings, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	return 0;
}

static int exec_id(struct ws_db *d, const char *sql, const char *id, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	return 0;
}

int ws__entry_del(struct ws_db *d, const char *id, struct sl_err *err)
{
	if (exec_id(d, "DELETE FROM entries WHERE id=?", id, err) ||
	    exec_id(d, "DELETE FROM attachments WHERE entry_id=?", id, err) ||
	    exec_id(d, "DELETE FROM review_rules WHERE entry_id=?", id, err) ||
	    exec_id(d, "DELETE FROM manifest WHERE entry_id=?", id, err))
		return err ? err->code : SL_EIO;
	return 0;
}

void ws__entry_free(struct ws_entry *e)
{
	free(e->path);
	free(e->warnings);
	memset(e, 0, sizeof *e);
}

char **ws__entry_paths(struct ws_db *d, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, "SELECT path FROM entries ORDER BY path", -1, &st, NULL) !=
	    SQLITE_OK) {
		sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
		return NULL;
	}
	size_t n = 0, cap = 8;
	char **v = sl_xcalloc(cap, sizeof *v);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n + 1 >= cap)
			v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
		v[n++] = col_dup(st, 0);
	}
	v[n] = NULL;
	sqlite3_finalize(st);
	return v;
}

void ws__free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int ws__set_step(struct ws_db *d, const char *id, int step, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, "UPDATE entries SET step=? WHERE id=?", -1, &st, NULL) !=
	    SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_int(st, 1, step);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
}

int ws__att_list(struct ws_db *d, const char *id, struct ws_att **out, size_t *n,
		 struct sl_err *err)
{
	sqlite3_stmt *st;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT token,secondary,owner,pid,hint FROM attachments WHERE "
			       "entry_id=? ORDER BY secondary,rowid",
			       -1, &st, NULL) != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	size_t cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap)
			*out = sl_xrealloc(*out, (cap = cap ? cap * 2 : 4) * sizeof **out);
		struct ws_att *a = &(*out)[(*n)++];
		memset(a, 0, sizeof *a);
		col_cpy(st, 0, a->token, sizeof a->token);
		a->secondary = sqlite3_column_int(st, 1);
		col_cpy(st, 2, a->owner, sizeof a->owner);
		a->pid = sqlite3_column_int(st, 3);
		col_cpy(st, 4, a->hint, sizeof a->hint);
	}
	sqlite3_finalize(st);
	return 0;
}

int ws__att_add(struct ws_db *d, const char *id, const struct ws_att *a, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db,
			       "INSERT INTO attachments(token,entry_id,secondary,owner,pid,hint) "
			       "VALUES(?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_text(st, 1, a->token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, a->secondary);
	sqlite3_bind_text(st, 4, a->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, a->pid);
	sqlite3_bind_text(st, 6, a->hint, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
}

int ws__att_del(struct ws_db *d, const char *token, struct sl_err *err)
{
	return exec_id(d, "DELETE FROM attachments WHERE token=?", token, err);
}

int ws__att_prune(struct ws_db *d, const char *id, struct sl_err *err)
{
	struct ws_att *v;
	size_t n;
	if (ws__att_list(d, id, &v, &n, err))
		return err ? err->code : SL_EIO;
	int alive = 0;
	for (size_t i = 0; i < n; i++) {
		if (ws__alive_hint(v[i].pid, v[i].hint))
			alive++;
		else
			ws__att_del(d, v[i].token, NULL);
	}
	free(v);
	return alive;
}

/* ---- processes ---- */

static int proc_stat(int pid, char *state, char hint[32])
{
	char p[64], buf[1024];
	snprintf(p, sizeof p, "/proc/%d/stat", pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	if (!s)
		return -1;
	/* after ") " comes field 3 (state); starttime is field 22 */
	s += 2;
	if (state)
		*state = *s;
	int field = 3;
	while (*s && field < 22) {
		if (*s++ == ' ')
			field++;
	}
	size_t k = 0;
	while (s[k] && s[k] != ' ' && k < 31)
		k++;
	if (hint) {
		memcpy(hint, s, k);
		hint[k] = 0;
	}
	return 0;
}

void ws__start_hint(int pid, char out[32])
{
	out[0] = 0;
	if (pid > 0 && proc_stat(pid, NULL, out))
		out[0] = 0;
}

int ws__alive(int pid)
{
	if (pid <= 0)
		return 0;
	if (kill(pid, 0) != 0 && errno != EPERM)
		return 0;
	char st = 0;
	if (proc_stat(pid, &st, NULL) == 0 && (st == 'Z' || st == 'X'))
		return 0;
	return 1;
}

int ws__alive_hint(int pid, const char *hint)
{
	if (!ws__alive(pid))
		return 0;
	char cur[32];
	ws__start_hint(pid, cur);
	return !hint || !*hint || !*cur || !strcmp(hint, cur);
}

/* ---- journaled steps and fault injection ---- */

static int fault_counter;

void ws__fault_point(void)
{
	const char *e = getenv("SILO_WS_FAULT_STEP");
	if (!e || !*e)
		return;
	fault_counter++;
	if (atoi(e) == fault_counter) {
		fprintf(stderr, "silo: fault injection: killed at fault point %d\n", fault_counter);
		fflush(stderr);
		raise(SIGKILL);
		_exit(137);
	}
}

/* SILO_WS_TIMING=1: the time each step took, on stderr (benchmarks). */
static void step_timing(int n)
{
	static int64_t last;
	static int last_n;
	if (!getenv("SILO_WS_TIMING"))
		return;
	int64_t t = now_ms();
	if (last && n > last_n)
		fprintf(stderr, "timing: step %d took %lld ms\n", last_n, (long long)(t - last));
	last = t;
	last_n = n;
}

int ws__step(struct ws_db *d, const char *id, int n, struct sl_err *err)
{
	step_timing(n);
	if (ws__set_step(d, id, n, err))
		return err ? err->code : SL_EIO;
	ws__fault_point();
	return 0;
}
