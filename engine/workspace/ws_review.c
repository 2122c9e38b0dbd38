/*
 * ws_review.c: the change report of an unlock (workspace.md 6). Merges the
 * lock-time manifest with the restored tree over the union of paths (sorted
 * bytewise): added / deleted / modified, with notes for mode, type and
 * symlink-target changes, unified diffs for text and a size summary for
 * binary. Every change goes through the review rules; flagged surfaces are
 * listed first with their reason. The report is JSON, saved in the registry
 * (`silo workspace review`), and rendered for a terminal here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ws_int.h"

static const char *kind_name(char k)
{
	return k == WS_K_FILE ? "file" : k == WS_K_LINK ? "symlink" : k == WS_K_DIR ? "dir"
											: "special";
}

/* Reads up to WS_TEXT_MAX + 1 bytes; NULL when unreadable. The current side
 * is opened below the workspace root, fd-relative at any depth. */
static char *read_small(int rootfd, const char *path, size_t *n)
{
	int fd;
	if (rootfd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		const char *base;
		int dfd = ws__open_parent(rootfd, path, &base);
		fd = dfd < 0 ? -1 : ws__open_read(dfd, base);
		if (dfd >= 0)
			close(dfd);
	}
	if (fd < 0)
		return NULL;
	size_t cap = 65536, len = 0;
	char *b = sl_xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > WS_TEXT_MAX)
				break;
			b = sl_xrealloc(b, (cap *= 2) + 1);
		}
		ssize_t r = read(fd, b + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	b[len] = 0;
	*n = len;
	return b;
}

static int is_text(const char *b, size_t n)
{
	if (n > WS_TEXT_MAX)
		return 0;
	return memchr(b, 0, n < 8192 ? n : 8192) == NULL;
}

struct side {
	const struct ws_node *node;
	char *bytes; /* owned */
	size_t len;
	int text;
};

static int load_side(struct side *s, const struct ws_node *n, int rootfd, const char *file,
		     int old, struct sl_err *err)
{
	memset(s, 0, sizeof *s);
	s->node = n;
	if (!n || n->kind != WS_K_FILE)
		return 0;
	s->bytes = read_small(old ? -1 : rootfd, file, &s->len);
	if (!s->bytes) {
		if (old)
			return sl_err_set(err, SL_EPARSE,
					  "snapshot is damaged: blob %s of %s is missing", n->sha,
					  n->path);
		s->bytes = sl_xstrdup("");
		s->len = 0;
	}
	s->text = is_text(s->bytes, s->len) && n->size <= WS_TEXT_MAX;
	return 0;
}

static void lossy(struct sl_buf *out, const struct side *s)
{
	jv_utf8_lossy(out, s->text ? s->bytes : "", s->text ? s->len : 0);
}

static void add_side(struct jv *c, const char *pre, const struct side *s)
{
	char k[32];
	const struct ws_node *n = s->node;
	if (!n)
		return;
	snprintf(k, sizeof k, "%s_kind", pre);
	jv_set(c, k, jv_str(kind_name(n->kind)));
	if (n->kind == WS_K_FILE || n->kind == WS_K_DIR) {
		snprintf(k, sizeof k, "%s_mode", pre);
		jv_set(c, k, jv_int(n->kind == WS_K_FILE ? n->orig_mode : n->mode));
	}
	if (n->kind == WS_K_FILE) {
		snprintf(k, sizeof k, "%s_size", pre);
		jv_set(c, k, jv_int(n->size));
		if (s->text) {
			struct sl_buf b;
			sl_buf_init(&b);
			lossy(&b, s);
			snprintf(k, sizeof k, "%s_text", pre);
			jv_set(c, k, jv_strn(b.p, b.len));
			sl_buf_free(&b);
		}
	}
	if (n->kind == WS_K_LINK) {
		snprintf(k, sizeof k, "%s_target", pre);
		jv_set(c, k, jv_str(n->target));
	}
}

