#!/bin/bash
# A whole headless session with the scripted model on the REAL native
# sandbox: the tool calls run inside it on a locked workspace, the
# startup canaries pass, and unlock shows the agent's edit.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
if ! "$SILO_BIN" doctor >/dev/null 2>&1; then
	echo "1..0 # SKIP native sandbox unavailable here"; exit 77
fi
cp -r "$FIX/demo-project/." "$WS/"
set +e
timeout 120 "$SILO_BIN" run --workspace "$WS" --create --llm mock --sandbox native \
	--frontend headless --script "$FIX/demo.lua" --prompt "Fix the failing test." \
	>"$T/out" 2>"$T/err"
RC=$?
set -e
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
check "exit 0" test "$RC" -eq 0
check "final message" contains "$T/out" "all tests pass"
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "canaries ran and were all blocked" contains "$T/j.jsonl" 'startup canary results (all blocked)'
check "the first test run really failed in the sandbox" contains "$T/j.jsonl" 'FAIL: add 2 3 gave -1, want 5'
check "the edit really happened" contains "$T/j.jsonl" '"output":{"content":"Replaced 1 occurrence in calc.sh","is_error":false}'
check "the second test run really passed" contains "$T/j.jsonl" '"output":{"content":"all tests passed","is_error":false}'
check "access report: native kind" contains "$T/j.jsonl" '"sandbox_kind":"linux-native"'
check "system prompt states the boundaries" contains "$T/j.jsonl" 'Network: no direct access.'
"$SILO_BIN" workspace unlock "$WS" >"$T/review" 2>&1 || true
check "unlock review shows the change" contains "$T/review" 'calc.sh'
check "the file on disk is fixed" grep -q '$(($1 + $2))' "$WS/calc.sh"
finish
