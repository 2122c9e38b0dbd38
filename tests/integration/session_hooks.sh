#!/bin/bash
# The policy's session hooks are called (docs/policy.md): on_session_start
# with the session's information before the first turn, on_session_end
# with the exit code after the last; they are told, not asked, so a hook
# that fails is a lifecycle note and the session goes on.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
cat >"$T/told.lua" <<'LUA'
return { hooks = {
  on_session_start = function(info)
    error("start " .. info.harness_id .. " " .. info.sandbox .. " " .. info.frontend)
  end,
  on_session_end = function(outcome)
    error("end " .. outcome.harness_id .. " exit=" .. outcome.exit_code)
  end,
} }
LUA
run_mock "$FIX/basic.lua" --policy "$T/told.lua"
check "the session still succeeds" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "on_session_start called with the session's info" \
	contains "$T/j.jsonl" "policy hook on_session_start failed:"
id=$(sed -n 's/.*"harness_id":"\([^"]*\)".*/\1/p' "$T/j.jsonl" | head -n1)
check "the journal names the harness" test -n "$id"
check "on_session_start saw harness id, sandbox and frontend" contains "$T/j.jsonl" "start $id mock mock"
check "on_session_end called with the exit code" contains "$T/j.jsonl" "end $id exit=0"
cat >"$T/quiet.lua" <<'LUA'
return { hooks = {
  on_session_start = function(info) return nil end,
  on_session_end = function(outcome) return nil end,
} }
LUA
"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
run_mock "$FIX/basic.lua" --policy "$T/quiet.lua"
check "quiet hooks: the session succeeds" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j2.jsonl"
check "quiet hooks leave no note" lacks "$T/j2.jsonl" "policy hook on_session"
finish
