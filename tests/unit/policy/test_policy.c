/* Policy files: merge order, validation errors naming the file, hooks that
 * fail closed, the shipped policies; the risk list against a fake HOME; the
 * journal check; domain pattern edge cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "luahost/lh.h"
#include "policy/pol.h"
#include "tap.h"

static char tmp[64];

static const char *dir(void)
{
	if (!tmp[0]) {
		snprintf(tmp, sizeof(tmp), "/tmp/poltest-XXXXXX");
		if (!mkdtemp(tmp))
			abort();
	}
	return tmp;
}

static char *write_src(const char *name, const char *src)
{
	struct sl_err err = { 0 };
	char *path = sl_xasprintf("%s/%s", dir(), name);

	sl_write_file(path, src, strlen(src), 0600, &err);
	return path;
}

static int load(struct pol *p, const char *name, const char *src, struct sl_err *err)
{
	char *path = write_src(name, src);
	int rc = pol_load_file(p, path, NULL, err);

	free(path);
	return rc;
}

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

TEST(merge_order)
{
	struct pol p;
	struct sl_err err = { 0 };
	const char *a = "return { read_allowlist = { '/a1', '/a2' }, allowed_domains = { 'x.com' },"
			" quota = { tokens = 5 }, credentials = { { host = 'api.x.com',"
			" header = 'Authorization', env = 'X_TOKEN', format = 'Bearer {secret}' } } }";
	const char *b = "return { read_allowlist = { '/b' }, quota = { usd = 2.5 },"
			" hosts = { ['t.example'] = '198.51.100.2' },"
			" prices = { ['o4-mini-x'] = { input = 1.1, output = 4.4, cache_read = 0.275 } } }";
	char sha[65];

	pol_init(&p);
	CHECK(load(&p, "a.lua", a, &err) == 0);
	CHECK(load(&p, "b.lua", b, &err) == 0);
	/* Later file wins per key; lists replaced, not merged. */
	CHECK(strv_len(p.read_allowlist) == 1);
	CHECK_STR(p.read_allowlist[0], "/b");
	CHECK(strv_len(p.allowed_domains) == 1);
	CHECK_STR(p.allowed_domains[0], "x.com");
	CHECK(p.has_quota_tokens && p.quota_tokens == 5);
	CHECK(p.has_quota_usd && p.quota_usd == 2.5);
	CHECK(p.n_credentials == 1);
	CHECK_STR(p.credentials[0].format, "Bearer {secret}");
	CHECK_STR(jv_get_str(p.hosts, "t.example"), "198.51.100.2");
	CHECK(pol_price_for(&p, "o4-mini") == NULL); /* exact model names only */
	CHECK(jv_num_val(jv_get(pol_price_for(&p, "o4-mini-x"), "output")) == 4.4);
	CHECK(jv_num_val(jv_get(pol_price_for(&p, "o4-mini-x"), "cache_read")) == 0.275);
	CHECK(jv_get(pol_price_for(&p, "o4-mini-x"), "cache_write") == NULL);
	/* Keys no file set stay unset, so --config can fill them. */
	CHECK(p.tunnel_domains == NULL && p.disable_tools == NULL && p.upstream_ca == NULL);
	CHECK(p.n_files == 2);
	sl_sha256_hex(b, strlen(b), sha);
	CHECK_STR(p.files[1].sha256, sha);
	CHECK(strstr(p.files[0].path, "a.lua") != NULL);
	pol_free(&p);
}

TEST(paths_expand)
{
	struct pol p;
	struct sl_err err = { 0 };
	char *old = getenv("HOME") ? sl_xstrdup(getenv("HOME")) : NULL;
	char *want;

	setenv("HOME", "/home/fake", 1);
	pol_init(&p);
	CHECK(load(&p, "paths.lua",
		   "return { read_allowlist = { '~/docs', '/usr' }, review_rules = { 'rules/x.lua' },"
		   " upstream_ca = { ['*.corp.example'] = 'ca.pem' } }",
		   &err) == 0);
	CHECK_STR(p.read_allowlist[0], "/home/fake/docs");
	want = sl_xasprintf("%s/rules/x.lua", dir());
	CHECK_STR(p.review_rules[0], want);
	free(want);
	want = sl_xasprintf("%s/ca.pem", dir());
	CHECK_STR(jv_get_str(p.upstream_ca, "*.corp.example"), want);
	free(want);
	pol_free(&p);
	if (old)
		setenv("HOME", old, 1);
	free(old);
}