static int differs(const struct ws_node *a, const struct ws_node *b)
{
	if (a->kind != b->kind)
		return 1;
	if (a->kind == WS_K_FILE)
		return a->size != b->size || strcmp(a->sha, b->sha) || a->mode != b->orig_mode ||
		       (b->flags & WS_F_SUID_STRIPPED);
	if (a->kind == WS_K_LINK)
		return strcmp(a->target, b->target) != 0;
	if (a->kind == WS_K_DIR)
		return a->mode != b->mode;
	return 1;
}

static void note_add(struct sl_buf *nb, const char *fmt, const char *a, const char *b)
{
	if (nb->len)
		sl_buf_adds(nb, "; ");
	sl_buf_printf(nb, fmt, a, b);
}

/* One change: its JSON for the report and (with text) for the rules. */
static int one_change(const struct ws_node *o, const struct ws_node *c, const char *blobs,
		      int rootfd, struct ws_rules *rules, struct jv *changes, struct jv *flags,
		      struct sl_err *err)
{
	const char *path = o ? o->path : c->path;
	const char *kind = !o ? "added" : !c ? "deleted" : "modified";
	struct side so, sc;
	char *of = o && o->kind == WS_K_FILE ? sl_xasprintf("%s/%s", blobs, o->sha) : NULL;
	int rc = load_side(&so, o, -1, of, 1, err);
	if (!rc)
		rc = load_side(&sc, c, rootfd, c ? c->path : NULL, 0, err);
	free(of);
	if (rc) {
		free(so.bytes);
		return rc;
	}
	struct sl_buf nb;
	sl_buf_init(&nb);
	char m1[16], m2[16];
	if (o && c && o->kind != c->kind)
		note_add(&nb, "type %s -> %s", kind_name(o->kind), kind_name(c->kind));
	if (o && c && o->kind == c->kind && (o->kind == WS_K_FILE || o->kind == WS_K_DIR) &&
	    o->mode != c->mode) {
		snprintf(m1, sizeof m1, "%04o", o->mode);
		snprintf(m2, sizeof m2, "%04o", c->mode);
		note_add(&nb, "mode %s -> %s", m1, m2);
	}
	if (o && c && o->kind == WS_K_LINK && c->kind == WS_K_LINK)
		note_add(&nb, "symlink target %s -> %s", o->target, c->target);
	else if (c && c->kind == WS_K_LINK && (!o || o->kind != WS_K_LINK))
		note_add(&nb, "symlink to %s%s", c->target, "");
	if (c && (c->flags & WS_F_SPECIAL_SKIPPED))
		note_add(&nb, "special file, not restored%s%s", "", "");
	if (c && (c->flags & WS_F_SUID_STRIPPED)) {
		snprintf(m1, sizeof m1, "%04o", c->orig_mode);
		note_add(&nb, "setuid/setgid bit stripped (was %s)%s", m1, "");
	}
	if (c && (c->flags & WS_F_LINK_BROKEN))
		note_add(&nb, "hard link broken at restore%s%s", "", "");
	int content = (so.node && so.node->kind == WS_K_FILE) || (sc.node && sc.node->kind == WS_K_FILE);
	int changed_bytes = !o || !c || o->kind != c->kind ||
			    (o->kind == WS_K_FILE && (o->size != c->size || strcmp(o->sha, c->sha)));
	struct jv *ch = jv_obj();
	jv_set(ch, "path", jv_str(path));
	jv_set(ch, "kind", jv_str(kind));
	if (content && changed_bytes) {
		int oks = (!so.node || so.node->kind != WS_K_FILE || so.text);
		int okc = (!sc.node || sc.node->kind != WS_K_FILE || sc.text);
		if (oks && okc) {
			struct sl_buf a, b, d;
			sl_buf_init(&a);
			sl_buf_init(&b);
			sl_buf_init(&d);
			lossy(&a, &so);
			lossy(&b, &sc);
			ws__udiff(a.p ? a.p : "", a.len, b.p ? b.p : "", b.len, &d);
			jv_set(ch, "diff", jv_strn(d.p, d.len));
			sl_buf_free(&a);
			sl_buf_free(&b);
			sl_buf_free(&d);
		} else {
			char s1[32] = "-", s2[32] = "-";
			if (so.node && so.node->kind == WS_K_FILE)
				snprintf(s1, sizeof s1, "%lld bytes", (long long)so.node->size);
			if (sc.node && sc.node->kind == WS_K_FILE)
				snprintf(s2, sizeof s2, "%lld bytes", (long long)sc.node->size);
			int big = (so.node && so.node->kind == WS_K_FILE &&
				   so.node->size > WS_TEXT_MAX) ||
				  (sc.node && sc.node->kind == WS_K_FILE && sc.node->size > WS_TEXT_MAX);
			note_add(&nb, big ? "over 1 MiB, no diff, %s -> %s" : "binary, %s -> %s", s1,
				 s2);
		}
	}
	if (nb.len)
		jv_set(ch, "note", jv_strn(nb.p, nb.len));

