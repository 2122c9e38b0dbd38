/* `silo replay-test`, `silo journal export`, `silo journal list` (cli.md 8-9). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "journal/jn.h"

int cmd_replay_test(struct cli_args *a)
{
	const char *out = cli_get(a, "o");
	if (!out)
		return cli_usage_error(a, "-o OUT.lua is required");
	const char *journal = a->pos[0];
	char *name = NULL;
	if (cli_get(a, "name")) {
		name = sl_xstrdup(cli_get(a, "name"));
	} else {
		const char *base = strrchr(journal, '/');
		name = sl_xstrdup(base ? base + 1 : journal);
		char *dot = strrchr(name, '.');
		if (dot && dot != name)
			*dot = 0;
	}
	struct jn_fixture_stats st = { 0 };
	struct sl_err err = { 0 };
	int rc = jn_write_fixture(journal, out, name, &st, &err);
	free(name);
	if (rc) {
		free(st.workspace);
		free(st.policy_path);
		return cli_fail("%s", err.msg);
	}
	printf("Wrote %s (llm turns: %d, tool execs: %d, frontend steps: %d)\n", out, st.llm_turns,
	       st.tool_execs, st.frontend_steps);
	printf("Replay it with:\n  silo run --workspace %s --frontend mock --llm mock --sandbox "
	       "mock --mock-proxy --script %s --deterministic",
	       st.workspace ? st.workspace : "<workspace>", out);
	if (st.policy_path)
		printf(" --policy %s", st.policy_path);
	printf("\n");
	free(st.workspace);
	free(st.policy_path);
	return 0;
}

int cmd_journal_export(struct cli_args *a)
{
	const char *out = cli_get(a, "o");
	FILE *f = stdout;
	if (out && !(f = fopen(out, "w")))
		return cli_fail("cannot write %s", out);
	struct sl_err err = { 0 };
	int rc = jn_export(a->pos[0], f, &err);
	if (f != stdout && fclose(f) && !rc)
		return cli_fail("cannot write %s", out);
	return rc ? cli_fail("%s", err.msg) : 0;
}

int cmd_journal_list(struct cli_args *a)
{
	struct sl_err err = { 0 };
	char *state = cli_state_dir(&err);
	if (!state)
		return cli_fail("%s", err.msg);
	int rc = jn_list(state, stdout, &err);
	free(state);
	return rc ? cli_fail("%s", err.msg) : 0;
}
