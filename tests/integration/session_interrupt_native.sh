#!/bin/bash
# Interrupt with a command really running in the native sandbox: the helper
# cancels it (partial output, "(cancelled)"), the tree unwinds, and the
# session continues with the next prompt (subagents.md 6).
. "$SILO_SRC/tests/integration/lib.bash"
set -e
if ! "$SILO_BIN" doctor >/dev/null 2>&1; then
	echo "1..0 # SKIP native sandbox unavailable here"; exit 77
fi
start=$(date +%s)
set +e
timeout 120 "$SILO_BIN" run --workspace "$WS" --create --llm mock --sandbox native \
	--frontend mock --script "$FIX/interrupt_native.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
took=$(( $(date +%s) - start ))
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
check "exit 0" test "$RC" -eq 0
check "did not wait for the command (${took}s)" test "$took" -lt 50
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
# The interrupt may land before or after `echo started` ran: both are right.
check "the running command was cancelled" sh -c "grep -F '\"tool_use_id\":\"c1\",\"tool_name\":\"Bash\"' '$T/j.jsonl' | grep -qE '\"content\":\"(started\\\\n)?\\(cancelled\\)\",\"is_error\":true'"
check "it never finished" lacks "$T/j.jsonl" 'started\nfinished'
check "the question was interrupted" contains "$T/j.jsonl" '"tool_use_id":"q1","tool_name":"AskUserQuestion","output":{"content":"[interrupted by the user]","is_error":true}'
check "the child completed interrupted" contains "$T/j.jsonl" '"kind":"agent_completed","agent":"agent-1","result":"interrupted by the user","is_error":true'
check "interrupted, then the next turn" contains "$T/j.jsonl" '"kind":"interrupted","agent":"agent-0"'
finish
