/*
 * ws_attach.c: the harness-facing API (workspace.md 4). ws_lock is `silo run
 * --create`; ws_attach records one harness (primary) or a shell (secondary)
 * with pid, start-time hint and a random token, mounting the image once;
 * ws_detach drops the record and releases the mount when no live attachment
 * is left. Also ws_set_review_rules for policy review rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ws_int.h"

int ws_lock(const char *state_dir, const char *path, enum ws_strategy strategy,
	    char ***warnings, struct sl_err *err)
{
	struct sl_err local = { 0 };
	if (!err)
		err = &local;
	struct ws_db d;
	if (warnings)
		*warnings = NULL;
	int rc = ws__db_open(state_dir, &d, err);
	if (rc)
		return rc;
	struct ws_lock_opts o = { .strategy = strategy, .create = 1 };
	rc = ws__lock(&d, path, &o, NULL, warnings, err);
	ws__db_close(&d);
	return rc;
}

/* The second note reaches the agent's system prompt: an image never grows,
 * so the model is told how much room it has before it meets ENOSPC. */
static char **notes_for(enum ws_strategy s, const struct ws_paths *p)
{
	char **v = sl_xcalloc(3, sizeof *v);
	struct stat st;
	if (s == WS_STRATEGY_DIRECTORY) {
		v[0] = sl_xstrdup("workspace: plain directory in the silo state directory "
				  "(directory strategy; host tools can still reach it)");
	} else {
		v[0] = sl_xasprintf("workspace: ext4 image mounted with %s under the silo state "
				    "directory",
				    s == WS_STRATEGY_EXT4_LOOP ? "a loop device" : "fuse2fs");
		if (stat(p->img, &st) == 0) {
			char sz[32];
			ws__fmt_size(sz, (uint64_t)st.st_size);
			v[1] = sl_xasprintf("workspace: a fixed-size filesystem of %s; once it is "
					    "full, writes fail with 'No space left on device' (it "
					    "does not grow: keep build outputs small or say in your "
					    "report that you need more room)",
					    sz);
		}
	}
	return v;
}

int ws_attach(const char *state_dir, const char *path, const char *owner_id, int pid,
	      int secondary, struct ws_attachment *out, struct sl_err *err)
{
	struct sl_err local = { 0 };
	if (!err)
		err = &local;
	memset(out, 0, sizeof *out);
	char *canon = ws__canon_lenient(path, err);
	if (!canon)
		return err->code;
	struct ws_db d;
	int rc = ws__db_open(state_dir, &d, err);
	if (rc) {
		free(canon);
		return rc;
	}
	ws__recover(&d);
	if ((rc = ws__reg_begin(&d, 0, err)))
		goto out;
	struct ws_entry e;
	rc = ws__entry_get(&d, canon, &e, err);
	if (rc == SL_ENOENT) {
		rc = sl_err_set(err, SL_ESTATE,
				"%s is not locked (lock it with `silo workspace lock %s` or use "
				"`silo run --create`)",
				canon, canon);
		ws__reg_end(&d, 0, NULL);
		goto out;
	}
	if (rc) {
		ws__reg_end(&d, 0, NULL);
		goto out;
	}
	if (e.state == WS_ST_LOCKING)
		rc = sl_err_set(err, SL_ESTATE, "%s: a lock is still in progress (pid %d)", canon,
				e.op_pid);
	else if (e.state == WS_ST_UNLOCKING)
		rc = sl_err_set(err, SL_ESTATE,
				"%s: an unlock is in progress; re-run `silo workspace unlock %s` to "
				"finish it",
				canon, canon);
	if (!rc && pid > 0 && !ws__alive(pid))
		rc = sl_err_set(err, SL_EINVAL, "cannot attach process %d: it is not running", pid);
	if (!rc && ws__att_prune(&d, e.id, err) < 0)
		rc = err->code;
	if (!rc && !secondary) {
		struct ws_att *v;
		size_t n;
		if (!(rc = ws__att_list(&d, e.id, &v, &n, err))) {
			for (size_t i = 0; i < n && !rc; i++)
				if (!v[i].secondary)
					rc = sl_err_set(err, SL_ESTATE,
							"%s is already attached to harness %s (pid %d)",
							canon, v[i].owner, v[i].pid);
			free(v);
		}
	}
	struct ws_paths p;
	ws__paths(&d, e.id, &p);
	if (!rc)
		rc = ws__mount(e.strategy, &p, err);
	struct ws_att a = { 0 };
	if (!rc) {
		sl_random_id(a.token);
		a.secondary = secondary;
		snprintf(a.owner, sizeof a.owner, "%s", owner_id ? owner_id : "");
		a.pid = pid > 0 ? pid : getpid();
		ws__start_hint(a.pid, a.hint);
		rc = ws__att_add(&d, e.id, &a, err);
	}
	int rc2 = ws__reg_end(&d, !rc, err);
	if (!rc && rc2)
		rc = rc2;
	if (!rc) {
		out->canonical = sl_xstrdup(canon);
		out->mount = sl_xstrdup(e.strategy == WS_STRATEGY_DIRECTORY ? p.data : p.mnt);
		out->entry_id = sl_xstrdup(e.id);
		out->notes = notes_for(e.strategy, &p);
		out->secondary = secondary;
		out->token = sl_xstrdup(a.token);
		out->pid = a.pid;
	}
	ws__paths_free(&p);
	ws__entry_free(&e);
out:
	ws__db_close(&d);
	free(canon);
	return rc;
}