static const struct {
	const char *src, *want;
} bad[] = {
	{ "return { read_allow = {} }", "bad.lua: unknown key 'read_allow'" },
	{ "return { allow_risky_paths = { '/x' } }", "allow_risky_paths: not allowed in a policy" },
	{ "return { read_allowlist = { 'relative' } }",
	  "read_allowlist[1]: 'relative' must be an absolute path" },
	{ "return { read_allowlist = '/usr' }", "read_allowlist: must be a list (got string)" },
	{ "return { allowed_domains = { '*' } }", "allowed_domains[1]: '*' is not a host name" },
	{ "return { allowed_domains = { 'a..b' } }", "'a..b' is not a host name" },
	{ "return { credentials = { { host = 'h', header = 'H' } } }",
	  "credentials[1]: missing env" },
	{ "return { credentials = { { host = 'h', header = 'H', env = 'X', extra = 1 } } }",
	  "credentials[1]: unknown key 'extra'" },
	{ "return { credentials = { { host = 'h', header = 'H', env = 'not a name' } } }",
	  "credentials[1].env: 'not a name' is not an environment variable name" },
	{ "return { quota = { usd = -1 } }", "quota.usd: must be a finite number >= 0" },
	{ "return { quota = { tokens = 1.5 } }", "quota.tokens: must be a non-negative integer" },
	{ "return { quota = { dollars = 1 } }", "quota: unknown key 'dollars'" },
	{ "return { hooks = { on_everything = function() end } }",
	  "hooks: unknown key 'on_everything'" },
	{ "return { hooks = { on_request = 'deny' } }", "hooks.on_request: must be a function" },
	{ "return { tools = { { name = 'X' } } }", "tools[1]: missing run function" },
	{ "return { placeholders = { { host = 'h' } } }", "placeholders[1]: missing env" },
	{ "return { placeholders = { { host = 'h', env = 'X' } } }",
	  "placeholders[1]: missing header" },
	{ "return { placeholders = { { host = 'h', env = 'X', header = 'a b' } } }",
	  "placeholders[1].header: 'a b' is not a header name" },
	{ "return { hosts = { a = 1 } }", "hosts: every entry must map a name" },
	{ "return { prices = { m = { input = 1 } } }",
	  "prices[\"m\"].output: must be a finite number >= 0" },
	{ "return { prices = { m = { input = 1, output = 2, batch = 1 } } }",
	  "prices[\"m\"]: unknown key 'batch'" },
	{ "return { prices = { 'm' } }", "prices: every entry must map a model name" },
	{ "return {\n read_allowlist = {,\n}", "bad.lua:2:" },
	{ "return 1", "bad.lua: script must return a table" },
	{ "return { quota = { usd = os.time() } }", "global 'os'" },
	{ "return { quota = { tokens = math.random(10) } }", "field 'random'" },
	{ "while true do end", "bad.lua: instruction budget exceeded" },
};

TEST(validation_errors)
{
	for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
		struct pol p;
		struct sl_err err = { 0 };

		pol_init(&p);
		CHECK(load(&p, "bad.lua", bad[i].src, &err) != 0);
		if (!strstr(err.msg, bad[i].want) || !strstr(err.msg, "policy ")) {
			tap_failed = 1;
			printf("#   case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, bad[i].want);
		}
		CHECK(strstr(err.msg, dir()) != NULL);
		pol_free(&p);
	}
}

static char *hook(struct pol *p, const char *name, const struct jv *arg, int *rc)
{
	struct sl_err err = { 0 };
	const struct jv *args[1] = { arg };
	struct jv *ret = NULL;
	char *s;

	*rc = pol_hook(p, name, args, arg ? 1 : 0, &ret, &err);
	if (*rc)
		return sl_xasprintf("ERR: %s", err.msg);
	s = jv_to_string(ret, 0);
	jv_unref(ret);
	return s;
}