	/* what the rules see */
	struct jv *rc_in = jv_obj();
	jv_set(rc_in, "path", jv_str(path));
	jv_set(rc_in, "kind", jv_str(kind));
	add_side(rc_in, "old", &so);
	add_side(rc_in, "new", &sc);
	if (so.node && (so.node->kind == WS_K_FILE || so.node->kind == WS_K_DIR))
		jv_set(rc_in, "old_mode", jv_int(so.node->mode));
	if (nb.len)
		jv_set(rc_in, "note", jv_strn(nb.p, nb.len));
	char *reason = NULL;
	if (c && (c->flags & WS_F_SUID_STRIPPED)) {
		reason = sl_xasprintf("had the setuid/setgid bit (mode %04o); stripped at restore",
				      c->orig_mode);
	} else if (c && c->kind == WS_K_FILE && c->size >= WS_SPARSE_MIN && c->alloc < c->size / 2) {
		/* restored sparse, but every tool that reads it reads it all */
		char a[32], b[32];
		ws__fmt_size(a, (uint64_t)c->size);
		ws__fmt_size(b, (uint64_t)c->alloc);
		reason = sl_xasprintf("sparse file: %s apparent size, %s stored (restored sparse; "
				      "tools that read or copy it see %s)",
				      a, b, a);
	} else {
		reason = ws__rules_check(rules, rc_in);
	}
	if (reason) {
		struct jv *f = jv_obj();
		jv_set(f, "path", jv_str(path));
		jv_set(f, "reason", jv_str(reason));
		jv_push(flags, f);
		free(reason);
	}
	jv_unref(rc_in);
	jv_push(changes, ch);
	sl_buf_free(&nb);
	free(so.bytes);
	free(sc.bytes);
	return 0;
}

/* At most WS_NOTES_MAX notes, the rest counted in one closing note: a tree
 * built to fail on every entry must not make the review huge. */
#define WS_NOTES_MAX 1000

void ws__note(struct ws_notes *ns, const char *path, int flag, const char *fmt, ...)
{
	if (!ns)
		return;
	if (ns->n >= WS_NOTES_MAX) {
		ns->dropped++;
		return;
	}
	if (ns->n == ns->cap)
		ns->v = sl_xrealloc(ns->v, (ns->cap = ns->cap ? ns->cap * 2 : 16) * sizeof *ns->v);
	struct ws_note *n = &ns->v[ns->n++];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int len = vsnprintf(NULL, 0, fmt, ap);
	n->text = sl_xmalloc(len > 0 ? (size_t)len + 1 : 1);
	vsnprintf(n->text, len > 0 ? (size_t)len + 1 : 1, fmt, ap2);
	va_end(ap2);
	va_end(ap);
	n->path = sl_xstrdup(path ? path : "");
	n->flag = flag;
	for (size_t i = 0; i + 1 < ns->n; i++) {
		if (!strcmp(ns->v[i].path, n->path) && !strcmp(ns->v[i].text, n->text)) {
			free(n->path);
			free(n->text);
			ns->n--;
			return;
		}
	}
}

void ws__notes_free(struct ws_notes *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].path);
		free(ns->v[i].text);
	}
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

