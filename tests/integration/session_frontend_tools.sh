#!/bin/bash
# AskUserQuestion, SendUserFile and uploads through the mock frontend.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
run_mock "$FIX/frontend_tools.lua"
check "exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "question_asked" contains "$T/j.jsonl" '"kind":"question_asked","id":"q-1","agent":"agent-0","question":{"allow_free_text":false,"multi_select":false,"options":[{"description":"","label":"md"},{"description":"","label":"txt"}],"question":"Which format?"}'
check "question_answered" contains "$T/j.jsonl" '"kind":"question_answered","id":"q-1","answer":"md"'
check "internal Read journaled" contains "$T/j.jsonl" '"owner":"sandbox","call":{"id":"f1-read","name":"Read","input":{"path":"out/report.md"}}'
check "file_shared from llm" contains "$T/j.jsonl" '"kind":"file_shared","name":"report.md","content_b64":"IyBSZXBvcnQK","origin":"llm","agent":"agent-0","caption":"the report"'
check "upload file_shared" contains "$T/j.jsonl" '"kind":"file_shared","name":"../notes.txt","content_b64":"aGVsbG8=","origin":"client","client_id":"mock"'
check "upload Write by harness" contains "$T/j.jsonl" '"entry":"tool_exec","agent":"harness","owner":"sandbox","call":{"id":"upload-1","name":"Write"'
finish