TEST(hooks_and_fail_closed)
{
	struct pol p;
	struct sl_err err = { 0 };
	struct jv *req = jv_obj();
	char *s;
	int rc;

	pol_init(&p);
	CHECK(load(&p, "h1.lua",
		   "return { hooks = {\n"
		   "  on_request = function(r) return 'first' end,\n"
		   "  on_tool_call = function(agent, call) if call == nil then return 'no call' end end,\n"
		   "  allow_host = function(host) while true do end end,\n"
		   "  credential_for = function(r) error('broken hook') end,\n"
		   "  on_session_end = function() return print end,\n"
		   "} }",
		   &err) == 0);
	CHECK(load(&p, "h2.lua",
		   "return { hooks = { on_request = function(r)\n"
		   "  if r.method == 'POST' and r.path:match('^/admin') then\n"
		   "    return 'no admin writes' end\n"
		   "  return nil end } }",
		   &err) == 0);
	jv_set(req, "method", jv_str("POST"));
	jv_set(req, "host", jv_str("api.example"));
	jv_set(req, "port", jv_int(443));
	jv_set(req, "path", jv_str("/admin/users"));
	/* The later file's hook wins for its name... */
	s = hook(&p, "on_request", req, &rc);
	CHECK(rc == 0);
	CHECK_STR(s, "\"no admin writes\"");
	free(s);
	jv_set(req, "method", jv_str("GET"));
	s = hook(&p, "on_request", req, &rc);
	CHECK_STR(s, "null");
	free(s);
	/* ...while other hooks of the earlier file stay in force. */
	s = hook(&p, "on_tool_call", NULL, &rc);
	CHECK_STR(s, "\"no call\"");
	free(s);
	/* Failures come back as errors: the caller denies. */
	s = hook(&p, "allow_host", req, &rc);
	CHECK(rc < 0 && rc != SL_ENOENT);
	CHECK(strstr(s, "h1.lua: instruction budget exceeded") != NULL);
	free(s);
	s = hook(&p, "credential_for", req, &rc);
	CHECK(rc < 0 && rc != SL_ENOENT);
	CHECK(strstr(s, "h1.lua:5: broken hook") != NULL);
	free(s);
	s = hook(&p, "on_session_end", NULL, &rc);
	CHECK(rc < 0 && rc != SL_ENOENT);
	CHECK(strstr(s, "function") != NULL);
	free(s);
	s = hook(&p, "on_session_start", NULL, &rc);
	CHECK(rc == SL_ENOENT);
	free(s);
	/* The state survives a runaway hook. */
	s = hook(&p, "on_request", req, &rc);
	CHECK_STR(s, "null");
	free(s);
	jv_unref(req);
	pol_free(&p);
	pol_init(&p);
	s = hook(&p, "on_request", NULL, &rc);
	CHECK(rc == SL_ENOENT);
	free(s);
	pol_free(&p);
}

TEST(shipped_policies)
{
	char root[512], path[1024];
	const char *f = __FILE__;
	const char *cut = strstr(f, "tests/unit/policy/");
	struct pol p;
	struct sl_err err = { 0 };
	struct jv *req = jv_obj();
	int rc;
	char *s;

	snprintf(root, sizeof(root), "%.*s", (int)(cut - f), f);
	pol_init(&p);
	snprintf(path, sizeof(path), "%spolicies/default.lua", root[0] ? root : "./");
	CHECK(pol_load_file(&p, path, NULL, &err) == 0);
	CHECK(strv_len(p.read_allowlist) == 0 && p.read_allowlist != NULL);
	CHECK(!p.has_quota_tokens && !p.has_quota_usd && p.n_tool_refs == 0);
	snprintf(path, sizeof(path), "%spolicies/examples/team.lua", root[0] ? root : "./");
	if (pol_load_file(&p, path, NULL, &err))
		printf("# %s\n", err.msg);
	CHECK(p.n_files == 2);
	CHECK(p.has_quota_usd && p.quota_usd == 25);
	CHECK(p.n_credentials == 1 && !strcmp(p.credentials[0].env, "TEAM_GITHUB_TOKEN"));
	CHECK(p.n_tool_refs == 1);
	jv_set(req, "method", jv_str("POST"));
	jv_set(req, "host", jv_str("api.github.com"));
	jv_set(req, "port", jv_int(443));
	jv_set(req, "path", jv_str("/repos/o/r/releases"));
	s = hook(&p, "on_request", req, &rc);
	CHECK_STR(s, "\"POST /repos/o/r/releases is reserved for humans\"");
	free(s);
	jv_set(req, "path", jv_str("/repos/o/r/issues"));
	s = hook(&p, "on_request", req, &rc);
	CHECK_STR(s, "null");
	free(s);
	jv_unref(req);
	pol_free(&p);
}

