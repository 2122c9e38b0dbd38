/* Lua host sandboxing: globals per kind, frozen API, restricted load and
 * require, and every hostile case (runaway loops, pcall tricks, memory
 * bombs, binary chunks, secrets, deep recursion) ending in a named error. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lhtest.h"

static struct lh_limits small = { .mem_bytes = 8u << 20, .instr_per_call = 2000000,
				  .instr_load = 1000000 };

static char notes[4096];

static void note_cb(void *ud, const char *msg)
{
	SL_UNUSED(ud);
	snprintf(notes + strlen(notes), sizeof(notes) - strlen(notes), "%s|", msg);
}

static int64_t fake_now(void *ud)
{
	SL_UNUSED(ud);
	return 86400000LL * 365 + 1500; /* 1971-01-01T00:00:01.5Z */
}

static struct lh_services svc = { .note = note_cb, .now_ms = fake_now, .deterministic = 1 };

static struct lh_state *mk(enum lh_kind k)
{
	struct sl_err err = { 0 };
	struct lh_state *st = lh_new(k, &small, &svc, NULL, &err);

	if (!st)
		printf("# lh_new: %s\n", err.msg);
	return st;
}

TEST(globals_tool)
{
	struct lh_state *st = mk(LH_TOOL);

	CHECK_EVAL(st, "return {type(io), type(debug), type(package), type(dofile),"
		       " type(loadfile), type(os.execute), type(os.getenv), type(os.exit)}",
		   "[\"nil\",\"nil\",\"nil\",\"nil\",\"nil\",\"nil\",\"nil\",\"nil\"]");
	CHECK_EVAL(st, "return {os.time(), os.date('!%Y-%m-%d', os.time()), os.clock()}",
		   "[31536001,\"1971-01-01\",0.0]");
	CHECK_EVAL(st, "return os.time{year=2000, month=1, day=1, hour=0}", "946684800");
	CHECK_EVAL(st, "return silo.clock.now_ms()", "31536001500");
	CHECK_EVAL(st, "return {type(silo.helper.exec), type(silo.agent.spawn),"
		       " type(silo.frontend.ask), type(silo.session.shutdown), type(silo.http),"
		       " type(silo.secret), type(math.random)}",
		   "[\"function\",\"function\",\"function\",\"function\",\"nil\",\"nil\","
		   "\"function\"]");
	CHECK_EVAL(st, "return getmetatable('')", "false");
	CHECK_EVAL(st, "return getmetatable(silo)", "false");
	lh_free(st);
}

TEST(globals_other_kinds)
{
	struct lh_state *st = mk(LH_POLICY);

	CHECK_EVAL(st, "return {type(os), type(math.random), type(math.randomseed),"
		       " type(silo.clock), type(silo.json.encode), type(silo.helper.read)}",
		   "[\"nil\",\"nil\",\"nil\",\"nil\",\"function\",\"function\"]");
	lh_free(st);
	st = mk(LH_FIXTURE);
	CHECK_EVAL(st, "return {type(silo), type(os), type(json.null), type(math.random),"
		       " type(string.format)}",
		   "[\"nil\",\"nil\",\"userdata\",\"nil\",\"function\"]");
	lh_free(st);
	st = mk(LH_REVIEW);
	CHECK_EVAL(st, "return {type(os), type(silo.helper), type(silo.utf8.lossy)}",
		   "[\"nil\",\"nil\",\"function\"]");
	lh_free(st);
	st = mk(LH_CONFIG);
	{
		struct sl_err err = { 0 };
		const char *src = "return { t = type, p = print, s = string, x = 1 }";
		int ref;
		struct jv *ret = NULL;

		CHECK(lh_load_string(st, "cfg.lua", src, strlen(src), &ref, &err) == 0);
		/* Everything but x is nil: the environment is empty. */
		lua_State *L = lh_L(st);
		lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
		ret = lh_to_jv(L, -1, 0, &err);
		lua_pop(L, 1);
		char *s = jv_to_string(ret, JV_EMIT_SORTED);
		CHECK_STR(s, "{\"x\":1}");
		free(s);
		jv_unref(ret);
		lh_unref(st, ref);
	}
	lh_free(st);
}

