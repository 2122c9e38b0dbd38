#!/bin/bash
# `silo shell` (cli.md 6): a command in its own sandbox instance on the
# workspace, its exit status passed on, egress only through its own proxy,
# a journal of its own; the mock sandbox is refused.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
if ! "$SILO_BIN" doctor >/dev/null 2>&1; then
	echo "1..0 # SKIP native sandbox unavailable here"; exit 77
fi
echo "from the user" >"$WS/note.txt"
"$SILO_BIN" workspace lock "$WS" >/dev/null
set +e
timeout 60 "$SILO_BIN" shell --workspace "$WS" -- sh -c 'cat /workspace/note.txt; hostname; echo made >/workspace/made.txt; curl -sS http://example.com/ | head -1; exit 7' \
	</dev/null >"$T/out" 2>"$T/err"
rc=$?
set -e
check "exit status passed on" test "$rc" -eq 7
check "sees the workspace" contains "$T/out" "from the user"
check "own UTS namespace" contains "$T/out" "silo-sandbox"
check "egress through its own proxy (denied by default)" contains "$T/out" "access to example.com denied"
j=$(ls "$LLMDEVSILO_STATE_DIR"/journals/shell-*.db | head -n1)
set +e
timeout 60 "$SILO_BIN" shell --workspace "$WS" -- sh -c 'kill -TERM $$' </dev/null >/dev/null 2>&1
rc=$?
set -e
check "death by signal maps to 128+S" test "$rc" -eq 143
check "journal shell-<id>.db" test -s "$j"
"$SILO_BIN" journal export "$j" >"$T/j.jsonl"
check "lifecycle: starting" contains "$T/j.jsonl" "user shell starting in $WS"
check "lifecycle: ended" contains "$T/j.jsonl" '"message":"user shell ended"'
check "network record of the denial" contains "$T/j.jsonl" '"entry":"network","record":{"host":"example.com"'
set +e
"$SILO_BIN" shell --workspace "$WS" --sandbox mock -- true >/dev/null 2>"$T/e"; rc=$?
set -e
check "mock sandbox refused (exit 1)" test "$rc" -eq 1
check "the refusal explains" contains "$T/e" "needs a fixture"
"$SILO_BIN" workspace unlock "$WS" >"$T/review" 2>&1 || true
check "the shell's file shows in the unlock review" contains "$T/review" "made.txt"

# Mirroring (sandbox.md 8): a live harness's run file on this workspace
# gives the shell the same allowlists; explicit flags disable it.
WS="$T/ws-m"; mkdir -p "$WS"
"$SILO_BIN" workspace lock "$WS" >/dev/null
mkdir -p "$LLMDEVSILO_STATE_DIR/run"
sleep 300 & live=$!
cat >"$LLMDEVSILO_STATE_DIR/run/abcdefabcdef.json" <<JSON
{"harness_id":"abcdefabcdef","addr":"127.0.0.1:1","cert_fingerprint_sha256":"00","local_token_path":"/x",
 "pid":$live,"workspace":"$WS","sandbox_kind":"linux-native","read_allowlist":["/usr/share/doc"],
 "allowed_domains":["docs.rs"]}
JSON
timeout 60 "$SILO_BIN" shell --workspace "$WS" -- sh -c 'ls -d /usr/share/doc >/dev/null && echo doc-visible' </dev/null >"$T/m" 2>&1 || true
check "mirroring note names the harness and counts" contains "$T/m" "note: mirroring harness abcdefabcdef: sandbox linux-native, 1 readable path(s), 1 allowed domain(s); credentials are not mirrored"
timeout 60 "$SILO_BIN" shell --workspace "$WS" --allow-domain example.org -- true </dev/null >"$T/m2" 2>&1 || true
check "explicit flags: no mirroring, a note says so" contains "$T/m2" "note: the policy of this shell differs from harness abcdefabcdef"
kill $live; wait $live 2>/dev/null || true
"$SILO_BIN" workspace unlock "$WS" >/dev/null 2>&1 || true
finish
