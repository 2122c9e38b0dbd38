/*
 * Lua source for generated fixtures (replay.md 4.1, 5.2): JSON values as
 * Lua constructors the fixture loader maps back exactly. The output is a
 * pure function of the value, so one journal always gives the same bytes.
 *
 * Layout: a table whose values are all scalars and whose one-line form is
 * short stays on one line `{ a = 1, b = "x" }`; any other table opens one
 * line per value, indented by two spaces per level, each value followed by
 * a comma. Objects keep their stored key order; the fixture generator has
 * already put struct fields in spec order and sorted free-form values.
 */
#include <string.h>

#include "jn_int.h"

/* One-line tables longer than this are written one value per line. */
#define JN_LUA_INLINE_MAX 72

static const char *const lua_keywords[] = {
	"and",	"break", "do",	 "else", "elseif", "end",   "false", "for",
	"function", "goto",  "if",   "in",   "local",  "nil",   "not",   "or",
	"repeat", "return", "then", "true", "until",  "while",
};

int jn__lua_bare_key(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return 0;
	for (const char *p = s + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (*p >= '0' && *p <= '9')))
			return 0;
	for (size_t i = 0; i < SL_ARRAY_LEN(lua_keywords); i++)
		if (!strcmp(s, lua_keywords[i]))
			return 0;
	return 1;
}

void jn__lua_string(struct sl_buf *out, const char *s, size_t n)
{
	sl_buf_reserve(out, n + 2);
	sl_buf_addc(out, '"');
	size_t run = 0; /* start of the pending stretch of raw bytes */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char num[8];
		switch (c) {
		case '\\': esc = "\\\\"; break;
		case '"': esc = "\\\""; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				/* Always three digits, so a following digit
				 * can never extend the escape. */
				snprintf(num, sizeof num, "\\%03u", c);
				esc = num;
			}
		}
		if (!esc)
			continue;
		sl_buf_add(out, s + run, i - run);
		sl_buf_adds(out, esc);
		run = i + 1;
	}
	sl_buf_add(out, s + run, n - run);
	sl_buf_addc(out, '"');
}

static void lua_key(struct sl_buf *out, const char *k)
{
	if (jn__lua_bare_key(k)) {
		sl_buf_adds(out, k);
	} else {
		sl_buf_addc(out, '[');
		jn__lua_string(out, k, strlen(k));
		sl_buf_addc(out, ']');
	}
	sl_buf_adds(out, " = ");
}

static int is_container(const struct jv *v)
{
	return (jv_is(v, JV_ARRAY) || jv_is(v, JV_OBJECT)) && jv_len(v) > 0;
}

static void scalar(struct sl_buf *out, const struct jv *v)
{
	char num[32];
	switch (jv_type(v)) {
	case JV_NULL:
		sl_buf_adds(out, "json.null");
		break;
	case JV_BOOL:
		sl_buf_adds(out, jv_bool_val(v) ? "true" : "false");
		break;
	case JV_INT:
		if (jv_int_val(v) == INT64_MIN)
			/* The literal 9223372036854775808 would lex as a float. */
			sl_buf_adds(out, "(-9223372036854775807 - 1)");
		else
			sl_buf_printf(out, "%lld", (long long)jv_int_val(v));
		break;
	case JV_FLOAT:
		/* Always carries '.' or 'e', so Lua reads a float back. */
		jv_fmt_double(jv_num_val(v), num);
		sl_buf_adds(out, num);
		break;
	case JV_STRING:
		jn__lua_string(out, jv_str_val(v), jv_str_len(v));
		break;
	case JV_ARRAY:
		sl_buf_adds(out, "json.array{}");
		break;
	case JV_OBJECT:
		sl_buf_adds(out, "{}");
		break;
	}
}

static void indent(struct sl_buf *out, int level)
{
	for (int i = 0; i < level; i++)
		sl_buf_add(out, "  ", 2);
}

/* Tries the one-line form; returns 0 (out unchanged) when it does not fit. */
static int inline_table(struct sl_buf *out, const struct jv *v)
{
	int obj = jv_is(v, JV_OBJECT);
	size_t n = jv_len(v), start = out->len;
	for (size_t i = 0; i < n; i++)
		if (is_container(obj ? jv_val_at(v, i) : jv_at(v, i)))
			return 0;
	sl_buf_adds(out, "{ ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sl_buf_adds(out, ", ");
		if (obj)
			lua_key(out, jv_key_at(v, i));
		scalar(out, obj ? jv_val_at(v, i) : jv_at(v, i));
		if (out->len - start > JN_LUA_INLINE_MAX)
			break;
	}
	sl_buf_adds(out, " }");
	if (out->len - start <= JN_LUA_INLINE_MAX)
		return 1;
	out->len = start;
	out->p[start] = 0;
	return 0;
}

void jn__lua_value(struct sl_buf *out, const struct jv *v, int level)
{
	if (!is_container(v)) {
		scalar(out, v);
		return;
	}
	if (inline_table(out, v))
		return;
	int obj = jv_is(v, JV_OBJECT);
	sl_buf_adds(out, "{\n");
	for (size_t i = 0; i < jv_len(v); i++) {
		indent(out, level + 1);
		if (obj)
			lua_key(out, jv_key_at(v, i));
		jn__lua_value(out, obj ? jv_val_at(v, i) : jv_at(v, i), level + 1);
		sl_buf_adds(out, ",\n");
	}
	indent(out, level);
	sl_buf_addc(out, '}');
}
