#!/bin/bash
# Egress proxy TLS: interception with the session CA, SNI and Host that
# differ from the CONNECT host (421, no fronting), non-TLS bytes in a
# tunnel, a client that does not trust the CA, ALPN h2 offered, upstream
# verification (untrusted CA, wrong name, a non-TLS port), passthrough
# tunnel domains (never credentialed), an ECH ClientHello, and no UDP
# socket at all.
source "$(dirname "$0")/proxy_env.bash"
pxt_init "$@"
export PXT_SECRET=tunnel-secret-0123456789
pxt_proxy --allow-domain up.test --allow-domain other.test --allow-domain badname.test \
	--allow-domain tun.test --allow-domain untrusted.test --tunnel-domain tun.test \
	--allow-domain 198.51.100.2 \
	--hosts up.test=198.51.100.2 --hosts other.test=198.51.100.2 \
	--hosts badname.test=198.51.100.2 --hosts tun.test=198.51.100.2 \
	--hosts untrusted.test=198.51.100.2 \
	--upstream-ca "up.test=$PXT_WORK/upca.pem" --upstream-ca "badname.test=$PXT_WORK/upca.pem" \
	--inject-credential "tun.test:Authorization:PXT_SECRET"
B=$PXT_WORK/body

[ "$(pcurl -o "$B" -w '%{http_code}' https://up.test/echo)" = 200 ] && grep -q '"GET /echo HTTP/1.1"' "$B"
ok $? "HTTPS through the proxy with the session CA"
issuer=$(pcurl -o /dev/null -w '%{certs}' --write-out '' -v https://up.test/ 2>&1 | grep -i 'issuer:' | head -1)
echo "$issuer" | grep -q 'silo session CA'; ok $? "the sandbox sees a leaf issued by the session CA"

[ "$(pcurl -o "$B" -w '%{http_code}' -H 'Host: other.test' https://up.test/echo)" = 421 ]
ok $? "Host header differing from the CONNECT host: 421"
grep -q 'misdirected request' "$B"; ok $? "the 421 body explains the refusal"

out=$(printf 'GET /echo HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -quiet -proxy "$PXT_ADDR" -connect up.test:443 \
		-servername other.test -CAfile "$PXT_CA" 2>/dev/null)
echo "$out" | grep -q '^HTTP/1.1 421'; ok $? "SNI differing from the CONNECT host: 421"

out=$(praw 'CONNECT up.test:443 HTTP/1.1\r\nHost: up.test:443\r\n\r\nGET / HTTP/1.1\r\nHost: up.test\r\n\r\n')
echo "$out" | grep -q '^HTTP/1.1 200' && ! echo "$out" | grep -q 'ok'
ok $? "plain HTTP inside a CONNECT tunnel is not served"

curl -sS --max-time 10 --proxy "http://$PXT_ADDR" https://up.test/ >/dev/null 2>&1
[ $? = 60 ]; ok $? "a client without the session CA refuses the leaf"

[ "$(pcurl --http2 -o /dev/null -w '%{http_code} %{http_version}' https://up.test/)" = "200 1.1" ]
ok $? "ALPN h2 offered: http/1.1 is negotiated"
out=$(echo | timeout 10 openssl s_client -proxy "$PXT_ADDR" -connect up.test:443 -alpn h2 \
	-CAfile "$PXT_CA" 2>&1)
! echo "$out" | grep -q 'ALPN protocol: h2'; ok $? "ALPN h2 only: h2 is never selected"

[ "$(pcurl -o "$B" -w '%{http_code}' https://untrusted.test/)" = 502 ] &&
	grep -q 'upstream error: upstream tls failed: certificate verify failed' "$B"
ok $? "upstream certificate from an untrusted CA: 502 upstream tls failed"
[ "$(pcurl -o "$B" -w '%{http_code}' https://badname.test/)" = 502 ] &&
	grep -q 'upstream tls failed' "$B"
ok $? "upstream certificate for another name: 502"
[ "$(pcurl -o "$B" -w '%{http_code}' https://198.51.100.2/)" = 502 ] &&
	grep -q 'cannot be verified here' "$B"
ok $? "HTTPS to an allowed IP literal: refused, its certificate name cannot be checked"
[ "$(pcurl -o "$B" -w '%{http_code}' https://up.test:80/)" = 502 ] &&
	grep -q 'upstream tls failed' "$B"
ok $? "CONNECT to a non-TLS upstream port: 502 upstream tls failed"

# passthrough: the client talks TLS to the upstream itself
out=$(curl -sS --max-time 10 --proxy "http://$PXT_ADDR" --cacert "$PXT_WORK/upca.pem" \
	https://tun.test/echo)
echo "$out" | grep -q '"GET /echo HTTP/1.1"'; ok $? "tunnel domain: TLS passes through untouched"
! echo "$out" | grep -q "$PXT_SECRET"; ok $? "tunnel domain: no credential injected"

# a CONNECT relayed through an in-sandbox style forwarder
pxt_forwarder
fport=$PXT_FWD_PORT
out=$(curl -sS --max-time 10 --proxy "http://127.0.0.1:$fport" --cacert "$PXT_CA" https://up.test/echo)
echo "$out" | grep -q '"GET /echo HTTP/1.1"'; ok $? "CONNECT through a byte-for-byte forwarder works"
[ "$(curl -sS --max-time 10 --proxy "http://127.0.0.1:$fport" -o /dev/null -w '%{http_connect}' https://evil.test/ 2>/dev/null)" = 403 ]
ok $? "... and the policy still applies behind it"
kill "$PXT_FWD_PID" 2>/dev/null
PXT_FWD_PID=

# no UDP path: the proxy owns no UDP socket
pid=$PXT_PID
n=$(ss -uanp 2>/dev/null | grep -c "pid=$pid,")
t=$(ss -tlnp 2>/dev/null | grep -c "pid=$pid,")
[ "$n" = 0 ] && [ "$t" -ge 1 ]; ok $? "the proxy has no UDP socket (QUIC has nowhere to go)"
python3 -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
h,p='$PXT_ADDR'.rsplit(':',1); s.sendto(b'\xc0'+b'\0'*1199,(h,int(p)))
try: s.recvfrom(100); print('answered')
except Exception: print('silent')" | grep -q silent
ok $? "a QUIC-shaped datagram to the proxy port gets no answer"

# ECH: a ClientHello carrying encrypted_client_hello (0xfe0d) whose
# payload names another host. The proxy has no ECH keys and acts as a
# server without ECH: it ignores the extension, answers TLS 1.2 (which
# tells an ECH client its inner hello was not accepted), sends no ECH
# extension back, and its certificate is for the CONNECT host only; no
# decision is made on a name the proxy cannot read.
ech=$(python3 - "$PXT_ADDR" <<'PY'
import socket, ssl, struct, sys
h, p = sys.argv[1].rsplit(":", 1)
# A real ClientHello for up.test, from OpenSSL through memory BIOs.
ctx = ssl.create_default_context()
inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx.wrap_bio(inb, outb, server_hostname="up.test")
try:
    o.do_handshake()
except ssl.SSLWantReadError:
    pass
rec = outb.read()
body = bytearray(rec[5:])           # handshake message
hs = body[4:]                        # ClientHello body
i = 2 + 32
i += 1 + hs[i]                       # session id
i += 2 + struct.unpack(">H", hs[i:i + 2])[0]  # cipher suites
i += 1 + hs[i]                       # compression
ext_len = struct.unpack(">H", hs[i:i + 2])[0]
# outer ECH: type 0, kdf 1, aead 1, config id, enc, payload
payload = b"inner-sni:secret-inner.test;" + bytes(range(200))
ech = b"\x00" + struct.pack(">HHB", 1, 1, 7) + struct.pack(">H", 32) + b"\x11" * 32 + \
    struct.pack(">H", len(payload)) + payload
ext = struct.pack(">HH", 0xfe0d, len(ech)) + ech
hs = hs[:i] + struct.pack(">H", ext_len + len(ext)) + hs[i + 2:] + ext
msg = b"\x01" + struct.pack(">I", len(hs))[1:] + bytes(hs)
hello = b"\x16\x03\x01" + struct.pack(">H", len(msg)) + msg
s = socket.create_connection((h, int(p)), timeout=5)
s.sendall(b"CONNECT up.test:443 HTTP/1.1\r\nHost: up.test:443\r\n\r\n")
resp = b""
while b"\r\n\r\n" not in resp:
    resp += s.recv(4096)
head, _, rest = resp.partition(b"\r\n\r\n")
if not head.startswith(b"HTTP/1.1 200"):
    print("connect-refused"); sys.exit()
s.sendall(hello)
data = rest
try:
    while len(data) < 65536:
        b = s.recv(65536)
        if not b:
            break
        data += b
        if b"\x0e\x00\x00\x00" in data:  # ServerHelloDone
            break
except socket.timeout:
    pass
# records -> handshake stream
hsd, j = b"", 0
while j + 5 <= len(data):
    t, ln = data[j], struct.unpack(">H", data[j + 3:j + 5])[0]
    if t == 21:
        print("alert"); sys.exit()
    if t == 22:
        hsd += data[j + 5:j + 5 + ln]
    j += 5 + ln
out = []
if hsd[:1] == b"\x02":
    sh = hsd[4:4 + struct.unpack(">I", b"\x00" + hsd[1:4])[0]]
    out.append("serverhello")
    out.append("tls12" if sh[:2] == b"\x03\x03" else "version?")
    out.append("ech-ext" if b"\xfe\x0d" in sh[35 + sh[34]:] else "no-ech-ext")
out.append("cert-connect-host" if b"up.test" in hsd else "cert?")
out.append("inner-name-used" if b"secret-inner" in hsd else "inner-name-unused")
print(" ".join(out))
PY
)
[ "$ech" = "serverhello tls12 no-ech-ext cert-connect-host inner-name-unused" ]
ok $? "an ECH ClientHello: handled as a server without ECH, leaf for the CONNECT host only ($ech)"
out=$(pcurl -H 'Host: secret-inner.test' -o /dev/null -w '%{http_code}' https://up.test/echo)
[ "$out" = 421 ]; ok $? "a request inside naming another host still gets 421 ($out)"

pxt_proxy_stop
grep -q '"host":"up.test","port":443,"bytes_sent":0,"bytes_received":0,"allowed":false,"credential_injected":false,"note":"tls handshake failed"' "$PXT_LOG"
ok $? "failed sandbox handshakes are journaled 'tls handshake failed'"
grep -q '"host":"up.test","port":443,"method":"GET","path":"/echo",.*"note":"host mismatch"' "$PXT_LOG"
ok $? "host mismatches are journaled 'host mismatch'"
grep -q '"host":"untrusted.test".*"allowed":true.*"note":"upstream tls failed"' "$PXT_LOG"
ok $? "upstream TLS failures are journaled allowed=true"
grep -q '"host":"tun.test","port":443,.*"allowed":true,"credential_injected":false,"note":"tunnel"' "$PXT_LOG"
ok $? "tunnels are journaled with note 'tunnel'"
! grep -q "$PXT_SECRET" "$PXT_LOG" "$PXT_WORK/proxy.out"; ok $? "the secret is in no output"
pxt_done
