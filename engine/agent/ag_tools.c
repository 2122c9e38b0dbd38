/*
 * The tool registry (spec/tools.md 1). Tools are Lua tables (decisions 1)
 * loaded from lua/tools/ (one file a tool) and from policy files. Running
 * one call is ag_call.c's.
 */
#include "agent/ag.h"

#include <dirent.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "luahost/lh.h"
#include "policy/pol.h"

/* ---- registry ------------------------------------------------------------- */

static char *field_str(lua_State *L, int idx, const char *k)
{
	lua_getfield(L, idx, k);
	char *v = lua_type(L, -1) == LUA_TSTRING ? sl_xstrdup(lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	return v;
}

void ag_tool_clear(struct ag_tool *t)
{
	free(t->name);
	free(t->description);
	free(t->source);
	jv_unref(t->schema);
	if (t->frontends)
		for (char **f = t->frontends; *f; f++)
			free(*f);
	free(t->frontends);
	memset(t, 0, sizeof *t);
}

static int add_tool(struct ag_session *s, struct lh_state *st, int ref, const char *src,
		    struct sl_err *err)
{
	lua_State *L = lh_L(st);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref); /* tool */
	int t = lua_gettop(L);
	struct ag_tool tool = { 0 };
	tool.name = field_str(L, t, "name");
	tool.description = field_str(L, t, "description");
	char *owner = field_str(L, t, "owner");
	char *agents = field_str(L, t, "agents");
	lua_getfield(L, t, "run");
	int has_run = lua_isfunction(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, t, "schema");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_getfield(L, t, "input_schema");
	}
	struct sl_err cerr = { 0 };
	tool.schema = lua_istable(L, -1) ? lh_to_jv(L, -1, 0, &cerr) : NULL;
	lua_pop(L, 1);
	lua_getfield(L, t, "frontends");
	if (lua_istable(L, -1)) {
		size_t n = lua_rawlen(L, -1);
		tool.frontends = sl_xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			tool.frontends[i] = sl_xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 2); /* frontends, tool */
	const char *bad = !tool.name ? "missing string field 'name'"
		: !tool.description ? "missing string field 'description'"
		: !tool.schema ? "missing table field 'schema'"
		: !has_run ? "missing function field 'run'"
		: !owner || (strcmp(owner, "sandbox") && strcmp(owner, "frontend") &&
			     strcmp(owner, "harness"))
			? "field 'owner' must be sandbox, frontend or harness"
		: !agents || (strcmp(agents, "top") && strcmp(agents, "sub") &&
			      strcmp(agents, "both"))
			? "field 'agents' must be top, sub or both"
			: NULL;
	tool.owner = !owner ? AG_OWNER_HARNESS : !strcmp(owner, "sandbox") ? AG_OWNER_SANDBOX
		: !strcmp(owner, "frontend") ? AG_OWNER_FRONTEND : AG_OWNER_HARNESS;
	free(owner);
	if (bad) {
		sl_err_set(err, SL_EPARSE, "tool %s: %s", src, bad);
		free(agents);
		ag_tool_clear(&tool);
		return SL_EPARSE;
	}
	tool.avail = !strcmp(agents, "top") ? AG_AVAIL_TOP
		: !strcmp(agents, "sub") ? AG_AVAIL_SUB : AG_AVAIL_BOTH;
	free(agents);
	jv_sort_keys(tool.schema);
	tool.lua = st;
	tool.ref = ref;
	tool.source = sl_xstrdup(src);
	/* A later definition (policy) replaces a shipped tool of the same name. */
	for (size_t i = 0; i < s->n_tools; i++)
		if (!strcmp(s->tools[i].name, tool.name)) {
			ag_tool_clear(&s->tools[i]);
			s->tools[i] = tool;
			return 0;
		}
	s->tools = sl_xrealloc(s->tools, (s->n_tools + 1) * sizeof *s->tools);
	s->tools[s->n_tools++] = tool;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ag_tools_load(struct ag_session *s, struct sl_err *err)
{
	struct lh_services svc;
	ag__services(s, &svc);
	s->tools_lua = lh_new(LH_TOOL, NULL, &svc, s->opt.lua_dir, err);
	if (!s->tools_lua)
		return SL_EINVAL;
	char *dir = sl_xasprintf("%s/tools", s->opt.lua_dir);
	DIR *d = opendir(dir);
	if (!d) {
		sl_err_set(err, SL_EIO, "cannot open tool directory %s", dir);
		free(dir);
		return SL_EIO;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".lua")) {
			names = sl_xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = sl_xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	free(dir);
	qsort(names, n, sizeof *names, cmp_str);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int ref;
		if (!rc && (rc = lh_load_file(s->tools_lua, names[i], &ref, err)) == 0)
			rc = add_tool(s, s->tools_lua, ref, names[i], err);
		free(names[i]);
	}
	free(names);
	if (rc)
		return rc;
	/* Policy tools run in the policy's state; route its primitives here. */
	if (s->policy && s->policy->lua)
		lh_set_services(s->policy->lua, &svc);
	if (s->policy && s->policy->lua)
		for (size_t i = 0; i < s->policy->n_tool_refs; i++)
			if ((rc = add_tool(s, s->policy->lua, s->policy->tool_refs[i], "policy",
					   err)))
				return rc;
	if (s->policy && s->policy->disable_tools)
		for (char **dn = s->policy->disable_tools; *dn; dn++)
			for (size_t i = 0; i < s->n_tools; i++)
				if (!strcmp(s->tools[i].name, *dn))
					s->tools[i].avail = 0;
	return 0;
}

const struct ag_tool *ag_tool_find(struct ag_session *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_tools; i++)
		if (!strcmp(s->tools[i].name, name))
			return &s->tools[i];
	return NULL;
}

const char *ag_owner_name(enum ag_owner o)
{
	static const char *const names[] = {
#define XX(n, s) s,
		AG_OWNER_MAP(XX)
#undef XX
	};
	return (unsigned)o < AG_OWNER__COUNT ? names[o] : "?";
}

int ag_tool_offered(const struct ag_session *s, const struct ag_tool *t, enum ag_kind kind)
{
	if (!(t->avail & (kind == AG_KIND_TOP ? AG_AVAIL_TOP : AG_AVAIL_SUB)))
		return 0;
	if (!t->frontends)
		return 1;
	for (char **f = t->frontends; *f; f++)
		if (!strcmp(*f, s->opt.frontend_kind))
			return 1;
	return 0;
}

struct jv *ag_tool_defs(struct ag_session *s, enum ag_kind kind)
{
	struct jv *defs = jv_arr();
	for (size_t i = 0; i < s->n_tools; i++) {
		const struct ag_tool *t = &s->tools[i];
		if (!ag_tool_offered(s, t, kind))
			continue;
		struct jv *d = jv_obj();
		jv_set(d, "name", jv_str(t->name));
		jv_set(d, "description", jv_str(t->description));
		jv_set(d, "input_schema", jv_ref(t->schema));
		jv_set(d, "availability", jv_str(t->avail == AG_AVAIL_BOTH ? "both"
						 : t->avail == AG_AVAIL_TOP ? "top_level_only"
									    : "subagent_only"));
		jv_push(defs, d);
	}
	return defs;
}
