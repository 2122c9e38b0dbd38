/* Journal readers: the JSON Lines export's byte rules, .db and .jsonl
 * giving identical exports, reading beside a live writer, clear errors for
 * files that are not journals, and `silo journal list`. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"
#include "tap.h"

static char *export_or_report(const char *path)
{
	struct sl_err err = { 0 };
	char *text = jt_export(path, &err);
	if (!text)
		printf("#   export %s: %s\n", path, err.msg);
	return text;
}

TEST(export_byte_rules)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	CHECK(j != NULL);

	/* Escapes: quote, backslash, the five short forms, \u00xx (lowercase)
	 * for other control bytes; '/' and non-ASCII stay raw. */
	struct jv *body = jv_obj();
	jv_set(body, "message", jv_strn("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f" "\xc3\xa9", 16));
	CHECK(jn_append(j, "lifecycle", body) == 0);
	jv_unref(body);

	/* Numbers: integers in decimal, floats shortest round-trip with '.0'
	 * added and normalised exponents. Struct order as built. */
	body = jv_obj();
	jv_set(body, "agent", jv_str("agent-0"));
	struct jv *nums = jv_arr();
	jv_push(nums, jv_int(-42));
	jv_push(nums, jv_float(5.0));
	jv_push(nums, jv_float(0.81));
	jv_push(nums, jv_float(1e-7));
	jv_push(nums, jv_float(1e16));
	jv_push(nums, jv_float(-2.5e300));
	jv_set(body, "zeta", nums);
	jv_set(body, "alpha", jv_null());
	CHECK(jn_append(j, "custom", body) == 1);
	jv_unref(body);

	/* Bytes that are not UTF-8 are repaired, not allowed to make the
	 * journal unreadable. */
	body = jv_obj();
	jv_set(body, "message", jv_strn("a\xff\xc3", 3));
	CHECK(jn_append(j, "lifecycle", body) == 2);
	jv_unref(body);
	jn_close(j);

	char *text = export_or_report(path);
	CHECK_STR(text,
		  "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"lifecycle\",\"message\":"
		  "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\"}\n"
		  "{\"seq\":1,\"time\":{\"logical\":0},\"entry\":\"custom\",\"agent\":\"agent-0\","
		  "\"zeta\":[-42,5.0,0.81,1e-7,1e16,-2.5e300],\"alpha\":null}\n"
		  "{\"seq\":2,\"time\":{\"logical\":0},\"entry\":\"lifecycle\",\"message\":"
		  "\"a\xef\xbf\xbd\xef\xbf\xbd\"}\n");
	free(text);
	free(path);
	jt_rmdir(dir);
}

TEST(export_real_clock_has_wall_ms)
{
	char *dir = jt_tmpdir();
	char *path = sl_xasprintf("%s/s.db", dir);
	struct sl_clock clock = { 0 };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	jt_append(j, "lifecycle", "{\"message\":\"a\"}");
	jn_close(j);
	char *text = export_or_report(path);
	CHECK(text && !strncmp(text, "{\"seq\":0,\"time\":{\"logical\":1,\"wall_ms\":1", 40));
	CHECK(text && strstr(text, "},\"entry\":\"lifecycle\",\"message\":\"a\"}\n"));
	free(text);
	free(path);
	jt_rmdir(dir);
}

/* A journal with every record kind, in spec field order. */
static void write_session(struct jn *j)
{
	jt_append(j, "meta",
		  "{\"harness_id\":\"0123456789ab\",\"harness_version\":\"0.1.0\","
		  "\"config_summary\":\"workspace=/w llm=mock/claude-sonnet-4-6 sandbox=mock "
		  "frontend=mock\"}");
	jt_append(j, "lifecycle", "{\"message\":\"harness starting\"}");
	jt_append(j, "event",
		  "{\"event\":{\"seq\":0,\"time\":{\"logical\":0},\"kind\":\"user_prompt\","
		  "\"text\":\"hi \\u00e9 \\\"x\\\"\"}}");
	jt_append(j, "llm_request",
		  "{\"agent\":\"agent-0\",\"backend\":\"mock\",\"request\":{\"system\":\"s\","
		  "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],"
		  "\"tools\":[],\"max_tokens\":4096}}");
	jt_append(j, "llm_response",
		  "{\"agent\":\"agent-0\",\"backend\":\"mock\",\"response\":{\"content\":[],"
		  "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}");
	jt_append(j, "tool_exec",
		  "{\"agent\":\"agent-0\",\"owner\":\"sandbox\",\"call\":{\"id\":\"u1\",\"name\":\"Bash\","
		  "\"input\":{\"command\":\"ls\",\"timeout\":1.5}},\"output\":{\"content\":\"a\\nb\","
		  "\"is_error\":false}}");
	jt_append(j, "frontend_command", "{\"command\":{\"command\":\"interrupt\"}}");
	jt_append(j, "network",
		  "{\"record\":{\"host\":\"example.com\",\"port\":443,\"bytes_sent\":0,"
		  "\"bytes_received\":0,\"allowed\":false,\"credential_injected\":false,"
		  "\"note\":\"denied\"}}");
}

