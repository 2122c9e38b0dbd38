#!/bin/bash
# End to end, real components: the scripted model's tools run in the native
# sandbox, whose only way out is the relay to the real proxy. A denied
# domain gets the proxy's 403 with the remedy; an allowed upstream (in a
# network namespace this test makes, at a documentation address the IP
# guard allows, named through the policy's `hosts` map) answers 200; the
# journal gets one network record per request, without the query string.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
if ! "$SILO_BIN" doctor >/dev/null 2>&1; then
	echo "1..0 # SKIP native sandbox unavailable here"; exit 77
fi
cat >"$T/deny.lua" <<'LUA'
return { llm = {
  { response = { content = { { type = "tool_use", id = "a", name = "WebFetch",
      input = { url = "http://example.com/private?token=abc" } } }, stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "b", name = "Bash",
      input = { command = "curl -sS https://example.com/ 2>&1; env -u HTTPS_PROXY -u HTTP_PROXY -u ALL_PROXY curl -sS -m 5 http://93.184.216.34/ 2>&1 | head -1" } } },
      stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "done" } } },
      stop_reason = "tool_use" } } } }
LUA
set +e
timeout 120 "$SILO_BIN" run --workspace "$WS" --create --llm mock --sandbox native \
	--frontend headless --prompt go --script "$T/deny.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
check "denied run: exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/j.jsonl"
check "WebFetch of a denied domain: the proxy's 403 names the remedy" \
	contains "$T/j.jsonl" 'HTTP 403\nsilo proxy: access to example.com denied: domain not allowlisted.\nTo allow it, run silo with --allow-domain example.com'
check "network record for the denial" contains "$T/j.jsonl" '"entry":"network","record":{"host":"example.com","port":80'
check "no query string in network records" sh -c "! grep -F '\"entry\":\"network\"' '$T/j.jsonl' | grep -q 'token='"
check "HTTPS to a denied domain fails through CONNECT" contains "$T/j.jsonl" '"host":"example.com","port":443'
check "direct connection without the proxy fails" sh -c "grep -F '\"id\":\"b\"' '$T/j.jsonl' | grep -q 'curl: (7)'"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
	finish
fi
# An allowed upstream in a namespace of our own at 198.51.100.2.
ns=silo-egress-$$
ip netns add "$ns"
cleanup_ns() { ip link del "veth-$$" 2>/dev/null; ip netns pids "$ns" 2>/dev/null | xargs -r kill; ip netns del "$ns" 2>/dev/null; }
trap 'cleanup_ns; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
ip link add "veth-$$" type veth peer name eth0 netns "$ns"
ip addr add 198.51.100.1/24 dev "veth-$$"
ip link set "veth-$$" up
ip -n "$ns" addr add 198.51.100.2/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up
mkdir -p "$T/www"; echo "hello from the allowed upstream" >"$T/www/index.html"
ip netns exec "$ns" python3 -m http.server 80 --bind 198.51.100.2 --directory "$T/www" >/dev/null 2>&1 &
for _ in $(seq 50); do curl -s -o /dev/null http://198.51.100.2/ && break; sleep 0.1; done
cat >"$T/policy.lua" <<'LUA'
return {
  allowed_domains = { "upstream.test" },
  hosts = { ["upstream.test"] = "198.51.100.2" },
  placeholders = { { env = "SILO_TEST_PH", host = "upstream.test", header = "X-Token" } },
  hooks = {
    on_request = function(req)
      if req.path == "/blocked.html" then return "blocked by the team policy" end
    end,
  },
}
LUA
export SILO_TEST_PH="real-token-0123456789"
echo "not for you" >"$T/www/blocked.html"
cat >"$T/allow.lua" <<'LUA'
return { llm = {
  { response = { content = { { type = "tool_use", id = "a", name = "WebFetch",
      input = { url = "http://upstream.test/index.html?x=1" } } }, stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "b", name = "WebFetch",
      input = { url = "http://upstream.test/blocked.html" } } }, stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "c", name = "Bash",
      input = { command = "echo \"ph=$SILO_TEST_PH\"" } } }, stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "done" } } },
      stop_reason = "tool_use" } } } }
LUA
WS="$T/ws2"; mkdir -p "$WS"
set +e
timeout 120 "$SILO_BIN" run --workspace "$WS" --create --llm mock --sandbox native \
	--frontend headless --prompt go --script "$T/allow.lua" --policy "$T/policy.lua" >"$T/out" 2>"$T/err"
RC=$?
set -e
JOURNAL=$(sed -n 's/^journal: //p' "$T/err")
check "allowed run: exit 0" test "$RC" -eq 0
"$SILO_BIN" journal export "$JOURNAL" >"$T/k.jsonl"
check "allowed upstream answers through the proxy" contains "$T/k.jsonl" 'HTTP 200\nhello from the allowed upstream'
check "the policy's on_request hook refuses a path with its reason" contains "$T/k.jsonl" 'blocked by the team policy'
check "the sandbox sees a placeholder, not the real value" sh -c "grep -F '\"id\":\"c\"' '$T/k.jsonl' | grep -F '\"entry\":\"tool_exec\"' | grep -q 'ph=' && ! grep -q 'real-token-0123456789' '$T/k.jsonl'"
check "forwarded request journaled with path and status" contains "$T/k.jsonl" '"host":"upstream.test","port":80,"method":"GET","path":"/index.html","status":200'
finish
