/*
 * ws_lock.c: locking a directory (workspace.md 3), its rollback, crash
 * recovery of operations whose process died, and the harness-facing
 * attach/detach. Lock is a journaled sequence of steps:
 *   1 reserve (registry: state locking, our pid)   2 snapshot + manifest
 *   3 container (image or data/)                   4 move the files away
 *   5 marker + read-only directory                 6 commit (state locked)
 * Until step 6 commits, the lock is undone by ws__rollback_lock, which only
 * ever adds back what is missing (from blobs, or by moving data/ back), so
 * it is safe to run after a crash at any point and to run twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ws_int.h"

static const char marker_text[] =
	"This directory is a locked silo workspace.\n"
	"\n"
	"Its contents were moved into the silo state directory so that a coding agent\n"
	"can work on them inside a sandbox. Do not edit this directory from outside:\n"
	"every change made inside the sandbox is shown for review when you unlock.\n"
	"\n"
	"To get the files back (this ends any harness or shell still using them):\n"
	"\n"
	"    silo workspace unlock %s\n"
	"\n"
	"Status: silo workspace status %s\n";

char *ws__canon_lenient(const char *path, struct sl_err *err)
{
	if (!path || !*path) {
		sl_err_set(err, SL_EINVAL, "empty workspace path");
		return NULL;
	}
	char *abs;
	if (path[0] == '/') {
		abs = sl_xstrdup(path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd)) {
			sl_err_set(err, SL_EIO, "getcwd: %s", strerror(errno));
			return NULL;
		}
		abs = sl_xasprintf("%s/%s", cwd, path);
	}
	char *c = sl_canon_lenient(abs);
	free(abs);
	return c;
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
			: (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0)
			return 0;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

int ws__check_path(const struct ws_db *d, const char *canon, struct sl_err *err)
{
	if (!utf8_valid(canon))
		return sl_err_set(err, SL_EINVAL, "workspace path is not UTF-8");
	if (!strcmp(canon, "/"))
		return sl_err_set(err, SL_EDENIED, "refusing to lock / as a workspace");
	const char *home = getenv("HOME");
	if (home && *home) {
		char *h = sl_canon_lenient(home);
		int same = !strcmp(h, canon);
		free(h);
		if (same)
			return sl_err_set(err, SL_EDENIED,
					  "refusing to lock your home directory %s as a workspace; "
					  "lock a project directory inside it",
					  canon);
	}
	char *st = sl_canon_lenient(d->state_dir);
	int bad = sl_path_under(canon, st) || sl_path_under(st, canon);
	if (bad)
		sl_err_set(err, SL_EDENIED,
			   "workspace %s overlaps the silo state directory %s; a workspace may "
			   "neither contain nor lie inside it",
			   canon, st);
	free(st);
	return bad ? SL_EDENIED : 0;
}

static int fail_step(struct sl_err *err, const char *what)
{
	sl_err_prefix(err, "lock step '%s' failed", what);
	return err->code ? err->code : SL_EIO;
}

/* ext4: move every original file into blobs/ (the image holds the live
 * copy), deepest entries first so directories end up empty; fd-relative,
 * so no path length limit applies. */
