/*
 * jn: the session journal (replay.md 2): one SQLite database (WAL) per
 * session, records appended in order with seq from 0, logical time, wall
 * time (NULL under the fake clock), kind and a compact JSON body. Also the
 * readers: JSON Lines export, listing, and journal -> Lua fixture.
 */
#ifndef JN_H
#define JN_H

#include <stdint.h>
#include <stdio.h>

#include "base/sl.h"
#include "json/jv.h"

struct jn;

/* The session clock (real or fake) shared by the journal and the event bus. */
struct sl_clock {
	int fake;            /* --deterministic */
	uint64_t logical;    /* real clock: incremented on every read */
};
/* Reads the clock: logical value and wall ms (wall_ms = -1 under fake). */
void sl_clock_read(struct sl_clock *c, uint64_t *logical, int64_t *wall_ms);

/* Opens a new journal at path (parents created 0700, file 0600); refuses a
 * non-empty existing journal or any other non-empty file (SL_EEXIST, the
 * message names the path). clock NULL = a private real clock. */
struct jn *jn_open(const char *path, struct sl_clock *clock, struct sl_err *err);
/* Appends one record; body is the kind's fields as an object (borrowed),
 * emitted compact in its stored key order. Returns seq or < 0 (logged, the
 * session goes on; see jn_failed). */
int64_t jn_append(struct jn *j, const char *entry, const struct jv *body);
int jn_failed(const struct jn *j);
const char *jn_path(const struct jn *j);
/* Checkpoints (TRUNCATE) and closes. */
void jn_close(struct jn *j);

/* Delta storage of llm_request records (docs/journal.md): each request
 * carries the whole conversation, so storing it whole made journals grow
 * with the square of the turns (a 1,000-turn session wrote 130 MB). The
 * writer stores an agent's request relative to its previous one; every
 * reader expands it again, so exports and replays see full requests. */
struct jn_delta {
	int64_t seq;          /* seq of this agent's last stored request, -1 none */
	size_t n_msgs;        /* its message count */
	struct jv *system, *tools; /* owned refs: its system prompt and tools */
};
void jn_delta_init(struct jn_delta *d);
void jn_delta_deinit(struct jn_delta *d);
/* Appends an llm_request record {agent, backend, request}, stored as a
 * delta against d (which it then updates). Returns seq or < 0. */
int64_t jn_append_request(struct jn *j, struct jn_delta *d, const char *agent,
			  const char *backend, const struct jv *request);
/* Reader side: expands a stored request in place of its delta form.
 * `known` holds earlier expanded requests by seq (the reader's). */
struct jn_req_cache;
struct jn_req_cache *jn__req_cache_new(void);
void jn__req_cache_free(struct jn_req_cache *c);
int jn__expand_request(struct jn_req_cache *c, struct jv *env, const char *path,
		       struct sl_err *err);

/* Readers: open read-only (.db by SQLite header, or .jsonl). */
struct jn_reader;
struct jn_reader *jn_reader_open(const char *path, struct sl_err *err);
/* Next record as an envelope object {seq, time{logical, wall_ms?}, entry,
 * <fields>} (new reference), NULL at end or on error (see err). */
struct jv *jn_reader_next(struct jn_reader *r, struct sl_err *err);
void jn_reader_close(struct jn_reader *r);

/* Writes the JSON Lines export (replay.md 2.4). */
int jn_export(const char *path, FILE *out, struct sl_err *err);
/* `silo journal list`: journals under <state>/journals with record counts. */
int jn_list(const char *state_dir, FILE *out, struct sl_err *err);
/* `silo replay-test`: writes the fixture; counts for the summary line.
 * name NULL = the journal's file stem. On success workspace and
 * policy_path are malloc'd copies from the meta record (NULL when absent);
 * the caller frees them. */
struct jn_fixture_stats { int llm_turns, tool_execs, frontend_steps; char *workspace; char *policy_path; };
int jn_write_fixture(const char *journal, const char *out_path, const char *name,
		     struct jn_fixture_stats *stats, struct sl_err *err);

#endif