struct jv *ws__review_build(const struct ws_list *old, const struct ws_list *cur,
			    const struct ws_notes *rnotes, const char *blobs, const char *root,
			    struct ws_rules *rules, struct sl_err *err)
{
	struct jv *changes = jv_arr(), *flags = jv_arr(), *notes = jv_arr();
	size_t i = 0, j = 0;
	int rc = 0;
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (!rc && (i < old->n || j < cur->n)) {
		const struct ws_node *o = i < old->n ? &old->v[i] : NULL;
		const struct ws_node *c = j < cur->n ? &cur->v[j] : NULL;
		int cmp = !o ? 1 : !c ? -1 : strcmp(o->path, c->path);
		if (cmp < 0) {
			rc = one_change(o, NULL, blobs, rootfd, rules, changes, flags, err);
			i++;
		} else if (cmp > 0) {
			rc = one_change(NULL, c, blobs, rootfd, rules, changes, flags, err);
			j++;
		} else {
			if (differs(o, c))
				rc = one_change(o, c, blobs, rootfd, rules, changes, flags, err);
			else if (c->flags & WS_F_LINK_BROKEN) {
				struct jv *n = jv_obj();
				jv_set(n, "path", jv_str(c->path));
				jv_set(n, "note", jv_str("hard link broken at restore"));
				jv_push(notes, n);
			}
			i++;
			j++;
		}
	}
	if (rootfd >= 0)
		close(rootfd);
	if (rc) {
		jv_unref(changes);
		jv_unref(flags);
		jv_unref(notes);
		return NULL;
	}
	for (size_t k = 0; rnotes && k < rnotes->n; k++) {
		const struct ws_note *rn = &rnotes->v[k];
		struct jv *n = jv_obj();
		jv_set(n, "path", jv_str(rn->path));
		jv_set(n, "note", jv_str(rn->text));
		jv_push(notes, n);
		if (rn->flag) {
			struct jv *f = jv_obj();
			jv_set(f, "path", jv_str(*rn->path ? rn->path : "."));
			jv_set(f, "reason", jv_str(rn->text));
			jv_push(flags, f);
		}
	}
	if (rnotes && rnotes->dropped) {
		struct jv *n = jv_obj();
		jv_set(n, "path", jv_str(""));
		jv_set(n, "note", jv_strf("and %zu more restore notes like the ones above",
					  rnotes->dropped));
		jv_push(notes, n);
	}
	struct jv *rep = jv_obj();
	jv_set(rep, "workspace", jv_str(root));
	jv_set(rep, "changes", changes);
	jv_set(rep, "auto_exec_flags", flags);
	jv_set(rep, "restore_notes", notes);
	return rep;
}

void ws__escape_name(struct sl_buf *out, const char *s)
{
	sl_term_escape(out, s, 0);
}

static void esc_text(struct sl_buf *out, const char *s)
{
	/* keep newlines and tabs of diffs; escape other control characters so
	 * a file cannot drive the terminal */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			sl_buf_printf(out, "\\x%02x", *p);
		else
			sl_buf_addc(out, (char)*p);
	}
}

static void render_diff(struct sl_buf *out, const char *diff, int color)
{
	struct sl_buf e;
	sl_buf_init(&e);
	esc_text(&e, diff);
	if (!color) {
		sl_buf_add(out, e.p, e.len);
		sl_buf_free(&e);
		return;
	}
	const char *p = e.p;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *col = NULL;
		if (!strncmp(p, "+++", 3) || !strncmp(p, "---", 3))
			col = "\033[1m";
		else if (*p == '+')
			col = "\033[32m";
		else if (*p == '-')
			col = "\033[31m";
		else if (*p == '@')
			col = "\033[36m";
		if (col)
			sl_buf_adds(out, col);
		sl_buf_add(out, p, n);
		if (col)
			sl_buf_adds(out, "\033[0m");
		sl_buf_addc(out, '\n');
		p += n + (nl ? 1 : 0);
	}
	sl_buf_free(&e);
}

