/*
 * Journal -> Lua fixture (`silo replay-test`, replay.md 4 and 4.1). Walks
 * the records in seq order and keeps what the mocks need to re-drive the
 * session: model responses (llm), sandbox tool results (tools), what the
 * user did (frontend steps) and the network summaries (documentation).
 * Everything else is reproduced by the replay itself.
 *
 * Struct fields are written in the order of replay.md 5 (known fields
 * first, unknown ones after, as stored); free-form values (tool inputs,
 * provider data) get their keys sorted bytewise. The file is written to a
 * temporary name beside the target and renamed, so a reader never sees a
 * half-written fixture.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jn_int.h"

struct walk {
	const char *path;     /* borrowed: the journal */
	struct jv *llm, *tools, *frontend, *network; /* owned arrays */
	int have_meta;
	char *workspace;      /* owned or NULL */
	char *policy_path;    /* owned or NULL */
};

/* A free-form value: deep copy with keys sorted at every level. */
static struct jv *freeform(const struct jv *v)
{
	struct jv *c = jv_copy(v);
	jv_sort_keys(c);
	return c;
}

/* Copy of object src with the keys of order[] first (when present), then
 * the other keys as stored; every value is copied as free-form. */
static struct jv *reorder(const struct jv *src, const char *const *order)
{
	struct jv *o = jv_obj();
	for (const char *const *k = order; *k; k++) {
		const struct jv *v = jv_get(src, *k);
		if (v)
			jv_set(o, *k, freeform(v));
	}
	for (size_t i = 0; i < jv_len(src); i++) {
		const char *k = jv_key_at(src, i);
		if (!jv_get(o, k))
			jv_set(o, k, freeform(jv_val_at(src, i)));
	}
	return o;
}

static struct jv *norm_block(const struct jv *b)
{
	static const char *const text[] = { "type", "text", NULL };
	static const char *const tool_use[] = { "type", "id", "name", "input", NULL };
	static const char *const tool_result[] = { "type", "tool_use_id", "content", "is_error",
						   NULL };
	static const char *const other[] = { "type", NULL };
	if (!jv_is(b, JV_OBJECT))
		return freeform(b);
	const char *type = jv_get_str(b, "type");
	const char *const *order = other;
	if (type && !strcmp(type, "text"))
		order = text;
	else if (type && !strcmp(type, "tool_use"))
		order = tool_use;
	else if (type && !strcmp(type, "tool_result"))
		order = tool_result;
	return reorder(b, order);
}

static struct jv *norm_response(const struct jv *r)
{
	static const char *const order[] = { "content", "stop_reason", "usage", NULL };
	static const char *const usage_order[] = { "input_tokens", "output_tokens", NULL };
	struct jv *o = reorder(r, order);
	const struct jv *content = jv_get(r, "content");
	if (jv_is(content, JV_ARRAY)) {
		struct jv *a = jv_arr();
		for (size_t i = 0; i < jv_len(content); i++)
			jv_push(a, norm_block(jv_at(content, i)));
		jv_set(o, "content", a); /* replaces in place: order kept */
	}
	const struct jv *usage = jv_get(r, "usage");
	if (jv_is(usage, JV_OBJECT))
		jv_set(o, "usage", reorder(usage, usage_order));
	return o;
}

static int bad(struct sl_err *err, const struct walk *w, const struct jv *rec, const char *what)
{
	return sl_err_set(err, SL_EPARSE, "journal %s: record seq %lld (%s): %s", w->path,
			  (long long)jv_get_int(rec, "seq", -1), jv_get_str(rec, "entry"), what);
}

static void step(struct walk *w, const char *name, const char *k1, const struct jv *v1,
		 const char *k2, const struct jv *v2)
{
	struct jv *s = jv_obj();
	jv_set(s, "step", jv_str(name));
	if (k1)
		jv_set(s, k1, jv_copy(v1));
	if (k2)
		jv_set(s, k2, jv_copy(v2));
	jv_push(w->frontend, s);
}

static int is_str(const struct jv *v)
{
	return jv_is(v, JV_STRING);
}

/* origin is a tag flattened into the event ("origin":"client"); an object
 * keyed by the variant is accepted too. */
static int origin_is_client(const struct jv *ev)
{
	const struct jv *o = jv_get(ev, "origin");
	if (is_str(o))
		return !strcmp(jv_str_val(o), "client");
	return jv_is(o, JV_OBJECT) && (jv_get(o, "client") ||
				       (jv_get_str(o, "type") &&
					!strcmp(jv_get_str(o, "type"), "client")));
}

