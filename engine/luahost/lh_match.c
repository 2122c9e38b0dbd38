/*
 * lh_match.c: string.find, string.match, string.gmatch and string.gsub for
 * sandboxed states, with Lua 5.4's pattern language and results, but with
 * every matching step charged to the call's instruction budget.
 *
 * Why: Lua's own matcher runs in C where the count hook never fires, and a
 * pattern with a few unbounded repetitions backtracks for hours on a long
 * subject (an agent can plant such a subject in a file a review rule
 * scans). Here a runaway match ends like a runaway loop: "<script>:
 * instruction budget exceeded", sticky, pcall cannot hide it. The matcher
 * holds no C resources, so raising from inside it is safe.
 */
#include <ctype.h>
#include <string.h>

#include "luahost/lh_int.h"

#define M_MAXCAP 32
#define M_MAXDEPTH 200
#define M_CHARGE_EVERY 1024
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

struct mstate {
	const char *src, *src_end, *p_end;
	lua_State *L;
	int level, depth;
	unsigned steps;
	struct {
		const char *init;
		ptrdiff_t len;
	} cap[M_MAXCAP];
};

/* Adds the steps so far to the budget; raises past it. */
static void charge(struct mstate *ms)
{
	struct lh_state *st = lh__from_L(ms->L);

	st->instr_used += ms->steps;
	ms->steps = 0;
	if (!st->killed && st->instr_budget && st->instr_used > st->instr_budget)
		lh__kill(st, "%s: instruction budget exceeded", st->script ? st->script : "script");
	if (st->killed)
		luaL_error(ms->L, "%s", st->kill_msg);
}

static inline void step(struct mstate *ms)
{
	if (++ms->steps >= M_CHARGE_EVERY)
		charge(ms);
}

static const char *class_end(struct mstate *ms, const char *p)
{
	char c = *p++;

	if (c == '%') {
		if (p >= ms->p_end)
			luaL_error(ms->L, "malformed pattern (ends with '%%')");
		return p + 1;
	}
	if (c == '[') {
		if (p < ms->p_end && *p == '^')
			p++;
		do { /* the first character may be a literal ']' */
			if (p >= ms->p_end)
				luaL_error(ms->L, "malformed pattern (missing ']')");
			c = *p++;
			if (c == '%' && p < ms->p_end)
				p++;
		} while (p >= ms->p_end || *p != ']');
		return p + 1;
	}
	return p;
}

static int class_match(int c, int cl)
{
	int r;

	switch (tolower(cl)) {
	case 'a': r = isalpha(c); break;
	case 'c': r = iscntrl(c); break;
	case 'd': r = isdigit(c); break;
	case 'g': r = isgraph(c); break;
	case 'l': r = islower(c); break;
	case 'p': r = ispunct(c); break;
	case 's': r = isspace(c); break;
	case 'u': r = isupper(c); break;
	case 'w': r = isalnum(c); break;
	case 'x': r = isxdigit(c); break;
	default: return cl == c;
	}
	if (isupper(cl))
		r = !r;
	return r != 0;
}

/* p at '[', ec at the closing ']'. */
static int set_match(int c, const char *p, const char *ec)
{
	int neg = 0;

	if (*++p == '^') {
		neg = 1;
		p++;
	}
	while (p < ec) {
		if (*p == '%') {
			p++;
			if (class_match(c, (unsigned char)*p))
				return !neg;
			p++;
		} else if (p[1] == '-' && p + 2 < ec) {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return !neg;
			p += 3;
		} else {
			if ((unsigned char)*p == c)
				return !neg;
			p++;
		}
	}
	return neg;
}

static int single(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	int c;

	if (s >= ms->src_end)
		return 0;
	c = (unsigned char)*s;
	switch (*p) {
	case '.': return 1;
	case '%': return class_match(c, (unsigned char)p[1]);
	case '[': return set_match(c, p, ep - 1);
	default: return (unsigned char)*p == c;
	}
}

static const char *do_match(struct mstate *ms, const char *s, const char *p);

static const char *max_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;

	while (single(ms, s + i, p, ep)) {
		i++;
		step(ms);
	}
	for (; i >= 0; i--) {
		const char *r = do_match(ms, s + i, ep + 1);

		if (r)
			return r;
	}
	return NULL;
}

static const char *min_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *r = do_match(ms, s, ep + 1);

		if (r)
			return r;
		if (!single(ms, s, p, ep))
			return NULL;
		s++;
		step(ms);
	}
}

static const char *start_capture(struct mstate *ms, const char *s, const char *p, ptrdiff_t what)
{
	const char *r;

	if (ms->level >= M_MAXCAP)
		luaL_error(ms->L, "too many captures");
	ms->cap[ms->level].init = s;
	ms->cap[ms->level].len = what;
	ms->level++;
	r = do_match(ms, s, p);
	if (!r)
		ms->level--;
	return r;
}

static const char *end_capture(struct mstate *ms, const char *s, const char *p)
{
	int l = ms->level - 1;
	const char *r;

	while (l >= 0 && ms->cap[l].len != CAP_UNFINISHED)
		l--;
	if (l < 0)
		luaL_error(ms->L, "invalid pattern capture");
	ms->cap[l].len = s - ms->cap[l].init;
	r = do_match(ms, s, p);
	if (!r)
		ms->cap[l].len = CAP_UNFINISHED;
	return r;
}

