/* Shared helpers of the Lua host unit tests. */
#ifndef LHTEST_H
#define LHTEST_H
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luahost/lh.h"
#include "tap.h"

/* Loads `return { f = function(...) <body> end }` and calls f(arg). */
static inline int lht_run(struct lh_state *st, const char *body, const struct jv *arg,
			  struct jv **ret, struct sl_err *err)
{
	char *src = sl_xasprintf("return { f = function(arg) %s end }", body);
	const struct jv *args[1] = { arg };
	int ref, rc;

	rc = lh_load_string(st, "test.lua", src, strlen(src), &ref, err);
	free(src);
	if (rc)
		return rc;
	rc = lh_call_field(st, ref, "f", args, 1, ret, err);
	lh_unref(st, ref);
	return rc;
}

/* Runs body and returns its result as compact sorted JSON (malloc'd), or
 * "ERR: <message>". */
static inline char *lht_eval(struct lh_state *st, const char *body)
{
	struct sl_err err = { 0 };
	struct jv *ret = NULL;

	if (lht_run(st, body, NULL, &ret, &err))
		return sl_xasprintf("ERR: %s", err.msg);
	char *s = jv_to_string(ret, JV_EMIT_SORTED);
	jv_unref(ret);
	return s;
}

#define CHECK_EVAL(st, body, want)                                             \
	do {                                                                   \
		char *got_ = lht_eval(st, body);                               \
		CHECK_STR(got_, want);                                         \
		free(got_);                                                    \
	} while (0)

#define CHECK_EVAL_HAS(st, body, needle)                                       \
	do {                                                                   \
		char *got_ = lht_eval(st, body);                               \
		if (!strstr(got_, needle)) {                                   \
			tap_failed = 1;                                        \
			printf("#   %s:%d: \"%s\" lacks \"%s\"\n", __FILE__,   \
			       __LINE__, got_, needle);                        \
		}                                                              \
		free(got_);                                                    \
	} while (0)

#endif
