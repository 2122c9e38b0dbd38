/* Frontend constructors (the vtable is in agent/ag.h). */
#ifndef FE_H
#define FE_H

#include "agent/ag.h"

struct fe *fe_headless_new(struct ag_session *s, const char *prompt);
struct fe *fe_mock_new(struct ag_session *s, struct fx *fx);

#endif