static const char *balance(struct mstate *ms, const char *s, const char *p)
{
	int open, close, depth = 1;

	if (p + 1 >= ms->p_end)
		luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
	open = (unsigned char)p[0];
	close = (unsigned char)p[1];
	if (s >= ms->src_end || (unsigned char)*s != open)
		return NULL;
	while (++s < ms->src_end) {
		step(ms);
		if ((unsigned char)*s == close) {
			if (--depth == 0)
				return s + 1;
		} else if ((unsigned char)*s == open) {
			depth++;
		}
	}
	return NULL;
}

static const char *back_ref(struct mstate *ms, const char *s, int l)
{
	size_t len;

	l -= '1';
	if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
		luaL_error(ms->L, "invalid capture index %%%d", l + 1);
	len = (size_t)ms->cap[l].len;
	if ((size_t)(ms->src_end - s) >= len && !memcmp(ms->cap[l].init, s, len))
		return s + len;
	return NULL;
}

static const char *do_match(struct mstate *ms, const char *s, const char *p)
{
	const char *r = NULL, *ep;

	if (++ms->depth > M_MAXDEPTH)
		luaL_error(ms->L, "pattern too complex");
	for (;;) {
		step(ms);
		if (p == ms->p_end) {
			r = s;
			break;
		}
		if (*p == '(') {
			r = p + 1 < ms->p_end && p[1] == ')'
				    ? start_capture(ms, s, p + 2, CAP_POSITION)
				    : start_capture(ms, s, p + 1, CAP_UNFINISHED);
			break;
		}
		if (*p == ')') {
			r = end_capture(ms, s, p + 1);
			break;
		}
		if (*p == '$' && p + 1 == ms->p_end) {
			r = s == ms->src_end ? s : NULL;
			break;
		}
		if (*p == '%' && p + 1 < ms->p_end && p[1] == 'b') {
			s = balance(ms, s + 0, p + 2);
			if (!s)
				break;
			p += 4;
			continue;
		}
		if (*p == '%' && p + 1 < ms->p_end && p[1] == 'f') {
			int prev, cur;

			p += 2;
			if (p >= ms->p_end || *p != '[')
				luaL_error(ms->L, "missing '[' after '%%f' in pattern");
			ep = class_end(ms, p);
			prev = s == ms->src ? 0 : (unsigned char)s[-1];
			cur = s < ms->src_end ? (unsigned char)*s : 0;
			if (set_match(prev, p, ep - 1) || !set_match(cur, p, ep - 1))
				break;
			p = ep;
			continue;
		}
		if (*p == '%' && p + 1 < ms->p_end && isdigit((unsigned char)p[1])) {
			s = back_ref(ms, s, (unsigned char)p[1]);
			if (!s)
				break;
			p += 2;
			continue;
		}
		ep = class_end(ms, p);
		if (!single(ms, s, p, ep)) {
			if (ep < ms->p_end && (*ep == '*' || *ep == '?' || *ep == '-')) {
				p = ep + 1;
				continue;
			}
			break;
		}
		if (ep < ms->p_end && *ep == '?') {
			r = do_match(ms, s + 1, ep + 1);
			if (r)
				break;
			p = ep + 1;
			continue;
		}
		if (ep < ms->p_end && *ep == '+') {
			r = max_expand(ms, s + 1, p, ep);
			break;
		}
		if (ep < ms->p_end && *ep == '*') {
			r = max_expand(ms, s, p, ep);
			break;
		}
		if (ep < ms->p_end && *ep == '-') {
			r = min_expand(ms, s, p, ep);
			break;
		}
		s++;
		p = ep;
	}
	ms->depth--;
	return r;
}

/* ---- results ------------------------------------------------------------ */

static void push_one(struct mstate *ms, int i, const char *s, const char *e)
{
	if (i >= ms->level) {
		if (i != 0)
			luaL_error(ms->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(ms->L, s, (size_t)(e - s));
		return;
	}
	if (ms->cap[i].len == CAP_UNFINISHED)
		luaL_error(ms->L, "unfinished capture");
	if (ms->cap[i].len == CAP_POSITION)
		lua_pushinteger(ms->L, (lua_Integer)(ms->cap[i].init - ms->src) + 1);
	else
		lua_pushlstring(ms->L, ms->cap[i].init, (size_t)ms->cap[i].len);
}

static int push_caps(struct mstate *ms, const char *s, const char *e)
{
	int n = ms->level == 0 && s ? 1 : ms->level;

	luaL_checkstack(ms->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_one(ms, i, s, e);
	return n;
}

static void prep(struct mstate *ms, lua_State *L, const char *s, size_t ls, const char *p,
		 size_t lp)
{
	ms->L = L;
	ms->src = s;
	ms->src_end = s + ls;
	ms->p_end = p + lp;
	ms->level = 0;
	ms->depth = 0;
}

static size_t start_pos(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t l)
{
	for (size_t i = 0; i < l; i++)
		if (strchr("^$*+?.([%-", p[i]))
			return 0;
	return 1;
}

static int find_aux(lua_State *L, int find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_pos(luaL_optinteger(L, 3, 1), ls);
	struct mstate ms = { 0 };
	const char *s1;
	int anchor;

	if (init > ls + 1) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
		const char *hit = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);

		if (!hit) {
			luaL_pushfail(L);
			return 1;
		}
		lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
		lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
		return 2;
	}
	anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	prep(&ms, L, s, ls, p, lp);
	s1 = s + init - 1;
	do {
		const char *e;

		ms.level = 0;
		ms.depth = 0;
		step(&ms);
		if ((e = do_match(&ms, s1, p))) {
			if (find) {
				lua_pushinteger(L, (lua_Integer)(s1 - s) + 1);
				lua_pushinteger(L, (lua_Integer)(e - s));
				return push_caps(&ms, NULL, NULL) + 2;
			}
			return push_caps(&ms, s1, e);
		}
	} while (s1++ < ms.src_end && !anchor);
	charge(&ms);
	luaL_pushfail(L);
	return 1;
}

