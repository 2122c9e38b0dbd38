/*
 * fx_match.c: how the mocks consume a loaded fixture (replay.md 6, 8). LLM
 * turns are matched against the text of the request's last user message,
 * expectation-bearing turns first; tool entries by name, expect_input
 * (subset match) and predicate. Predicates run in the fixture's own Lua
 * state under its budget; one that errors counts as "no match" and its
 * error is added to the mismatch text. Also the consumption summary and the
 * sticky first failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luahost/lh.h"
#include "mock/fx.h"

/* replay.md 6 step 3: text blocks and tool_result contents of the last user
 * message, in block order, joined by "\n". */
static void match_text(const struct jv *request, struct sl_buf *out)
{
	const struct jv *msgs = jv_get(request, "messages");
	const struct jv *last = NULL, *content;
	int first = 1;

	for (size_t i = jv_len(msgs); i > 0; i--) {
		const struct jv *m = jv_at(msgs, i - 1);
		const char *role = jv_get_str(m, "role");

		if (role && !strcmp(role, "user")) {
			last = m;
			break;
		}
	}
	content = jv_get(last, "content");
	if (jv_is(content, JV_STRING)) {
		sl_buf_add(out, jv_str_val(content), jv_str_len(content));
		return;
	}
	for (size_t i = 0; i < jv_len(content); i++) {
		const struct jv *blk = jv_at(content, i), *t = NULL;
		const char *type = jv_get_str(blk, "type");

		if (!type)
			continue;
		if (!strcmp(type, "text"))
			t = jv_get(blk, "text");
		else if (!strcmp(type, "tool_result"))
			t = jv_get(blk, "content");
		if (!jv_is(t, JV_STRING))
			continue;
		if (!first)
			sl_buf_addc(out, '\n');
		sl_buf_add(out, jv_str_val(t), jv_str_len(t));
		first = 0;
	}
}

/* Runs predicate ref on arg: 1 match, 0 no match (errors appended to
 * errs as "; <what> expect failed: <msg>"). */
static int predicate(struct fx *fx, int ref, const struct jv *arg, const char *what,
		     struct sl_buf *errs)
{
	struct sl_err e = { 0 };
	struct jv *ret = NULL;
	int ok;

	if (lh_call(fx->lua, ref, arg, &ret, &e)) {
		sl_buf_printf(errs, "; %s expect failed: %s", what, e.msg);
		return 0;
	}
	ok = ret && !jv_is(ret, JV_NULL) && !(jv_is(ret, JV_BOOL) && !jv_bool_val(ret));
	jv_unref(ret);
	return ok;
}

static int llm_bearing(const struct fx_llm *t)
{
	return t->expect_user_contains || t->expect_ref != LUA_NOREF;
}

const struct jv *fx_llm_next(struct fx *fx, const struct jv *request, struct sl_err *err)
{
	struct sl_buf text, errs, exp;
	struct fx_llm *pick = NULL;
	size_t i;
	int any = 0;

	for (i = 0; i < fx->n_llm; i++)
		any |= !fx->llm[i].consumed;
	if (!any) {
		sl_err_set(err, SL_ESCRIPT, "llm script exhausted");
		return NULL;
	}
	sl_buf_init(&text);
	sl_buf_init(&errs);
	sl_buf_init(&exp);
	sl_buf_adds(&text, "");
	match_text(request, &text);
	for (i = 0; i < fx->n_llm && !pick; i++) {
		struct fx_llm *t = &fx->llm[i];
		char what[32];

		if (t->consumed || !llm_bearing(t))
			continue;
		if (t->expect_user_contains && !strstr(text.p, t->expect_user_contains))
			continue;
		snprintf(what, sizeof(what), "llm[%zu]", i + 1);
		if (t->expect_ref != LUA_NOREF && !predicate(fx, t->expect_ref, request, what, &errs))
			continue;
		pick = t;
	}
	if (!pick) {
		for (i = 0; i < fx->n_llm; i++) {
			if (fx->llm[i].consumed)
				continue;
			if (!llm_bearing(&fx->llm[i]))
				pick = &fx->llm[i];
			break;
		}
	}
	if (!pick) {
		int n = 0;

		for (i = 0; i < fx->n_llm; i++) {
			const struct fx_llm *t = &fx->llm[i];

			if (t->consumed || !llm_bearing(t))
				continue;
			if (n++)
				sl_buf_adds(&exp, ", ");
			if (t->expect_user_contains)
				jv_emit_string(&exp, t->expect_user_contains,
					       strlen(t->expect_user_contains));
			if (t->expect_user_contains && t->expect_ref != LUA_NOREF)
				sl_buf_adds(&exp, " and ");
			if (t->expect_ref != LUA_NOREF)
				sl_buf_printf(&exp, "<expect llm[%zu]>", i + 1);
		}
		sl_buf_adds(&exp, "");
		{
			struct sl_buf got;

			sl_buf_init(&got);
			jv_emit_string(&got, text.p, text.len);
			sl_err_set(err, SL_ESCRIPT,
				   "no pending llm turn matches; expected one of [%s], got %s%s",
				   exp.p, got.p, errs.len ? errs.p : "");
			sl_buf_free(&got);
		}
	} else {
		pick->consumed = 1;
	}
	sl_buf_free(&text);
	sl_buf_free(&errs);
	sl_buf_free(&exp);
	return pick ? pick->response : NULL;
}