static int move_to_blobs(const char *root, const char *blobs, const struct ws_list *m,
			 struct sl_err *err)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int bfd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || bfd < 0) {
		if (rootfd >= 0)
			close(rootfd);
		if (bfd >= 0)
			close(bfd);
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", rootfd < 0 ? root : blobs,
				  strerror(errno));
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct ws_node *n = &m->v[i];
		if (n->kind == WS_K_DIR && (n->mode & 0700) != 0700) {
			const char *base;
			int dfd = ws__open_parent(rootfd, n->path, &base);
			if (dfd >= 0) {
				fchmodat(dfd, base, n->mode | 0700, 0);
				close(dfd);
			}
		}
	}
	int moved = 0, rc = 0;
	for (size_t i = m->n; i-- > 0 && !rc;) {
		const struct ws_node *n = &m->v[i];
		const char *base;
		int dfd = ws__open_parent(rootfd, n->path, &base);
		if (dfd < 0) {
			rc = sl_err_set(err, SL_EIO, "cannot open the directory of %s: %s", n->path,
					strerror(errno));
			break;
		}
		if (n->kind == WS_K_DIR) {
			if (unlinkat(dfd, base, AT_REMOVEDIR) && errno != ENOENT)
				rc = sl_err_set(err, SL_EIO, "cannot remove %s: %s", n->path,
						strerror(errno));
		} else if (n->kind == WS_K_LINK) {
			if (unlinkat(dfd, base, 0) && errno != ENOENT)
				rc = sl_err_set(err, SL_EIO, "cannot remove %s: %s", n->path,
						strerror(errno));
		} else {
			/* a blob of the same content may exist: renaming over it
			 * keeps one copy, one syscall a file */
			if (renameat(dfd, base, bfd, n->sha)) {
				if (errno == EXDEV) {
					int fd = ws__open_read(dfd, base);
					rc = fd < 0 ? sl_err_set(err, SL_EIO, "cannot open %s", n->path)
						    : ws__blob_put_fd(blobs, fd, n->sha, err);
					if (fd >= 0)
						close(fd);
					if (!rc && unlinkat(dfd, base, 0))
						rc = sl_err_set(err, SL_EIO, "cannot remove %s", n->path);
				} else if (errno != ENOENT) {
					rc = sl_err_set(err, SL_EIO, "cannot move %s: %s", n->path,
							strerror(errno));
				}
			}
			if (!rc && ++moved == 1)
				ws__fault_point();
		}
		close(dfd);
	}
	close(rootfd);
	close(bfd);
	return rc;
}

/* directory strategy: move top-level entries into data/ (same filesystem:
 * rename; otherwise copy, then delete the original). */
static int move_to_data(const char *root, const char *data, struct sl_err *err)
{
	DIR *dir = opendir(root);
	if (!dir)
		return sl_err_set(err, SL_EIO, "cannot read %s: %s", root, strerror(errno));
	int rfd = dirfd(dir);
	int dfd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		closedir(dir);
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", data, strerror(errno));
	}
	struct dirent *de;
	int rc = 0, moved = 0;
	while (!rc && (de = readdir(dir))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (ws__rename_at(rfd, nm, dfd) == 0) {
			if (++moved == 1)
				ws__fault_point();
			continue;
		}
		if (errno != EXDEV) {
			rc = sl_err_set(err, SL_EIO, "cannot move %s/%s: %s", root, nm,
					strerror(errno));
			break;
		}
		/* across filesystems: copy what is left into a stage next to
		 * data/, then move entry by entry and delete each original */
		char *stage = sl_xasprintf("%s.silo-stage", data);
		mkdir(stage, 0700);
		int sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* copy the whole root once; subsequent entries are then renamed
		 * from the stage */
		rc = sfd < 0 ? SL_EIO : ws__copy_tree_out(rfd, sfd, NULL, NULL, NULL, err);
		if (!rc) {
			DIR *sd = fdopendir(ws__reopen_dir(sfd));
			struct dirent *se;
			while (sd && !rc && (se = readdir(sd))) {
				if (!strcmp(se->d_name, ".") || !strcmp(se->d_name, ".."))
					continue;
				if (ws__rename_at(sfd, se->d_name, dfd)) {
					rc = sl_err_set(err, SL_EIO, "cannot move into %s", data);
					break;
				}
				ws__fault_point(); /* copied, original not yet removed */
				if (ws__rm_at(rfd, se->d_name))
					rc = sl_err_set(err, SL_EIO, "cannot remove %s/%s", root,
							se->d_name);
			}
			if (sd)
				closedir(sd);
		}
		if (sfd >= 0)
			close(sfd);
		rmdir(stage);
		free(stage);
		break;
	}
	close(dfd);
	closedir(dir);
	return rc;
}

/* Removes the marker only when it is ours (same text): a file of that name
 * may be the user's own, restored by an earlier attempt. */
