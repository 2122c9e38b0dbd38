#!/bin/bash
# Where the journal goes: a path the sandbox could read is refused before
# anything is written there, and a missing directory is an error, never
# created in silence.
set -euo pipefail
. "$(dirname "$0")/lib.bash"

mkdir -p "$T/shared" "$T/logs"
run_mock "$FIX/basic.lua" --journal "$T/shared/j.db" --allow-read "$T/shared"
check "readable journal path: refused" test "$RC" -ne 0
check "readable journal path: says why" contains "$T/err" "would be readable by the sandbox"
check "readable journal path: no file written" test ! -e "$T/shared/j.db"
check "readable journal path: no journal printed" lacks "$T/err" "journal: "

run_mock "$FIX/basic.lua" --journal "$T/nonexistent/dir/j.db"
check "missing directory: refused" test "$RC" -ne 0
check "missing directory: named" contains "$T/err" "directory $T/nonexistent/dir does not exist"
check "missing directory: not created" test ! -e "$T/nonexistent"

run_mock "$FIX/basic.lua" --journal "$T/logs/j.db"
check "existing directory: runs" test "$RC" -eq 0
check "existing directory: journal written where asked" test "$JOURNAL" = "$T/logs/j.db"
check "existing directory: journal readable" sh -c "\"\$0\" journal export \"\$1\" >/dev/null" "$SILO_BIN" "$T/logs/j.db"
finish
