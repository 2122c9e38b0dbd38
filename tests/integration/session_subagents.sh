#!/bin/bash
# Subagents: spawn/await, depth cap, concurrency cap, orphan cancellation.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_mock "$FIX/subagent.lua"
check "one child: exit 0" test "$RC" -eq 0
events >"$T/ev"
order=$(sed -n 's/.*"kind":"\([a-z_]*\)".*/\1/p' "$T/ev" | grep -E 'agent_spawned|agent_completed|tool_result|tool_use' | tr '\n' ' ')
check "event order (spawn, started, await, completed, result)" \
	test "$order" = "tool_use agent_spawned tool_result tool_use agent_completed tool_result tool_use tool_result "
check "agent_spawned payload" contains "$T/ev" '"kind":"agent_spawned","parent":"agent-0","agent":"agent-1","name":"counter","prompt":"count files"'
check "agent_completed payload" contains "$T/ev" '"kind":"agent_completed","agent":"agent-1","result":"42 files","is_error":false'
check "two harness tool_execs" test "$("$SILO_BIN" journal export "$JOURNAL" | grep -c '"owner":"harness"')" -eq 2

WS="$T/ws-depth"; mkdir -p "$WS"
run_mock "$FIX/depth.lua"
check "depth chain: exit 0" test "$RC" -eq 0
check "depth refusal at agent-3" sh -c "'$SILO_BIN' journal export '$JOURNAL' | grep -qF '\"agent\":\"agent-3\",\"owner\":\"harness\",\"call\":{\"id\":\"d3s\",\"name\":\"Agent\",\"input\":{\"prompt\":\"level4\"}},\"output\":{\"content\":\"subagent depth limit (3) reached\",\"is_error\":true}'"

WS="$T/ws-conc"; mkdir -p "$WS"
run_mock "$FIX/concurrency.lua"
check "concurrency: exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/c.jsonl"
check "ninth spawn refused" contains "$T/c.jsonl" '"output":{"content":"subagent concurrency limit (8) reached","is_error":true}'
check "eight children spawned in turn one" test "$(grep -c '"kind":"agent_spawned"' "$T/c.jsonl")" -eq 9
check "a new spawn after turn end succeeds" contains "$T/c.jsonl" '"content":"Started subagent '"'"'agent-9'"'"' (agent-9).'
check "each child completes exactly once" test "$(grep -c '"kind":"agent_completed"' "$T/c.jsonl")" -eq 9

WS="$T/ws-orphan"; mkdir -p "$WS"
run_mock "$FIX/orphan.lua"
check "orphan: exit 0 (frontend script exhausted)" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/o.jsonl"
check "orphan completed with the cancellation text" contains "$T/o.jsonl" '"kind":"agent_completed","agent":"agent-1","result":"cancelled (parent ended turn without collecting)","is_error":true'
check "orphan note" contains "$T/o.jsonl" 'agent-0: cancelled 1 uncollected subagent(s)'
check "the orphan's second command never ran" lacks "$T/o.jsonl" '"call":{"id":"w2"'
kinds=$(grep -o '"kind":"[a-z_]*"' "$T/o.jsonl" | tr '\n' ' ')
case "$kinds" in
*'"kind":"agent_completed" "kind":"turn_complete"'*) ok "orphan cancelled before turn_complete (ours)" ;;
*) not_ok "orphan cancelled before turn_complete: $kinds" ;;
esac
check "final message: frontend script exhausted" contains "$T/o.jsonl" '"kind":"shutdown","message":"frontend script exhausted"'
finish