void ws__remove_marker(const char *root)
{
	char *p = sl_xasprintf("%s/%s", root, WS_MARKER);
	char *want = sl_xasprintf(marker_text, root, root);
	size_t n = 0;
	char *have = sl_read_file(p, &n, 65536, NULL);
	if (have && n == strlen(want) && !memcmp(have, want, n))
		unlink(p);
	free(have);
	free(want);
	free(p);
}

static int write_marker(const char *root, struct sl_err *err)
{
	char *p = sl_xasprintf("%s/%s", root, WS_MARKER);
	char *txt = sl_xasprintf(marker_text, root, root);
	unlink(p);
	int rc = sl_write_file(p, txt, strlen(txt), 0444, err);
	free(txt);
	free(p);
	return rc;
}

/* Under the registry lock: a workspace inside or around another locked one
 * would be moved into two containers, and unlocking them in the wrong order
 * left the inner one read-only with a stale marker. */
static int check_nesting(struct ws_db *d, const char *canon, struct sl_err *err)
{
	char **paths = ws__entry_paths(d, err);
	if (!paths)
		return err->code ? err->code : SL_EIO;
	int rc = 0;
	for (size_t i = 0; paths[i] && !rc; i++) {
		if (!strcmp(paths[i], canon))
			continue;
		if (sl_path_under(canon, paths[i]))
			rc = sl_err_set(err, SL_ESTATE,
					"%s lies inside the locked workspace %s; unlock that one "
					"first (`silo workspace unlock %s`)",
					canon, paths[i], paths[i]);
		else if (sl_path_under(paths[i], canon))
			rc = sl_err_set(err, SL_ESTATE,
					"%s contains the locked workspace %s; unlock that one first "
					"(`silo workspace unlock %s`)",
					canon, paths[i], paths[i]);
	}
	ws__free_strv(paths);
	return rc;
}

