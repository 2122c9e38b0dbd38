#!/bin/bash
# Replay speed (issue 2 goal: a generated 1,000-turn fixture in < 1 s) and
# harness idle RSS (goal <= 16 MB), with baselines measured in the same run:
# a 1-turn fixture (fixed start-up cost) and idle `sleep` / `python3`.
# Usage: tests/bench/bench_replay.sh [build-dir]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
silo=${1:-$src/build}/silo
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export LLMDEVSILO_STATE_DIR=$t/state SILO_LUA_DIR=$src/lua

gen() { # gen N FILE: N tool turns, then Exit
	cat >"$2" <<LUA
local llm, tools = {}, {}
for i = 1, $1 do
  llm[#llm + 1] = { response = { content = { { type = "text", text = "step " .. i },
    { type = "tool_use", id = "t" .. i, name = "Bash", input = { command = "echo " .. i } } },
    stop_reason = "tool_use", usage = { input_tokens = 100, output_tokens = 10 } } }
  tools[#tools + 1] = { expect_name = "Bash", expect_input = { command = "echo " .. i },
    output = { content = tostring(i), is_error = false } }
end
llm[#llm + 1] = { response = { content = { { type = "tool_use", id = "x", name = "Exit",
  input = { message = "done" } } }, stop_reason = "tool_use" } }
return { llm = llm, tools = tools }
LUA
}
run() { # run FIXTURE -> seconds
	mkdir -p "$t/ws$2"
	local s e
	s=$(date +%s.%N)
	"$silo" run --workspace "$t/ws$2" --create --deterministic --frontend headless --prompt go \
		--llm mock --sandbox mock --script "$1" >/dev/null 2>&1
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}
gen 1 "$t/one.lua"
gen 1000 "$t/thousand.lua"
one=$(run "$t/one.lua" 1)
big=$(run "$t/thousand.lua" 2)
printf 'replay: 1-turn fixture %.3f s (baseline: start-up and teardown)\n' "$one"
printf 'replay: 1000-turn fixture %.3f s; per turn %.3f ms above baseline; goal < 1 s: %s\n' \
	"$big" "$(echo "($big - $one) * 1000 / 1000" | bc -l)" "$(echo "$big < 1" | bc -l | sed 's/1/met/;s/0/NOT met/')"

# Idle RSS: a mock session waiting forever for an event that never comes.
cat >"$t/idle.lua" <<'LUA'
return { frontend = { { step = "expect_event", kind = "never_happens" } } }
LUA
mkdir -p "$t/ws3"
"$silo" run --workspace "$t/ws3" --create --frontend mock --llm mock --sandbox mock \
	--script "$t/idle.lua" >/dev/null 2>&1 &
pid=$!
sleep 1.5
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
silo_kb=$(rss $pid)
kill $pid; wait $pid 2>/dev/null || true
sleep 30 & sp=$!; sleep 0.3; sleep_kb=$(rss $sp); kill $sp; wait $sp 2>/dev/null || true
python3 -c 'import time; time.sleep(30)' & pp=$!; sleep 0.5; py_kb=$(rss $pp); kill $pp; wait $pp 2>/dev/null || true
printf 'idle RSS: silo harness %d KiB; baselines: sleep %d KiB, python3 %d KiB; goal <= 16 MiB: %s\n' \
	"$silo_kb" "$sleep_kb" "$py_kb" "$([ "$silo_kb" -le 16384 ] && echo met || echo NOT met)"
