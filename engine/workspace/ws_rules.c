/*
 * ws_rules.c: review rules in Lua (workspace.md 7, decisions 40). Every
 * file in lua/review (*.lua, name order), then policy rules, then --rules files,
 * is loaded into one sandboxed LH_REVIEW state; each returns a list of rules
 * with exactly one matcher (under_dir, name, path_suffix, name_suffix,
 * match) and a reason. The declarative matchers are evaluated here in C;
 * `match(change)` runs under the Lua host's instruction budget and may return
 * true (use reason), a string (the reason) or nil/false. A rule that raises
 * flags the path with "review rule error: ..." (fail towards review).
 */
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "luahost/lh.h"
#include "ws_int.h"

enum rtype { R_UNDER_DIR, R_NAME, R_PATH_SUFFIX, R_NAME_SUFFIX, R_MATCH };

struct rule {
	enum rtype t;
	char **chain; /* owned: under_dir / path_suffix segments */
	size_t nchain;
	char *str;    /* owned: name / name_suffix */
	int fn_ref;
	char *reason; /* owned, may be NULL for match */
};

struct ws_rules {
	struct lh_state *st;
	struct rule *v;
	size_t n, cap;
};

static const char *const keys[] = { "under_dir", "name", "path_suffix", "name_suffix", "match" };

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **chain_from(lua_State *L, int idx, size_t *n)
{
	size_t len = lua_rawlen(L, idx);
	char **v = sl_xcalloc(len + 1, sizeof *v);
	*n = 0;
	for (size_t i = 1; i <= len; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		if (lua_type(L, -1) == LUA_TSTRING)
			v[(*n)++] = sl_xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	return v;
}

static int load_rules(struct ws_rules *r, const char *file, struct sl_err *err)
{
	int ref;
	if (lh_load_file(r->st, file, &ref, err))
		return err->code ? err->code : SL_ESCRIPT;
	lua_State *L = lh_L(r->st);
	int top = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	int rc = 0;
	size_t n = lua_rawlen(L, -1);
	if (!lua_istable(L, -1) || n == 0) {
		rc = sl_err_set(err, SL_ESCRIPT, "%s: must return a non-empty list of rules", file);
		goto out;
	}
	for (size_t i = 1; i <= n && !rc; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i);
		int t = lua_gettop(L);
		if (!lua_istable(L, t)) {
			rc = sl_err_set(err, SL_ESCRIPT, "%s: rule %zu is not a table", file, i);
			break;
		}
		int found = -1, count = 0;
		for (size_t k = 0; k < SL_ARRAY_LEN(keys); k++) {
			lua_getfield(L, t, keys[k]);
			if (!lua_isnil(L, -1)) {
				found = (int)k;
				count++;
			}
			lua_pop(L, 1);
		}
		if (count != 1) {
			rc = sl_err_set(err, SL_ESCRIPT,
					"%s: rule %zu needs exactly one of under_dir, name, "
					"path_suffix, name_suffix, match",
					file, i);
			break;
		}
		lua_getfield(L, t, "reason");
		const char *reason = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (!reason && found != R_MATCH) {
			rc = sl_err_set(err, SL_ESCRIPT, "%s: rule %zu has no reason string", file, i);
			lua_pop(L, 2);
			break;
		}
		if (r->n == r->cap)
			r->v = sl_xrealloc(r->v, (r->cap = r->cap ? r->cap * 2 : 32) * sizeof *r->v);
		struct rule *ru = &r->v[r->n];
		memset(ru, 0, sizeof *ru);
		ru->t = (enum rtype)found;
		ru->fn_ref = LUA_NOREF;
		ru->reason = reason ? sl_xstrdup(reason) : NULL;
		lua_pop(L, 1);
		lua_getfield(L, t, keys[found]);
		int ok = 1;
		switch (ru->t) {
		case R_UNDER_DIR:
		case R_PATH_SUFFIX:
			ok = lua_istable(L, -1);
			if (ok)
				ru->chain = chain_from(L, lua_gettop(L), &ru->nchain);
			ok = ok && ru->nchain > 0;
			break;
		case R_NAME:
		case R_NAME_SUFFIX:
			ok = lua_type(L, -1) == LUA_TSTRING;
			if (ok)
				ru->str = sl_xstrdup(lua_tostring(L, -1));
			break;
		case R_MATCH:
			ok = lua_isfunction(L, -1);
			if (ok) {
				lua_pushvalue(L, -1);
				ru->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
			}
			break;
		}
		lua_pop(L, 2);
		r->n++;
		if (!ok)
			rc = sl_err_set(err, SL_ESCRIPT, "%s: rule %zu: %s has the wrong type", file, i,
					keys[found]);
	}
out:
	lua_settop(L, top);
	lh_unref(r->st, ref);
	return rc;
}

