/*
 * `silo run` (cli.md 4): parse and layer the settings, validate, open the
 * journal, scan the risk list, attach the workspace, start proxy, sandbox,
 * frontend, tools and backend, run the session on one libuv loop, and tear
 * everything down in reverse, each stop attempted even if another failed.
 */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ag.h"
#include "cli/cli.h"
#include "harness/run.h"
#include "frontends/fe.h"
#include "luahost/lh.h"
#include "mock/fx.h"
#include "policy/pol.h"
#include "proxy/px.h"
#include "sandbox/sb.h"
#include "workspace/ws.h"
#include "http/llm.h"

/* "90", "90s", "500ms", "20m", "1h": > 0 and at most a week; 0 if bad. */
static uint64_t parse_duration(const char *v)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || errno || v[0] == '-' || !n || n > 7ull * 24 * 3600 * 1000)
		return 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(units); i++)
		if (!strcmp(end, units[i].unit))
			return n * units[i].ms <= 7ull * 24 * 3600 * 1000 ? n * units[i].ms : 0;
	return 0;
}

/* Value types the table cannot express (exit 2); choices are checked by
 * the parser. */
static int check_flags(struct cli_args *a, struct run_opts *o)
{
	const char *v;
	if ((v = cli_get(a, "quota-tokens"))) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *end || errno || v[0] == '-')
			return cli_usage_error(a, "--quota-tokens needs a non-negative integer, not '%s'", v);
		o->has_quota_tokens = 1;
		o->quota_tokens = n;
	}
	if ((v = cli_get(a, "quota-usd"))) {
		char *end;
		double d = strtod(v, &end);
		if (!*v || *end || !isfinite(d) || d < 0)
			return cli_usage_error(a, "--quota-usd needs a finite number >= 0, not '%s'", v);
		o->has_quota_usd = 1;
		o->quota_usd = d;
	}
	if ((v = cli_get(a, "max-turns"))) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (!*v || *end || errno || n < 1 || n > 1000000)
			return cli_usage_error(a, "--max-turns needs an integer from 1 to 1000000, not '%s'", v);
		o->max_turns = (int)n;
	}
	if ((v = cli_get(a, "timeout")) && !(o->timeout_ms = parse_duration(v)))
		return cli_usage_error(a, "--timeout needs a duration such as 90s, 500ms, 20m or 1h "
				       "(at most a week), not '%s'", v);
	if ((v = cli_get(a, "listen"))) {
		const char *colon = strrchr(v, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (!colon || colon == v || !colon[1] || *end || port < 0 || port > 65535)
			return cli_usage_error(a, "--listen needs IP:port, not '%s'", v);
	}
	return 0;
}

