/*
 * hr: the harness, the layer that composes one session out of the
 * components below it (agent, policy, sandbox, proxy, journal, Lua host)
 * and lists what spans all of them.
 */
#ifndef HR_H
#define HR_H

#include "fsm/fsm.h"

/* Every state machine table compiled into the binary, NULL-terminated. */
extern const struct fsm_def *const hr_machines[];

#endif
