/*
 * Journal append rate (SPEC.md goal: >= 50,000 records/s). Appends N
 * realistic records (default 200,000: 60 % events, 20 % tool_exec, 10 %
 * llm_request, 10 % llm_response, bodies built as jv trees the way the
 * engine builds them) through jn_append, one committed transaction each,
 * then N small event records, and compares each with two baselines
 * measured in the same run on the same bodies:
 *   - raw INSERTs of pre-emitted bodies into the same schema, all in one
 *     transaction (what SQLite costs without per-record commits);
 *   - fprintf of JSON lines to a file (the reference's JSONL journal).
 * CPU time per append is printed too: on a shared machine the wall-clock
 * rate depends on the other load, the CPU time much less.
 * Usage: bench_journal [records] [directory]
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal/jn.h"

#define VARIANTS 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic filler text of n bytes (code-like, some escapes). */
static struct jv *filler(unsigned seed, size_t n)
{
	static const char *const words[] = { "int", "main", "(void)", "{", "}", "return", "0;",
					     "\"TODO\"", "\n", "\t", "x", "for", "/* ok */" };
	struct sl_buf b;
	sl_buf_init(&b);
	while (b.len < n) {
		seed = seed * 1103515245u + 12345u;
		sl_buf_adds(&b, words[(seed >> 16) % SL_ARRAY_LEN(words)]);
		sl_buf_addc(&b, ' ');
	}
	struct jv *s = jv_strn(b.p, n);
	sl_buf_free(&b);
	return s;
}

static struct jv *event_body(unsigned i)
{
	struct jv *ev = jv_obj();
	jv_set(ev, "seq", jv_int(i));
	struct jv *t = jv_obj();
	jv_set(t, "logical", jv_int(1000 + i));
	jv_set(t, "wall_ms", jv_int(1764180000000LL + i));
	jv_set(ev, "time", t);
	jv_set(ev, "kind", jv_str("assistant_text"));
	jv_set(ev, "agent", jv_str("agent-0"));
	jv_set(ev, "text", filler(i, 150 + i % 200));
	struct jv *body = jv_obj();
	jv_set(body, "event", ev);
	return body;
}

static struct jv *tool_body(unsigned i)
{
	struct jv *call = jv_obj();
	jv_set(call, "id", jv_strf("toolu_%08u", i));
	jv_set(call, "name", jv_str("Bash"));
	struct jv *in = jv_obj();
	jv_set(in, "command", jv_str("grep -rn TODO src | head -50"));
	jv_set(in, "timeout", jv_int(120));
	jv_set(call, "input", in);
	struct jv *out = jv_obj();
	jv_set(out, "content", filler(i * 7, 600 + i % 1500));
	jv_set(out, "is_error", jv_bool(0));
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str("agent-0"));
	jv_set(body, "owner", jv_str("sandbox"));
	jv_set(body, "call", call);
	jv_set(body, "output", out);
	return body;
}

static struct jv *text_block(struct jv *text)
{
	struct jv *b = jv_obj();
	jv_set(b, "type", jv_str("text"));
	jv_set(b, "text", text);
	return b;
}

static struct jv *request_body(unsigned i)
{
	struct jv *req = jv_obj();
	jv_set(req, "system", filler(i, 1500));
	struct jv *msgs = jv_arr();
	for (unsigned m = 0; m < 6; m++) {
		struct jv *msg = jv_obj();
		jv_set(msg, "role", jv_str(m % 2 ? "assistant" : "user"));
		struct jv *content = jv_arr();
		jv_push(content, text_block(filler(i + m, 500)));
		jv_set(msg, "content", content);
		jv_push(msgs, msg);
	}
	jv_set(req, "messages", msgs);
	jv_set(req, "tools", jv_arr());
	jv_set(req, "max_tokens", jv_int(8192));
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str("agent-0"));
	jv_set(body, "backend", jv_str("anthropic"));
	jv_set(body, "request", req);
	return body;
}

static struct jv *response_body(unsigned i)
{
	struct jv *content = jv_arr();
	jv_push(content, text_block(filler(i, 300)));
	struct jv *resp = jv_obj();
	jv_set(resp, "content", content);
	jv_set(resp, "stop_reason", jv_str("end_turn"));
	struct jv *usage = jv_obj();
	jv_set(usage, "input_tokens", jv_int(5000 + i));
	jv_set(usage, "output_tokens", jv_int(120));
	jv_set(resp, "usage", usage);
	struct jv *body = jv_obj();
	jv_set(body, "agent", jv_str("agent-0"));
	jv_set(body, "backend", jv_str("anthropic"));
	jv_set(body, "response", resp);
	return body;
}

struct rec {
	const char *entry;
	struct jv *body;
	char *text; /* pre-emitted, for the baselines */
	size_t len;
};

/* Mixed workload by position: 6 events, 2 tool_exec, 1 request and 1
 * response in every 10 records. */
static const struct rec *pick_mix(const struct rec *tmpl, unsigned i)
{
	unsigned k = i % 10, v = (i / 10) % VARIANTS;
	int kind = k < 6 ? 0 : k < 8 ? 1 : k == 8 ? 2 : 3;
	return &tmpl[kind * VARIANTS + v];
}

