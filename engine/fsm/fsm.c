/* The table runner, the checker and the Markdown / dot printers. */
#include "fsm/fsm.h"

#include <stdlib.h>
#include <string.h>

const struct fsm_row *fsm_find(const struct fsm_def *def, int state, int event)
{
	for (int i = 0; i < def->n_rows; i++)
		if (def->rows[i].from == state && def->rows[i].on == event)
			return &def->rows[i];
	return NULL;
}

int fsm_step(const struct fsm_def *def, int *state, int event, void *obj, void *data)
{
	const struct fsm_row *r = fsm_find(def, *state, event);
	if (!r) {
		if (def->undefined)
			def->undefined(obj, *state, event);
		return -1;
	}
	/* The move happens before the action returns control to the queue, so
	 * events the action posts see the new state. */
	int rc = r->act ? r->act(obj, data) : 0;
	*state = rc < 0 ? r->on_err : rc == 1 ? r->alt : r->to;
	return rc;
}

void fsm_dump(const struct fsm_def *def, FILE *out, enum fsm_fmt fmt)
{
	if (fmt == FSM_DOT) {
		fprintf(out, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box];\n",
			def->name);
		for (int i = 0; i < def->n_rows; i++) {
			const struct fsm_row *r = &def->rows[i];
			fprintf(out, "  %s -> %s [label=\"%s / %s\"];\n", def->states[r->from],
				def->states[r->to], def->events[r->on],
				r->act && r->act_name ? r->act_name : "-");
			if (r->alt != r->to)
				fprintf(out, "  %s -> %s [label=\"%s / %s\" style=dashed];\n",
					def->states[r->from], def->states[r->alt],
					def->events[r->on], r->act && r->act_name ? r->act_name : "-");
		}
		fputs("}\n", out);
		return;
	}
	fprintf(out, "## %s\n\n%s\n\n", def->name, def->doc ? def->doc : "");
	fputs("| from | event | action | to | or | on error |\n", out);
	fputs("| --- | --- | --- | --- | --- | --- |\n", out);
	for (int i = 0; i < def->n_rows; i++) {
		const struct fsm_row *r = &def->rows[i];
		fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", def->states[r->from],
			def->events[r->on], r->act && r->act_name ? r->act_name : "-",
			def->states[r->to], r->alt != r->to ? def->states[r->alt] : "-",
			def->states[r->on_err]);
	}
	fputs("\n", out);
}

int fsm_check(const struct fsm_def *def, FILE *out)
{
	int bad = 0;
	for (int i = 0; i < def->n_rows; i++) {
		const struct fsm_row *r = &def->rows[i];
		if (r->from < 0 || r->from >= def->n_states || r->to < 0 ||
		    r->to >= def->n_states || r->on_err < 0 || r->on_err >= def->n_states ||
		    r->alt < 0 || r->alt >= def->n_states ||
		    r->on < 0 || r->on >= def->n_events) {
			fprintf(out, "%s: row %d out of range\n", def->name, i);
			bad++;
			continue;
		}
		if (i && def->rows[i - 1].from > r->from) {
			fprintf(out, "%s: row %d not sorted by from-state\n", def->name, i);
			bad++;
		}
		for (int j = 0; j < i; j++)
			if (def->rows[j].from == r->from && def->rows[j].on == r->on) {
				fprintf(out, "%s: duplicate pair %s x %s\n", def->name,
					def->states[r->from], def->events[r->on]);
				bad++;
			}
	}
	char *seen = calloc((size_t)def->n_states, 1);
	if (!seen)
		return bad + 1;
	seen[0] = 1;
	for (int changed = 1; changed;) {
		changed = 0;
		for (int i = 0; i < def->n_rows; i++) {
			const struct fsm_row *r = &def->rows[i];
			if (r->from < 0 || r->from >= def->n_states || !seen[r->from])
				continue;
			if (r->to >= 0 && r->to < def->n_states && !seen[r->to])
				seen[r->to] = changed = 1;
			if (r->alt >= 0 && r->alt < def->n_states && !seen[r->alt])
				seen[r->alt] = changed = 1;
			if (r->on_err >= 0 && r->on_err < def->n_states && !seen[r->on_err])
				seen[r->on_err] = changed = 1;
		}
	}
	for (int s = 0; s < def->n_states; s++)
		if (!seen[s]) {
			fprintf(out, "%s: state %s unreachable\n", def->name, def->states[s]);
			bad++;
		}
	free(seen);
	return bad;
}
