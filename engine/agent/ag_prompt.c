/*
 * The generated system prompt. The sandbox's boundaries are stated once,
 * plainly, from the access report (decisions 22), so the model does not
 * retry blindly against them; tool results keep plain OS errors.
 */
#include <string.h>

#include "agent/ag.h"

static void list(struct sl_buf *b, const struct jv *arr, const char *none)
{
	if (!jv_len(arr)) {
		sl_buf_printf(b, "%s\n", none);
		return;
	}
	for (size_t i = 0; i < jv_len(arr); i++)
		sl_buf_printf(b, "  - %s\n", jv_str_val(jv_at(arr, i)) ? jv_str_val(jv_at(arr, i)) : "");
}

char *ag_system_prompt(const struct jv *report)
{
	struct sl_buf b;
	sl_buf_init(&b);
	const char *ws = jv_get_str(report, "workspace_mount");
	const char *scratch = jv_get_str(report, "scratch_dir");
	sl_buf_adds(&b,
		    "You are a coding agent. You work through tools inside a sandbox that the "
		    "user set up for this task; its boundaries are fixed and no request changes "
		    "them.\n\n");
	sl_buf_printf(&b, "Workspace (read and write; relative paths start here): %s\n",
		      ws ? ws : "/workspace");
	/* the workspace's own limits (an image's fixed size), from its notes */
	const struct jv *notes = jv_get(report, "notes");
	for (size_t i = 0; i < jv_len(notes); i++) {
		const char *n = jv_str_val(jv_at(notes, i));
		if (n && !strncmp(n, "workspace: ", 11))
			sl_buf_printf(&b, "Workspace: %s\n", n + 11);
	}
	if (scratch && *scratch)
		sl_buf_printf(&b, "Scratch (read and write; HOME and TMPDIR, gone when the session "
				  "ends): %s\n", scratch);
	sl_buf_adds(&b, "Readable, read-only:\n");
	list(&b, jv_get(report, "readable_paths"), "  (only the system baseline)");
	sl_buf_adds(&b, "Network: no direct access. HTTP(S) goes through the harness proxy, "
			"already configured in the environment, to these domains only:\n");
	list(&b, jv_get(report, "allowed_domains"), "  (none: there is no network access)");
	const struct jv *cred = jv_get(report, "credential_domains");
	if (jv_len(cred)) {
		sl_buf_adds(&b, "The proxy adds credentials for these hosts itself (you never see "
				"them; do not ask for tokens):\n");
		list(&b, cred, "");
	}
	sl_buf_adds(&b,
		    "Everything else on the machine is invisible or read-only by design: a "
		    "permission or connection error outside these boundaries is final, so do not "
		    "retry it or look for a way around it; work within them or explain what you "
		    "need in your report.\n");
	return sl_buf_steal(&b);
}
