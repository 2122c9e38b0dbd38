/* Journal -> Lua fixture (replay.md 4, 4.1): the mapping of every record
 * kind, the exact generated text, and that the text evaluates in Lua to
 * the recorded values (escapes, json.null, json.array{}, keyword keys,
 * control bytes, floats). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jt.h"
#include "tap.h"

/* Every record kind, in the body shapes the engine appends. */
static const char *const session[][2] = {
	{ "meta", "{\"harness_id\":\"0123456789ab\",\"harness_version\":\"0.1.0\","
		  "\"config_summary\":\"workspace=/home/u/my proj llm=mock/claude-sonnet-4-6 "
		  "sandbox=mock frontend=mock\",\"policy_path\":\"/etc/silo/p.lua\","
		  "\"policy_sha256\":\"ab\"}" },
	{ "lifecycle", "{\"message\":\"harness starting\"}" },
	{ "event", "{\"event\":{\"seq\":0,\"time\":{\"logical\":0},\"kind\":\"harness_started\","
		   "\"harness_id\":\"0123456789ab\",\"workspace\":\"/w\",\"sandbox\":\"mock\","
		   "\"llm\":\"mock\"}}" },
	{ "event", "{\"event\":{\"seq\":1,\"time\":{\"logical\":0},\"kind\":\"user_prompt\","
		   "\"client_id\":\"c1\",\"client_name\":\"tui\",\"text\":\"count the TODOs\"}}" },
	{ "llm_request", "{\"agent\":\"agent-0\",\"backend\":\"mock\",\"request\":{\"system\":\"s\","
			 "\"messages\":[],\"tools\":[],\"max_tokens\":100}}" },
	{ "llm_response",
	  "{\"agent\":\"agent-0\",\"backend\":\"mock\",\"response\":{\"content\":["
	  "{\"type\":\"text\",\"text\":\"Searching.\"},"
	  "{\"type\":\"tool_use\",\"id\":\"u1\",\"name\":\"Bash\",\"input\":{\"command\":\"grep -rc TODO .\"}}],"
	  "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":30,\"output_tokens\":9}}}" },
	{ "event", "{\"event\":{\"seq\":2,\"time\":{\"logical\":0},\"kind\":\"tool_use\","
		   "\"agent\":\"agent-0\",\"call\":{\"id\":\"u1\",\"name\":\"Bash\",\"input\":{}}}}" },
	{ "tool_exec", "{\"agent\":\"agent-0\",\"owner\":\"sandbox\",\"call\":{\"id\":\"u1\","
		       "\"name\":\"Bash\",\"input\":{\"command\":\"grep -rc TODO .\"}},"
		       "\"output\":{\"content\":\"./a.c:3\",\"is_error\":false}}" },
	/* Not scripted: the replay runs these owners itself. */
	{ "tool_exec", "{\"agent\":\"agent-0\",\"owner\":\"frontend\",\"call\":{\"id\":\"u2\","
		       "\"name\":\"AskUserQuestion\",\"input\":{}},"
		       "\"output\":{\"content\":\"yes\",\"is_error\":false}}" },
	{ "tool_exec", "{\"agent\":\"agent-0\",\"owner\":\"policy\",\"call\":{\"id\":\"u3\","
		       "\"name\":\"Bash\",\"input\":{}},"
		       "\"output\":{\"content\":\"denied\",\"is_error\":true}}" },
	{ "event", "{\"event\":{\"seq\":3,\"time\":{\"logical\":0},\"kind\":\"question_answered\","
		   "\"id\":\"q-1\",\"client_id\":\"c1\",\"answer\":\"yes\"}}" },
	{ "event", "{\"event\":{\"seq\":4,\"time\":{\"logical\":0},\"kind\":\"question_answered\","
		   "\"id\":\"q-2\",\"answer\":\"[interrupted]\"}}" },
	{ "frontend_command", "{\"command\":{\"command\":\"interrupt\"}}" },
	{ "event", "{\"event\":{\"seq\":5,\"time\":{\"logical\":0},\"kind\":\"file_shared\","
		   "\"name\":\"a.txt\",\"content_b64\":\"aGk=\",\"origin\":\"client\","
		   "\"client_id\":\"c1\"}}" },
	{ "tool_exec", "{\"agent\":\"harness\",\"owner\":\"sandbox\",\"call\":{\"id\":\"upload-1\","
		       "\"name\":\"Write\",\"input\":{\"path\":\"_uploads/a.txt\",\"content_b64\":\"aGk=\"}},"
		       "\"output\":{\"content\":\"ok\",\"is_error\":false}}" },
	{ "event", "{\"event\":{\"seq\":6,\"time\":{\"logical\":0},\"kind\":\"file_shared\","
		   "\"name\":\"r.md\",\"content_b64\":\"eA==\",\"origin\":\"llm\",\"agent\":\"agent-0\"}}" },
	{ "network", "{\"record\":{\"host\":\"example.com\",\"port\":443,\"method\":\"GET\","
		     "\"path\":\"/x\",\"status\":200,\"bytes_sent\":10,\"bytes_received\":20,"
		     "\"allowed\":true,\"credential_injected\":false}}" },
	/* Awkward values: keyword and non-identifier keys (unsorted on
	 * purpose), null, empty array and object, floats, control bytes. */
	{ "tool_exec",
	  "{\"agent\":\"agent-1\",\"owner\":\"sandbox\",\"call\":{\"id\":\"u4\",\"name\":\"Edit\","
	  "\"input\":{\"z\":{\"end\":true,\"and\":false},\"a b\":[],\"x\":null,\"f\":0.5,\"g\":1e16,"
	  "\"h\":3.0,\"n\":-7,\"e\":{},\"1x\":[1,[],{\"k\":null}],\"_ok9\":\"\\u0001\\u001f\\u007f\\t\\r\\n\\\\\\\"\\u00e9\\u00000\"}},"
	  "\"output\":{\"is_error\":true,\"content\":\"bad\"}}" },
	{ "llm_response",
	  "{\"agent\":\"agent-1\",\"backend\":\"mock\",\"response\":{\"content\":[],"
	  "\"stop_reason\":{\"other\":\"weird\"},\"usage\":{\"output_tokens\":0,\"input_tokens\":5}}}" },
	{ "frontend_command", "{\"command\":{\"command\":\"shutdown\",\"message\":\"bye\"}}" },
	{ "event", "{\"event\":{\"seq\":7,\"time\":{\"logical\":0},\"kind\":\"shutdown\","
		   "\"message\":\"3 TODOs found\"}}" },
	{ "lifecycle", "{\"message\":\"shutdown\"}" },
};