const struct jv *fx_tool_next(struct fx *fx, const char *name, const struct jv *input,
			      struct sl_err *err)
{
	struct fx_tool *pick = NULL;
	struct sl_buf errs;
	struct jv *call = NULL;
	size_t i;
	int any = 0;

	for (i = 0; i < fx->n_tools; i++)
		any |= !fx->tools[i].consumed;
	if (!any) {
		sl_err_set(err, SL_ESCRIPT, "tool script exhausted");
		return NULL;
	}
	sl_buf_init(&errs);
	for (i = 0; i < fx->n_tools && !pick; i++) {
		struct fx_tool *t = &fx->tools[i];
		char what[32];

		if (t->consumed || strcmp(t->expect_name, name))
			continue;
		if (t->expect_input && !jv_subset(t->expect_input, input))
			continue;
		if (t->expect_ref != LUA_NOREF) {
			if (!call) {
				call = jv_obj();
				jv_set(call, "name", jv_str(name));
				jv_set(call, "input", input ? jv_copy(input) : jv_obj());
			}
			snprintf(what, sizeof(what), "tools[%zu]", i + 1);
			if (!predicate(fx, t->expect_ref, call, what, &errs))
				continue;
		}
		pick = t;
	}
	jv_unref(call);
	if (pick) {
		pick->consumed = 1;
	} else {
		struct sl_buf names, in;
		int n = 0;

		sl_buf_init(&names);
		sl_buf_init(&in);
		sl_buf_adds(&names, "");
		for (i = 0; i < fx->n_tools; i++) {
			if (fx->tools[i].consumed)
				continue;
			if (n++)
				sl_buf_adds(&names, ", ");
			sl_buf_adds(&names, fx->tools[i].expect_name);
		}
		if (input)
			jv_emit(input, &in, JV_EMIT_SORTED);
		else
			sl_buf_adds(&in, "null");
		sl_err_set(err, SL_ESCRIPT,
			   "no pending tool entry matches %s %s; expected one of [%s]%s", name,
			   in.p, names.p, errs.len ? errs.p : "");
		sl_buf_free(&names);
		sl_buf_free(&in);
	}
	sl_buf_free(&errs);
	return pick ? pick->output : NULL;
}

void fx_summary(const struct fx *fx, struct sl_buf *out)
{
	size_t cl = 0, ct = 0;

	for (size_t i = 0; i < fx->n_llm; i++)
		cl += fx->llm[i].consumed != 0;
	for (size_t i = 0; i < fx->n_tools; i++)
		ct += fx->tools[i].consumed != 0;
	sl_buf_printf(out, "llm %zu/%zu, tools %zu/%zu, frontend %zu/%zu", cl, fx->n_llm, ct,
		      fx->n_tools, fx->cursor, fx->n_steps);
}

int fx_all_consumed(const struct fx *fx)
{
	for (size_t i = 0; i < fx->n_llm; i++)
		if (!fx->llm[i].consumed)
			return 0;
	for (size_t i = 0; i < fx->n_tools; i++)
		if (!fx->tools[i].consumed)
			return 0;
	return fx->cursor >= fx->n_steps;
}

void fx_fail(struct fx *fx, const char *fmt, ...)
{
	struct sl_buf b;
	va_list ap;

	if (fx->failure)
		return;
	sl_buf_init(&b);
	va_start(ap, fmt);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	fx->failure = sl_buf_steal(&b);
}