struct ws_rules *ws__rules_load(const char *const *extra, struct sl_err *err)
{
	char *dir = sl_res_find(SL_RES_LUA, err);
	if (!dir)
		return NULL;
	struct ws_rules *r = sl_xcalloc(1, sizeof *r);
	r->st = lh_new(LH_REVIEW, NULL, NULL, dir, err);
	if (!r->st) {
		free(dir);
		free(r);
		return NULL;
	}
	int rc = 0;
	char *rdir = sl_xasprintf("%s/review", dir);
	DIR *d = opendir(rdir);
	if (!d) {
		rc = sl_err_set(err, SL_ENOENT, "built-in review rules not found in %s", rdir);
	} else {
		size_t n = 0, cap = 16;
		char **files = sl_xcalloc(cap, sizeof *files);
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".lua") || de->d_name[0] == '.')
				continue;
			if (n + 1 >= cap)
				files = sl_xrealloc(files, (cap *= 2) * sizeof *files);
			files[n++] = sl_xasprintf("%s/%s", rdir, de->d_name);
		}
		closedir(d);
		qsort(files, n, sizeof *files, strcmp_p);
		for (size_t i = 0; i < n; i++) {
			if (!rc)
				rc = load_rules(r, files[i], err);
			free(files[i]);
		}
		free(files);
	}
	for (size_t i = 0; !rc && extra && extra[i]; i++)
		rc = load_rules(r, extra[i], err);
	free(rdir);
	free(dir);
	if (rc) {
		ws__rules_free(r);
		return NULL;
	}
	return r;
}

void ws__rules_free(struct ws_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (size_t k = 0; k < r->v[i].nchain; k++)
			free(r->v[i].chain[k]);
		free(r->v[i].chain);
		free(r->v[i].str);
		free(r->v[i].reason);
	}
	free(r->v);
	if (r->st)
		lh_free(r->st);
	free(r);
}

/* Splits on '/', dropping empty segments; returns count. */
static size_t segments(const char *path, const char **seg, size_t *len, size_t max)
{
	size_t n = 0;
	const char *p = path;
	while (*p && n < max) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		seg[n] = p;
		len[n] = l;
		n++;
		p += l;
	}
	return n;
}

static int seg_eq(const char *s, size_t l, const char *want)
{
	return strlen(want) == l && !memcmp(s, want, l);
}

static int match_decl(const struct rule *ru, const char *path)
{
	const char *seg[256];
	size_t len[256];
	size_t n = segments(path, seg, len, 256);
	if (n == 0)
		return 0;
	const char *last = seg[n - 1];
	size_t ll = len[n - 1];
	switch (ru->t) {
	case R_NAME:
		return seg_eq(last, ll, ru->str);
	case R_NAME_SUFFIX: {
		size_t sl = strlen(ru->str);
		return ll >= sl && !memcmp(last + ll - sl, ru->str, sl);
	}
	case R_PATH_SUFFIX:
		if (ru->nchain > n)
			return 0;
		for (size_t k = 0; k < ru->nchain; k++)
			if (!seg_eq(seg[n - ru->nchain + k], len[n - ru->nchain + k], ru->chain[k]))
				return 0;
		return 1;
	case R_UNDER_DIR:
		/* contiguous among the directory segments (final one excluded) */
		for (size_t s = 0; s + ru->nchain <= n - 1; s++) {
			size_t k = 0;
			while (k < ru->nchain && seg_eq(seg[s + k], len[s + k], ru->chain[k]))
				k++;
			if (k == ru->nchain)
				return 1;
		}
		return 0;
	default:
		return 0;
	}
}

char *ws__rules_check(struct ws_rules *r, const struct jv *change)
{
	const char *path = jv_get_str(change, "path");
	if (!r || !path || !*path)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct rule *ru = &r->v[i];
		if (ru->t != R_MATCH) {
			if (match_decl(ru, path))
				return sl_xstrdup(ru->reason);
			continue;
		}
		struct jv *ret = NULL;
		struct sl_err err = { 0 };
		if (lh_call(r->st, ru->fn_ref, change, &ret, &err))
			return sl_xasprintf("review rule error: %s", err.msg);
		char *reason = NULL;
		if (jv_is(ret, JV_STRING))
			reason = sl_xstrdup(jv_str_val(ret));
		else if (jv_is(ret, JV_BOOL) && jv_bool_val(ret))
			reason = sl_xstrdup(ru->reason ? ru->reason : "flagged by a review rule");
		jv_unref(ret);
		if (reason)
			return reason;
	}
	return NULL;
}

size_t ws__rules_count(const struct ws_rules *r)
{
	return r ? r->n : 0;
}

/* For tests: a path rule i must flag (flag = 1) or must not (flag = 0), built
 * from its matcher; NULL for match() rules. */
char *ws__rules_sample(const struct ws_rules *r, size_t i, int flag)
{
	if (!r || i >= r->n)
		return NULL;
	const struct rule *ru = &r->v[i];
	struct sl_buf b;
	sl_buf_init(&b);
	switch (ru->t) {
	case R_UNDER_DIR:
		/* x/<chain>/f flags; the directory itself does not */
		sl_buf_adds(&b, "x");
		for (size_t k = 0; k < ru->nchain; k++)
			sl_buf_printf(&b, "/%s", ru->chain[k]);
		if (flag)
			sl_buf_adds(&b, "/f");
		break;
	case R_PATH_SUFFIX:
		/* x/<chain> flags; gluing the first segment to its parent does not */
		sl_buf_adds(&b, flag ? "x/" : "x");
		for (size_t k = 0; k < ru->nchain; k++)
			sl_buf_printf(&b, "%s%s", k ? "/" : "", ru->chain[k]);
		break;
	case R_NAME:
		sl_buf_printf(&b, flag ? "x/%s" : "x/%s.orig", ru->str);
		break;
	case R_NAME_SUFFIX:
		sl_buf_printf(&b, flag ? "x/file%s" : "x/file%s.orig", ru->str);
		break;
	default:
		return NULL;
	}
	return sl_buf_steal(&b);
}
