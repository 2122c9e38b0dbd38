/* The connection state machine table (px_conn.c): sorted, no duplicate
 * pairs, every state reachable, and every live state handles the events
 * that can always arrive (client EOF or STOP, and a timeout). */
#include "proxy/px_int.h"
#include "tap.h"

TEST(conn_table)
{
	CHECK(fsm_check(&px_conn_fsm, stdout) == 0);
	static const int live[] = { PX_S_HEAD, PX_S_CL_TLS, PX_S_RESOLVE, PX_S_CONNECT,
				    PX_S_UP_TLS, PX_S_RELAY, PX_S_TUNNEL };
	for (size_t i = 0; i < SL_ARRAY_LEN(live); i++) {
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_TIMEOUT) != NULL);
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_STOP) != NULL);
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_EOF) != NULL);
	}
	CHECK(fsm_find(&px_conn_fsm, PX_S_CLOSING, PX_E_DRAINED) != NULL);
	CHECK(fsm_find(&px_conn_fsm, PX_S_CLOSING, PX_E_TIMEOUT) != NULL);
	/* the Markdown dump names every row */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fsm_dump(&px_conn_fsm, f, FSM_MARKDOWN);
	fclose(f);
	CHECK(buf && strstr(buf, "| HEAD | CONNECT | act_connect | CL_TLS | RESOLVE | CLOSING |"));
	free(buf);
}