static int on_event(struct walk *w, const struct jv *rec, struct sl_err *err)
{
	const struct jv *ev = jv_get(rec, "event");
	const char *kind = jv_get_str(ev, "kind");
	if (!jv_is(ev, JV_OBJECT) || !kind)
		return bad(err, w, rec, "no event object with a kind");
	if (!strcmp(kind, "user_prompt")) {
		const struct jv *text = jv_get(ev, "text");
		if (!is_str(text))
			return bad(err, w, rec, "user_prompt without a text string");
		step(w, "send_prompt", "text", text, NULL, NULL);
	} else if (!strcmp(kind, "question_answered")) {
		const struct jv *answer = jv_get(ev, "answer");
		if (!is_str(answer))
			return bad(err, w, rec, "question_answered without an answer string");
		/* An answer the interrupt produced is replayed by the interrupt
		 * step, not scripted. */
		if (!jv_get(ev, "client_id") && !strcmp(jv_str_val(answer), "[interrupted]"))
			return 0;
		step(w, "answer_question", "answer", answer, NULL, NULL);
	} else if (!strcmp(kind, "file_shared")) {
		if (!origin_is_client(ev))
			return 0;
		const struct jv *name = jv_get(ev, "name"), *b64 = jv_get(ev, "content_b64");
		if (!is_str(name) || !is_str(b64))
			return bad(err, w, rec, "file_shared without name and content_b64 strings");
		step(w, "upload_file", "name", name, "content_b64", b64);
	} else if (!strcmp(kind, "shutdown")) {
		const struct jv *msg = jv_get(ev, "message");
		if (msg && !jv_is(msg, JV_NULL) && !is_str(msg))
			return bad(err, w, rec, "shutdown message is not a string");
		if (is_str(msg))
			step(w, "expect_shutdown", "message_contains", msg, NULL, NULL);
		else
			step(w, "expect_shutdown", NULL, NULL, NULL, NULL);
	}
	return 0;
}

static int on_tool_exec(struct walk *w, const struct jv *rec, struct sl_err *err)
{
	static const char *const out_order[] = { "content", "is_error", NULL };
	const char *owner = jv_get_str(rec, "owner");
	if (!owner)
		return bad(err, w, rec, "no owner");
	if (strcmp(owner, "sandbox"))
		return 0; /* frontend, harness and policy calls replay themselves */
	const struct jv *call = jv_get(rec, "call"), *output = jv_get(rec, "output");
	const struct jv *name = jv_get(call, "name");
	if (!is_str(name))
		return bad(err, w, rec, "no call object with a name");
	if (!jv_is(output, JV_OBJECT))
		return bad(err, w, rec, "no output object");
	struct jv *t = jv_obj();
	jv_set(t, "expect_name", jv_copy(name));
	const struct jv *input = jv_get(call, "input");
	if (input)
		jv_set(t, "expect_input", freeform(input));
	jv_set(t, "output", reorder(output, out_order));
	jv_push(w->tools, t);
	return 0;
}

static void on_meta(struct walk *w, const struct jv *rec)
{
	if (w->have_meta)
		return;
	w->have_meta = 1;
	const char *summary = jv_get_str(rec, "config_summary");
	const char *ws = summary ? strstr(summary, "workspace=") : NULL;
	if (ws) {
		ws += strlen("workspace=");
		const char *end = strstr(ws, " llm=");
		w->workspace = end ? sl_xstrndup(ws, (size_t)(end - ws)) : sl_xstrdup(ws);
	}
	const char *policy = jv_get_str(rec, "policy_path");
	if (policy)
		w->policy_path = sl_xstrdup(policy);
}

