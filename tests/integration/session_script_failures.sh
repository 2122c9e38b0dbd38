#!/bin/bash
# Strictness (replay.md 8): mismatches end the run at once, unconsumed
# entries fail it; exit 4 with the detail and the remaining summary.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
cat >"$T/empty_llm.lua" <<'LUA'
return { frontend = { { step = "send_prompt", text = "hi" } } }
LUA
run_mock "$T/empty_llm.lua"
check "exhausted llm: exit 4" test "$RC" -eq 4
check "exhausted detail" contains "$T/err" 'silo: script failure: llm script mismatch: llm script exhausted; remaining: llm 0/0, tools 0/0, frontend 1/1'
check "journal still reported" contains "$T/err" 'journal: '

cat >"$T/mismatch.lua" <<'LUA'
return {
  llm = { { expect_user_contains = "something else",
            response = { content = { { type = "text", text = "x" } }, stop_reason = "end_turn" } } },
  frontend = { { step = "send_prompt", text = "hello" } } }
LUA
WS="$T/ws2"; mkdir -p "$WS"
run_mock "$T/mismatch.lua"
check "mismatch: exit 4" test "$RC" -eq 4
check "mismatch names what was expected and got" contains "$T/err" 'no pending llm turn matches; expected one of'
check "mismatch shows the text" contains "$T/err" '"hello"'

cat >"$T/tool_mismatch.lua" <<'LUA'
return {
  llm = { { response = { content = { { type = "tool_use", id = "1", name = "Bash", input = { command = "ls" } } },
                         stop_reason = "tool_use" } } },
  tools = { { expect_name = "Bash", expect_input = { command = "pwd" }, output = { content = "", is_error = false } } },
  frontend = { { step = "send_prompt", text = "go" } } }
LUA
WS="$T/ws3"; mkdir -p "$WS"
run_mock "$T/tool_mismatch.lua"
check "sandbox mismatch: exit 4" test "$RC" -eq 4
check "sandbox mismatch detail" contains "$T/err" 'sandbox script mismatch:'

cat >"$T/unconsumed.lua" <<'LUA'
return {
  llm = {
    { response = { content = { { type = "text", text = "one" } }, stop_reason = "end_turn" } },
    { response = { content = { { type = "text", text = "two" } }, stop_reason = "end_turn" } } },
  frontend = { { step = "send_prompt", text = "go" } } }
LUA
WS="$T/ws4"; mkdir -p "$WS"
run_mock "$T/unconsumed.lua"
check "unconsumed: exit 4" test "$RC" -eq 4
check "unconsumed detail" contains "$T/err" 'silo: script failure: script entries left unconsumed; remaining: llm 1/2, tools 0/0, frontend 1/1'

cat >"$T/badshut.lua" <<'LUA'
return {
  llm = { { response = { content = { { type = "tool_use", id = "e", name = "Exit", input = { message = "bye" } } },
                         stop_reason = "tool_use" } } },
  frontend = { { step = "send_prompt", text = "go" }, { step = "expect_shutdown", message_contains = "hello" } } }
LUA
WS="$T/ws5"; mkdir -p "$WS"
run_mock "$T/badshut.lua"
check "shutdown step mismatch: exit 4" test "$RC" -eq 4
check "shutdown step detail" contains "$T/err" 'frontend shutdown step did not match'

printf 'return { llm = { { bogus = 1 } } }\n' >"$T/badfx.lua"
WS="$T/ws6"; mkdir -p "$WS"
run_mock "$T/badfx.lua"
check "malformed fixture: exit 1" test "$RC" -eq 1
check "malformed fixture names the file" contains "$T/err" "$T/badfx.lua"
printf 'return {\n  llm = { ,\n}\n' >"$T/syntax.lua"
run_mock "$T/syntax.lua"
check "syntax error: exit 1 with line" sh -c "test $RC -eq 1 && grep -q 'syntax.lua:2' '$T/err'"
finish