TEST(new_globals_rejected)
{
	struct lh_state *st = mk(LH_TOOL);
	struct sl_err err = { 0 };
	const char *src = "x = 1\nreturn {}";
	int ref;

	CHECK(lh_load_string(st, "g.lua", src, strlen(src), &ref, &err) != 0);
	CHECK(strstr(err.msg, "g.lua:1:") != NULL);
	CHECK(strstr(err.msg, "assignment to undeclared global 'x'") != NULL);
	CHECK_EVAL_HAS(st, "function helper() end", "assignment to undeclared global 'helper'");
	CHECK_EVAL(st, "local x = 1; x = x + 1; return x", "2");
	CHECK_EVAL_HAS(st, "silo.json = nil", "read-only");
	CHECK_EVAL_HAS(st, "string.rep = nil", "read-only");
	CHECK_EVAL_HAS(st, "rawset(string, 'rep', nil)", "table expected");
	CHECK_EVAL_HAS(st, "setmetatable(_ENV, {})", "protected metatable");
	/* The frozen tables still enumerate. */
	CHECK_EVAL(st, "local n = 0 for k in pairs(silo.agent) do n = n + 1 end return n", "2");
	lh_free(st);
}

TEST(runaway_loops)
{
	struct lh_state *st = mk(LH_TOOL);
	struct sl_err err = { 0 };
	const char *src = "while true do end";
	int ref;

	CHECK_EVAL(st, "while true do end", "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "for i = 1, 100 do pcall(function() while true do end end) end "
		       "return 'survived'",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "while true do pcall(function() while true do end end) end",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local ok = xpcall(function() while true do end end,"
		       " function() while true do end end) return ok",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local co = coroutine.wrap(function() while true do end end)"
		       " pcall(co) return 1",
		   "ERR: test.lua: instruction budget exceeded");
	/* Loading has its own, shorter budget and names the file. */
	CHECK(lh_load_string(st, "loop.lua", src, strlen(src), &ref, &err) == SL_ELIMIT);
	CHECK_STR(err.msg, "loop.lua: instruction budget exceeded");
	/* The state is still usable afterwards. */
	CHECK_EVAL(st, "local s = 0 for i = 1, 1000 do s = s + i end return s", "500500");
	lh_free(st);
}

TEST(memory_bombs)
{
	struct lh_state *st = mk(LH_TOOL);

	CHECK_EVAL(st, "local s = string.rep('x', 1 << 30) return #s",
		   "ERR: test.lua: memory limit exceeded");
	CHECK_EVAL(st, "pcall(string.rep, 'x', 1 << 30) return 'caught'",
		   "ERR: test.lua: memory limit exceeded");
	CHECK_EVAL(st, "local t = {} for i = 1, 1e8 do t[i] = i end return #t",
		   "ERR: test.lua: memory limit exceeded");
	CHECK_EVAL(st, "local t = {} pcall(function() for i = 1, 1e8 do t[#t+1] = {i} end end)"
		       " t = nil collectgarbage() return 'caught'",
		   "ERR: test.lua: memory limit exceeded");
	CHECK_EVAL(st, "local s = 'x' for i = 1, 40 do s = s .. s end return #s",
		   "ERR: test.lua: memory limit exceeded");
	/* Recovery: garbage is collectable and the next call works. */
	CHECK_EVAL(st, "collectgarbage() return #string.rep('y', 1000)", "1000");
	lh_free(st);
}

TEST(binary_chunks)
{
	struct lh_state *st = mk(LH_TOOL);
	struct sl_err err = { 0 };
	const char bin[] = "\x1bLua\x54\x00 junk";
	int ref;

	CHECK_EVAL_HAS(st, "local f, e = load(string.dump(function() return 1 end)) "
			   "return e",
		       "attempt to load a binary chunk");
	CHECK_EVAL_HAS(st, "return load('return 1', 'x', 'b')", "binary chunks are not allowed");
	CHECK(lh_load_string(st, "bin.lua", bin, sizeof(bin) - 1, &ref, &err) == SL_EPARSE);
	CHECK(strstr(err.msg, "binary") != NULL);
	/* Text load works, with a given env or a fresh one. */
	CHECK_EVAL(st, "return load('return x', 'c', 't', {x = 5})()", "5");
	CHECK_EVAL_HAS(st, "return load('y = 1')()", "assignment to undeclared global 'y'");
	CHECK_EVAL(st, "local f, e = load('return +') return e ~= nil", "true");
	lh_free(st);
}

TEST(no_escape_hatches)
{
	struct lh_state *st = mk(LH_TOOL);

	CHECK_EVAL_HAS(st, "return io.open('/etc/passwd')", "attempt to index a nil value");
	CHECK_EVAL_HAS(st, "return os.execute('true')", "attempt to call a nil value");
	CHECK_EVAL_HAS(st, "return debug.getinfo(1)", "attempt to index a nil value");
	CHECK_EVAL_HAS(st, "return package.loadlib('x', 'y')", "attempt to index a nil value");
	CHECK_EVAL_HAS(st, "return require('io')", "module 'io' not found");
	CHECK_EVAL_HAS(st, "return require('../../etc/passwd')", "invalid module name");
	CHECK_EVAL(st, "return collectgarbage('count') > 0", "true");
	CHECK_EVAL_HAS(st, "return collectgarbage('stop')", "invalid option");
	CHECK_EVAL(st, "return silo.secret", "null"); /* backend states only */
	lh_free(st);
}

TEST(deep_recursion)
{
	struct sl_err err = { 0 };
	struct lh_limits lim = { .instr_per_call = 50000000 };
	struct lh_state *st = lh_new(LH_TOOL, &lim, NULL, NULL, &err);

	CHECK_EVAL_HAS(st, "local function f(n) return f(n + 1) + 1 end return f(1)",
		       "stack overflow");
	CHECK_EVAL_HAS(st, "local t = setmetatable({}, {__index = function(t, k) return t[k] end})"
			   " return t.x",
		       "stack overflow");
	CHECK_EVAL_HAS(st, "local function f(s) return (s:gsub('.', f)) end return f('x')",
		       "stack overflow");
	CHECK_EVAL(st, "return 1 + 1", "2");
	lh_free(st);
}

TEST(secrets)
{
	struct sl_err err = { 0 };
	struct lh_state *st;

	setenv("LHTEST_KEY", "sk-very-secret", 1);
	unsetenv("LHTEST_MISSING");
	CHECK(lh_secret_allow("LHTEST_KEY", &err) == 0);
	CHECK(lh_secret_allow("LHTEST_MISSING", &err) == SL_ENOENT);
	CHECK(lh_secret_allow("BAD NAME", &err) == SL_EINVAL);
	st = mk(LH_BACKEND);
	CHECK_EVAL(st, "return tostring(silo.secret('LHTEST_KEY'))", "\"[redacted]\"");
	CHECK_EVAL(st, "return silo.json.encode({k = silo.secret('LHTEST_KEY')})",
		   "\"{\\\"k\\\":\\\"[redacted]\\\"}\"");
	CHECK_EVAL_HAS(st, "return silo.secret('LHTEST_KEY').value", "has no fields");
	CHECK_EVAL_HAS(st, "return 'Bearer ' .. silo.secret('LHTEST_KEY')", "cannot be concatenated");
	CHECK_EVAL(st, "return getmetatable(silo.secret('LHTEST_KEY'))", "false");
	CHECK_EVAL_HAS(st, "return silo.secret('HOME')", "'HOME' is not an allowed secret");
	CHECK_EVAL_HAS(st, "return string.format('%s', silo.secret('LHTEST_KEY'))", "[redacted]");
	/* C side: rendering with a format. */
	{
		lua_State *L = lh_L(st);
		const char *src = "return { h = silo.secret('LHTEST_KEY', 'Bearer {secret}') }";
		int ref;
		char *v;
		const char *fmt = NULL;

		CHECK(lh_load_string(st, "s.lua", src, strlen(src), &ref, &err) == 0);
		lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
		lua_getfield(L, -1, "h");
		CHECK_STR(lh_secret_check(L, -1, &fmt), "LHTEST_KEY");
		CHECK_STR(fmt, "Bearer {secret}");
		v = lh_secret_render(L, -1);
		CHECK_STR(v, "Bearer sk-very-secret");
		free(v);
		CHECK(lh_secret_check(L, -2, NULL) == NULL);
		lua_pop(L, 2);
		lh_unref(st, ref);
	}
	lh_free(st);
	lh_secrets_wipe();
	CHECK(lh_secret_value("LHTEST_KEY") == NULL);
}

TEST(require_lib)
{
	char dir[] = "/tmp/lhtest-XXXXXX";
	char path[256];
	struct sl_err err = { 0 };
	struct lh_state *st;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/lib", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/lib/twice.lua", dir);
	sl_write_file(path, "local M = {} function M.f(x) return 2 * x end return M",
		      strlen("local M = {} function M.f(x) return 2 * x end return M"), 0600, &err);
	snprintf(path, sizeof(path), "%s/lib/bad.lua", dir);
	sl_write_file(path, "oops = 1 return {}", strlen("oops = 1 return {}"), 0600, &err);
	st = lh_new(LH_TOOL, &small, &svc, dir, &err);
	CHECK(st != NULL);
	CHECK_EVAL(st, "return require('twice').f(21)", "42");
	CHECK_EVAL(st, "return require('twice') == require('twice')", "true");
	CHECK_EVAL(st, "return require('silo.json') == silo.json", "true");
	CHECK_EVAL_HAS(st, "return require('bad')", "assignment to undeclared global 'oops'");
	CHECK_EVAL_HAS(st, "return require('bad')", "assignment to undeclared global 'oops'");
	CHECK_EVAL_HAS(st, "return require('missing')", "module 'missing' not found");
	lh_free(st);
	sl_rm_rf(dir);
}

