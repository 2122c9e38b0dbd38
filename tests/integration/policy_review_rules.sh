#!/bin/bash
# A policy's review_rules (decisions 40) travel with the workspace from
# `silo run` to its unlock, where they flag what the session changed.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
"$SILO_BIN" doctor >/dev/null 2>&1 || { echo "1..0 # SKIP native sandbox unavailable"; exit 77; }
cat >"$T/rule.lua" <<'LUA'
return { { match = function(c)
  if c.path:match("%.todo$") then return "team rule: a .todo file was added" end
end } }
LUA
printf 'return { review_rules = { "%s" } }\n' "$T/rule.lua" >"$T/policy.lua"
cat >"$T/fx.lua" <<'LUA'
return { llm = {
  { response = { content = { { type = "tool_use", id = "w", name = "Write",
      input = { path = "later.todo", content = "remember\n" } } }, stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "ok" } } },
      stop_reason = "tool_use" } } } }
LUA
set +e
timeout 120 "$SILO_BIN" run --workspace "$WS" --create --llm mock --sandbox native --frontend headless \
	--prompt go --script "$T/fx.lua" --policy "$T/policy.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
check "session ran" test "$RC" -eq 0
"$SILO_BIN" workspace unlock "$WS" >"$T/review" 2>&1 || true
check "the policy's rule flagged the new file" contains "$T/review" "team rule: a .todo file was added"
check "the file is there after unlock" test -f "$WS/later.todo"
finish
