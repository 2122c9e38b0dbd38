/* lh_match.c against Lua's own lstrlib: the same Lua code run in a plain
 * state and in a sandboxed one must give identical results and error
 * messages; and a catastrophic backtracking pattern ends with the budget
 * error instead of running for hours. */
#include <lualib.h>
#include <stdio.h>

#include "lhtest.h"

static const char *probe =
	"local cases = {\n"
	"  {'hello world', 'o'}, {'hello world', '(o)(r)'}, {'hello', 'l+'}, {'hello', 'l*'},\n"
	"  {'hello', 'l-'}, {'hello', 'l?'}, {'hello', 'xl?'}, {'hello', '^h'}, {'hello', '^e'},\n"
	"  {'hello', 'o$'}, {'hel$lo', 'l$l'}, {'hello', '%a+'}, {' x = 1 ', '^%s*(.-)%s*$'},\n"
	"  {'THE (quick) fox', '%((%a+)%)'}, {'f(a(b)c)d', '%b()'}, {'f(a(b c', '%b()'},\n"
	"  {'THE (quick) fox', '%f[%a]%a+'}, {'abcabc', '(abc)%1'}, {'abcabd', '(ab)c%1d'},\n"
	"  {'key=val; k2=v2', '(%w+)=(%w+)'}, {'[[x]]', '%[(.-)%]'}, {'a.b.c', '[^.]+'},\n"
	"  {'a-b', '[a-]'}, {'x]y', '[]]'}, {'x]y', '[^]]+'}, {'ab12', '[%d]+'},\n"
	"  {'hello', '()ll()'}, {'', '.*'}, {'abc', ''}, {'aaa', 'a-b'}, {'Ab', '[A-Z]%l'},\n"
	"  {'a+b', 'a+b'}, {'a.b', '.'}, {'%d', '%%d'}, {'tab\\tsep', '%c'}, {'UP low', '%u+'},\n"
	"  {'x1_y', '[%w_]+'}, {'0x1F', '%x+'}, {'!?', '%p+'}, {'a b', '%S+'}, {'aaa', 'a*$'},\n"
	"  {'data: {\"a\":1}\\n\\n', '^data: ?(.-)\\n'}, {'one two  three', '%s+'},\n"
	"  {'caf\\195\\169', '[\\128-\\255]+'}, {'((a))', '(%((%b()))%))'}, {'ab', '(a)(b)()'},\n"
	"  {'THE END', '%f[%w]%w+%f[%W]'}, {'x', '[a-c-e]'}, {'-', '[a-c-e]'}, {'\\0a\\0', 'a'},\n"
	"  {'abc', '[%a-z]'}, {'aXb', '%f[%u]'}, {'foo.bar', 'o%.b'}, {'aaab', 'a-ab'},\n"
	"}\n"
	"local bad = { '[a', '%', '(()', '%b', '%f', '(%1)', '%2', '(', ')', 'a%', '%f(' }\n"
	"local out = {}\n"
	"local function add(...) local t = table.pack(...) for i = 1, t.n do t[i] = tostring(t[i]) end\n"
	"  out[#out + 1] = table.concat(t, ',', 1, t.n) end\n"
	"local tbl = { hello = 'HI', o = 0, l = false }\n"
	"for _, c in ipairs(cases) do\n"
	"  local s, p = c[1], c[2]\n"
	"  add(pcall(string.find, s, p)) add(pcall(string.find, s, p, 2)) add(pcall(string.find, s, p, -2))\n"
	"  add(pcall(string.find, s, p, 1, true)) add(pcall(string.find, s, p, 100))\n"
	"  add(pcall(string.match, s, p)) add(pcall(string.match, s, p, 3))\n"
	"  local g = {} local ok, e = pcall(function() for a, b in s:gmatch(p) do g[#g + 1] = tostring(a) .. '|' .. tostring(b) end end)\n"
	"  add(ok, e, table.concat(g, ';'))\n"
	"  add(pcall(string.gsub, s, p, '<%0>')) add(pcall(string.gsub, s, p, '[%1]', 2))\n"
	"  add(pcall(string.gsub, s, p, function(a, b) return b and (a .. b) or nil end))\n"
	"  add(pcall(string.gsub, s, p, tbl)) add(pcall(string.gsub, s, p, 7))\n"
	"end\n"
	"for _, p in ipairs(bad) do add(pcall(string.find, 'abc', p)) add(pcall(string.gsub, 'abc', p, 'x')) end\n"
	"add(pcall(string.gsub, 'abc', 'b', '%9')) add(pcall(string.gsub, 'abc', 'b', '%x'))\n"
	"add(pcall(string.gsub, 'abc', 'b', {b = {}})) add(pcall(string.gsub, 'abc', 'b', true))\n"
	"add(pcall(string.gsub, 'abc', '^', '>')) add(pcall(string.gsub, 'abc', '$', '<'))\n"
	"add(pcall(string.gsub, 'abc', '', '-')) add(pcall(string.gsub, 'hello world', 'o', 'O', 0))\n"
	"local it = ('a,b,,c'):gmatch('([^,]*)') local g = {} for v in it do g[#g+1] = '<' .. v .. '>' end add(table.concat(g))\n"
	"g = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)', 4) do g[#g+1] = k .. v end add(table.concat(g))\n"
	"add(('x'):rep(3):gsub('x', '%%'))\n"
	"return table.concat(out, '\\n')\n";