int ws_detach(const char *state_dir, const struct ws_attachment *a, struct sl_err *err)
{
	struct sl_err local = { 0 };
	if (!err)
		err = &local;
	if (!a || !a->token || !a->entry_id)
		return sl_err_set(err, SL_EINVAL, "detach: not attached");
	int rc = SL_EIO;
	for (int attempt = 1; attempt <= 3; attempt++) {
		struct ws_db d;
		rc = ws__db_open(state_dir, &d, err);
		if (!rc)
			rc = ws__reg_begin(&d, 5000, err);
		if (!rc) {
			struct ws_entry e;
			rc = ws__att_del(&d, a->token, err);
			if (!rc && ws__entry_get_id(&d, a->entry_id, &e, NULL) == 0) {
				int alive = ws__att_prune(&d, e.id, err);
				if (alive == 0 && e.strategy != WS_STRATEGY_DIRECTORY &&
				    e.state == WS_ST_LOCKED) {
					struct ws_paths p;
					ws__paths(&d, e.id, &p);
					rc = ws__umount(e.strategy, &p, err);
					ws__paths_free(&p);
				}
				ws__entry_free(&e);
			}
			int rc2 = ws__reg_end(&d, !rc, err);
			rc = rc ? rc : rc2;
		}
		ws__db_close(&d);
		if (!rc)
			return 0;
		usleep(500000u * (unsigned)attempt);
	}
	SL_WARN("workspace", "detaching from %s failed: %s (silo workspace unlock clears it)",
		a->canonical ? a->canonical : a->entry_id, err->msg);
	return rc;
}

void ws_attachment_free(struct ws_attachment *a)
{
	if (!a)
		return;
	free(a->canonical);
	free(a->mount);
	free(a->entry_id);
	free(a->token);
	for (size_t i = 0; a->notes && a->notes[i]; i++)
		free(a->notes[i]);
	free(a->notes);
	memset(a, 0, sizeof *a);
}

int ws_set_review_rules(const char *state_dir, const char *path, const char *const *files,
			struct sl_err *err)
{
	struct sl_err local = { 0 };
	if (!err)
		err = &local;
	char *canon = ws__canon_lenient(path, err);
	if (!canon)
		return err->code;
	struct ws_db d;
	int rc = ws__db_open(state_dir, &d, err);
	if (!rc && !(rc = ws__reg_begin(&d, 0, err))) {
		struct ws_entry e = { 0 };
		rc = ws__entry_get(&d, canon, &e, err);
		if (rc == SL_ENOENT)
			rc = sl_err_set(err, SL_ESTATE, "%s is not locked", canon);
		for (size_t i = 0; !rc && files && files[i]; i++) {
			size_t n;
			char *body = sl_read_file(files[i], &n, 16u << 20, err);
			if (!body) {
				rc = err->code;
				break;
			}
			char sha[65];
			sl_sha256_hex(body, n, sha);
			free(body);
			char *fp = ws__canon_lenient(files[i], err);
			sqlite3_stmt *st;
			if (sqlite3_prepare_v2(d.db,
					       "INSERT OR REPLACE INTO review_rules(entry_id,path,"
					       "sha256) VALUES(?,?,?)",
					       -1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_text(st, 1, e.id, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 2, fp, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 3, sha, -1, SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = sl_err_set(err, SL_EIO, "registry: %s",
							sqlite3_errmsg(d.db));
				sqlite3_finalize(st);
			}
			free(fp);
		}
		ws__entry_free(&e);
		int rc2 = ws__reg_end(&d, !rc, err);
		rc = rc ? rc : rc2;
	}
	ws__db_close(&d);
	free(canon);
	return rc;
}