/* Events only: the per-commit floor with small bodies. */
static const struct rec *pick_events(const struct rec *tmpl, unsigned i)
{
	return &tmpl[i % VARIANTS];
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_journal: %s: %s\n", what, msg);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef const struct rec *(*picker)(const struct rec *, unsigned);

static void run(const char *title, const char *dir, const struct rec *tmpl, picker pick, long n)
{
	double bytes = 0;
	for (long i = 0; i < n; i++)
		bytes += (double)pick(tmpl, (unsigned)i)->len;

	/* 1. The journal: jn_append, one committed transaction per record. */
	char *path = sl_xasprintf("%s/journal.db", dir);
	struct sl_clock clock = { 0 };
	struct sl_err err;
	struct jn *j = jn_open(path, &clock, &err);
	if (!j)
		die("jn_open", err.msg);
	double *lat = sl_xcalloc((size_t)n, sizeof *lat);
	double c0 = cpu_seconds(), t0 = now();
	for (long i = 0; i < n; i++) {
		const struct rec *r = pick(tmpl, (unsigned)i);
		double a = now();
		if (jn_append(j, r->entry, r->body) != i)
			die("jn_append", "failed");
		lat[i] = now() - a;
	}
	double t_append = now() - t0, c_append = cpu_seconds() - c0;
	t0 = now();
	jn_close(j);
	double t_close = now() - t0;
	struct stat st;
	if (stat(path, &st))
		st.st_size = 0;
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);

	/* 2. Baseline: raw INSERTs in one transaction, same schema. */
	char *path2 = sl_xasprintf("%s/raw.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path2, &db))
		die("sqlite3_open", sqlite3_errmsg(db));
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		     "CREATE TABLE records (seq INTEGER PRIMARY KEY, logical INTEGER NOT NULL,"
		     " wall_ms INTEGER, entry TEXT NOT NULL, body TEXT NOT NULL);"
		     "CREATE INDEX records_by_entry ON records(entry, seq);",
		     NULL, NULL, NULL);
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db, "INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ins, NULL);
	t0 = now();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (long i = 0; i < n; i++) {
		const struct rec *r = pick(tmpl, (unsigned)i);
		sqlite3_bind_int64(ins, 1, i);
		sqlite3_bind_int64(ins, 2, i);
		sqlite3_bind_int64(ins, 3, 1764180000000LL + i);
		sqlite3_bind_text(ins, 4, r->entry, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 5, r->text, (int)r->len, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die("INSERT", sqlite3_errmsg(db));
		sqlite3_reset(ins);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	double t_raw = now() - t0;
	sqlite3_finalize(ins);
	sqlite3_close(db);

	/* 3. Baseline: fprintf JSON lines (buffered stdio, closed at the end). */
	char *path3 = sl_xasprintf("%s/journal.jsonl", dir);
	t0 = now();
	FILE *f = fopen(path3, "w");
	if (!f)
		die("fopen", path3);
	for (long i = 0; i < n; i++) {
		const struct rec *r = pick(tmpl, (unsigned)i);
		fprintf(f,
			"{\"seq\":%ld,\"time\":{\"logical\":%ld,\"wall_ms\":%lld},\"entry\":\"%s\",%s\n",
			i, i, 1764180000000LL + i, r->entry, r->text + 1);
	}
	if (fclose(f))
		die("fclose", path3);
	double t_fprintf = now() - t0;

	double r_append = (double)n / t_append, r_raw = (double)n / t_raw,
	       r_fprintf = (double)n / t_fprintf;
	printf("== %s: %ld records, body bytes %.1f MB (mean %.0f B)\n", title, n, bytes / 1e6,
	       bytes / (double)n);
	printf("jn_append, one transaction per record: %9.0f records/s  (%.2f s; close+checkpoint "
	       "%.2f s; file %.1f MB)\n",
	       r_append, t_append, t_close, (double)st.st_size / 1e6);
	printf("  CPU per append %.1f us user+sys (%.0f records/s if it had a core to itself)\n",
	       c_append / (double)n * 1e6, (double)n / c_append);
	printf("  latency per append: p50 %.1f us, p99 %.1f us, max %.1f us\n", lat[n / 2] * 1e6,
	       lat[n * 99 / 100] * 1e6, lat[n - 1] * 1e6);
	printf("baseline raw INSERT, one transaction:   %9.0f records/s  (%.2f s)\n", r_raw, t_raw);
	printf("baseline fprintf JSON lines:            %9.0f records/s  (%.2f s)\n", r_fprintf,
	       t_fprintf);
	printf("ratio jn_append / raw INSERT: %.2f   ratio jn_append / fprintf: %.2f\n",
	       r_append / r_raw, r_append / r_fprintf);
	printf("goal 50000 records/s: %s\n\n", r_append >= 50000 ? "met" : "NOT met");
	fflush(stdout);
	unlink(path);
	unlink(path2);
	unlink(path3);
	free(lat);
	free(path);
	free(path2);
	free(path3);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
	if (n <= 0)
		die("usage", "bench_journal [records] [directory]");
	char *dir = sl_xasprintf("%s/silo-bench-journal-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", dir);

	struct rec tmpl[4 * VARIANTS];
	struct jv *(*make[4])(unsigned) = { event_body, tool_body, request_body, response_body };
	static const char *const entries[4] = { "event", "tool_exec", "llm_request",
						"llm_response" };
	for (int k = 0; k < 4; k++)
		for (unsigned v = 0; v < VARIANTS; v++) {
			struct rec *r = &tmpl[k * VARIANTS + v];
			r->entry = entries[k];
			r->body = make[k](v * 31 + (unsigned)k);
			r->text = jv_to_string(r->body, 0);
			r->len = strlen(r->text);
		}

	run("mixed records (60% event, 20% tool_exec, 10% llm_request, 10% llm_response)", dir,
	    tmpl, pick_mix, n);
	run("events only", dir, tmpl, pick_events, n);

	for (size_t k = 0; k < SL_ARRAY_LEN(tmpl); k++) {
		jv_unref(tmpl[k].body);
		free(tmpl[k].text);
	}
	sl_rm_rf(dir);
	free(dir);
	return 0;
}
