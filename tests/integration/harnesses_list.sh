#!/bin/bash
# `silo harnesses list` (cli.md 7.2): live run files listed, unreadable or
# dead ones pruned and counted; no run/ at all means no harnesses.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
"$SILO_BIN" harnesses list >"$T/none"
check "no run directory: no running harnesses" sh -c "test \"\$(cat '$T/none')\" = 'no running harnesses'"
mkdir -p "$LLMDEVSILO_STATE_DIR/run"
sleep 300 & live=$!
printf '{"harness_id":"abcdefabcdef","pid":%d,"addr":"127.0.0.1:7777","workspace":"/w"}\n' $live \
	>"$LLMDEVSILO_STATE_DIR/run/abcdefabcdef.json"
echo junk >"$LLMDEVSILO_STATE_DIR/run/broken.json"
printf '{"harness_id":"deaddeaddead","pid":999999999}\n' >"$LLMDEVSILO_STATE_DIR/run/dead.json"
echo ignored >"$LLMDEVSILO_STATE_DIR/run/notes.txt"
"$SILO_BIN" harnesses list >"$T/out"
kill $live; wait $live 2>/dev/null || true
check "header" sh -c "head -n1 '$T/out' | grep -q '^HARNESS  *PID ADDRESS  *WORKSPACE'"
check "the live harness" contains "$T/out" "abcdefabcdef"
check "pruned count" contains "$T/out" "pruned 2 stale run file(s) from $LLMDEVSILO_STATE_DIR/run"
check "dead and broken files removed" sh -c "test ! -e '$LLMDEVSILO_STATE_DIR/run/dead.json' && test ! -e '$LLMDEVSILO_STATE_DIR/run/broken.json'"
check "other names ignored" test -e "$LLMDEVSILO_STATE_DIR/run/notes.txt"
finish
