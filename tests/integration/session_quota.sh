#!/bin/bash
# costs.md 8 reference scenario: dollar quota exhausted -> exit 3; and a
# token quota refusing the second request.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
set +e
timeout 60 "$SILO_BIN" run --config "$FIX/quota_config.lua" --workspace "$WS" --create \
	--deterministic --frontend headless --prompt "Tidy the repo." --sandbox mock --mock-proxy \
	--script "$FIX/quota_usd.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
check "exit 3" test "$RC" -eq 3
check "cost line" contains "$T/out" 'cost[mock]: 120000 input tokens, 30000 output tokens, $0.8100'
check "no final message" sh -c "test \$(wc -l <'$T/out') -eq 1"
check "LLM failure message" contains "$T/err" 'silo: session ended by LLM failure: llm quota exceeded: dollar quota reached: $0.8100 of $0.50 used'
check "journal line" contains "$T/err" 'journal: '
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "cost_report usage and quota" contains "$T/j.jsonl" '"usage":{"input_tokens":120000,"output_tokens":30000,"usd":0.81},"quota":{"max_usd":0.5}'
check "error event llm:agent-0" contains "$T/j.jsonl" '"kind":"error","context":"llm:agent-0"'
check "shutdown without message" contains "$T/j.jsonl" '"kind":"shutdown"}'

# Token quota 10, first turn 8+8: the second request is refused, total 16,
# the second fixture turn stays unconsumed -> exit 4 outranks 3.
cat >"$T/tok.lua" <<'LUA'
return { llm = {
  { response = { content = { { type = "text", text = "a" } }, stop_reason = "end_turn",
                 usage = { input_tokens = 8, output_tokens = 8 } } },
  { response = { content = { { type = "text", text = "b" } }, stop_reason = "end_turn" } } } }
LUA
WS="$T/ws2"; mkdir -p "$WS"
run_headless "$T/tok.lua" "go" --quota-tokens 10
check "token quota: exit 4 (unconsumed outranks)" test "$RC" -eq 4
check "token quota message in journal" sh -c "'$SILO_BIN' journal export '$JOURNAL' | grep -qF 'token quota reached: 16 of 10 tokens used'"
check "remaining summary" contains "$T/err" 'remaining: llm 1/2, tools 0/0, frontend 0/0'

# Quota 0 refuses the very first request; 8 consecutive failed turns end
# an interactive-style (mock) session with exit 3.
cat >"$T/eight.lua" <<'LUA'
local f = {}
for i = 1, 8 do f[#f + 1] = { step = "send_prompt", text = "try " .. i } end
return { frontend = f }
LUA
WS="$T/ws3"; mkdir -p "$WS"
run_mock "$T/eight.lua" --quota-tokens 0
check "8 failed turns: exit 3" test "$RC" -eq 3
check "8 error events" sh -c "test \$('$SILO_BIN' journal export '$JOURNAL' | grep -c '\"context\":\"llm:agent-0\"') -eq 8"
check "quota 0 message" contains "$T/err" 'token quota reached: 0 of 0 tokens used'
finish
