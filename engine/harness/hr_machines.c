/*
 * hr_machines: every state machine table compiled into silo, for `silo
 * debug fsm`, the generated docs/state-machines.md and the table checks.
 * A table lives with the module whose lifecycle it is and is declared in
 * that module's public header; the runner below them (engine/fsm) knows
 * none of them, so the list lives here, in the layer that composes them
 * all. Adding a machine is one line in the list, in the order the docs
 * should show it.
 */
#include "harness/hr.h"

/* The public headers of the modules that own a table (or will). */
#include "agent/ag.h"
#include "http/ws_client.h"
#include "luahost/lh.h"
#include "proxy/px.h"
#include "sandbox/sb.h"
#include "workspace/ws.h"

const struct fsm_def *const hr_machines[] = {
	&ag_agent_fsm,
	&ag_ctl_fsm,
	&ag_call_fsm,
	&ag_child_fsm,
	&px_conn_fsm,
	&px_ep_tls_fsm,
	NULL,
};