static char *run_plain(void)
{
	lua_State *L = luaL_newstate();
	char *r;

	luaL_openlibs(L);
	if (luaL_loadbuffer(L, probe, strlen(probe), "@probe.lua") || lua_pcall(L, 0, 1, 0))
		r = sl_xasprintf("ERR %s", lua_tostring(L, -1));
	else
		r = sl_xstrdup(lua_tostring(L, -1));
	lua_close(L);
	return r;
}

static char *run_sandboxed(void)
{
	struct sl_err err = { 0 };
	struct lh_state *st = lh_new(LH_TOOL, NULL, NULL, NULL, &err);
	char *src = sl_xasprintf("return { f = function() %s end }", probe);
	struct jv *ret = NULL;
	int ref;
	char *r;

	if (lh_load_string(st, "probe.lua", src, strlen(src), &ref, &err) ||
	    lh_call_field(st, ref, "f", NULL, 0, &ret, &err))
		r = sl_xasprintf("ERR %s", err.msg);
	else
		r = sl_xstrdup(jv_str_val(ret) ? jv_str_val(ret) : "?");
	jv_unref(ret);
	free(src);
	lh_free(st);
	return r;
}

TEST(matcher_agrees_with_lstrlib)
{
	char *a = run_plain(), *b = run_sandboxed();
	char *pa = a, *pb = b;
	int line = 1;

	/* Report the first differing line. */
	while (*pa && *pa == *pb) {
		if (*pa == '\n')
			line++;
		pa++;
		pb++;
	}
	if (*pa || *pb) {
		char la[200], lb[200];

		sscanf(pa, "%199[^\n]", la);
		sscanf(pb, "%199[^\n]", lb);
		printf("# line %d differs: lua \"%s\" vs silo \"%s\"\n", line, la, lb);
	}
	CHECK(strcmp(a, b) == 0);
	CHECK(strlen(a) > 2000);
	free(a);
	free(b);
}

TEST(backtracking_is_budgeted)
{
	struct sl_err err = { 0 };
	struct lh_limits lim = { .instr_per_call = 20000000 };
	struct lh_state *st = lh_new(LH_REVIEW, &lim, NULL, NULL, &err);

	CHECK_EVAL(st, "return ('a'):rep(40):find(('a*'):rep(8) .. 'b')",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "for i = 1, 10 do pcall(string.match, ('a'):rep(40), ('a*'):rep(8) .. 'b') end"
		       " return 'swallowed'",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local line = '[' .. (' '):rep(200000)"
		       " return line:match('^%s*%[+%s*([^%]]-)%s*%]+')",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "return select(2, ('x'):rep(100000):gsub('x', 'y'))", "100000");
	lh_free(st);
}