int ws__lock(struct ws_db *d, const char *path, const struct ws_lock_opts *o, char **canon_out,
	     char ***warnings, struct sl_err *err)
{
	struct sl_buf extra;
	sl_buf_init(&extra);
	enum ws_strategy strategy = o->strategy;
	char *abs = ws__canon_lenient(path, err);
	if (!abs)
		return err->code;
	struct stat pre;
	/* refusals first, so that a refused path is never created */
	int rc = ws__check_path(d, abs, err);
	if (!rc)
		rc = check_nesting(d, abs, err);
	if (!rc && !o->create && lstat(abs, &pre) && errno == ENOENT)
		rc = sl_err_set(err, SL_ENOENT,
				"%s does not exist (to create it and lock it, add --create)", abs);
	if (!rc)
		rc = sl_mkdir_p(abs, 0755, err);
	char canon[PATH_MAX];
	if (!rc && !realpath(abs, canon))
		rc = sl_err_set(err, SL_EIO, "cannot resolve %s: %s", abs, strerror(errno));
	free(abs);
	if (rc)
		return rc;
	struct stat rst;
	if (stat(canon, &rst) || !S_ISDIR(rst.st_mode))
		return sl_err_set(err, SL_EINVAL, "%s is not a directory", canon);
	if ((rc = ws__check_path(d, canon, err)))
		return rc;
	ws__recover(d);

	char *why = NULL;
	if (strategy == WS_STRATEGY_AUTO)
		strategy = ws__strategy_auto(&why);
	if (why) {
		sl_buf_printf(&extra, "%s\n", why);
		free(why);
	}

	struct ws_entry e = { 0 };
	if ((rc = ws__reg_begin(d, 0, err)))
		goto out_buf;
	rc = ws__entry_get(d, canon, &e, err);
	if (rc == SL_ENOENT) {
		int nrc = check_nesting(d, canon, err);
		if (nrc) {
			ws__reg_end(d, 0, NULL);
			rc = nrc;
			goto out_buf;
		}
	}
	if (rc == 0) {
		if (e.state == WS_ST_LOCKING)
			sl_err_set(err, SL_ESTATE, "%s is already locked (a lock by pid %d is in "
						   "progress)",
				   canon, e.op_pid);
		else if (e.state == WS_ST_UNLOCKING)
			sl_err_set(err, SL_ESTATE,
				   "%s is already locked (an unlock is in progress; re-run `silo "
				   "workspace unlock %s` to finish it)",
				   canon, canon);
		else
			sl_err_set(err, SL_ESTATE, "%s is already locked", canon);
		ws__entry_free(&e);
		ws__reg_end(d, 0, NULL);
		rc = SL_ESTATE;
		goto out_buf;
	}
	if (rc != SL_ENOENT) {
		ws__reg_end(d, 0, NULL);
		goto out_buf;
	}
	memset(&e, 0, sizeof e);
	e.path = sl_xstrdup(canon);
	sl_random_id(e.id);
	e.state = WS_ST_LOCKING;
	e.strategy = strategy;
	e.root_mode = (int)(rst.st_mode & 07777);
	e.op_pid = getpid();
	ws__start_hint(e.op_pid, e.op_hint);
	e.step = 1;
	rc = ws__entry_put(d, &e, err);
	int rc2 = ws__reg_end(d, !rc, err);
	if (rc || rc2) {
		rc = rc ? rc : rc2;
		ws__entry_free(&e);
		goto out_buf;
	}
	ws__fault_point();

	struct ws_paths p;
	ws__paths(d, e.id, &p);
	struct ws_list man = { 0 };
	int is_img = strategy != WS_STRATEGY_DIRECTORY;
	struct ws_progress pg = { "snapshot", isatty(2), 0, 0, 0 };

	if (sl_mkdir_p(p.entry, 0700, err) || sl_mkdir_p(p.blobs, 0700, err)) {
		rc = fail_step(err, "creating the workspace entry");
		goto undo;
	}
	/* 2: snapshot; blobs now for the directory strategy, at step 4 for images */
	if ((rc = ws__step(d, e.id, 2, err)))
		goto undo;
	if ((rc = ws__snapshot(canon, is_img ? NULL : p.blobs, 1, &man, &pg, err)) ||
	    (rc = ws__manifest_save(d, e.id, &man, err))) {
		rc = fail_step(err, "snapshot");
		goto undo;
	}
	/* 3: container */
	if ((rc = ws__step(d, e.id, 3, err)))
		goto undo;
	if (is_img) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < man.n; i++)
			bytes += man.v[i].kind == WS_K_FILE ? (uint64_t)man.v[i].size : 0;
		struct sl_err ierr = { 0 };
		uint64_t size = ws__image_size(d->root, bytes, o->image_size);
		int irc = size < bytes + bytes / 8 + (16u << 20)
				  ? sl_err_set(&ierr, SL_EINVAL, "an image of %llu bytes cannot hold "
								 "%llu bytes of files",
					       (unsigned long long)size, (unsigned long long)bytes)
				  : ws__ext4_build(canon, p.img, size, man.n, &ierr);
		if (!irc)
			irc = ws__mount(strategy, &p, &ierr);
		if (!irc && !ws__list_find(&man, "lost+found")) {
			/* mkfs's lost+found is not part of the workspace; a user's
			 * own (merged into it by mkfs -d) is, and is kept */
			char *lf = sl_xasprintf("%s/lost+found", p.mnt);
			rmdir(lf);
			free(lf);
		}
		if (!irc) {
			ws__fault_point(); /* a crash with the image mounted */
			irc = ws__umount(strategy, &p, &ierr);
		}
		if (irc) {
			sl_buf_printf(&extra, "%s setup failed (%s); used the directory strategy\n",
				      ws__strategy_name(strategy), ierr.msg);
			ws__umount(strategy, &p, NULL);
			unlink(p.img);
			rmdir(p.mnt);
			strategy = e.strategy = WS_STRATEGY_DIRECTORY;
			is_img = 0;
			for (size_t i = 0; i < man.n && !rc; i++) {
				if (man.v[i].kind != WS_K_FILE)
					continue;
				char *fp = sl_xasprintf("%s/%s", canon, man.v[i].path);
				int fd = open(fp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				rc = fd < 0 ? sl_err_set(err, SL_EIO, "cannot open %s", fp)
					    : ws__blob_put_fd(p.blobs, fd, man.v[i].sha, err);
				if (fd >= 0)
					close(fd);
				free(fp);
			}
			if (!rc && (rc = ws__reg_begin(d, 0, err)) == 0)
				rc = ws__reg_end(d, !ws__entry_put(d, &e, err), err);
			if (rc) {
				rc = fail_step(err, "container");
				goto undo;
			}
		} else {
			char sz[32], cb[32];
			ws__fmt_size(sz, size);
			ws__fmt_size(cb, bytes);
			sl_buf_printf(&extra,
				      "image size %s (%s of files now; sparse: the host pays only for "
				      "what is written); it never grows, so writes beyond it fail "
				      "with 'No space left on device' (lock with --size to choose)\n",
				      sz, cb);
		}
	}
	if (!is_img && mkdir(p.data, 0700) && errno != EEXIST) {
		rc = sl_err_set(err, SL_EIO, "cannot create %s: %s", p.data, strerror(errno));
		rc = fail_step(err, "container");
		goto undo;
	}
	/* 4: the user is moved away from the files */
	if ((rc = ws__step(d, e.id, 4, err)))
		goto undo;
	rc = is_img ? move_to_blobs(canon, p.blobs, &man, err) : move_to_data(canon, p.data, err);
	if (rc) {
		rc = fail_step(err, "moving the files into the container");
		goto undo;
	}
	if (!is_img)
		chmod(p.data, (mode_t)e.root_mode | 0700);
	/* 5: marker, directory read-only */
	if ((rc = ws__step(d, e.id, 5, err)))
		goto undo;
	if ((rc = write_marker(canon, err)) || chmod(canon, (mode_t)e.root_mode & ~0222u)) {
		rc = fail_step(err, "writing the marker");
		goto undo;
	}
	/* 6: commit */
	if ((rc = ws__step(d, e.id, 6, err)))
		goto undo;
	if ((rc = ws__reg_begin(d, 0, err)))
		goto undo;
	struct ws_entry cur = { 0 };
	if (ws__entry_get(d, canon, &cur, NULL) || strcmp(cur.id, e.id)) {
		ws__reg_end(d, 0, NULL);
		ws__entry_free(&cur);
		rc = sl_err_set(err, SL_ESTATE, "registry entry changed while locking %s", canon);
		goto undo;
	}
	ws__entry_free(&cur);
	e.state = WS_ST_LOCKED;
	e.op_pid = 0;
	e.op_hint[0] = 0;
	e.step = 0;
	free(e.warnings);
	e.warnings = extra.len ? sl_xstrdup(extra.p) : NULL;
	rc = ws__entry_put(d, &e, err);
	if ((rc = ws__reg_end(d, !rc, err)))
		goto undo;

	if (warnings) {
		size_t n = 1;
		for (size_t i = 0; i < extra.len; i++)
			n += extra.p[i] == '\n';
		char **w = sl_xcalloc(n + 1, sizeof *w);
		size_t k = 0;
		w[k++] = sl_xstrdup(ws__strategy_warning(strategy));
		char *save = NULL;
		for (char *l = extra.len ? strtok_r(extra.p, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save))
			w[k++] = sl_xstrdup(l);
		*warnings = w;
	}
	if (canon_out)
		*canon_out = sl_xstrdup(canon);
	ws__list_free(&man);
	ws__paths_free(&p);
	ws__entry_free(&e);
	sl_buf_free(&extra);
	return 0;