static int l_find(lua_State *L)
{
	return find_aux(L, 1);
}

static int l_match(lua_State *L)
{
	return find_aux(L, 0);
}

/* gmatch state: offsets into the subject (upvalue 1) and pattern (2). */
struct gm {
	size_t pos;
	ptrdiff_t last; /* -1: none */
};

static int gmatch_next(lua_State *L)
{
	size_t ls, lp;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
	struct gm *g = lua_touserdata(L, lua_upvalueindex(3));
	struct mstate ms = { 0 };

	prep(&ms, L, s, ls, p, lp);
	for (const char *src = s + g->pos; src <= ms.src_end; src++) {
		const char *e;

		ms.level = 0;
		ms.depth = 0;
		step(&ms);
		if ((e = do_match(&ms, src, p)) && (g->last < 0 || e != s + g->last)) {
			g->pos = (size_t)(e - s);
			g->last = e - s;
			charge(&ms);
			return push_caps(&ms, src, e);
		}
	}
	g->pos = ls + 1;
	charge(&ms);
	return 0;
}

static int l_gmatch(lua_State *L)
{
	size_t ls;
	struct gm *g;

	luaL_checklstring(L, 1, &ls);
	luaL_checkstring(L, 2);
	lua_settop(L, 3);
	g = lua_newuserdatauv(L, sizeof(*g), 0);
	g->pos = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
	if (g->pos > ls)
		g->pos = ls + 1;
	g->last = -1;
	lua_remove(L, 3);
	lua_pushcclosure(L, gmatch_next, 3);
	return 1;
}

static void add_repl_string(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
	size_t l;
	const char *r = lua_tolstring(ms->L, 3, &l), *end = r + l;

	for (; r < end; r++) {
		if (*r != '%') {
			luaL_addchar(b, *r);
			continue;
		}
		r++;
		if (r < end && *r == '%') {
			luaL_addchar(b, '%');
		} else if (r < end && isdigit((unsigned char)*r)) {
			if (*r == '0') {
				luaL_addlstring(b, s, (size_t)(e - s));
			} else {
				push_one(ms, *r - '1', s, e);
				luaL_tolstring(ms->L, -1, NULL);
				lua_remove(ms->L, -2);
				luaL_addvalue(b);
			}
		} else {
			luaL_error(ms->L, "invalid use of '%%' in replacement string");
		}
	}
}

/* Appends the replacement of match s..e; 1 when it changed the text. */
static int add_value(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = ms->L;

	if (tr == LUA_TFUNCTION) {
		int n;

		lua_pushvalue(L, 3);
		n = push_caps(ms, s, e);
		lua_call(L, n, 1);
	} else if (tr == LUA_TTABLE) {
		push_one(ms, 0, s, e);
		lua_gettable(L, 3);
	} else {
		add_repl_string(ms, b, s, e);
		return 1;
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return 0;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	luaL_addvalue(b);
	return 1;
}

static int l_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *src = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	const char *last = NULL;
	int tr = lua_type(L, 3), anchor, changed = 0;
	lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
	struct mstate ms = { 0 };
	luaL_Buffer b;

	luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
				    tr == LUA_TTABLE,
			 3, "string/function/table");
	luaL_buffinit(L, &b);
	anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	prep(&ms, L, src, ls, p, lp);
	while (n < max_s) {
		const char *e;

		ms.level = 0;
		ms.depth = 0;
		step(&ms);
		if ((e = do_match(&ms, src, p)) && e != last) {
			n++;
			changed |= add_value(&ms, &b, src, e, tr);
			src = last = e;
		} else if (src < ms.src_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	charge(&ms);
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

/* Replaces the matching functions of the string table on top of the
 * stack (also reached through the string metatable). */
void lh__install_match(lua_State *L)
{
	static const luaL_Reg f[] = {
		{ "find", l_find },   { "match", l_match }, { "gmatch", l_gmatch },
		{ "gsub", l_gsub },   { NULL, NULL },
	};

	luaL_setfuncs(L, f, 0);
}
