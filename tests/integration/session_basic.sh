#!/bin/bash
# A scripted two-turn session: events, journal records, exit code.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_mock "$FIX/basic.lua"
check "exit 0" test "$RC" -eq 0
check "journal path on stderr" test -n "$JOURNAL"
check "journal exists" test -s "$JOURNAL"
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "first record is meta" sh -c "head -n1 '$T/j.jsonl' | grep -q '\"entry\":\"meta\"'"
check "tool_exec journaled" contains "$T/j.jsonl" '"entry":"tool_exec","agent":"agent-0","owner":"sandbox","call":{"id":"u1","name":"Bash","input":{"command":"grep -rc TODO ."}},"output":{"content":"./a.c:3","is_error":false}}'
check "assistant text event" contains "$T/j.jsonl" '"kind":"assistant_text","agent":"agent-0","text":"There are 3 TODOs in a.c."'
check "turn_complete event" contains "$T/j.jsonl" '"kind":"turn_complete","agent":"agent-0","stop_reason":"end_turn"'
check "shutdown message" contains "$T/j.jsonl" '"kind":"shutdown","message":"3 TODOs found"'
check "cost report tokens" contains "$T/j.jsonl" '"usage":{"input_tokens":75,"output_tokens":16,"usd":0.0}'
check "second request carries the tool result" contains "$T/j.jsonl" '{"type":"tool_result","tool_use_id":"u1","content":"./a.c:3","is_error":false}'
check "fake clock: no wall time" lacks "$T/j.jsonl" 'wall_ms'
check "lifecycle shutdown is last" sh -c "tail -n1 '$T/j.jsonl' | grep -q '\"message\":\"shutdown\"'"
# Event seq numbers are contiguous from 0.
grep -o '"event":{"seq":[0-9]*' "$T/j.jsonl" | sed 's/.*://' >"$T/seqs"
check "event seq contiguous" sh -c "seq 0 \$((\$(wc -l <'$T/seqs') - 1)) | cmp -s - '$T/seqs'"
check "queryable with sqlite3" sh -c "sqlite3 '$JOURNAL' \"select count(*) from records where entry='tool_exec'\" | grep -qx 2"
finish
