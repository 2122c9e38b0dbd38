#!/bin/bash
# A planted secret in the harness environment (API key and an injected
# credential) never reaches the state directory: journals, registry, files.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
export ANTHROPIC_API_KEY="sk-ant-PLANTED-0123456789abcdef"
export SILO_TEST_TOKEN="ghp_PLANTEDtoken9876543210"
run_headless "$FIX/headless.lua" "Tidy the repo." \
	--allow-domain api.example.com \
	--inject-credential "api.example.com:Authorization:SILO_TEST_TOKEN:Bearer {secret}"
check "session ran" test "$RC" -eq 0
check "no API key anywhere in the state directory" sh -c "! grep -rqa 'PLANTED-0123456789' '$LLMDEVSILO_STATE_DIR'"
check "no credential anywhere in the state directory" sh -c "! grep -rqa 'PLANTEDtoken' '$LLMDEVSILO_STATE_DIR'"
check "nor on stdout/stderr" sh -c "! grep -qa PLANTED '$T/out' '$T/err'"
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "the access report names the credential host only" contains "$T/j.jsonl" '"credential_domains":["api.example.com"]'
finish
