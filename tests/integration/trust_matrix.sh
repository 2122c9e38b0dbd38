#!/bin/bash
# Trust matrix (proxy issue): inside the real native sandbox, every client
# toolchain present reaches an allowed HTTPS upstream through the proxy,
# trusting the session CA from the standard variables. The upstream lives
# in a network namespace this test makes, at 198.51.100.2 (documentation
# space the IP guard allows), named upstream.test through the policy's
# `hosts` map; the proxy trusts its test CA through `upstream_ca`.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root for the upstream namespace"; exit 77; }
"$SILO_BIN" doctor >/dev/null 2>&1 || { echo "1..0 # SKIP native sandbox unavailable"; exit 77; }
command -v openssl >/dev/null && command -v ip >/dev/null || { echo "1..0 # SKIP openssl/ip missing"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "1..0 # SKIP /usr/bin/python3 missing"; exit 77; }

ns=silo-trust-$$
cleanup_all() {
	ip link del "vt-$$" 2>/dev/null; ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"
}
trap cleanup_all EXIT
ip netns add "$ns"
ip link add "vt-$$" type veth peer name eth0 netns "$ns"
ip addr add 198.51.100.1/24 dev "vt-$$"; ip link set "vt-$$" up
ip -n "$ns" addr add 198.51.100.2/24 dev eth0; ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up

# Test CA and a certificate for upstream.test.
cd "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-days 2 -subj "/CN=silo trust-matrix test CA" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout up.key -out up.csr \
	-subj "/CN=upstream.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:upstream.test\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in up.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out up.pem -days 2 \
	-extfile ext.cnf >/dev/null 2>&1
mkdir -p www; echo "trusted upstream says hi" >www/hello.txt
git init -q --bare www/repo.git
git -C www/repo.git update-server-info
cat >serve.py <<'PY'
import http.server, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
h = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=sys.argv[3], **k)
s = http.server.ThreadingHTTPServer(("198.51.100.2", 443), h)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
ip netns exec "$ns" "$PY" serve.py up.pem up.key www >/dev/null 2>&1 &
for _ in $(seq 50); do curl -s --cacert ca.pem --resolve upstream.test:443:198.51.100.2 -o /dev/null https://upstream.test/hello.txt && break; sleep 0.1; done
cd - >/dev/null
cat >"$T/policy.lua" <<LUA
return {
  allowed_domains = { "upstream.test" },
  hosts = { ["upstream.test"] = "198.51.100.2" },
  upstream_ca = { ["upstream.test"] = "$T/ca.pem" },
}
LUA
cat >"$WS/matrix.sh" <<'SH'
u=https://upstream.test/hello.txt
row() { if out=$(eval "$2" 2>&1) && echo "$out" | grep -q "$3"; then echo "PASS $1"; else echo "FAIL $1: $(echo "$out" | tail -n1)"; fi; }
row "curl (OpenSSL)" "curl -sS $u" "says hi"
row "git (GnuTLS)" "cd /tmp && rm -rf r && git clone -q https://upstream.test/repo.git r && echo cloned" "cloned"
row "python3 urllib" "/usr/bin/python3 -c 'import urllib.request;print(urllib.request.urlopen(\"$u\").read().decode())'" "says hi"
if /usr/bin/python3 -c 'import requests' 2>/dev/null; then
	row "python3 requests" "/usr/bin/python3 -c 'import requests;print(requests.get(\"$u\").text)'" "says hi"
fi
if command -v node >/dev/null; then
	# Node 20 reads no proxy variables, so the script opens the CONNECT
	# itself; the TLS trust comes from NODE_EXTRA_CA_CERTS alone.
	cat >/tmp/get.js <<'JS'
const http = require('http'), tls = require('tls');
const p = new URL(process.env.HTTPS_PROXY);
const fail = (e) => { console.log(e.message); process.exit(1); };
http.request({ host: p.hostname, port: p.port, method: 'CONNECT', path: 'upstream.test:443' })
  .on('connect', (res, sock) => {
    const t = tls.connect({ socket: sock, servername: 'upstream.test' }, () =>
      t.write('GET /hello.txt HTTP/1.1\r\nHost: upstream.test\r\nConnection: close\r\n\r\n'));
    t.on('data', (d) => process.stdout.write(d)).on('error', fail);
  }).on('error', fail).end();
JS
	row "node (NODE_EXTRA_CA_CERTS)" "node /tmp/get.js" "says hi"
fi
if command -v java >/dev/null; then
	echo "SKIP java: the JVM keeps its own trust store (not configurable by environment)"
fi
SH
"$SILO_BIN" workspace lock "$WS" >/dev/null
set +e
timeout 120 "$SILO_BIN" shell --workspace "$WS" --policy "$T/policy.lua" -- sh /workspace/matrix.sh \
	</dev/null >"$T/table" 2>"$T/err"
set -e
echo "# trust matrix (inside the native sandbox, through the proxy):"
sed 's/^/#   /' "$T/table"
check "curl reaches the upstream" grep -q '^PASS curl' "$T/table"
check "git reaches the upstream" grep -q '^PASS git' "$T/table"
check "python3 urllib reaches the upstream" grep -q '^PASS python3 urllib' "$T/table"
if grep -q 'node' "$T/table"; then check "node reaches the upstream" grep -q '^PASS node' "$T/table"; fi
check "no client failed" sh -c "! grep -q '^FAIL' '$T/table'"
finish