TEST(db_and_jsonl_export_identical)
{
	char *dir = jt_tmpdir();
	for (int fake = 0; fake < 2; fake++) {
		char *db = sl_xasprintf("%s/s%d.db", dir, fake);
		char *jl = sl_xasprintf("%s/s%d.jsonl", dir, fake);
		struct sl_clock clock = { .fake = fake };
		struct sl_err err;
		struct jn *j = jn_open(db, &clock, &err);
		write_session(j);
		jn_close(j);
		char *a = export_or_report(db);
		CHECK(a != NULL);
		if (!a)
			continue;
		jt_spit(jl, a, strlen(a));
		char *b = export_or_report(jl);
		CHECK_STR(a, b);
		/* 8 lines, one per record, each newline-terminated. */
		int lines = 0;
		for (char *p = a; *p; p++)
			lines += *p == '\n';
		CHECK(lines == 8);
		CHECK(fake == !strstr(a, "wall_ms"));
		free(a);
		free(b);
		free(db);
		free(jl);
	}
	jt_rmdir(dir);
}

TEST(reader_envelopes)
{
	char *dir = jt_tmpdir();
	char *db = sl_xasprintf("%s/s.db", dir);
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err;
	struct jn *j = jn_open(db, &clock, &err);
	write_session(j);

	/* Read while the writer is still open and appending. */
	struct jn_reader *r = jn_reader_open(db, &err);
	CHECK(r != NULL);
	struct jv *v;
	int64_t n = 0;
	while ((v = jn_reader_next(r, &err))) {
		CHECK(jv_get_int(v, "seq", -1) == n);
		CHECK(jv_is(jv_get(v, "time"), JV_OBJECT));
		CHECK(jv_get(jv_get(v, "time"), "wall_ms") == NULL);
		if (n == 5) {
			CHECK_STR(jv_get_str(v, "entry"), "tool_exec");
			CHECK_STR(jv_get_str(v, "owner"), "sandbox");
			CHECK_STR(jv_key_at(v, 3), "agent"); /* fields flattened in order */
		}
		jv_unref(v);
		n++;
		if (n == 4)
			jt_append(j, "lifecycle", "{\"message\":\"late\"}");
	}
	CHECK(err.code == 0);
	CHECK(n >= 8);
	jn_reader_close(r);
	jn_close(j);
	free(db);
	jt_rmdir(dir);
}

/* Another process exports the journal while this one keeps appending. */
TEST(reader_in_other_process_beside_live_writer)
{
	char *dir = jt_tmpdir();
	char *db = sl_xasprintf("%s/s.db", dir);
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err;
	struct jn *j = jn_open(db, &clock, &err);
	for (int i = 0; i < 100; i++)
		jt_append(j, "lifecycle", "{\"message\":\"before\"}");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: a fresh connection of its own; 100 records at least,
		 * each a complete line. */
		struct sl_err e = { 0 };
		char *text = jt_export(db, &e);
		int lines = 0;
		for (char *p = text; p && *p; p++)
			lines += *p == '\n';
		_exit(text && lines >= 100 && text[strlen(text) - 1] == '\n' ? 0 : 1);
	}
	for (int i = 0; i < 300; i++)
		CHECK(jt_append(j, "lifecycle", "{\"message\":\"during\"}") == 100 + i);
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!jn_failed(j));
	jn_close(j);
	char *text = export_or_report(db);
	int lines = 0;
	for (char *p = text; p && *p; p++)
		lines += *p == '\n';
	CHECK(lines == 400);
	free(text);
	free(db);
	jt_rmdir(dir);
}

static void expect_error(const char *path, const char *needle)
{
	struct sl_err err = { 0 };
	char *text = jt_export(path, &err);
	CHECK(text == NULL);
	CHECK(err.code != 0);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK(strstr(err.msg, needle) != NULL);
	if (!strstr(err.msg, needle))
		printf("#   got: %s\n", err.msg);
	free(text);
}

