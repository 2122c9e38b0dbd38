/* The connection state machine table (px_conn.c): sorted, no duplicate
 * pairs, every state reachable, and every live state handles the events
 * that can always arrive (client EOF or STOP, and a timeout). */
#include <stdlib.h>
#include <string.h>

#include "proxy/px_int.h"
#include "tap.h"

static char last_note[300];
static int n_notes;

static void note(void *ud, const char *msg)
{
	snprintf(last_note, sizeof(last_note), "%s", msg);
	n_notes++;
}

TEST(conn_table)
{
	CHECK(fsm_check(&px_conn_fsm, stdout) == 0);
	static const int live[] = { PX_S_HEAD, PX_S_CL_TLS, PX_S_RESOLVE, PX_S_CONNECT,
				    PX_S_UP_TLS, PX_S_RELAY, PX_S_TUNNEL };
	for (size_t i = 0; i < SL_ARRAY_LEN(live); i++) {
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_TIMEOUT) != NULL);
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_STOP) != NULL);
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_EOF) != NULL);
		/* a full queue (FAULT) and a forced end (KILL) from anywhere */
		CHECK(fsm_find(&px_conn_fsm, live[i], PX_E_FAULT) != NULL);
		const struct fsm_row *k = fsm_find(&px_conn_fsm, live[i], PX_E_KILL);
		CHECK(k && k->to == PX_S_CLOSED);
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

/* No event is dropped silently: the ninth event on a full queue is an
 * error with a note, and what is left queued is FAULT, which closes. An
 * undefined pair is a lifecycle note too. */
TEST(conn_queue_full_and_undefined_pairs)
{
	uv_loop_t loop;
	struct sl_err e;
	uv_loop_init(&loop);
	struct px_config cfg = { .note = note };
	struct px *px = px_new(&loop, &cfg, &e);
	CHECK(px != NULL);
	if (!px)
		return;
	struct px_conn *c = calloc(1, sizeof(*c));
	c->px = px;
	c->state = PX_S_RELAY;
	for (size_t i = 0; i < SL_ARRAY_LEN(c->evq); i++)
		px__post(c, PX_E_DONE);
	CHECK(n_notes == 0 && c->evn == (int)SL_ARRAY_LEN(c->evq));
	px__post(c, PX_E_UP_ERR);
	CHECK(n_notes == 1 && strstr(last_note, "event queue full in RELAY at UP_ERR"));
	CHECK(c->evn == 1 && c->evq[0] == PX_E_FAULT);

	c->state = PX_S_TUNNEL;
	CHECK(fsm_step(&px_conn_fsm, &c->state, PX_E_DRAINED, c, NULL) == -1);
	CHECK(c->state == PX_S_TUNNEL && n_notes == 2);
	CHECK(strstr(last_note, "no transition for TUNNEL x DRAINED") != NULL);
	free(c);
	px_free(px);
	CHECK(uv_loop_close(&loop) == 0);
}

/* The endpoint TLS lifecycle: a checked table, and every state can be
 * reset when the endpoint closes. */
TEST(ep_tls_table)
{
	CHECK(fsm_check(&px_ep_tls_fsm, stdout) == 0);
	for (int st = 0; st < PX_T__N; st++) {
		const struct fsm_row *r = fsm_find(&px_ep_tls_fsm, st, PX_TE_RESET);
		CHECK(r && r->to == PX_T_PLAIN);
	}
	CHECK(fsm_find(&px_ep_tls_fsm, PX_T_ESTABLISHED, PX_TE_START) == NULL);
}
