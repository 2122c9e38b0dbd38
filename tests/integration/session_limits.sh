#!/bin/bash
# Sessions that end: a headless model that never calls Exit gets at most
# frontend.headless_reminders reminders (default 2), then exit 3; --max-turns
# and policy max_turns cap the top-level agent's model calls; --timeout caps
# wall time. With the mock LLM, and with the local fake provider on loopback.
. "$SILO_SRC/tests/integration/lib.bash"
set -e

# ---- mock LLM ------------------------------------------------------------
text_turn() { # one model answer in text only
	echo "    { response = { content = { { type = \"text\", text = \"$1\" } }, stop_reason = \"end_turn\" } },"
}
{
	echo "return { llm = {"
	text_turn one; text_turn two; text_turn three
	echo "} }"
} >"$T/never_exits.lua"
run_headless "$T/never_exits.lua" "Say hi."
check "never calls Exit: exit 3" test "$RC" -eq 3
check "never calls Exit: clear message" contains "$T/err" \
	'silo: session ended without Exit: the model ended 3 turn(s) without calling Exit after 2 reminder(s)'
check "never calls Exit: all three turns used, none more" lacks "$T/err" 'script failure'
check "never calls Exit: no final message" lacks "$T/out" 'three'
events >"$T/ev"
check "two reminders sent" test "$(grep -c 'Nobody is interacting' "$T/ev")" -eq 2

# A fourth model turn is never asked for: with four entries one is left.
{
	echo "return { llm = {"
	text_turn one; text_turn two; text_turn three; text_turn four
	echo "} }"
} >"$T/four.lua"
WS="$T/ws2"; mkdir -p "$WS"
run_headless "$T/four.lua" "Say hi."
check "no fourth turn: the entry is left over" contains "$T/err" 'remaining: llm 3/4'

# Configurable: no reminder at all.
echo 'return { frontend = { headless_reminders = 0 } }' >"$T/cfg0.lua"
{ echo "return { llm = {"; text_turn one; echo "} }"; } >"$T/one.lua"
WS="$T/ws3"; mkdir -p "$WS"
run_headless "$T/one.lua" "Say hi." --config "$T/cfg0.lua"
check "0 reminders: exit 3 after the first turn" test "$RC" -eq 3
check "0 reminders: named" contains "$T/err" 'ended 1 turn(s) without calling Exit after 0 reminder(s)'
echo 'return { frontend = { headless_reminders = -1 } }' >"$T/cfgbad.lua"
WS="$T/ws4"; mkdir -p "$WS"
run_headless "$T/one.lua" "Say hi." --config "$T/cfgbad.lua"
check "negative reminders refused" test "$RC" -eq 1
check "negative reminders named" contains "$T/err" "'frontend.headless_reminders' must be from 0 to 1000"

# --max-turns: one tool round is two model calls; the second is refused.
cat >"$T/tools.lua" <<'LUA'
return {
  llm = {
    { response = { content = { { type = "tool_use", id = "r1", name = "Read", input = { path = "a.txt" } } },
                   stop_reason = "tool_use" } },
  },
  tools = { { expect_name = "Read", output = { content = "x", is_error = false } } },
}
LUA
WS="$T/ws5"; mkdir -p "$WS"
run_headless "$T/tools.lua" "Read a.txt." --max-turns 1
check "--max-turns 1: exit 3" test "$RC" -eq 3
check "--max-turns 1: message" contains "$T/err" \
	'silo: session ended at its turn limit: all 1 turn(s) of the top-level agent are used'
check "--max-turns 1: fixture fully used" lacks "$T/err" 'script failure'
echo 'return { max_turns = 1 }' >"$T/pol.lua"
WS="$T/ws6"; mkdir -p "$WS"
run_headless "$T/tools.lua" "Read a.txt." --policy "$T/pol.lua"
check "policy max_turns: exit 3" test "$RC" -eq 3
check "policy max_turns: message" contains "$T/err" 'turn limit'
echo 'return { max_turns = 0 }' >"$T/pol0.lua"
WS="$T/ws7"; mkdir -p "$WS"
run_headless "$T/tools.lua" "Read a.txt." --policy "$T/pol0.lua"
check "policy max_turns 0 refused" contains "$T/err" 'max_turns: must be an integer from 1 to 1000000'
for bad in 0 -3 x 1.5; do
	set +e
	"$SILO_BIN" run --workspace "$WS" --max-turns "$bad" >/dev/null 2>"$T/u"; rc=$?
	set -e
	check "--max-turns $bad is a usage error" test "$rc" -eq 2
done
for bad in 0 -1s 5x 10d ms; do
	set +e
	"$SILO_BIN" run --workspace "$WS" --timeout="$bad" >/dev/null 2>"$T/u"; rc=$?
	set -e
	check "--timeout $bad is a usage error" test "$rc" -eq 2
done
check "--timeout usage names the forms" contains "$T/u" 'duration such as 90s, 500ms, 20m or 1h'

# ---- the local fake provider ------------------------------------------------
command -v python3 >/dev/null && command -v openssl >/dev/null || { finish; }
FP="$SILO_SRC/tests/integration/fake_providers"
sh "$FP/mkcerts.sh" "$T/ca" >/dev/null
export SILO_LLM_CA_FILE="$T/ca/ca.pem"
python3 "$FP/fake_provider.py" --kind local --cert "$T/ca/server.pem" \
	--keyfile "$T/ca/server.key" --log "$T/local.log" >"$T/port" &
FPID=$!
stop_all() {
	local rc=$?
	kill "$FPID" 2>/dev/null
	"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1
	(exit $rc)
	cleanup
}
trap stop_all EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
URL="https://127.0.0.1:$(awk '{print $2}' "$T/port")"

local_run() { # local_run MODEL [args]: a headless session in the native sandbox
	local m=$1; shift
	"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
	rm -rf "$WS"; mkdir -p "$WS"; echo "hello" >"$WS/README.md"
	: >"$T/local.log"
	set +e
	timeout 30 "$SILO_BIN" run --workspace "$WS" --create --frontend headless \
		--prompt "Say hi." --llm local --model "$m" --base-url "$URL" --sandbox native \
		"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
}
WS="$T/wsl"
local_run llama
if [ "$RC" -ne 3 ] && [ ! -s "$T/local.log" ]; then
	echo "# native sandbox unavailable here: $(head -c 200 "$T/err")"
	finish
fi
check "local: never calls Exit ends with exit 3" test "$RC" -eq 3
check "local: exactly three requests (prompt + 2 reminders)" test "$(grep -c . "$T/local.log")" -eq 3
check "local: message" contains "$T/err" 'session ended without Exit'

local_run llama-tool --max-turns 1
check "local --max-turns 1: exit 3" test "$RC" -eq 3
check "local --max-turns 1: one request" test "$(grep -c . "$T/local.log")" -eq 1

start=$(date +%s%N)
local_run llama-slow --timeout 1s
ms=$((($(date +%s%N) - start) / 1000000))
echo "# --timeout 1s against a 3 s answer ended after $ms ms"
check "local --timeout: exit 3" test "$RC" -eq 3
check "local --timeout: message" contains "$T/err" \
	'silo: session ended at its time limit: 1 s of wall time used (--timeout)'
finish
