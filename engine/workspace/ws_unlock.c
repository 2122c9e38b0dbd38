/*
 * ws_unlock.c: unlocking (workspace.md 5) as a journaled sequence of
 * idempotent steps:
 *   1 mark unlocking (registry)          2 terminate harness and shells
 *   3 release the image mount            4 restore directory access
 *   5 restore the contents               6 build and save the review
 *   7 release the mount again            8 drop the registry entry
 *   9 delete the entry directory
 * The snapshot, the container and the entry survive until the review is
 * saved, so a crash at any step is resumed by running unlock again, which
 * still produces the full review.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ws_int.h"

/* partial: the step may have put part of the files back already (only the
 * restore step); saying "unchanged" then would be false. */
static int step_fail(struct sl_err *err, const char *step, const char *path, int partial)
{
	char detail[sizeof err->msg];
	snprintf(detail, sizeof detail, "%s", err->msg);
	sl_err_set(err, err->code ? err->code : SL_EIO,
		   partial ? "unlock step '%s' failed: %s (some files may be back in the workspace "
			     "already; the container and the snapshot are kept, so re-running "
			     "`silo workspace unlock %s` finishes the restore and the review)"
			   : "unlock step '%s' failed: %s (this step left the workspace unchanged; "
			     "re-run `silo workspace unlock %s` to resume)",
		   step, detail, path);
	return err->code;
}

static int grace_ms(void)
{
	const char *e = getenv("SILO_WS_TERM_GRACE_MS");
	return e && atoi(e) > 0 ? atoi(e) : 5000;
}

static int wait_gone(int pid, const char *hint, int ms)
{
	for (int t = 0; t <= ms; t += 25) {
		int st;
		waitpid(pid, &st, WNOHANG); /* reaps it when it is our child */
		if (!ws__alive_hint(pid, hint))
			return 1;
		usleep(25000);
	}
	return 0;
}

/* 1 when the process survived SIGTERM and SIGKILL. */
static int terminate(int pid, const char *hint)
{
	if (pid <= 1 || pid == getpid() || !ws__alive_hint(pid, hint))
		return 0;
	if (kill(pid, SIGTERM) && errno == ESRCH)
		return 0;
	if (wait_gone(pid, hint, grace_ms()))
		return 0;
	kill(pid, SIGKILL);
	return !wait_gone(pid, hint, 2000);
}

/* The stage directory inside the workspace has a random name, recorded in
 * the entry directory before it is made: a workspace entry of any fixed
 * name could be the user's (or the agent's), and an attempt after a crash
 * must find and remove exactly the stage it left. */
static char *stage_name(const struct ws_paths *p, int rfd, int fresh)
{
	char *rec = sl_xasprintf("%s/stage-name", p->entry);
	size_t n = 0;
	char *old = sl_read_file(rec, &n, 256, NULL);
	if (old && n == 24 && !strncmp(old, ".silo-stage-", 12) && !strchr(old, '/')) {
		if (!fresh) {
			free(rec);
			return old;
		}
		ws__rm_at(rfd, old); /* an interrupted attempt's stage */
	}
	free(old);
	char id[13];
	sl_random_id(id);
	char *name = sl_xasprintf(".silo-stage-%s", id);
	if (sl_write_file(rec, name, strlen(name), 0600, NULL)) {
		free(name);
		name = NULL;
	}
	free(rec);
	return name;
}

/* The workspace is on another filesystem than the state directory: copy
 * data/ into a stage inside the workspace, move each entry into place, and
 * only then empty data/. Re-running after a crash redoes it from data/,
 * which stays complete until the last step. */
