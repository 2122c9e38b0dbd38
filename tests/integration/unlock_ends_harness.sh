#!/bin/bash
# `silo workspace unlock` ends a harness attached to the workspace
# (SIGTERM): the harness shuts down through its normal path with the
# message "terminated by signal", detaches, and the unlock completes.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
echo hi >"$WS/a.txt"
printf 'return { frontend = { { step = "expect_event", kind = "never_happens" } } }\n' >"$T/idle.lua"
"$SILO_BIN" run --workspace "$WS" --create --frontend mock --llm mock --sandbox mock \
	--script "$T/idle.lua" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do grep -q 'attached: harness' <("$SILO_BIN" workspace status "$WS" 2>/dev/null) && break; sleep 0.1; done
check "the harness is attached" sh -c "'$SILO_BIN' workspace status '$WS' | grep -q 'attached: harness'"
timeout 60 "$SILO_BIN" workspace unlock "$WS" >"$T/review" 2>&1
check "unlock succeeded" contains "$T/review" "Unlocked $WS"
set +e; wait $pid; rc=$?; set -e
check "the harness exited normally (0)" test "$rc" -eq 0
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "shutdown message: terminated by signal" contains "$T/j.jsonl" '"kind":"shutdown","message":"terminated by signal"'
check "the file is back" test "$(cat "$WS/a.txt")" = hi
finish
