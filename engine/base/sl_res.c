/*
 * sl_res: the one finder for what silo installs beside its executable: the
 * Lua scripts (backends, tools, review rules), the policies and the helper
 * (docs/architecture.md, "Installed layout"). Every caller asks here, so a
 * copied or installed tree that can run a session can also unlock.
 *
 * Order: the override variable (a set value that names nothing is an error,
 * never a silent fallback: sandbox.md 4); then from the executable's
 * directory, its parent and its grandparent, the installed layout
 * (share/silo/NAME, libexec/silo/NAME) before the flat one (NAME); then the
 * install prefix compiled in; for the helper last, PATH.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sl.h"

#ifndef SILO_PREFIX
#define SILO_PREFIX "/usr/local"
#endif

static const struct res {
	const char *name;    /* file or folder name */
	const char *subdir;  /* under a prefix */
	const char *marker;  /* what a folder must hold, NULL for a file */
	const char *vars[2]; /* overrides, first set wins */
} res[] = {
	[SL_RES_LUA] = { "lua", "share/silo", "tools", { "SILO_LUA_DIR" } },
	[SL_RES_POLICIES] = { "policies", "share/silo", "default.lua", { NULL } },
	[SL_RES_HELPER] = { "silo-helper", "libexec/silo", NULL,
			    { "SILO_HELPER_BIN_LINUX", "SILO_HELPER_BIN" } },
};

static int is_file(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

static int is_dir(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* path, if it holds what r names; canonical, owned. */
static char *fits(const struct res *r, char *path)
{
	int ok;
	if (r->marker) {
		char *m = sl_xasprintf("%s/%s", path, r->marker);
		ok = is_dir(path) && (is_dir(m) || is_file(m));
		free(m);
	} else {
		ok = is_file(path) && !access(path, X_OK);
	}
	char *c = ok ? realpath(path, NULL) : NULL;
	free(path);
	return c;
}

char *sl_res_find(enum sl_res what, struct sl_err *err)
{
	const struct res *r = &res[what];
	for (size_t i = 0; i < SL_ARRAY_LEN(r->vars) && r->vars[i]; i++) {
		const char *v = getenv(r->vars[i]);
		if (!v || !*v)
			continue;
		if (r->marker ? !is_dir(v) : !is_file(v)) {
			sl_err_set(err, SL_EINVAL, "%s=%s is not a %s", r->vars[i], v,
				   r->marker ? "directory" : "file");
			return NULL;
		}
		return sl_xstrdup(v);
	}
	char *exe = sl_exe_dir(), *found = NULL;
	static const char *const up[] = { "", "/..", "/../.." };
	for (size_t i = 0; !found && i < SL_ARRAY_LEN(up); i++) {
		found = fits(r, sl_xasprintf("%s%s/%s/%s", exe, up[i], r->subdir, r->name));
		if (!found)
			found = fits(r, sl_xasprintf("%s%s/%s", exe, up[i], r->name));
	}
	if (!found)
		found = fits(r, sl_xasprintf("%s/%s/%s", SILO_PREFIX, r->subdir, r->name));
	const char *path = getenv("PATH");
	if (!found && !r->marker && path) {
		char *copy = sl_xstrdup(path), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); !found && d;
		     d = strtok_r(NULL, ":", &save))
			found = fits(r, sl_xasprintf("%s/%s", d, r->name));
		free(copy);
	}
	const char *var = r->vars[1] ? r->vars[1] : r->vars[0];
	if (!found)
		sl_err_set(err, SL_ENOENT, "%s not found beside %s or under %s/%s%s%s%s", r->name,
			   exe, SILO_PREFIX, r->subdir, var ? " (set " : "", var ? var : "",
			   var ? " or install silo)" : " (install silo)");
	free(exe);
	return found;
}
