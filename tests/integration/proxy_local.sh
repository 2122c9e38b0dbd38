#!/bin/bash
# The IP guard refuses the harness machine's own interface addresses: a
# service bound to 0.0.0.0 on the harness answers on every one of them,
# including addresses the guard's ranges allow (here the documentation
# address of the test's own veth end, 198.51.100.1). An allowlisted name
# resolving there, the literal itself, a tunnel domain, and an address
# added after the proxy started are all refused; the upstream at
# 198.51.100.2 (another namespace) stays reachable; a removed address is
# no longer treated as local.
source "$(dirname "$0")/proxy_env.bash"
pxt_init "$@"
# The "harness service": everything bound to 0.0.0.0 in the proxy's namespace.
python3 - >"$PXT_WORK/svc.out" 2>&1 <<'PY' &
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"harness-private-service\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
s = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H)
print("ready", flush=True)
s.serve_forever()
PY
SVC_PID=$!
for _ in $(seq 50); do grep -q ready "$PXT_WORK/svc.out" 2>/dev/null && break; sleep 0.1; done
curl -s --max-time 3 http://198.51.100.1:8080/ | grep -q harness-private
ok $? "setup: the 0.0.0.0 service answers on the veth address"

pxt_proxy --allow-domain local.test --allow-domain late.test --allow-domain up.test \
	--allow-domain 198.51.100.1 --allow-domain tun.test --tunnel-domain tun.test \
	--hosts local.test=198.51.100.1 --hosts late.test=203.0.113.9 \
	--hosts up.test=198.51.100.2 --hosts tun.test=198.51.100.1
B=$PXT_WORK/body

code=$(pcurl -o "$B" -w '%{http_code}' http://local.test:8080/)
[ "$code" = 502 ] && grep -q 'blocked address: local.test resolves to 198.51.100.1 (local interface address)' "$B" &&
	! grep -q harness-private "$B"
ok $? "a name resolving to a local interface address: 502 blocked ($code)"
code=$(pcurl -o "$B" -w '%{http_code}' http://198.51.100.1:8080/)
[ "$code" = 403 ] && grep -q 'blocked address (local interface address)' "$B"
ok $? "the local address as a literal: 403 ($code)"
code=$(pcurl -o "$B" -w '%{http_code}' -p http://tun.test:8080/ 2>/dev/null)
! grep -q harness-private "$B"; ok $? "a tunnel domain resolving locally is not connected ($code)"
out=$(praw 'CONNECT tun.test:8080 HTTP/1.1\r\nHost: tun.test:8080\r\n\r\n' 3)
echo "$out" | head -1 | grep -q '^HTTP/1.1 502' && echo "$out" | grep -q 'local interface address'
ok $? "CONNECT to a tunnel domain resolving locally: 502"
pcurl http://up.test/echo | grep -q '"line"'; ok $? "the upstream in the other namespace stays reachable"

# Changes after start: an address added to lo is refused at once.
code=$(pcurl -o "$B" -w '%{http_code}' http://late.test:8080/)
! grep -q harness-private "$B"; ok $? "before it exists, 203.0.113.9 serves nothing ($code)"
ip addr add 203.0.113.9/32 dev lo
curl -s --max-time 3 http://203.0.113.9:8080/ | grep -q harness-private
ok $? "setup: the 0.0.0.0 service now answers on 203.0.113.9"
code=$(pcurl -o "$B" -w '%{http_code}' http://late.test:8080/)
[ "$code" = 502 ] && grep -q '(local interface address)' "$B" && ! grep -q harness-private "$B"
ok $? "an address added after the proxy started is refused ($code)"
ip addr del 203.0.113.9/32 dev lo
code=$(pcurl -o "$B" -w '%{http_code}' http://late.test:8080/)
! grep -q '(local interface address)' "$B"; ok $? "once removed it is no longer local ($code)"

pxt_proxy_stop
grep -q '"host":"local.test",.*"allowed":false,.*"note":"blocked address"' "$PXT_LOG"
ok $? "the refusal is journaled as blocked address"
kill "$SVC_PID" 2>/dev/null
pxt_done
