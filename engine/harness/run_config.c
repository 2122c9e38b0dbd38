/*
 * `--config FILE.lua` (cli.md 3.1): a data-only Lua chunk in an empty
 * environment that returns a table. Unknown keys and wrong types are errors
 * naming the file and key (exit 1).
 */
#include "harness/run_config.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"

char **strv_dup(char *const *v, int n)
{
	if (n < 0)
		for (n = 0; v && v[n]; n++)
			;
	char **out = sl_xcalloc((size_t)n + 1, sizeof *out);
	for (int i = 0; i < n; i++)
		out[i] = sl_xstrdup(v[i]);
	return out;
}

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

int strv_len(char *const *v)
{
	int n = 0;
	while (v && v[n])
		n++;
	return n;
}

void run_config_free(struct run_config *c)
{
	char **strs[] = { &c->harness_id, &c->workspace, &c->llm, &c->model, &c->api_key_env,
			  &c->base_url, &c->local_cmd, &c->system_prompt, &c->sandbox,
			  &c->frontend, &c->prompt, &c->listen, &c->journal, &c->scratch_root };
	for (size_t i = 0; i < SL_ARRAY_LEN(strs); i++)
		free(*strs[i]);
	strv_free(c->read_allowlist);
	strv_free(c->allowed_domains);
	jv_unref(c->credentials);
	memset(c, 0, sizeof *c);
}

struct key {
	const char *path; /* dotted */
	enum jv_type type;
	size_t off;       /* offset of a char* field, or (size_t)-1 */
};

#define F(field) offsetof(struct run_config, field)
static const struct key keys[] = {
	{ "harness_id", JV_STRING, F(harness_id) },
	{ "workspace", JV_STRING, F(workspace) },
	{ "llm.backend", JV_STRING, F(llm) },
	{ "llm.model", JV_STRING, F(model) },
	{ "llm.api_key_env", JV_STRING, F(api_key_env) },
	{ "llm.base_url", JV_STRING, F(base_url) },
	{ "llm.local_server_command", JV_STRING, F(local_cmd) },
	{ "llm.system_prompt", JV_STRING, F(system_prompt) },
	{ "llm.max_tokens", JV_INT, (size_t)-1 },
	{ "llm.pricing", JV_OBJECT, (size_t)-1 },
	{ "llm.quota", JV_OBJECT, (size_t)-1 },
	{ "sandbox.kind", JV_STRING, F(sandbox) },
	{ "sandbox.read_allowlist", JV_ARRAY, (size_t)-1 },
	{ "sandbox.scratch_root", JV_STRING, F(scratch_root) },
	{ "sandbox.proxy.allowed_domains", JV_ARRAY, (size_t)-1 },
	{ "sandbox.proxy.credentials", JV_ARRAY, (size_t)-1 },
	{ "frontend.kind", JV_STRING, F(frontend) },
	{ "frontend.listen_addr", JV_STRING, F(listen) },
	{ "frontend.headless_prompt", JV_STRING, F(prompt) },
	{ "frontend.headless_reminders", JV_INT, (size_t)-1 },
	{ "frontend.issue_pairing_code", JV_BOOL, (size_t)-1 },
	{ "frontend.tls_cert_path", JV_STRING, (size_t)-1 },
	{ "frontend.tls_key_path", JV_STRING, (size_t)-1 },
	{ "logging.journal_path", JV_STRING, F(journal) },
};
#undef F

static const char *type_name(enum jv_type t)
{
	static const char *n[] = { "null", "boolean", "integer", "number", "string", "list", "table" };
	return n[t];
}

static char **str_list(const struct jv *a, const char *file, const char *key, struct sl_err *err)
{
	char **out = sl_xcalloc(jv_len(a) + 1, sizeof *out);
	for (size_t i = 0; i < jv_len(a); i++) {
		if (!jv_is(jv_at(a, i), JV_STRING)) {
			sl_err_set(err, SL_EPARSE, "config %s: %s[%zu] must be a string", file, key,
				   i + 1);
			strv_free(out);
			return NULL;
		}
		out[i] = sl_xstrdup(jv_str_val(jv_at(a, i)));
	}
	return out;
}

