#!/bin/bash
# Headless: prompt in, reminder on the next input, Exit prints the final
# message and the cost line; exit 0.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_headless "$FIX/headless.lua" "Tidy the repo."
check "exit 0" test "$RC" -eq 0
check "final message on stdout" sh -c "head -n1 '$T/out' | grep -qx 'Repo tidied.'"
check "cost line: unpriced, not zero dollars" contains "$T/out" 'cost[mock]: 250 input tokens, 30 output tokens, no price for model claude-sonnet-4-6'
check "journal on stderr" contains "$T/err" "journal: $LLMDEVSILO_STATE_DIR/journals/"
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "first input names Exit" contains "$T/j.jsonl" 'call the Exit tool'
check "Exit result" contains "$T/j.jsonl" '"output":{"content":"exiting","is_error":false}'
check "no AskUserQuestion offered in headless" lacks "$T/j.jsonl" '"name":"AskUserQuestion","description"'
# Exit without a message is an error result in headless; unknown flag is exit 2.
set +e
"$SILO_BIN" run --bogus >/dev/null 2>"$T/usage"; rc=$?
set -e
check "unknown flag exits 2" test "$rc" -eq 2
check "unknown flag named" contains "$T/usage" "unknown option '--bogus'"
set +e
"$SILO_BIN" run --workspace "$WS" --llm mock --frontend headless >/dev/null 2>"$T/e2"; rc=$?
set -e
check "headless without prompt exits 1" test "$rc" -eq 1
check "names --prompt" contains "$T/e2" "--prompt"
set +e
"$SILO_BIN" run --workspace "$WS" --llm mock --frontend mock --sandbox mock >/dev/null 2>"$T/e3"; rc=$?
set -e
check "mock without script exits 1" test "$rc" -eq 1
check "names --script" contains "$T/e3" "--script"
set +e
"$SILO_BIN" run --workspace "$WS" --quota-usd -1 >/dev/null 2>&1; rc=$?
set -e
check "negative quota is a usage error" test "$rc" -eq 2
finish