static int exec_call(void *ud, void *task_ctx, const char *service, struct jv *args,
		     lh_done_fn done, void *token, struct sl_err *err)
{
	struct jv *r = jv_obj();

	SL_UNUSED(ud);
	SL_UNUSED(task_ctx);
	SL_UNUSED(err);
	/* Echo what the tool asked for, so the test sees service and cwd. */
	jv_set(r, "stdout", jv_strf("%s in %s", service, jv_get_str(args, "cwd")));
	jv_set(r, "exit_code", jv_int(0));
	jv_unref(args);
	done(token, r, NULL, 0);
	return 0;
}

static void tool_done(void *ud, struct jv *result, const char *errmsg)
{
	char **out = ud;

	*out = errmsg ? sl_xasprintf("ERR: %s", errmsg) : jv_to_string(result, JV_EMIT_SORTED);
	jv_unref(result);
}

TEST(policy_tool_runs_as_task)
{
	char path[1024];
	const char *f = __FILE__;
	const char *cut = strstr(f, "tests/unit/policy/");
	struct lh_services svc = { .call = exec_call };
	struct sl_err err = { 0 };
	struct jv *ctx = jv_obj();
	char *out = NULL;
	struct pol p;

	snprintf(path, sizeof(path), "%.*spolicies/examples/team.lua", (int)(cut - f), f);
	pol_init(&p);
	CHECK(pol_load_file(&p, path, NULL, &err) == 0);
	CHECK(p.n_tool_refs == 1);
	if (p.n_tool_refs == 1) {
		lh_set_services(p.lua, &svc);
		jv_set(ctx, "workspace", jv_str("/workspace"));
		lh_task_start(p.lua, p.tool_refs[0], "run", NULL, ctx, NULL, tool_done, &out);
		CHECK_STR(out, "{\"content\":\"helper.exec in /workspace\",\"is_error\":false}");
		free(out);
	}
	jv_unref(ctx);
	pol_free(&p);
}

/* A fake HOME with some credential stores. */
static char *fake_home(void)
{
	char *h = sl_xasprintf("%s/home", dir());
	char *p;

	mkdir(h, 0700);
	p = sl_xasprintf("%s/.ssh", h);
	mkdir(p, 0700);
	free(p);
	p = sl_xasprintf("%s/.aws", h);
	mkdir(p, 0700);
	free(p);
	p = sl_xasprintf("%s/.netrc", h);
	sl_write_file(p, "x", 1, 0600, NULL);
	free(p);
	p = sl_xasprintf("%s/proj", h);
	mkdir(p, 0700);
	free(p);
	return h;
}

static char *risk(char **allow, char **exempt, const char *home, const char *state)
{
	struct sl_err err = { 0 };

	if (pol_risk_check(allow, exempt, home, state, &err))
		return sl_xstrdup(err.msg);
	return sl_xstrdup("ok");
}

TEST(risk_list)
{
	char *home = fake_home();
	char *state = sl_xasprintf("%s/.llmdevsilo", home);
	char *ssh = sl_xasprintf("%s/.ssh", home);
	char *key = sl_xasprintf("%s/.ssh/id_ed25519", home);
	char *proj = sl_xasprintf("%s/proj", home);
	char *s, *want;

	{
		char *allow[] = { home, NULL };

		s = risk(allow, NULL, home, state);
		CHECK(!strncmp(s, "refusing risky read allowlist entries: ", 39));
		want = sl_xasprintf("%s exposes %s/.ssh (SSH private keys)", home, home);
		CHECK(strstr(s, want) != NULL);
		free(want);
		want = sl_xasprintf("; %s exposes %s/.aws (AWS credentials)", home, home);
		CHECK(strstr(s, want) != NULL);
		free(want);
		CHECK(strstr(s, ".netrc (stored login passwords)") != NULL);
		CHECK(strstr(s, ".llmdevsilo (silo journals, tokens, keys)") != NULL);
		CHECK(strstr(s, ".kube") == NULL); /* only existing paths count */
		free(s);
	}
	{
		char *allow[] = { "~/.ssh", NULL };

		s = risk(allow, NULL, home, state);
		want = sl_xasprintf("refusing risky read allowlist entries: ~/.ssh exposes %s/.ssh "
				    "(SSH private keys)", home);
		CHECK_STR(s, want);
		free(want);
		free(s);
	}
	{
		char *allow[] = { key, NULL }; /* inside a risky path, not yet existing */

		s = risk(allow, NULL, home, state);
		CHECK(strstr(s, "id_ed25519 exposes") != NULL);
		free(s);
	}
	{
		/* Exemption by the canonical location, spelled differently. */
		char *allow[] = { ssh, proj, "/usr", "~/.kube", NULL };
		char *exempt[] = { "~/.ssh/", NULL };

		s = risk(allow, exempt, home, state);
		CHECK_STR(s, "ok");
		free(s);
	}
	{
		/* The state directory is never exemptible. */
		char *allow[] = { home, NULL };
		char *exempt[] = { home, NULL };

		s = risk(allow, exempt, home, state);
		want = sl_xasprintf("refusing risky read allowlist entries: %s exposes %s "
				    "(silo journals, tokens, keys)", home, state);
		CHECK_STR(s, want);
		free(want);
		free(s);
	}
	{
		char *allow[] = { state, NULL };
		char *exempt[] = { state, NULL };

		s = risk(allow, exempt, NULL, state);
		CHECK(strstr(s, "silo journals") != NULL);
		free(s);
	}
	{
		char *allow[] = { "/", NULL };

		s = risk(allow, NULL, home, state);
		CHECK(strstr(s, "/ exposes") != NULL);
		free(s);
	}
	free(home);
	free(state);
	free(ssh);
	free(key);
	free(proj);
}