/* Layering: defaults, --config, --policy, flags (cli.md 3). */
static int layer(struct cli_args *a, struct run_opts *o, struct sl_err *err)
{
	struct run_config *c = &o->cfg;
	const char *v;
	if ((v = cli_get(a, "config")) && run_config_load(c, v, o->lua_dir, err))
		return 1;
	int n;
	char **pols = cli_all(a, "policy", &n);
	pol_init(&o->pol);
	if (pol_load_default(&o->pol, o->lua_dir, err))
		return 1;
	for (int i = 0; i < n; i++)
		if (pol_load_file(&o->pol, pols[i], o->lua_dir, err))
			return 1;
#define FLAG(field, name)                                                      \
	if ((v = cli_get(a, name))) {                                          \
		free(c->field);                                                \
		c->field = sl_xstrdup(v);                                      \
	}
	FLAG(workspace, "workspace")
	FLAG(frontend, "frontend")
	FLAG(prompt, "prompt")
	FLAG(listen, "listen")
	FLAG(llm, "llm")
	FLAG(model, "model")
	FLAG(api_key_env, "api-key-env")
	FLAG(base_url, "base-url")
	FLAG(sandbox, "sandbox")
	FLAG(journal, "journal")
#undef FLAG
	/* Quotas: flag > policy > config (costs.md 4). */
	if (!o->has_quota_tokens && o->pol.has_quota_tokens) {
		o->has_quota_tokens = 1;
		o->quota_tokens = o->pol.quota_tokens;
	} else if (!o->has_quota_tokens && c->has_quota_tokens) {
		o->has_quota_tokens = 1;
		o->quota_tokens = c->quota_tokens;
	}
	if (!o->has_quota_usd && o->pol.has_quota_usd) {
		o->has_quota_usd = 1;
		o->quota_usd = o->pol.quota_usd;
	} else if (!o->has_quota_usd && c->has_quota_usd) {
		o->has_quota_usd = 1;
		o->quota_usd = c->quota_usd;
	}
	if (!o->max_turns)
		o->max_turns = o->pol.max_turns; /* flag > policy */
	/* Lists are replaced wholesale by the last layer that sets them. */
	char **fl = cli_all(a, "allow-read", &n);
	o->read_allowlist = n ? strv_dup(fl, n)
		: o->pol.read_allowlist ? strv_dup(o->pol.read_allowlist, -1)
		: strv_dup(c->read_allowlist, -1);
	fl = cli_all(a, "allow-domain", &n);
	o->allowed_domains = n ? strv_dup(fl, n)
		: o->pol.allowed_domains ? strv_dup(o->pol.allowed_domains, -1)
		: strv_dup(c->allowed_domains, -1);
	fl = cli_all(a, "allow-risky-path", &n);
	o->allow_risky = n ? strv_dup(fl, n) : strv_dup(o->pol.allow_risky_paths, -1);
	fl = cli_all(a, "inject-credential", &n);
	if (n) {
		if (!(o->credentials = run_parse_credentials(fl, n, err)))
			return 1;
	} else if (o->pol.n_credentials) {
		o->credentials = jv_arr();
		for (size_t i = 0; i < o->pol.n_credentials; i++) {
			struct pol_credential *pc = &o->pol.credentials[i];
			struct jv *j = jv_obj();
			jv_set(j, "host", jv_str(pc->host));
			jv_set(j, "header", jv_str(pc->header));
			jv_set(j, "env", jv_str(pc->env));
			jv_set(j, "format", jv_str(pc->format ? pc->format : "{secret}"));
			jv_push(o->credentials, j);
		}
	} else {
		o->credentials = c->credentials ? jv_ref(c->credentials) : jv_arr();
	}
	if (!c->frontend)
		c->frontend = sl_xstrdup("interactive");
	if (!c->sandbox)
		c->sandbox = sl_xstrdup("auto");
	return 0;
}

static int env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

/* Cross-field validation and auto-selection (cli.md 4.2, 4.3); exit 1. */
static int validate(struct cli_args *a, struct run_opts *o)
{
	struct run_config *c = &o->cfg;
	if (!c->workspace)
		return cli_fail("either --workspace or --config is required");
	if (!c->llm) {
		if (env_set("OPENAI_API_KEY")) {
			c->llm = sl_xstrdup("openai");
			if (!c->model)
				c->model = sl_xstrdup("gpt-5");
			if (!c->api_key_env)
				c->api_key_env = sl_xstrdup("OPENAI_API_KEY");
		} else if (env_set("ANTHROPIC_API_KEY")) {
			c->llm = sl_xstrdup("anthropic");
			if (!c->model)
				c->model = sl_xstrdup("claude-sonnet-4-6");
			if (!c->api_key_env)
				c->api_key_env = sl_xstrdup("ANTHROPIC_API_KEY");
		} else {
			return cli_fail("no LLM backend: pass --llm, or set OPENAI_API_KEY or "
					"ANTHROPIC_API_KEY");
		}
		fprintf(stderr, "using LLM backend %s, model %s, key from %s\n", c->llm, c->model,
			c->api_key_env);
	}
	if (!strcmp(c->frontend, "interactive") && !o->print_access)
		return cli_fail("the interactive frontend is not built yet; use --frontend headless "
				"--prompt TEXT (or --frontend mock with --script)");
	if (!strcmp(c->frontend, "headless") && !c->prompt)
		return cli_fail("the headless frontend needs --prompt");
	if (cli_has(a, "tls-cert") != cli_has(a, "tls-key"))
		return cli_fail("--tls-cert and --tls-key must be given together");
	int mock = !strcmp(c->frontend, "mock") || !strcmp(c->llm, "mock") ||
		   !strcmp(c->sandbox, "mock");
	if (mock && !cli_get(a, "script"))
		return cli_fail("mock components need a fixture: pass --script FILE.lua");
	if (!c->model) {
		if (!strcmp(c->llm, "openai"))
			c->model = sl_xstrdup("gpt-5");
		else if (!strcmp(c->llm, "openai-ws"))
			c->model = sl_xstrdup("gpt-realtime");
		else if (strcmp(c->llm, "local"))
			c->model = sl_xstrdup("claude-sonnet-4-6");
	}
	return 0;
}

