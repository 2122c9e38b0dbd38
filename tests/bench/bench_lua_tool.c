/*
 * Lua tool-call overhead (issue 2 goal: < 20 us per call): a trivial tool
 * run through lh_task_start in a sandboxed LH_TOOL state (coroutine, count
 * hook, JSON in and out), against a plain lua_pcall of the same function in
 * a bare state (the baseline), in the same process.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "luahost/lh.h"

static const char *tool_src =
	"return { name = 'Echo', run = function(input, ctx)\n"
	"  return { content = input.text .. ctx.agent, is_error = false } end }\n";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int done_count;
static void done(void *ud, struct jv *result, const char *errmsg)
{
	if (errmsg || !result) {
		fprintf(stderr, "tool failed: %s\n", errmsg ? errmsg : "no result");
		exit(1);
	}
	jv_unref(result);
	done_count++;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200000;
	struct sl_err err = { 0 };
	struct lh_services svc = { 0 };
	struct lh_state *st = lh_new(LH_TOOL, NULL, &svc, SILO_SOURCE_DIR "/lua", &err);
	int ref;
	if (!st || lh_load_string(st, "=echo", tool_src, strlen(tool_src), &ref, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	struct jv *input = jv_obj(), *ctx = jv_obj();
	jv_set(input, "text", jv_str("hello "));
	jv_set(ctx, "agent", jv_str("agent-0"));
	double t0 = now();
	for (int i = 0; i < n; i++)
		lh_task_start(st, ref, "run", input, ctx, NULL, done, NULL);
	double engine = (now() - t0) / n * 1e6;

	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	luaL_loadstring(L, tool_src);
	lua_call(L, 0, 1);
	lua_getfield(L, -1, "run");
	int fn = luaL_ref(L, LUA_REGISTRYINDEX);
	t0 = now();
	for (int i = 0; i < n; i++) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
		lua_newtable(L);
		lua_pushstring(L, "hello ");
		lua_setfield(L, -2, "text");
		lua_newtable(L);
		lua_pushstring(L, "agent-0");
		lua_setfield(L, -2, "agent");
		lua_pcall(L, 2, 1, 0);
		lua_pop(L, 1);
	}
	double bare = (now() - t0) / n * 1e6;
	printf("lua tool call: %d calls\n", n);
	printf("  engine (lh_task, sandboxed, JSON in/out): %.2f us/call\n", engine);
	printf("  baseline (bare lua_pcall, Lua tables):   %.2f us/call\n", bare);
	printf("  ratio engine/baseline: %.1fx; goal < 20 us/call: %s\n", engine / bare,
	       engine < 20 ? "met" : "NOT met");
	lua_close(L);
	jv_unref(input);
	jv_unref(ctx);
	lh_free(st);
	return done_count == n ? 0 : 1;
}