static int restore_across(const struct ws_paths *p, int rfd, struct ws_notes *notes,
			  struct sl_err *err)
{
	char *stage = stage_name(p, rfd, 1);
	if (!stage)
		return sl_err_set(err, SL_EIO, "cannot record the stage name in %s", p->entry);
	if (mkdirat(rfd, stage, 0700)) {
		int rc = sl_err_set(err, SL_EIO, "cannot create %s: %s", stage, strerror(errno));
		free(stage);
		return rc;
	}
	int dfd = open(p->data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int sfd = openat(rfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = dfd < 0 || sfd < 0 ? sl_err_set(err, SL_EIO, "cannot open %s", p->data)
				    : ws__copy_tree_out(dfd, sfd, NULL, notes, NULL, err);
	DIR *sd = rc ? NULL : fdopendir(ws__reopen_dir(sfd));
	struct dirent *de;
	while (sd && !rc && (de = readdir(sd))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ws__rm_at(rfd, de->d_name); /* an earlier attempt's copy */
		if (ws__rename_at(sfd, de->d_name, rfd))
			rc = sl_err_set(err, SL_EIO, "cannot move %s into place: %s", de->d_name,
					strerror(errno));
	}
	if (sd)
		closedir(sd);
	if (!rc)
		ws__fault_point(); /* restored, data/ not yet emptied */
	DIR *dd = rc || dfd < 0 ? NULL : fdopendir(ws__reopen_dir(dfd));
	while (dd && (de = readdir(dd)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ws__rm_at(dirfd(dd), de->d_name);
	if (dd)
		closedir(dd);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (!rc)
		ws__rm_at(rfd, stage);
	free(stage);
	return rc;
}

static int restore_directory(const char *root, const struct ws_paths *p, struct ws_list *cur,
			     struct ws_notes *notes, struct ws_modes *defer, struct ws_progress *pg,
			     struct sl_err *err)
{
	DIR *dd = opendir(p->data);
	if (!dd && errno != ENOENT)
		return sl_err_set(err, SL_EIO, "cannot read %s: %s", p->data, strerror(errno));
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		if (dd)
			closedir(dd);
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", root, strerror(errno));
	}
	struct dirent *de;
	int rc = 0, moved = 0, cross = 0;
	struct stat a, b;
	/* another filesystem: names already in the workspace are our own copies
	 * from an interrupted attempt, and restore_across replaces them */
	if (dd && fstat(dirfd(dd), &a) == 0 && fstat(rfd, &b) == 0 && a.st_dev != b.st_dev)
		cross = 1;
	/* the stage of an interrupted cross-filesystem attempt never stays */
	char *stage = stage_name(p, rfd, 0);
	if (stage && !cross)
		ws__rm_at(rfd, stage);
	free(stage);
	while (dd && !cross && !rc && (de = readdir(dd))) {
		const char *nm = de->d_name;
		struct stat st;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (fstatat(rfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!strcmp(nm, WS_MARKER))
				ws__remove_marker(root);
			if (fstatat(rfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				rc = sl_err_set(err, SL_EEXIST,
						"cannot restore %s/%s: something else now has that name "
						"(%d entries are back already; move it away and re-run "
						"unlock)",
						root, nm, moved);
				break;
			}
		}
		if (ws__rename_at(dirfd(dd), nm, rfd)) {
			if (errno == EXDEV) {
				cross = 1;
				break;
			}
			rc = sl_err_set(err, SL_EIO, "cannot move %s back: %s (%d entries are back "
						     "already; re-run unlock to finish)",
					nm, strerror(errno), moved);
			break;
		}
		if (++moved == 1)
			ws__fault_point();
	}
	if (dd)
		closedir(dd);
	if (!rc && cross)
		rc = restore_across(p, rfd, notes, err);
	close(rfd);
	if (!rc)
		rc = ws__sanitize_walk(root, cur, notes, defer, pg, err);
	return rc;
}

/* A full image is why the session's writes failed: say so, since the agent
 * only saw ENOSPC. */
static void note_full(const char *mnt, struct ws_notes *notes)
{
	struct statvfs v;
	if (statvfs(mnt, &v) || !v.f_blocks)
		return;
	uint64_t size = (uint64_t)v.f_blocks * v.f_frsize, avail = (uint64_t)v.f_bavail * v.f_frsize;
	char sz[32], left[32];
	ws__fmt_size(sz, size);
	ws__fmt_size(left, avail);
	/* ext4 keeps a small pool back (up to 4096 clusters): "full" is close to it */
	if (avail < (4u << 20) + size / 1000)
		ws__note(notes, "", 0,
			 "the workspace image (%s) filled up during the session (%s left at unlock): "
			 "writes beyond that failed inside with 'No space left on device'; lock "
			 "with a larger --size",
			 sz, left);
	else if (v.f_files && v.f_ffree == 0)
		ws__note(notes, "", 0,
			 "the workspace image ran out of inodes during the session: creating files "
			 "inside failed; lock with a larger --size");
}

static int restore_image(enum ws_strategy s, const char *root, const struct ws_paths *p,
			 const struct ws_list *man, struct ws_list *cur, struct ws_notes *notes,
			 struct ws_modes *defer, struct ws_progress *pg, struct sl_err *err)
{
	int rc = ws__mount(s, p, err);
	if (rc)
		return rc;
	note_full(p->mnt, notes);
	/* what restore may write: what the image really holds, plus slack;
	 * holes and hard links cost nothing, so only a trick exceeds it */
	uint64_t budget = 0;
	struct statvfs v;
	if (statvfs(p->mnt, &v) == 0)
		budget = (uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize + (64u << 20);
	int sfd = open(p->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || dfd < 0)
		rc = sl_err_set(err, SL_EIO, "cannot open %s: %s", sfd < 0 ? p->mnt : root,
				strerror(errno));
	/* pass 1 hashes the image, pass 2 writes only what changed */
	if (!rc)
		rc = ws__scan_image(p->mnt, cur, notes, pg, err);
	if (!rc) {
		if (getenv("SILO_WS_TIMING"))
			fprintf(stderr, "timing: image scanned (%zu entries)\n", cur->n);
		pg->files = pg->bytes = 0;
		pg->what = "restore";
		rc = ws__restore_image_tree(sfd, dfd, cur, man, p->blobs, budget, notes, defer, pg, err);
	}
	if (!rc)
		ws__list_drop_unrestored(cur);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	struct sl_err uerr = { 0 };
	int urc = ws__umount(s, p, &uerr);
	if (!rc && urc) {
		*err = uerr;
		rc = urc;
	}
	return rc;
}

/* Deletes <root>/<name> in a detached grandchild (SILO_WS_SYNC_CLEANUP:
 * right here), so that freeing tens of thousands of blobs, which is slow on
 * filesystems mounted with `discard`, never delays the user. */
void ws__rm_detached(const char *root, const char *name)
{
	fflush(NULL);
	pid_t pid = getenv("SILO_WS_SYNC_CLEANUP") ? -1 : fork();
	if (pid == 0) {
		setsid();
		if (fork() == 0) {
			int wfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (wfd >= 0)
				ws__rm_at(wfd, name);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return;
	}
	int wfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wfd >= 0) {
		ws__rm_at(wfd, name);
		close(wfd);
	}
}

/* A finished entry directory is renamed to .trash-<id> (atomic), then
 * deleted in the background; a trash directory a crash left behind is
 * deleted by the next command's recovery. */
static void remove_entry_dir(struct ws_db *d, const struct ws_paths *p, const char *id)
{
	char *trash = sl_xasprintf("%s/.trash-%s", d->root, id);
	if (rename(p->entry, trash) == 0) {
		ws__rm_detached(d->root, strrchr(trash, '/') + 1);
	} else {
		int wfd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (wfd < 0 || ws__rm_at(wfd, id))
			fprintf(stderr, "warning: could not remove %s completely\n", p->entry);
		if (wfd >= 0)
			close(wfd);
	}
	free(trash);
}

static char **policy_rules(struct ws_db *d, const char *id, const char *const *extra)
{
	size_t n = 0, cap = 8;
	char **v = sl_xcalloc(cap, sizeof *v);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, "SELECT path,sha256 FROM review_rules WHERE entry_id=? ORDER BY rowid",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *path = (const char *)sqlite3_column_text(st, 0);
			const char *sha = (const char *)sqlite3_column_text(st, 1);
			size_t len;
			char *body = sl_read_file(path, &len, 16u << 20, NULL);
			char now[65] = "";
			if (body)
				sl_sha256_hex(body, len, now);
			free(body);
			if (!body || strcmp(now, sha ? sha : ""))
				fprintf(stderr,
					"warning: policy review rules %s changed since the harness "
					"attached (recorded sha256 %s)\n",
					path, sha ? sha : "?");
			if (n + 2 >= cap)
				v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
			v[n++] = sl_xstrdup(path);
		}
		sqlite3_finalize(st);
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		if (n + 2 >= cap)
			v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
		v[n++] = sl_xstrdup(extra[i]);
	}
	v[n] = NULL;
	return v;
}

int ws__unlock(struct ws_db *d, const char *path, const struct ws_review_opts *o,
	       struct jv **report, struct sl_err *err)
{
	*report = NULL;
	char *canon = ws__canon_lenient(path, err);
	if (!canon)
		return err->code;
	ws__recover(d);
	struct ws_entry e = { 0 };
	struct ws_rules *rules = NULL;
	struct ws_list man = { 0 }, cur = { 0 };
	struct ws_notes notes = { 0 };
	struct ws_modes modes = { 0 };
	struct ws_paths p = { 0 };
	int rc = ws__entry_get(d, canon, &e, err);
	if (rc == SL_ENOENT) {
		rc = sl_err_set(err, SL_ESTATE, "%s is not locked", canon);
		goto out;
	}
	if (rc)
		goto out;
	/* rules first: a broken rules file aborts before any change */
	char **rf = policy_rules(d, e.id, o ? o->rule_files : NULL);
	rules = ws__rules_load((const char *const *)rf, err);
	ws__free_strv(rf);
	if (!rules) {
		rc = err->code ? err->code : SL_ESCRIPT;
		goto out;
	}
	ws__entry_free(&e);

	/* 1 */
	if ((rc = ws__reg_begin(d, 0, err)))
		goto out;
	rc = ws__entry_get(d, canon, &e, err);
	if (rc == SL_ENOENT)
		rc = sl_err_set(err, SL_ESTATE, "%s is not locked", canon);
	else if (!rc && e.state == WS_ST_LOCKING)
		rc = sl_err_set(err, SL_ESTATE, "%s: a lock is still in progress (pid %d)", canon,
				e.op_pid);
	else if (!rc && e.state == WS_ST_UNLOCKING && e.op_pid != getpid() &&
		 ws__alive_hint(e.op_pid, e.op_hint))
		rc = sl_err_set(err, SL_ESTATE, "%s: an unlock is already in progress (pid %d)",
				canon, e.op_pid);
	if (!rc) {
		e.state = WS_ST_UNLOCKING;
		e.op_pid = getpid();
		ws__start_hint(e.op_pid, e.op_hint);
		e.step = 1;
		rc = ws__entry_put(d, &e, err);
	}
	int rc2 = ws__reg_end(d, !rc, err);
	if (rc || (rc = rc2))
		goto out;
	ws__fault_point();
	ws__paths(d, e.id, &p);

	/* 2 */
	if ((rc = ws__step(d, e.id, 2, err)))
		goto out;
	{
		struct ws_att *v;
		size_t n;
		if ((rc = ws__att_list(d, e.id, &v, &n, err))) {
			rc = step_fail(err, "terminating attachments", path, 0);
			goto out;
		}
		struct sl_buf surv;
		sl_buf_init(&surv);
		for (size_t i = 0; i < n; i++) {
			if (terminate(v[i].pid, v[i].hint))
				sl_buf_printf(&surv, "%s%s %d", surv.len ? ", " : "",
					      v[i].secondary ? "shell pid" : "harness pid", v[i].pid);
			else
				ws__att_del(d, v[i].token, NULL);
		}
		free(v);
		if (surv.len) {
			sl_err_set(err, SL_EDENIED, "still running: %s", surv.p);
			sl_buf_free(&surv);
			rc = step_fail(err, "terminating attachments", path, 0);
			goto out;
		}
		sl_buf_free(&surv);
	}
	/* 3 */
	if ((rc = ws__step(d, e.id, 3, err)))
		goto out;
	if ((rc = ws__umount(e.strategy, &p, err))) {
		rc = step_fail(err, "detaching the workspace image", path, 0);
		goto out;
	}
	/* 4 */
	if ((rc = ws__step(d, e.id, 4, err)))
		goto out;
	mode_t rmode = e.root_mode >= 0 ? (mode_t)e.root_mode : 0755;
	if ((rc = sl_mkdir_p(canon, 0755, err)) || chmod(canon, rmode | 0700)) {
		if (!rc)
			sl_err_set(err, SL_EIO, "chmod %s: %s", canon, strerror(errno));
		rc = step_fail(err, "restoring directory access", path, 0);
		goto out;
	}
	/* 5 */
	if ((rc = ws__step(d, e.id, 5, err)))
		goto out;
	{
		ws__remove_marker(canon);
		struct ws_progress pg = { "restore", isatty(2), 0, 0, 0 };
		if ((rc = ws__manifest_load(d, e.id, &man, err)))
			goto out;
		if (e.strategy == WS_STRATEGY_DIRECTORY)
			rc = restore_directory(canon, &p, &cur, &notes, &modes, &pg, err);
		else
			rc = restore_image(e.strategy, canon, &p, &man, &cur, &notes, &modes, &pg, err);
		chmod(canon, rmode);
		if (rc) {
			rc = step_fail(err, "restoring the workspace contents", path, 1);
			goto out;
		}
	}
	/* 6 */
	if ((rc = ws__step(d, e.id, 6, err)))
		goto out;
	*report = ws__review_build(&man, &cur, &notes, p.blobs, canon, rules, err);
	if (!*report) {
		rc = err->code ? err->code : SL_EIO;
		goto out;
	}
	if ((rc = ws__review_save(d, canon, e.id, *report, err)))
		goto out;
	{
		/* the review has read everything: closed directories close now */
		int rfd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd >= 0) {
			ws__modes_apply(rfd, &modes);
			close(rfd);
		}
	}
	/* 7 */
	if ((rc = ws__step(d, e.id, 7, err)))
		goto out;
	if ((rc = ws__umount(e.strategy, &p, err))) {
		rc = step_fail(err, "detaching the workspace image", path, 0);
		goto out;
	}
	/* 8 */
	if ((rc = ws__step(d, e.id, 8, err)))
		goto out;
	if ((rc = ws__reg_begin(d, 0, err)))
		goto out;
	rc = ws__entry_del(d, e.id, err);
	if ((rc2 = ws__reg_end(d, !rc, err)) && !rc)
		rc = rc2;
	if (rc)
		goto out;
	ws__fault_point();
	/* 9: errors only warn */
	if (ws__is_mounted(p.mnt)) {
		fprintf(stderr, "warning: %s is still mounted; remove %s by hand after unmounting it\n",
			p.mnt, p.entry);
	} else {
		remove_entry_dir(d, &p, e.id);
	}
out:
	if (rc && *report) {
		jv_unref(*report);
		*report = NULL;
	}
	ws__rules_free(rules);
	ws__list_free(&man);
	ws__list_free(&cur);
	ws__notes_free(&notes);
	ws__modes_free(&modes);
	ws__paths_free(&p);
	ws__entry_free(&e);
	free(canon);
	return rc;
}