void ws__review_render(const struct jv *rep, int color, struct sl_buf *out)
{
	const struct jv *flags = jv_get(rep, "auto_exec_flags");
	const struct jv *changes = jv_get(rep, "changes");
	const struct jv *notes = jv_get(rep, "restore_notes");
	const char *bold = color ? "\033[1;31m" : "", *reset = color ? "\033[0m" : "";
	sl_buf_adds(out, "==============================\n    AUTO-EXEC WARNINGS\n"
			 "==============================\n");
	if (jv_len(flags)) {
		sl_buf_printf(out,
			      "%zu changed file(s) can make git, direnv, editors or builds run code; "
			      "read them before running anything in this workspace:\n",
			      jv_len(flags));
		for (size_t i = 0; i < jv_len(flags); i++) {
			const struct jv *f = jv_at(flags, i);
			sl_buf_printf(out, "%s  !! ", bold);
			ws__escape_name(out, jv_get_str(f, "path"));
			sl_buf_adds(out, " \xe2\x80\x94 ");
			esc_text(out, jv_get_str(f, "reason") ? jv_get_str(f, "reason") : "");
			sl_buf_printf(out, "%s\n", reset);
		}
	} else {
		sl_buf_adds(out, "(no changed auto-exec surfaces)\n");
	}
	size_t n = jv_len(changes);
	sl_buf_printf(out, "\nChanges since lock: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct jv *c = jv_at(changes, i);
		sl_buf_printf(out, "  %-8s ", jv_get_str(c, "kind"));
		ws__escape_name(out, jv_get_str(c, "path"));
		if (jv_get_str(c, "note")) {
			sl_buf_adds(out, " (");
			esc_text(out, jv_get_str(c, "note"));
			sl_buf_adds(out, ")");
		}
		sl_buf_addc(out, '\n');
	}
	for (size_t i = 0; i < jv_len(notes); i++) {
		const struct jv *c = jv_at(notes, i);
		const char *p = jv_get_str(c, "path");
		sl_buf_adds(out, i ? "" : "\nRestore notes:\n");
		sl_buf_adds(out, "  ");
		if (p && *p) {
			ws__escape_name(out, p);
			sl_buf_adds(out, ": ");
		}
		esc_text(out, jv_get_str(c, "note") ? jv_get_str(c, "note") : "");
		sl_buf_addc(out, '\n');
	}
	for (size_t i = 0; i < n; i++) {
		const struct jv *c = jv_at(changes, i);
		const char *d = jv_get_str(c, "diff");
		if (!d)
			continue;
		const char *k = jv_get_str(c, "kind");
		sl_buf_adds(out, "\n--- ");
		ws__escape_name(out, jv_get_str(c, "path"));
		sl_buf_printf(out, " (%s) ---\n",
			      !strcmp(k, "added") ? "Added" : !strcmp(k, "deleted") ? "Deleted"
										   : "Modified");
		render_diff(out, d, color);
	}
}

int ws__review_save(struct ws_db *d, const char *path, const char *id, const struct jv *rep,
		    struct sl_err *err)
{
	char *txt = jv_to_string(rep, JV_EMIT_SORTED);
	sqlite3_stmt *st;
	int rc = 0;
	if (sqlite3_prepare_v2(d->db,
			       "INSERT OR REPLACE INTO reviews(path,entry_id,created,report) "
			       "VALUES(?,?,strftime('%s','now'),?)",
			       -1, &st, NULL) != SQLITE_OK) {
		free(txt);
		return sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
	}
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, txt, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sl_err_set(err, SL_EIO, "cannot save the review: %s", sqlite3_errmsg(d->db));
	sqlite3_finalize(st);
	free(txt);
	return rc;
}

struct jv *ws__review_load(struct ws_db *d, const char *path, struct sl_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, "SELECT report FROM reviews WHERE path=?", -1, &st, NULL) !=
	    SQLITE_OK) {
		sl_err_set(err, SL_EIO, "registry: %s", sqlite3_errmsg(d->db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	struct jv *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		v = jv_parse(t, strlen(t), NULL, err);
	} else {
		sl_err_set(err, SL_ENOENT, "no saved review for %s (it is made by `silo workspace "
					   "unlock`)",
			   path);
	}
	sqlite3_finalize(st);
	return v;
}
