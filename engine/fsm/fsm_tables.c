/* The registry of every state machine table compiled into silo. */
#include "agent/ag.h"
#include "fsm/fsm.h"

extern const struct fsm_def px_conn_fsm;

const struct fsm_def *const fsm_tables[] = {
	&ag_agent_fsm,
	&px_conn_fsm,
	NULL,
};