/* Walks the table: every leaf must be a known key of the right type. */
static int check(struct run_config *c, const struct jv *t, const char *prefix, const char *file,
		 struct sl_err *err)
{
	for (size_t i = 0; i < jv_len(t); i++) {
		char path[256];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", jv_key_at(t, i));
		const struct jv *v = jv_val_at(t, i);
		const struct key *k = NULL;
		for (size_t j = 0; j < SL_ARRAY_LEN(keys); j++)
			if (!strcmp(keys[j].path, path))
				k = &keys[j];
		if (!k) {
			size_t n = strlen(path);
			int group = 0;
			for (size_t j = 0; j < SL_ARRAY_LEN(keys); j++)
				if (!strncmp(keys[j].path, path, n) && keys[j].path[n] == '.')
					group = 1;
			if (group && jv_is(v, JV_OBJECT)) {
				if (check(c, v, path, file, err))
					return SL_EPARSE;
				continue;
			}
			return sl_err_set(err, SL_EPARSE, "config %s: unknown key '%s'", file, path);
		}
		enum jv_type have = jv_type(v);
		if (have == JV_OBJECT && !jv_len(v) && k->type == JV_ARRAY)
			have = JV_ARRAY; /* an empty Lua table is a fine empty list */
		if (have == JV_FLOAT && k->type == JV_INT && jv_num_val(v) == floor(jv_num_val(v)))
			have = JV_INT;
		if (have != k->type)
			return sl_err_set(err, SL_EPARSE, "config %s: '%s' must be a %s, not a %s",
					  file, path, type_name(k->type), type_name(jv_type(v)));
		if (k->off != (size_t)-1) {
			char **field = (char **)((char *)c + k->off);
			free(*field);
			*field = sl_xstrdup(jv_str_val(v));
		} else if (!strcmp(path, "llm.max_tokens")) {
			c->max_tokens = jv_int_val(v);
		} else if (!strcmp(path, "frontend.headless_reminders")) {
			if (jv_int_val(v) < 0 || jv_int_val(v) > 1000)
				return sl_err_set(err, SL_EPARSE,
						  "config %s: '%s' must be from 0 to 1000", file, path);
			c->has_reminders = 1;
			c->reminders = (int)jv_int_val(v);
		} else if (!strcmp(path, "llm.pricing")) {
			c->has_pricing = 1;
			c->price_in = jv_num_val(jv_get(v, "usd_per_million_input_tokens"));
			c->price_out = jv_num_val(jv_get(v, "usd_per_million_output_tokens"));
		} else if (!strcmp(path, "llm.quota")) {
			const struct jv *t1 = jv_get(v, "max_total_tokens"), *u = jv_get(v, "max_usd");
			if (t1) {
				c->has_quota_tokens = 1;
				c->quota_tokens = (uint64_t)jv_int_val(t1);
			}
			if (u) {
				c->has_quota_usd = 1;
				c->quota_usd = jv_num_val(u);
			}
		} else if (!strcmp(path, "sandbox.read_allowlist")) {
			strv_free(c->read_allowlist);
			if (!(c->read_allowlist = str_list(v, file, path, err)))
				return SL_EPARSE;
		} else if (!strcmp(path, "sandbox.proxy.allowed_domains")) {
			strv_free(c->allowed_domains);
			if (!(c->allowed_domains = str_list(v, file, path, err)))
				return SL_EPARSE;
		} else if (!strcmp(path, "sandbox.proxy.credentials")) {
			jv_unref(c->credentials);
			c->credentials = jv_copy(v);
		}
	}
	return 0;
}

int run_config_load(struct run_config *c, const char *path, const char *lua_dir,
		    struct sl_err *err)
{
	struct lh_services svc = { 0 };
	struct lh_state *st = lh_new(LH_CONFIG, NULL, &svc, lua_dir, err);
	if (!st)
		return SL_EINVAL;
	int ref, rc = lh_load_file(st, path, &ref, err);
	if (rc) {
		lh_free(st);
		return rc;
	}
	lua_State *L = lh_L(st);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	struct jv *t = lh_to_jv(L, -1, 0, err);
	lua_pop(L, 1);
	lh_free(st);
	if (!t) {
		sl_err_prefix(err, "config %s", path);
		return SL_EPARSE;
	}
	rc = check(c, t, "", path, err);
	jv_unref(t);
	return rc;
}

struct jv *run_parse_credentials(char *const *flags, int n, struct sl_err *err)
{
	struct jv *arr = jv_arr();
	for (int i = 0; i < n; i++) {
		const char *s = flags[i];
		const char *c1 = strchr(s, ':');
		if (c1 && c1[1] >= '0' && c1[1] <= '9') { /* host:port:header:... */
			const char *q = c1 + 1;
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == ':')
				c1 = q;
		}
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
		size_t envlen = c2 ? (c3 ? (size_t)(c3 - c2 - 1) : strlen(c2 + 1)) : 0;
		if (!c1 || !c2 || c1 == s || c2 == c1 + 1 || !envlen) {
			jv_unref(arr);
			sl_err_set(err, SL_EUSAGE,
				   "--inject-credential '%s': expected host[:port]:header:ENV_VAR[:format]",
				   s);
			return NULL;
		}
		struct jv *c = jv_obj();
		jv_set(c, "host", jv_strn(s, (size_t)(c1 - s)));
		jv_set(c, "header", jv_strn(c1 + 1, (size_t)(c2 - c1 - 1)));
		jv_set(c, "env", jv_strn(c2 + 1, envlen));
		jv_set(c, "format", jv_str(c3 ? c3 + 1 : "{secret}"));
		jv_push(arr, c);
	}
	return arr;
}
