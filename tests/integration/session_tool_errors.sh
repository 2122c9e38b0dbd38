#!/bin/bash
# Unknown tools, failing commands and bad inputs are error results.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_mock "$FIX/tool_errors.lua"
check "exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "unknown tool, owner harness" contains "$T/j.jsonl" '"owner":"harness","call":{"id":"e1","name":"Frobnicate","input":{}},"output":{"content":"unknown tool: Frobnicate","is_error":true}'
check "failing command is an error result" contains "$T/j.jsonl" '"output":{"content":"(exit code 1)","is_error":true}'
check "bad AskUserQuestion input" contains "$T/j.jsonl" '"content":"invalid AskUserQuestion input: question must be a string","is_error":true'
check "Agent needs a prompt" contains "$T/j.jsonl" '"content":"Agent requires a non-empty '"'"'prompt'"'"' string","is_error":true'
check "AwaitAgent with no subagents" contains "$T/j.jsonl" '"content":"AwaitAgent: no subagents are running","is_error":true'
finish