undo:
	ws__list_free(&man);
	ws__paths_free(&p);
	{
		struct sl_err uerr = { 0 };
		if (ws__rollback_lock(d, &e, &uerr))
			sl_err_prefix(err, "%s; undoing the lock also failed (%s)", err->msg,
				      uerr.msg);
	}
	ws__entry_free(&e);
out_buf:
	sl_buf_free(&extra);
	return rc ? rc : SL_EIO;
}

int ws__rollback_lock(struct ws_db *d, struct ws_entry *e, struct sl_err *err)
{
	struct ws_paths p;
	ws__paths(d, e->id, &p);
	const char *root = e->path;
	int rc = 0;
	mode_t rmode = e->root_mode >= 0 ? (mode_t)e->root_mode : 0755;
	chmod(root, rmode | 0700);
	/* our marker exists only from step 5 on; before that, a file of that
	 * name is the user's own */
	struct ws_entry now = { 0 };
	if (ws__entry_get_id(d, e->id, &now, NULL) == 0 && now.step >= 5)
		ws__remove_marker(root);
	ws__entry_free(&now);
	if (e->strategy != WS_STRATEGY_DIRECTORY && ws__umount(e->strategy, &p, err))
		rc = err->code;
	/* directory strategy: entries already in data/ go back by rename */
	DIR *dd = rc ? NULL : opendir(p.data);
	if (dd) {
		int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;
		while (rfd >= 0 && (de = readdir(dd))) {
			struct stat st;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (fstatat(rfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			ws__rename_at(dirfd(dd), de->d_name, rfd);
		}
		if (rfd >= 0)
			close(rfd);
		closedir(dd);
	}
	struct ws_list man = { 0 };
	if (!rc && !(rc = ws__manifest_load(d, e->id, &man, err)))
		rc = ws__restore_manifest(root, p.blobs, &man, err);
	ws__list_free(&man);
	chmod(root, rmode);
	if (rc) {
		sl_err_prefix(err, "the files are kept in %s", p.entry);
		ws__paths_free(&p);
		return rc;
	}
	int wfd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wfd >= 0) {
		ws__rm_at(wfd, e->id);
		close(wfd);
	}
	ws__paths_free(&p);
	if (ws__reg_begin(d, 0, err) == 0) {
		struct ws_entry cur;
		int mine = ws__entry_get_id(d, e->id, &cur, NULL) == 0;
		if (mine) {
			ws__entry_free(&cur);
			ws__entry_del(d, e->id, NULL);
		}
		return ws__reg_end(d, 1, err);
	}
	return err->code;
}

void ws__recover(struct ws_db *d)
{
	struct sl_err err = { 0 };
	char **paths = ws__entry_paths(d, &err);
	for (size_t i = 0; paths && paths[i]; i++) {
		struct ws_entry e;
		if (ws__reg_begin(d, 0, &err))
			break;
		int claim = 0;
		if (ws__entry_get(d, paths[i], &e, NULL) == 0) {
			claim = e.state == WS_ST_LOCKING && !ws__alive_hint(e.op_pid, e.op_hint);
			if (claim) {
				e.op_pid = getpid();
				ws__start_hint(e.op_pid, e.op_hint);
				ws__entry_put(d, &e, NULL);
			}
		} else {
			memset(&e, 0, sizeof e);
		}
		ws__reg_end(d, 1, NULL);
		if (claim) {
			struct sl_err rerr = { 0 };
			if (ws__rollback_lock(d, &e, &rerr))
				fprintf(stderr, "warning: undoing the interrupted lock of %s failed: %s\n",
					e.path, rerr.msg);
			else
				fprintf(stderr, "warning: undid the interrupted lock of %s\n", e.path);
		}
		ws__entry_free(&e);
	}
	ws__free_strv(paths);

	/* entry directories without a registry row are leftovers of a finished
	 * unlock or an undone lock */
	DIR *dir = opendir(d->root);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, ".trash-", 7)) {
			struct stat st;
			/* an hour old: its background deleter is surely gone */
			if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    time(NULL) - st.st_ctime > 3600)
				ws__rm_detached(d->root, de->d_name);
			continue;
		}
		if (strlen(de->d_name) != 12 || strspn(de->d_name, "0123456789abcdef") != 12)
			continue;
		struct ws_entry e;
		if (ws__entry_get_id(d, de->d_name, &e, NULL) == 0) {
			ws__entry_free(&e);
			continue;
		}
		struct ws_paths p;
		ws__paths(d, de->d_name, &p);
		if (ws__is_mounted(p.mnt)) {
			ws__umount(WS_STRATEGY_EXT4_LOOP, &p, NULL);
			ws__umount(WS_STRATEGY_EXT4_FUSE, &p, NULL);
		}
		if (!ws__is_mounted(p.mnt))
			ws__rm_at(dirfd(dir), de->d_name);
		ws__paths_free(&p);
	}
	closedir(dir);
}
