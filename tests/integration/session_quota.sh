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
# A dollar quota on a model with no price would never trigger: refused at
# start, naming the model and the policy key that prices it; with a
# `prices` row it holds, and the quota shows enough digits.
WS="$T/ws4"; mkdir -p "$WS"
run_headless "$FIX/quota_usd.lua" "go" --quota-usd 0.01
check "unpriced model + --quota-usd: exit 1" test "$RC" -eq 1
check "refusal names the model" contains "$T/err" 'model claude-sonnet-4-6 has none'
check "refusal says how to price it" contains "$T/err" 'prices = { ["claude-sonnet-4-6"] = { input = N, output = N'
echo 'return { quota = { usd = 0.01 } }' >"$T/usd.lua"
WS="$T/ws5"; mkdir -p "$WS"
run_headless "$FIX/quota_usd.lua" "go" --policy "$T/usd.lua"
check "unpriced model + policy usd: exit 1" test "$RC" -eq 1
check "policy usd refusal names the model" contains "$T/err" 'model claude-sonnet-4-6 has none'
set +e
OPENAI_API_KEY=sk-unused timeout 30 "$SILO_BIN" run --workspace "$T/ws5" --frontend headless \
	--prompt x --llm openai --model o4-mini --base-url https://127.0.0.1:9 --quota-usd 0.01 \
	--sandbox mock --mock-proxy --script "$FIX/quota_usd.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
check "openai o4-mini + --quota-usd: exit 1" test "$RC" -eq 1
check "o4-mini named" contains "$T/err" 'model o4-mini has none'
cat >"$T/prices.lua" <<'LUA'
return { prices = { ["claude-sonnet-4-6"] = { input = 3.0, output = 15.0, cache_read = 0.3 } } }
LUA
WS="$T/ws6"; mkdir -p "$WS"
run_headless "$FIX/quota_usd.lua" "go" --policy "$T/prices.lua" --quota-usd 0.0001
check "priced by policy: quota holds (exit 3)" test "$RC" -eq 3
check "cost line in dollars" contains "$T/out" 'cost[mock]: 120000 input tokens, 30000 output tokens, $0.8100'
check "quota shown with enough digits" contains "$T/err" 'dollar quota reached: $0.8100 of $0.0001 used'
echo 'return { prices = { ["m"] = { input = -1, output = 1 } } }' >"$T/badprice.lua"
WS="$T/ws7"; mkdir -p "$WS"
run_headless "$FIX/quota_usd.lua" "go" --policy "$T/badprice.lua"
check "bad price row: exit 1" test "$RC" -eq 1
check "bad price row named" contains "$T/err" 'prices["m"].input: must be a finite number >= 0'
finish
