/*
 * The mock sandbox (replay.md 6, decisions 17): executes nothing. Sandbox-
 * owned tool calls are answered from the fixture by name and input before
 * any Lua runs; helper requests from other scripts are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "mock/fx.h"
#include "sandbox/sb.h"

static struct jv *list(const char *const *l)
{
	struct jv *a = jv_arr();
	for (; l && *l; l++)
		jv_push(a, jv_str(*l));
	return a;
}

static int mk_start(struct sb *sb, struct sl_err *err)
{
	if (sb->note)
		sb->note(sb->note_ud, "sandbox mock started (nothing executes)");
	return 0;
}

static struct jv *mk_report(struct sb *sb)
{
	struct jv *r = jv_obj();
	jv_set(r, "sandbox_kind", jv_str("mock"));
	jv_set(r, "workspace_mount", jv_str("/workspace"));
	jv_set(r, "scratch_dir", jv_str(""));
	jv_set(r, "readable_paths", list(sb->cfg.read_allowlist));
	jv_set(r, "allowed_domains", list(sb->cfg.allowed_domains));
	jv_set(r, "credential_domains", list(sb->cfg.credential_hosts));
	struct jv *notes = list(sb->cfg.notes);
	jv_push(notes, jv_str("mock sandbox: nothing executes; tool results come from the fixture"));
	jv_set(r, "notes", notes);
	return r;
}

static void mk_shutdown(struct sb *sb, void (*done)(void *ud), void *ud)
{
	if (sb->impl && sb->note) {
		sb->note(sb->note_ud, "sandbox mock stopped");
		sb->impl = NULL;
	}
	if (done)
		done(ud);
}

static int mk_intercept(struct sb *sb, const char *name, const struct jv *input,
			struct jv **output, struct sl_err *err)
{
	struct fx *fx = sb->impl;
	if (!fx)
		return sl_err_set(err, SL_ESTATE, "not started");
	const struct jv *out = fx_tool_next(fx, name, input, err);
	if (!out)
		return SL_ESCRIPT;
	*output = jv_copy(out);
	return 0;
}

const struct sb_ops sb_mock_ops = {
	.name = "mock",
	.kind = "mock",
	.start = mk_start,
	.access_report = mk_report,
	.shutdown = mk_shutdown,
	.intercept_tool = mk_intercept,
};

void sb_mock_set_fixture(struct sb *sb, struct fx *fx)
{
	sb->impl = fx;
}
