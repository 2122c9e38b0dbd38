#!/bin/bash
# Interrupt during AskUserQuestion with a child running (subagents.md 6).
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_mock "$FIX/interrupt.lua"
check "exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "frontend_command interrupt" contains "$T/j.jsonl" '"entry":"frontend_command","command":{"command":"interrupt"}'
check "question result interrupted" contains "$T/j.jsonl" '"tool_use_id":"i2","tool_name":"AskUserQuestion","output":{"content":"[interrupted by the user]","is_error":true}'
check "later call never ran" lacks "$T/j.jsonl" '"kind":"tool_use","agent":"agent-0","call":{"id":"i3"'
check "cancelled calls noted" contains "$T/j.jsonl" 'agent-0: interrupt cancelled 1 tool call(s)'
check "child interrupted" contains "$T/j.jsonl" '"kind":"agent_completed","agent":"agent-1","result":"interrupted by the user","is_error":true'
check "interrupted event" contains "$T/j.jsonl" '"kind":"interrupted","agent":"agent-0"'
check "next turn continues agent-0's conversation" contains "$T/j.jsonl" '"content":"[interrupted by the user]","is_error":true}]},{"role":"user","content":[{"type":"text","text":"carry on"}]}'
kinds=$(grep -o '"kind":"[a-z_]*"' "$T/j.jsonl" | sed 's/"kind"://; s/"//g' | tr '\n' ' ')
case "$kinds" in
*"agent_completed interrupted awaiting_input user_prompt"*) ok "completion, interrupted, awaiting_input in order" ;;
*) not_ok "completion, interrupted, awaiting_input in order: $kinds" ;;
esac
finish
