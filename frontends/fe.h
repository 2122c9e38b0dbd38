/* Frontend constructors (the vtable is in agent/ag.h). */
#ifndef FE_H
#define FE_H

#include "agent/ag.h"

/* What headless shows while it runs: progress lines on stderr (the
 * default), nothing but the final message and cost (quiet), or one JSON
 * event per line on stdout for scripts. */
enum fe_headless_output { FE_HL_PROGRESS, FE_HL_QUIET, FE_HL_JSON };
struct fe *fe_headless_new(struct ag_session *s, const char *prompt,
			   enum fe_headless_output output);

/* Whether fd is a terminal that wants colour (not NO_COLOR, not TERM=dumb). */
int fe_term_color(int fd);
struct fe *fe_mock_new(struct ag_session *s, struct fx *fx);

#endif