static void warnings(struct run_opts *o)
{
	for (size_t i = 0; i < jv_len(o->credentials); i++) {
		const char *host = jv_get_str(jv_at(o->credentials, i), "host");
		int covered = 0;
		for (char **d = o->allowed_domains; d && *d; d++)
			covered |= pol_domain_match(*d, host);
		if (!covered)
			fprintf(stderr, "warning: credential for %s is never used: no allowed domain "
					"covers it (add --allow-domain %s)\n", host, host);
	}
	const char *llm = o->cfg.llm;
	if ((!strcmp(llm, "anthropic") || !strcmp(llm, "openai") || !strcmp(llm, "openai-ws")) &&
	    !o->has_quota_tokens && !o->has_quota_usd)
		fprintf(stderr, "warning: %s is a paid backend and no quota is set; consider "
				"--quota-usd or --quota-tokens\n", llm);
	for (char **r = o->allow_risky; r && *r; r++) {
		char *rc = sl_canon_lenient(*r);
		int used = 0;
		for (char **e = o->read_allowlist; e && *e; e++) {
			char *ec = sl_canon_lenient(*e);
			used |= !strcmp(ec, rc);
			free(ec);
		}
		free(rc);
		if (!used)
			fprintf(stderr, "warning: --allow-risky-path %s matches no --allow-read entry "
					"and has no effect\n", *r);
	}
}

/* The frontends sit above the harness, so the harness asks for one. */
static struct fe *frontend_new(struct ag_session *s, const struct run_opts *o, struct fx *fx)
{
	if (!strcmp(o->cfg.frontend, "headless"))
		return fe_headless_new(s, o->cfg.prompt, o->headless_output);
	if (!strcmp(o->cfg.frontend, "mock"))
		return fe_mock_new(s, fx);
	return NULL;
}

int cmd_run(struct cli_args *a)
{
	struct run_opts o = { 0 };
	struct sl_err err = { 0 };
	int rc = check_flags(a, &o);
	if (rc)
		return rc;
	if (cli_has(a, "quiet") && cli_get(a, "output"))
		return cli_usage_error(a, "--quiet and --output exclude each other");
	if (!(o.lua_dir = sl_res_find(SL_RES_LUA, &err)))
		return cli_fail("%s", err.msg);
	o.script = cli_get(a, "script");
	o.deterministic = cli_has(a, "deterministic");
	o.create = cli_has(a, "create");
	o.mock_proxy = cli_has(a, "mock-proxy");
	o.print_access = cli_has(a, "print-access");
	o.headless_output = cli_has(a, "quiet") ? FE_HL_QUIET
		: cli_get(a, "output") && !strcmp(cli_get(a, "output"), "json") ? FE_HL_JSON
										: FE_HL_PROGRESS;
	if (layer(a, &o, &err)) {
		rc = err.msg[0] ? cli_fail("%s", err.msg) : 1;
		run_opts_free(&o);
		return rc;
	}
	if ((rc = validate(a, &o))) {
		run_opts_free(&o);
		return rc;
	}
	warnings(&o);
	if (!(o.state = cli_state_dir(&err))) {
		run_opts_free(&o);
		return cli_fail("%s", err.msg);
	}
	o.frontend_new = frontend_new;
	rc = run_session(&o);
	run_opts_free(&o);
	return rc;
}