static const char expected_tail[] =
	"-- Format: docs/journal.md and replay.md section 5.\n"
	"return {\n"
	"  name = \"count_todos\",\n"
	"  llm = {\n"
	"    {\n"
	"      response = {\n"
	"        content = {\n"
	"          { type = \"text\", text = \"Searching.\" },\n"
	"          {\n"
	"            type = \"tool_use\",\n"
	"            id = \"u1\",\n"
	"            name = \"Bash\",\n"
	"            input = { command = \"grep -rc TODO .\" },\n"
	"          },\n"
	"        },\n"
	"        stop_reason = \"tool_use\",\n"
	"        usage = { input_tokens = 30, output_tokens = 9 },\n"
	"      },\n"
	"    },\n"
	"    {\n"
	"      response = {\n"
	"        content = json.array{},\n"
	"        stop_reason = { other = \"weird\" },\n"
	"        usage = { input_tokens = 5, output_tokens = 0 },\n"
	"      },\n"
	"    },\n"
	"  },\n"
	"  tools = {\n"
	"    {\n"
	"      expect_name = \"Bash\",\n"
	"      expect_input = { command = \"grep -rc TODO .\" },\n"
	"      output = { content = \"./a.c:3\", is_error = false },\n"
	"    },\n"
	"    {\n"
	"      expect_name = \"Write\",\n"
	"      expect_input = { content_b64 = \"aGk=\", path = \"_uploads/a.txt\" },\n"
	"      output = { content = \"ok\", is_error = false },\n"
	"    },\n"
	"    {\n"
	"      expect_name = \"Edit\",\n"
	"      expect_input = {\n"
	"        [\"1x\"] = {\n"
	"          1,\n"
	"          json.array{},\n"
	"          { k = json.null },\n"
	"        },\n"
	"        _ok9 = \"\\001\\031\\127\\t\\r\\n\\\\\\\"\xc3\xa9\\0000\",\n"
	"        [\"a b\"] = json.array{},\n"
	"        e = {},\n"
	"        f = 0.5,\n"
	"        g = 1e16,\n"
	"        h = 3.0,\n"
	"        n = -7,\n"
	"        x = json.null,\n"
	"        z = { [\"and\"] = false, [\"end\"] = true },\n"
	"      },\n"
	"      output = { content = \"bad\", is_error = true },\n"
	"    },\n"
	"  },\n"
	"  frontend = {\n"
	"    { step = \"send_prompt\", text = \"count the TODOs\" },\n"
	"    { step = \"answer_question\", answer = \"yes\" },\n"
	"    { step = \"interrupt\" },\n"
	"    { step = \"upload_file\", name = \"a.txt\", content_b64 = \"aGk=\" },\n"
	"    { step = \"expect_shutdown\", message_contains = \"3 TODOs found\" },\n"
	"  },\n"
	"  network = {\n"
	"    {\n"
	"      host = \"example.com\",\n"
	"      port = 443,\n"
	"      method = \"GET\",\n"
	"      path = \"/x\",\n"
	"      status = 200,\n"
	"      bytes_sent = 10,\n"
	"      bytes_received = 20,\n"
	"      allowed = true,\n"
	"      credential_injected = false,\n"
	"    },\n"
	"  },\n"
	"}\n";

