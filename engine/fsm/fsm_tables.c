/* The registry of every state machine table compiled into silo. */
#include "agent/ag.h"
#include "fsm/fsm.h"

const struct fsm_def *const fsm_tables[] = {
	&ag_agent_fsm,
	NULL,
};