TEST(reader_errors)
{
	char *dir = jt_tmpdir();
	char *p = sl_xasprintf("%s/garbage.bin", dir);
	jt_spit(p, "\x00\x01\x02garbage", 10);
	expect_error(p, "not a silo journal (neither a SQLite journal nor JSON Lines)");
	free(p);

	p = sl_xasprintf("%s/missing.db", dir);
	expect_error(p, "does not exist");
	free(p);

	/* A SQLite header followed by junk. */
	p = sl_xasprintf("%s/fake.db", dir);
	char junk[2048];
	memset(junk, 0x5a, sizeof junk);
	memcpy(junk, "SQLite format 3", 16);
	jt_spit(p, junk, sizeof junk);
	expect_error(p, "");
	free(p);

	/* A real database that is not a journal. */
	p = sl_xasprintf("%s/other.db", dir);
	sqlite3 *db;
	sqlite3_open(p, &db);
	sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
	sqlite3_close(db);
	expect_error(p, "not a silo journal (no silo_journal table)");
	free(p);

	/* A journal of an unknown schema version. */
	p = sl_xasprintf("%s/v2.db", dir);
	struct sl_err err;
	struct jn *j = jn_open(p, NULL, &err);
	jn_close(j);
	sqlite3_open(p, &db);
	sqlite3_exec(db, "UPDATE silo_journal SET value='2' WHERE key='schema_version'", NULL,
		     NULL, NULL);
	sqlite3_close(db);
	expect_error(p, "unknown schema version '2' (this silo reads version 1)");
	free(p);

	/* A record whose body is not JSON names its seq. */
	p = sl_xasprintf("%s/badbody.db", dir);
	j = jn_open(p, NULL, &err);
	jt_append(j, "lifecycle", "{\"message\":\"a\"}");
	jn_close(j);
	sqlite3_open(p, &db);
	sqlite3_exec(db, "INSERT INTO records VALUES (1, 1, NULL, 'x', '{oops')", NULL, NULL, NULL);
	sqlite3_close(db);
	expect_error(p, "record seq 1: body is not JSON");
	sqlite3_open(p, &db);
	sqlite3_exec(db, "UPDATE records SET body = '{\"time\":1}' WHERE seq = 1", NULL, NULL, NULL);
	sqlite3_close(db);
	expect_error(p, "record seq 1: body has a field named seq, time or entry");
	free(p);

	/* JSON Lines: bad JSON and a line that is not a record name the line. */
	p = sl_xasprintf("%s/bad.jsonl", dir);
	const char *lines = "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"lifecycle\"}\n{\"seq\":1,\n";
	jt_spit(p, lines, strlen(lines));
	expect_error(p, "line 2:");
	lines = "{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"lifecycle\"}\n\n{\"seq\":\"1\"}\n";
	jt_spit(p, lines, strlen(lines));
	expect_error(p, "line 3: not a silo journal record (no non-negative integer seq)");
	lines = "{\"seq\":0,\"time\":{\"logical\":0,\"wall_ms\":null},\"entry\":\"x\"}\n";
	jt_spit(p, lines, strlen(lines));
	expect_error(p, "time.wall_ms is not an integer");
	free(p);

	/* An empty .jsonl is a journal without records. */
	p = sl_xasprintf("%s/empty.jsonl", dir);
	jt_spit(p, "", 0);
	char *text = export_or_report(p);
	CHECK_STR(text, "");
	free(text);
	free(p);
	jt_rmdir(dir);
}

TEST(journal_list)
{
	char *state = jt_tmpdir();
	char *out = NULL;
	size_t len = 0;
	struct sl_err err;
	FILE *f = open_memstream(&out, &len);
	CHECK(jn_list(state, f, &err) == 0);
	fclose(f);
	CHECK_STR(out, "no journals\n");
	free(out);

	char *dir = sl_xasprintf("%s/journals", state);
	char *b = sl_xasprintf("%s/bbbbbbbbbbbb.db", dir);
	char *a = sl_xasprintf("%s/aaaaaaaaaaaa.db", dir);
	char *c = sl_xasprintf("%s/cccc.jsonl", dir);
	struct sl_clock fake = { .fake = 1 }, real = { 0 };
	struct jn *j = jn_open(b, &fake, &err);
	jt_append(j, "lifecycle", "{\"message\":\"x\"}");
	jt_append(j, "lifecycle", "{\"message\":\"y\"}");
	jn_close(j);
	j = jn_open(a, &real, &err);
	jt_append(j, "lifecycle", "{\"message\":\"x\"}");
	jn_close(j);
	const char *line = "{\"seq\":0,\"time\":{\"logical\":0,\"wall_ms\":0},\"entry\":\"x\"}\n";
	jt_spit(c, line, strlen(line));
	char *junk = sl_xasprintf("%s/zzz.db", dir);
	jt_spit(junk, "nope", 4);

	f = open_memstream(&out, &len);
	CHECK(jn_list(state, f, &err) == 0);
	fclose(f);
	char *want_b = sl_xasprintf("%-20s %8d %-20s %-20s %s\n", "bbbbbbbbbbbb", 2, "-", "-", b);
	char *want_c = sl_xasprintf("%-20s %8d %-20s %-20s %s\n", "cccc", 1,
				    "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", c);
	CHECK(!strncmp(out, "JOURNAL ", 8));
	char *pa = strstr(out, "\naaaaaaaaaaaa "), *pb = strstr(out, want_b),
	     *pc = strstr(out, want_c), *pz = strstr(out, "\nzzz ");
	CHECK(pa && pb && pc && pz && pa < pb && pb < pc && pc < pz); /* sorted by name */
	CHECK(pa && strstr(pa, " 1 20")); /* one record, a real wall time */
	CHECK(pz && strstr(pz, "unreadable"));
	free(want_b);
	free(want_c);
	free(out);
	free(junk);
	free(a);
	free(b);
	free(c);
	free(dir);
	jt_rmdir(state);
}
