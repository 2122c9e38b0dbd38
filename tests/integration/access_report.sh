#!/bin/bash
# `silo run --print-access` (issue 3 item 6): what the agent could read,
# write and reach, which hosts get credentials (names only) and which
# domains are tunnel-only, printed without starting a session.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
export SILO_TEST_TOKEN="tok-PLANTED-42"
printf 'return { allowed_domains = { "api.example.com", "pinned.example" }, tunnel_domains = { "pinned.example" } }\n' >"$T/p.lua"
"$SILO_BIN" workspace lock "$WS" --strategy directory >/dev/null
"$SILO_BIN" run --workspace "$WS" --llm mock --sandbox mock --frontend headless --prompt x \
	--script "$FIX/headless.lua" --policy "$T/p.lua" --allow-read /usr/share/doc \
	--inject-credential "api.example.com:Authorization:SILO_TEST_TOKEN:Bearer {secret}" \
	--print-access >"$T/report" 2>"$T/err"
check "valid JSON" /usr/bin/python3 -c "import json,sys; json.load(open('$T/report'))"
check "readable paths" contains "$T/report" '"/usr/share/doc"'
check "allowed domains" contains "$T/report" '"api.example.com"'
check "credential hosts by name" sh -c "/usr/bin/python3 -c \"import json; r=json.load(open('$T/report')); assert r['credential_domains']==['api.example.com']\""
check "tunnel-only domains and their note" sh -c "grep -q '\"tunnel_domains\"' '$T/report' && grep -q 'never get injected credentials' '$T/report'"
check "no credential value" lacks "$T/report" "PLANTED"
finish
