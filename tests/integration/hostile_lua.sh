#!/bin/bash
# Hostile Lua in tools (issue 2): infinite loops (also inside pcall), a
# memory bomb, reaching for io/os/debug/package and binary chunks, and a
# plain error each give a named error result; the session goes on.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
start=$(date +%s)
run_mock "$FIX/hostile.lua" --policy "$FIX/hostile_policy.lua"
took=$(( $(date +%s) - start ))
check "session survives: exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
result() { grep -F "\"tool_use_id\":\"$1\"" "$T/j.jsonl" | grep -F '"kind":"tool_result"'; }
check "infinite loop: budget error" sh -c "$(declare -f result); T='$T'; result h1 | grep -q 'instruction budget exceeded'"
check "loop inside pcall: still a budget error" sh -c "$(declare -f result); T='$T'; result h2 | grep -q 'instruction budget exceeded'"
check "memory bomb: memory error" sh -c "$(declare -f result); T='$T'; result h3 | grep -qi 'memory'"
check "no io/os/debug/package/binary chunks reachable" sh -c "$(declare -f result); T='$T'; result h4 | grep -qF '\"content\":\"reachable: \",\"is_error\":false'"
check "a raised error is an error result" sh -c "$(declare -f result); T='$T'; result h5 | grep -q 'tool blew up on purpose'"
echo "# hostile tools took ${took}s"
check "no hang (well under the 60 s guard)" test "$took" -lt 50
printf 'return { hooks = { on_tool_call = function() while true do end end } }\n' >"$T/hookspin.lua"
WS="$T/ws2"; mkdir -p "$WS"
run_mock "$FIX/basic.lua" --policy "$T/hookspin.lua"
"$SILO_BIN" journal export "$JOURNAL" >"$T/k.jsonl"
check "a spinning on_tool_call hook fails closed" contains "$T/k.jsonl" '"owner":"policy"'
printf 'return { read_allowlist = { 1, 2 }, bogus_key = true }\n' >"$T/badpol.lua"
run_mock "$FIX/basic.lua" --policy "$T/badpol.lua"
check "bad policy: exit 1" test "$RC" -eq 1
check "bad policy names the file" contains "$T/err" "$T/badpol.lua"
finish