static char *make_journal(const char *dir, const char *name, int fake)
{
	char *path = sl_xasprintf("%s/%s", dir, name);
	struct sl_clock clock = { .fake = fake };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	for (size_t i = 0; i < SL_ARRAY_LEN(session); i++)
		jt_append(j, session[i][0], session[i][1]);
	jn_close(j);
	return path;
}

static char *expected_for(const char *journal)
{
	return sl_xasprintf("-- Lua replay fixture generated by `silo replay-test` from the "
			    "journal\n-- %s\n%s",
			    journal, expected_tail);
}

TEST(fixture_every_record_kind)
{
	char *dir = jt_tmpdir();
	char *db = make_journal(dir, "count_todos.db", 1);
	char *out = sl_xasprintf("%s/out.lua", dir);
	struct jn_fixture_stats st;
	struct sl_err err;
	CHECK(jn_write_fixture(db, out, NULL, &st, &err) == 0);
	char *text = jt_slurp(out, NULL);
	char *want = expected_for(db);
	CHECK_STR(text, want);
	CHECK(st.llm_turns == 2 && st.tool_execs == 3 && st.frontend_steps == 5);
	CHECK_STR(st.workspace, "/home/u/my proj");
	CHECK_STR(st.policy_path, "/etc/silo/p.lua");
	struct stat sb;
	CHECK(stat(out, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	free(st.workspace);
	free(st.policy_path);

	/* The same session exported to JSON Lines gives the same fixture
	 * (apart from the journal named in the header), and a real clock
	 * changes nothing either. */
	char *jl = sl_xasprintf("%s/count_todos.jsonl", dir);
	char *exp = jt_export(db, &err);
	jt_spit(jl, exp, strlen(exp));
	CHECK(jn_write_fixture(jl, out, NULL, NULL, &err) == 0);
	char *text2 = jt_slurp(out, NULL);
	char *want2 = expected_for(jl);
	CHECK_STR(text2, want2);
	char *db2 = make_journal(dir, "real.db", 0);
	CHECK(jn_write_fixture(db2, out, "count_todos", NULL, &err) == 0);
	char *text3 = jt_slurp(out, NULL);
	char *want3 = expected_for(db2);
	CHECK_STR(text3, want3);

	free(db2);
	free(text3);
	free(want3);
	free(text2);
	free(want2);
	free(exp);
	free(jl);
	free(want);
	free(text);
	free(out);
	free(db);
	jt_rmdir(dir);
}

/* Runs the fixture in a Lua state with a stand-in `json` (null sentinel,
 * array marker) and returns the state with the fixture table on top. */
static lua_State *eval_fixture(const char *path)
{
	static const char prelude[] =
		"json = { null = setmetatable({}, { __name = 'null' }) }\n"
		"json.array = function(t) return setmetatable(t, { __name = 'array' }) end\n";
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dostring(L, prelude) || luaL_loadfile(L, path) || lua_pcall(L, 0, 1, 0)) {
		printf("#   lua: %s\n", lua_tostring(L, -1));
		lua_close(L);
		return NULL;
	}
	lua_setglobal(L, "F");
	return L;
}

static int lua_true(lua_State *L, const char *expr)
{
	char *code = sl_xasprintf("return %s", expr);
	int ok = !luaL_dostring(L, code) && lua_toboolean(L, -1);
	if (!ok)
		printf("#   false: %s\n", expr);
	lua_settop(L, 0);
	free(code);
	return ok;
}

TEST(fixture_evaluates_to_recorded_values)
{
	char *dir = jt_tmpdir();
	char *db = make_journal(dir, "count_todos.db", 1);
	char *out = sl_xasprintf("%s/out.lua", dir);
	struct sl_err err;
	CHECK(jn_write_fixture(db, out, "n\"ame\n", NULL, &err) == 0);
	lua_State *L = eval_fixture(out);
	CHECK(L != NULL);
	if (L) {
		CHECK(lua_true(L, "F.name == 'n\"ame\\n'"));
		CHECK(lua_true(L, "#F.llm == 2 and #F.tools == 3 and #F.frontend == 5 and #F.network == 1"));
		CHECK(lua_true(L, "F.tools[3].expect_input._ok9 == "
				  "'\\1\\31\\127\\t\\r\\n\\\\\"\\xc3\\xa9\\0' .. '0'"));
		CHECK(lua_true(L, "F.tools[3].expect_input.x == json.null"));
		CHECK(lua_true(L, "getmetatable(F.tools[3].expect_input['a b']).__name == 'array'"));
		CHECK(lua_true(L, "next(F.tools[3].expect_input.e) == nil and "
				  "getmetatable(F.tools[3].expect_input.e) == nil"));
		CHECK(lua_true(L, "math.type(F.tools[3].expect_input.h) == 'float'"));
		CHECK(lua_true(L, "math.type(F.tools[3].expect_input.n) == 'integer'"));
		CHECK(lua_true(L, "F.tools[3].expect_input.g == 1e16"));
		CHECK(lua_true(L, "F.tools[3].expect_input.z['end'] == true"));
		CHECK(lua_true(L, "F.tools[3].expect_input['1x'][3].k == json.null"));
		CHECK(lua_true(L, "F.llm[2].response.stop_reason.other == 'weird'"));
		CHECK(lua_true(L, "F.frontend[4].content_b64 == 'aGk='"));
		lua_close(L);
	}
	free(out);
	free(db);
	jt_rmdir(dir);
}

TEST(fixture_edge_values)
{
	char *dir = jt_tmpdir();
	char *jl = sl_xasprintf("%s/edge.jsonl", dir);
	/* Extremes of integers, a shutdown without message, a provider
	 * block with data (free-form: sorted), a deeply nested input. */
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_adds(&b, "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"tool_exec\",\"agent\":\"a\","
			"\"owner\":\"sandbox\",\"call\":{\"id\":\"1\",\"name\":\"T\",\"input\":"
			"{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"deep\":");
	for (int i = 0; i < 100; i++)
		sl_buf_adds(&b, "[");
	for (int i = 0; i < 100; i++)
		sl_buf_adds(&b, "]");
	sl_buf_adds(&b, "}},\"output\":{\"content\":\"\",\"is_error\":false}}\n");
	sl_buf_adds(&b, "{\"seq\":1,\"time\":{\"logical\":0},\"entry\":\"llm_response\",\"agent\":\"a\","
			"\"backend\":\"x\",\"response\":{\"content\":[{\"type\":\"provider\","
			"\"backend\":\"openai\",\"data\":{\"b\":1,\"a\":2}}],\"stop_reason\":\"end_turn\"}}\n");
	sl_buf_adds(&b, "{\"seq\":2,\"time\":{\"logical\":0},\"entry\":\"event\",\"event\":{\"seq\":0,"
			"\"time\":{\"logical\":0},\"kind\":\"shutdown\"}}\n");
	jt_spit(jl, b.p, b.len);
	sl_buf_free(&b);
	char *out = sl_xasprintf("%s/edge.lua", dir);
	struct sl_err err;
	struct jn_fixture_stats st;
	CHECK(jn_write_fixture(jl, out, NULL, &st, &err) == 0);
	CHECK(st.workspace == NULL && st.policy_path == NULL); /* no meta */
	char *text = jt_slurp(out, NULL);
	CHECK(text && strstr(text, "  name = \"edge\",\n"));
	CHECK(text && strstr(text, "min = (-9223372036854775807 - 1),"));
	CHECK(text && strstr(text, "            type = \"provider\",\n"
				   "            backend = \"openai\",\n"
				   "            data = { a = 2, b = 1 },\n"));
	CHECK(text && strstr(text, "    { step = \"expect_shutdown\" },\n"));
	CHECK(text && strstr(text, "  network = {},\n"));
	lua_State *L = eval_fixture(out);
	CHECK(L != NULL);
	if (L) {
		CHECK(lua_true(L, "F.tools[1].expect_input.min == math.mininteger"));
		CHECK(lua_true(L, "F.tools[1].expect_input.max == math.maxinteger"));
		lua_close(L);
	}
	free(text);
	free(out);
	free(jl);
	jt_rmdir(dir);
}

TEST(fixture_errors)
{
	char *dir = jt_tmpdir();
	char *jl = sl_xasprintf("%s/bad.jsonl", dir);
	char *out = sl_xasprintf("%s/bad.lua", dir);
	struct sl_err err;
	const char *rec = "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"llm_response\",\"agent\":\"a\"}\n";
	jt_spit(jl, rec, strlen(rec));
	CHECK(jn_write_fixture(jl, out, NULL, NULL, &err) != 0);
	CHECK(strstr(err.msg, "record seq 0 (llm_response): no response object") != NULL);
	struct stat sb;
	CHECK(stat(out, &sb) != 0); /* nothing written */

	rec = "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"event\",\"event\":{\"kind\":\"user_prompt\"}}\n";
	jt_spit(jl, rec, strlen(rec));
	CHECK(jn_write_fixture(jl, out, NULL, NULL, &err) != 0);
	CHECK(strstr(err.msg, "user_prompt without a text string") != NULL);

	char *missing = sl_xasprintf("%s/nope.db", dir);
	CHECK(jn_write_fixture(missing, out, NULL, NULL, &err) == SL_ENOENT);
	CHECK(stat(out, &sb) != 0);

	/* An output directory that does not exist is an error, not created. */
	rec = "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"lifecycle\",\"message\":\"x\"}\n";
	jt_spit(jl, rec, strlen(rec));
	char *nodir = sl_xasprintf("%s/no/such/dir.lua", dir);
	CHECK(jn_write_fixture(jl, nodir, NULL, NULL, &err) == SL_EIO);
	CHECK(strstr(err.msg, "cannot create") != NULL);
	free(nodir);
	free(missing);
	free(out);
	free(jl);
	jt_rmdir(dir);
}
