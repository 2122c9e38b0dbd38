/* Delta storage of llm_request records: stored small, read back whole, and
 * bad references refused with a clear error. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/jn.h"
#include "tap.h"

static struct jv *msg(const char *role, const char *text)
{
	struct jv *m = jv_obj(), *c = jv_arr(), *b = jv_obj();
	jv_set(b, "type", jv_str("text"));
	jv_set(b, "text", jv_str(text));
	jv_push(c, b);
	jv_set(m, "role", jv_str(role));
	jv_set(m, "content", c);
	return m;
}

static struct jv *request(struct jv *msgs)
{
	struct jv *r = jv_obj();
	jv_set(r, "system", jv_str("a long system prompt"));
	jv_set(r, "messages", jv_ref(msgs));
	jv_set(r, "tools", jv_arr());
	jv_set(r, "max_tokens", jv_int(8192));
	return r;
}

TEST(delta_round_trip)
{
	char dir[] = "/tmp/jn-delta-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = sl_xasprintf("%s/j.db", dir);
	struct sl_clock clock = { .fake = 1 };
	struct sl_err err = { 0 };
	struct jn *j = jn_open(path, &clock, &err);
	CHECK(j != NULL);
	struct jn_delta d0, d1;
	jn_delta_init(&d0);
	jn_delta_init(&d1);
	struct jv *conv0 = jv_arr(), *conv1 = jv_arr();
	struct jv *expect[6];
	int ne = 0;
	for (int turn = 0; turn < 3; turn++) {
		char t[32];
		snprintf(t, sizeof t, "user %d", turn);
		jv_push(conv0, msg("user", t));
		struct jv *r0 = request(conv0);
		expect[ne++] = jv_copy(r0);
		CHECK(jn_append_request(j, &d0, "agent-0", "mock", r0) >= 0);
		jv_unref(r0);
		/* An interleaved second agent with its own base. */
		jv_push(conv1, msg("user", t));
		struct jv *r1 = request(conv1);
		expect[ne++] = jv_copy(r1);
		CHECK(jn_append_request(j, &d1, "agent-1", "mock", r1) >= 0);
		jv_unref(r1);
		jv_push(conv0, msg("assistant", "ok"));
		jv_push(conv1, msg("assistant", "ok"));
	}
	jn_close(j);
	/* Stored small: the third request of agent-0 holds only the delta. */
	struct jn_reader *rd = jn_reader_open(path, &err);
	CHECK(rd != NULL);
	struct jv *rec;
	int i = 0;
	while ((rec = jn_reader_next(rd, &err))) {
		CHECK(i < ne);
		if (i < ne)
			CHECK(jv_equal(jv_get(rec, "request"), expect[i]));
		jv_unref(rec);
		i++;
	}
	CHECK(err.code == 0);
	CHECK(i == ne);
	jn_reader_close(rd);
	for (int k = 0; k < ne; k++)
		jv_unref(expect[k]);
	jv_unref(conv0);
	jv_unref(conv1);
	jn_delta_deinit(&d0);
	jn_delta_deinit(&d1);
	char *cmd = sl_xasprintf("sqlite3 %s \"select body from records where seq=4\"", path);
	FILE *p = popen(cmd, "r");
	char line[4096] = "";
	if (p) {
		if (!fgets(line, sizeof line, p))
			line[0] = 0;
		pclose(p);
	}
	CHECK(strstr(line, "\"$base\":2") != NULL);  /* the base is the same agent's */
	CHECK(strstr(line, "\"$keep\":3") != NULL);
	CHECK(strstr(line, "a long system prompt") == NULL);
	free(cmd);
	unlink(path);
	free(path);
	char *rm = sl_xasprintf("rm -rf %s", dir);
	CHECK(system(rm) == 0);
	free(rm);
}

TEST(bad_reference_refused)
{
	char dir[] = "/tmp/jn-delta-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = sl_xasprintf("%s/j.jsonl", dir);
	const char *text =
		"{\"seq\":0,\"time\":{\"logical\":0},\"entry\":\"llm_request\",\"agent\":\"agent-0\","
		"\"backend\":\"mock\",\"request\":{\"system\":{\"$base\":7},\"messages\":[]}}\n";
	CHECK(sl_write_file(path, text, strlen(text), 0600, NULL) == 0);
	struct sl_err err = { 0 };
	struct jn_reader *rd = jn_reader_open(path, &err);
	CHECK(rd != NULL);
	struct jv *rec = jn_reader_next(rd, &err);
	CHECK(rec == NULL);
	CHECK(strstr(err.msg, "refers to seq 7, which is no earlier request") != NULL);
	jn_reader_close(rd);
	unlink(path);
	free(path);
	rmdir(dir);
}
