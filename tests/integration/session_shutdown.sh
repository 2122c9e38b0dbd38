#!/bin/bash
# Shutdown order with a managed local server (llm.local_server_command):
# every way a session ends stops the server while the journal is still
# open, so "local server stopped" is journaled and nothing is written after
# the close (under ASan a late write is a use after free). Paths: a normal
# end, an LLM failure, SIGTERM during a model call, a start that fails
# after the backend exists, and --print-access.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
. "$SILO_SRC/tests/integration/fake_providers/local_server.bash"
echo hi >"$WS/README.md"
"$SILO_BIN" workspace lock "$WS" >/dev/null 2>&1

run_loc() { # run_loc MODEL [extra args] -> RC, JOURNAL, $T/out, $T/err
	local m=$1; shift
	local_config "$m"
	set +e
	timeout 60 "$SILO_BIN" run --config "$T/loc.lua" --workspace "$WS" --frontend headless \
		--prompt x --sandbox native "$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
}

# The last lifecycle notes: the server's stop comes after the session's
# own shutdown note and is the very last record.
stopped_last() {
	[ -n "$JOURNAL" ] || return 1
	"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
	tail -n1 "$T/j.jsonl" | grep -q '"message":"local server stopped'
}
clean() { ! grep -qE 'AddressSanitizer|runtime error|Segmentation' "$T/err"; }
server_gone() { ! pgrep -f "fake_provider.py --kind local --port $(sed -n 's/.*--port \([0-9]*\).*/\1/p' "$T/loc.lua")" >/dev/null; }

run_loc llama-exit
if [ "$RC" -ne 0 ] && grep -q 'sandbox' "$T/err" && ! grep -qs POST "$T/srv.log"; then
	echo "1..0 # SKIP the native sandbox cannot run here: $(head -c 200 "$T/err")"
	exit 77
fi
check "normal end: exit 0" test "$RC" -eq 0
check "normal end: no sanitizer report or crash" clean
check "normal end: server stop journaled last" stopped_last
check "normal end: server gone" server_gone

run_loc llama-e400
check "LLM failure: exit 3" test "$RC" -eq 3
check "LLM failure: clean" clean
check "LLM failure: server stop journaled last" stopped_last

local_config llama-slow
set +e
"$SILO_BIN" run --config "$T/loc.lua" --workspace "$WS" --frontend headless --prompt x \
	--sandbox native >"$T/out" 2>"$T/err" &
pid=$!
rm -f "$T/srv.log"
for _ in $(seq 200); do # until the model call is in flight
	grep -qs '"method": "POST"' "$T/srv.log" && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
RC=$?
set -e
JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
check "SIGTERM: ends (not by a signal)" test "$RC" -lt 128
check "SIGTERM: clean" clean
check "SIGTERM: server stop journaled last" stopped_last
check "SIGTERM: server gone" server_gone

# A tool file that does not load: the start fails after the backend and
# its server exist.
cp -r "$SILO_SRC/lua" "$T/lua"
echo 'return {' >"$T/lua/tools/zz_broken.lua"
SILO_LUA_DIR="$T/lua" run_loc llama-exit
check "failed start: exit 1" test "$RC" -eq 1
check "failed start: names the tool file" contains "$T/err" zz_broken.lua
check "failed start: clean" clean
check "failed start: server gone" server_gone

run_loc llama-exit --print-access
check "print-access: exit 0" test "$RC" -eq 0
check "print-access: report printed" contains "$T/out" '"workspace_mount"'
check "print-access: clean" clean
check "print-access: server gone" server_gone

"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
finish