TEST(journal_check)
{
	struct sl_err err = { 0 };
	char *jdir = sl_xasprintf("%s/journals", dir());
	char *jpath = sl_xasprintf("%s/j1.db", jdir);
	char *sub = sl_xasprintf("%s/sub", jdir);

	mkdir(jdir, 0700);
	{
		char *allow[] = { "/usr", NULL };

		CHECK(pol_journal_check(jpath, allow, &err) == 0);
	}
	{
		char *allow[] = { "/usr", jdir, NULL };

		CHECK(pol_journal_check(jpath, allow, &err) == SL_EDENIED);
		CHECK(strstr(err.msg, "journal ") && strstr(err.msg, jpath));
		CHECK(strstr(err.msg, "allowlist entry ") != NULL);
	}
	{
		char *allow[] = { (char *)dir(), NULL }; /* a parent of the journal */

		CHECK(pol_journal_check(jpath, allow, &err) == SL_EDENIED);
	}
	{
		char *allow[] = { sub, NULL }; /* inside the journal's directory */

		CHECK(pol_journal_check(jpath, allow, &err) == SL_EDENIED);
	}
	free(jdir);
	free(jpath);
	free(sub);
}

TEST(domain_match)
{
	CHECK(pol_domain_match("example.com", "example.com"));
	CHECK(pol_domain_match("Example.COM", "example.com."));
	CHECK(pol_domain_match("example.com.", "EXAMPLE.com"));
	CHECK(!pol_domain_match("example.com", "a.example.com"));
	CHECK(pol_domain_match("*.example.com", "a.example.com"));
	CHECK(pol_domain_match("*.example.com", "a.b.example.com"));
	CHECK(pol_domain_match("*.Example.com", "A.example.COM."));
	/* sandbox.md 10.2: the wildcard also covers the bare suffix. */
	CHECK(pol_domain_match("*.example.com", "example.com"));
	CHECK(!pol_domain_match("*.example.com", "xexample.com"));
	CHECK(!pol_domain_match("*.example.com", "example.com.evil.net"));
	CHECK(!pol_domain_match("*", "example.com"));
	CHECK(!pol_domain_match("*foo.com", "xfoo.com"));
	CHECK(!pol_domain_match("*.", "example.com"));
	CHECK(!pol_domain_match("*.example.com", "a..example.com"));
	CHECK(!pol_domain_match("example.com", ".example.com"));
	CHECK(!pol_domain_match("example.com", "example.com.."));
	CHECK(!pol_domain_match("example.com", ""));
	CHECK(!pol_domain_match("", ""));
	CHECK(!pol_domain_match("*.example.com", ".example.com"));
	CHECK(!pol_domain_match("*.example.com", "a b.example.com"));
	CHECK(pol_domain_match("198.51.100.2", "198.51.100.2"));
	CHECK(!pol_domain_match(NULL, "x"));
	sl_rm_rf(dir());
	tmp[0] = 0;
}