TEST(print_and_log)
{
	struct lh_state *st = mk(LH_TOOL);

	notes[0] = 0;
	CHECK_EVAL(st, "print('hello', 42) silo.log.warn('careful') silo.journal.note('n1')"
		       " return true",
		   "true");
	CHECK_STR(notes, "info: hello\t42|warn: careful|n1|");
	lh_free(st);
}

TEST(script_errors_name_file)
{
	struct lh_state *st = mk(LH_TOOL);
	struct sl_err err = { 0 };
	const char *syn = "return {\n  a = ,\n}";
	const char *notab = "return 42";
	int ref;

	CHECK(lh_load_string(st, "syn.lua", syn, strlen(syn), &ref, &err) != 0);
	CHECK(strstr(err.msg, "syn.lua:2:") != NULL);
	CHECK(lh_load_string(st, "n.lua", notab, strlen(notab), &ref, &err) != 0);
	CHECK_STR(err.msg, "n.lua: script must return a table (got number)");
	CHECK(lh_load_file(st, "/nonexistent/x.lua", &ref, &err) != 0);
	CHECK(strstr(err.msg, "/nonexistent/x.lua") != NULL);
	CHECK_EVAL(st, "error('boom')", "ERR: test.lua:1: boom");
	CHECK_EVAL(st, "error({})", "ERR: test.lua: (error object is a table value)");
	CHECK(lht_run(st, "return 1", NULL, NULL, &err) == 0);
	{
		const char *src = "return { }";
		CHECK(lh_load_string(st, "e.lua", src, strlen(src), &ref, &err) == 0);
		CHECK(lh_call_field(st, ref, "nope", NULL, 0, NULL, &err) == SL_ENOENT);
		lh_unref(st, ref);
	}
	lh_free(st);
}

