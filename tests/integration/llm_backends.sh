#!/bin/bash
# Whole headless sessions through each real LLM backend (anthropic, openai,
# openai-ws, local) against its fake provider server on loopback, over
# HTTPS / WSS with a throwaway CA the harness is told to trust
# (SILO_LLM_CA_FILE), in the real native sandbox (the mock sandbox with a
# fixture where the native one cannot run). Per backend: a session
# that reads a file and exits (exit 0, final message, cost line), the key
# never in the journal, stdout, stderr or anywhere but its header; a token
# quota exhausted mid-session (exit 3); a 401 ends the session without a
# retry; a 500 is retried three times.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
command -v python3 >/dev/null && command -v openssl >/dev/null || { echo "1..0 # SKIP python3/openssl"; exit 77; }
FP="$SILO_SRC/tests/integration/fake_providers"
sh "$FP/mkcerts.sh" "$T/ca" >/dev/null
export SILO_LLM_CA_FILE="$T/ca/ca.pem"
export ANTHROPIC_API_KEY="sk-ant-integration-Q7W8E9R0T1Y2"
export OPENAI_API_KEY="sk-oai-integration-A1S2D3F4G5H6"
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 # must be ignored
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# a session that had to be killed leaves its workspace attached
	"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT

start() { # start KIND KEY -> sets PORT
	local kind=$1 key=$2
	python3 "$FP/fake_provider.py" --kind "$kind" --cert "$T/ca/server.pem" \
		--keyfile "$T/ca/server.key" --key "$key" --log "$T/$kind.log" >"$T/$kind.port" &
	PIDS+=($!)
	for _ in $(seq 50); do
		[ -s "$T/$kind.port" ] && break
		sleep 0.1
	done
	PORT=$(awk '{print $2}' "$T/$kind.port")
}

start anthropic "$ANTHROPIC_API_KEY"; A_URL="https://127.0.0.1:$PORT"
start openai "$OPENAI_API_KEY"; O_URL="https://127.0.0.1:$PORT"
start local ""; L_URL="https://127.0.0.1:$PORT"
start realtime "$OPENAI_API_KEY"; R_URL="wss://localhost:$PORT"

# The local and realtime test models have no built-in price row, and a
# dollar quota needs one: the policy prices them.
{
	echo 'return { prices = {'
	for m in llama gpt-realtime; do
		for s in session e401 e500; do
			echo "  [\"$m-$s\"] = { input = 1.0, output = 2.0 },"
		done
	done
	echo '} }'
} >"$T/prices.lua"

session() { # session BACKEND URL MODEL [extra args]
	local b=$1 url=$2 model=$3; shift 3
	"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
	rm -rf "$WS"; mkdir -p "$WS"
	echo "hello from the readme" >"$WS/README.md"
	set +e
	timeout "${TMO:-60}" "$SILO_BIN" run --workspace "$WS" --create --frontend headless \
		--prompt "Check the readme." --llm "$b" --model "$model" --base-url "$url" \
		--policy "$T/prices.lua" "${SANDBOX[@]}" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
}

# The real sandbox when it works here; else the mock one with a fixture
# (which needs an engine that still sends LLM calls to the real backend).
SANDBOX=(--sandbox native)
TMO=30 session anthropic "$A_URL" claude-sonnet-session --quota-usd 5
if [ "$RC" -ne 0 ] && [ ! -s "$T/anthropic.log" ]; then
	echo "# native sandbox unavailable: $(head -c 200 "$T/err")"
	SANDBOX=(--sandbox mock --script "$FP/mock_sandbox.lua")
	TMO=20 session anthropic "$A_URL" claude-sonnet-session --quota-usd 5
	if [ ! -s "$T/anthropic.log" ]; then
		echo "1..0 # SKIP no sandbox to run a session in, or the engine answers from the fixture"
		exit 77
	fi
fi

for spec in "anthropic $A_URL claude-sonnet anthropic anthropic" \
	"openai $O_URL gpt-4.1 openai openai-responses" \
	"openai-ws $R_URL gpt-realtime realtime openai-ws" "local $L_URL llama local local"; do
	set -- $spec
	b=$1 url=$2 m=$3 kind=$4 id=$5
	session "$b" "$url" "$m-session" --quota-usd 5
	check "$b: session exits 0" test "$RC" -eq 0
	check "$b: final message quotes the Read result" \
		sh -c "head -n1 '$T/out' | grep -qx 'Done by fake: hello from the readme'"
	check "$b: cost line" contains "$T/out" "cost[$id:$m-session]: "
	"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
	check "$b: llm_response journaled" contains "$T/j.jsonl" '"entry":"llm_response"'
	check "$b: tool_use of Read journaled" contains "$T/j.jsonl" '"name":"Read"'
	for key in "$ANTHROPIC_API_KEY" "$OPENAI_API_KEY"; do
		check "$b: no key in the journal" lacks "$T/j.jsonl" "$key"
		check "$b: no key on stdout/stderr" sh -c "! grep -qF -- '$key' '$T/out' '$T/err'"
	done
	check "$b: key only in its header" sh -c "! grep -q '\"key_leaks\": \[\"' '$T/$kind.log'"

	# quota: the first call's usage exceeds 1 token, the second is refused
	session "$b" "$url" "$m-session" --quota-tokens 1
	check "$b: quota exhaustion exits 3" test "$RC" -eq 3
	check "$b: quota message" contains "$T/err" \
		"silo: session ended by LLM failure: llm quota exceeded: token quota reached"

	# a 401 is not retried; a 500 is retried (3 attempts)
	n0=$(grep -c . "$T/$kind.log" || true)
	session "$b" "$url" "$m-e401" --quota-usd 5
	n1=$(grep -c . "$T/$kind.log" || true)
	check "$b: 401 exits 3" test "$RC" -eq 3
	check "$b: 401 named" contains "$T/err" "status 401"
	check "$b: 401 not retried" test "$((n1 - n0))" -eq 1
	session "$b" "$url" "$m-e500" --quota-usd 5
	n2=$(grep -c . "$T/$kind.log" || true)
	check "$b: 500 exits 3" test "$RC" -eq 3
	check "$b: 500 retried 3 times" test "$((n2 - n1))" -eq 3
done
finish
