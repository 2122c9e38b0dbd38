#!/bin/bash
# run -> journal -> replay-test -> replay: identical events, llm_request,
# llm_response and tool_exec records (replay.md 7), and byte-identical
# exports for two deterministic runs with a pinned harness id (3.6).
. "$SILO_SRC/tests/integration/lib.bash"
set -e
records() { "$SILO_BIN" journal export "$1" | grep -E '"entry":"(event|llm_request|llm_response|tool_exec)"' | sed 's/^{"seq":[0-9]*,//'; }
for fx in basic subagent depth interrupt frontend_tools tool_errors concurrency; do
	WS="$T/ws-$fx"; mkdir -p "$WS"
	run_mock "$FIX/$fx.lua" --config "$FIX/pin.lua"
	if [ "$RC" -ne 0 ]; then not_ok "$fx: recording run (exit $RC)"; continue; fi
	J1=$JOURNAL
	out=$("$SILO_BIN" replay-test "$J1" -o "$T/$fx.replay.lua")
	case "$out" in "Wrote $T/$fx.replay.lua (llm turns: "*) ok "$fx: replay-test summary" ;; *) not_ok "$fx: replay-test summary: $out" ;; esac
	set +e
	timeout 60 "$SILO_BIN" run --workspace "$WS" --frontend mock --llm mock --sandbox mock \
		--mock-proxy --deterministic --config "$FIX/pin.lua" --script "$T/$fx.replay.lua" \
		>"$T/out2" 2>"$T/err2"
	rc=$?
	set -e
	J2=$(sed -n 's/^journal: //p' "$T/err2")
	check "$fx: replay exits 0" test "$rc" -eq 0
	records "$J1" >"$T/r1"
	records "$J2" >"$T/r2"
	if cmp -s "$T/r1" "$T/r2"; then ok "$fx: identical records"; else not_ok "$fx: identical records"; diff "$T/r1" "$T/r2" | head -5 | sed 's/^/# /'; fi
	check "$fx: byte-identical exports" sh -c "'$SILO_BIN' journal export '$J1' >'$T/e1'; '$SILO_BIN' journal export '$J2' >'$T/e2'; cmp -s '$T/e1' '$T/e2'"
done
finish