static int on_record(struct walk *w, const struct jv *rec, struct sl_err *err)
{
	static const char *const net_order[] = {
		"host",	  "port",	    "method",	 "path",
		"status", "bytes_sent",	    "bytes_received",
		"allowed", "credential_injected", "note", NULL,
	};
	const char *entry = jv_get_str(rec, "entry");
	if (!strcmp(entry, "meta")) {
		on_meta(w, rec);
	} else if (!strcmp(entry, "llm_response")) {
		const struct jv *resp = jv_get(rec, "response");
		if (!jv_is(resp, JV_OBJECT))
			return bad(err, w, rec, "no response object");
		struct jv *turn = jv_obj();
		jv_set(turn, "response", norm_response(resp));
		jv_push(w->llm, turn);
	} else if (!strcmp(entry, "tool_exec")) {
		return on_tool_exec(w, rec, err);
	} else if (!strcmp(entry, "event")) {
		return on_event(w, rec, err);
	} else if (!strcmp(entry, "frontend_command")) {
		const char *cmd = jv_get_str(jv_get(rec, "command"), "command");
		if (!cmd)
			return bad(err, w, rec, "no command object with a command");
		if (!strcmp(cmd, "interrupt"))
			step(w, "interrupt", NULL, NULL, NULL, NULL);
	} else if (!strcmp(entry, "network")) {
		const struct jv *r = jv_get(rec, "record");
		if (!jv_is(r, JV_OBJECT))
			return bad(err, w, rec, "no record object");
		jv_push(w->network, reorder(r, net_order));
	}
	return 0;
}

/* The journal's file name without directory and extension. */
static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	return sl_xstrndup(base, n);
}

static void list_field(struct sl_buf *out, const char *key, const struct jv *list)
{
	sl_buf_printf(out, "  %s = ", key);
	if (jv_len(list))
		jn__lua_value(out, list, 1);
	else
		sl_buf_adds(out, "{}");
	sl_buf_adds(out, ",\n");
}

static void render(struct sl_buf *out, const struct walk *w, const char *name)
{
	sl_buf_adds(out, "-- Lua replay fixture generated by `silo replay-test` from the journal\n-- ");
	/* The path goes into a comment: no byte may end the line early. */
	for (const char *p = w->path; *p; p++)
		sl_buf_addc(out, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	sl_buf_adds(out, "\n-- Format: docs/journal.md and replay.md section 5.\n");
	sl_buf_adds(out, "return {\n  name = ");
	jn__lua_string(out, name, strlen(name));
	sl_buf_adds(out, ",\n");
	list_field(out, "llm", w->llm);
	list_field(out, "tools", w->tools);
	list_field(out, "frontend", w->frontend);
	list_field(out, "network", w->network);
	sl_buf_adds(out, "}\n");
}

static int write_atomic(const char *path, const struct sl_buf *b, struct sl_err *err)
{
	char *tmp = sl_xasprintf("%s.tmp-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int rc = sl_err_set(err, SL_EIO, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	int rc = 0;
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", tmp, strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	/* mkstemp makes 0600; a fixture is an ordinary source file. */
	if (!rc && fchmod(fd, 0644))
		rc = sl_err_set(err, SL_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
	if (close(fd) && !rc)
		rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = sl_err_set(err, SL_EIO, "cannot write %s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int jn_write_fixture(const char *journal, const char *out_path, const char *name,
		     struct jn_fixture_stats *stats, struct sl_err *err)
{
	struct sl_err e = { 0 };
	if (stats)
		memset(stats, 0, sizeof *stats);
	if (!journal || !out_path || !*out_path) {
		sl_err_set(err, SL_EINVAL, "replay-test needs a journal and an output path");
		return SL_EINVAL;
	}
	struct jn_reader *r = jn_reader_open(journal, &e);
	if (!r)
		goto done;
	struct walk w = {
		.path = journal,
		.llm = jv_arr(),
		.tools = jv_arr(),
		.frontend = jv_arr(),
		.network = jv_arr(),
	};
	struct jv *rec;
	while ((rec = jn_reader_next(r, &e))) {
		int rc = on_record(&w, rec, &e);
		jv_unref(rec);
		if (rc)
			break;
	}
	jn_reader_close(r);
	if (!e.code) {
		char *stem = name ? NULL : file_stem(journal);
		struct sl_buf b;
		sl_buf_init(&b);
		render(&b, &w, name ? name : stem);
		write_atomic(out_path, &b, &e);
		sl_buf_free(&b);
		free(stem);
	}
	if (!e.code && stats) {
		stats->llm_turns = (int)jv_len(w.llm);
		stats->tool_execs = (int)jv_len(w.tools);
		stats->frontend_steps = (int)jv_len(w.frontend);
		stats->workspace = w.workspace;
		stats->policy_path = w.policy_path;
		w.workspace = w.policy_path = NULL;
	}
	free(w.workspace);
	free(w.policy_path);
	jv_unref(w.llm);
	jv_unref(w.tools);
	jv_unref(w.frontend);
	jv_unref(w.network);
done:
	if (err)
		*err = e;
	return e.code;
}