TEST(determinism)
{
	struct lh_state *a = mk(LH_TOOL), *b = mk(LH_TOOL);
	char *x = lht_eval(a, "return {math.random(1, 1000000), math.random(1, 1000000)}");
	char *y = lht_eval(b, "return {math.random(1, 1000000), math.random(1, 1000000)}");

	CHECK_STR(x, y); /* deterministic services seed identically */
	free(x);
	free(y);
	lh_free(a);
	lh_free(b);
}

TEST(hookless_corners)
{
	struct lh_state *st = mk(LH_TOOL);

	/* Lua runs message handlers and finalizers without hooks. */
	CHECK_EVAL_HAS(st, "setmetatable({}, {__gc = function() while true do end end})",
		       "__gc metamethods are not allowed");
	CHECK_EVAL(st, "return {xpcall(function() error('e', 0) end, function(m) return m .. '!' end)}",
		   "[false,\"e!\"]");
	CHECK_EVAL(st, "return {xpcall(function(a, b) return a + b end, print, 1, 2)}", "[true,3]");
	lh_free(st);
}

TEST(c_loops)
{
	struct lh_state *st = mk(LH_TOOL);

	/* Loops that run inside C functions, out of the count hook's sight. */
	CHECK_EVAL(st, "return #string.rep('', 1e15)", "0");
	CHECK_EVAL(st, "return #string.rep('', 1e15, '')", "0");
	CHECK_EVAL(st, "local t = {} table.move({}, 1, 1e15, 1, t) return #t",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "return {table.move({1, 2, 3}, 1, 3, 2), string.rep('ab', 3, ',')}",
		   "[[1,1,2,3],\"ab,ab,ab\"]");
	CHECK_EVAL_HAS(st, "return table.concat(setmetatable({}, {__len = function() return 1e15 end}))",
		       "invalid value");
	CHECK_EVAL(st, "local t = setmetatable({}, {__len = function() return 1e15 end})"
		       " table.insert(t, 1, 'x') return 1",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local t = setmetatable({}, {__len = function() return 1e15 end})"
		       " table.remove(t, 1) return 1",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local t = setmetatable({}, {__len = function() return 1e15 end,"
		       " __index = tostring}) table.sort(t) return 1",
		   "ERR: test.lua: instruction budget exceeded");
	CHECK_EVAL(st, "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) table.insert(t, 1, 0)"
		       " local r = table.remove(t) return {t, r, table.remove(t, 1)}",
		   "[[1,2,3],4,0]");
	lh_free(st);
}
