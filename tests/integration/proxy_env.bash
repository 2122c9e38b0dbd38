# Shared setup for tests/integration/proxy_*.sh (sourced, not a test).
#
# The whole test runs in a private network namespace (re-exec under
# `unshare -n`), so parallel tests never see each other's addresses. The
# upstream lives in a second, named namespace joined by a veth pair at
# 198.51.100.2 (documentation space: the IP guard allows it; nothing is
# relaxed for tests). Test names map there through `--hosts`.
# Needs root and `ip`; otherwise the test is skipped (exit 77).

pxt_init() {
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null ||
		! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
		echo "1..0 # SKIP needs root, ip, python3, openssl and curl"
		exit 77
	fi
	if [ -z "$PXT_INNER" ]; then
		PXT_INNER=1 exec unshare -n -m bash "$0" "$@"
	fi
	SILO_SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
	PXT_BIN=${PXT_PROXY_BIN:-}
	if [ -z "$PXT_BIN" ]; then
		if ! "$SILO_BIN" debug proxy --bogus-probe 2>&1 | grep -q 'unknown option'; then
			echo "1..0 # SKIP 'silo debug proxy' is not wired into the CLI"
			exit 77
		fi
		PXT_BIN="$SILO_BIN debug proxy"
	fi
	PXT_WORK=$(mktemp -d /tmp/pxt.XXXXXX)
	PXT_NS=pxup$$
	trap pxt_cleanup EXIT
	ip link set lo up
	ip netns add "$PXT_NS"
	ip link add pxh0 type veth peer name pxu0 netns "$PXT_NS"
	ip addr add 198.51.100.1/24 dev pxh0
	ip link set pxh0 up
	ip netns exec "$PXT_NS" ip addr add 198.51.100.2/24 dev pxu0
	ip netns exec "$PXT_NS" ip link set pxu0 up
	ip netns exec "$PXT_NS" ip link set lo up
	pxt_certs
	ip netns exec "$PXT_NS" python3 "$SILO_SRC/tests/integration/proxy_upstream.py" \
		198.51.100.2 80 443 "$PXT_WORK/up.pem" "$PXT_WORK/up.key" 8443 >"$PXT_WORK/up.out" 2>&1 &
	PXT_UP_PID=$!
	for _ in $(seq 50); do grep -q ready "$PXT_WORK/up.out" 2>/dev/null && break; sleep 0.1; done
	TESTS=0
	FAILED=0
}

# A test CA and a server certificate for the upstream's names.
pxt_certs() {
	local w=$PXT_WORK
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=proxy test upstream CA" -keyout "$w/upca.key" -out "$w/upca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=up.test" \
		-keyout "$w/up.key" -out "$w/up.csr" 2>/dev/null
	printf 'subjectAltName=DNS:up.test,DNS:*.wild.test,DNS:wild.test,DNS:other.test,DNS:cred.test,DNS:sub.cred.test,DNS:nocred.test,DNS:tun.test\nextendedKeyUsage=serverAuth\n' >"$w/ext"
	openssl x509 -req -in "$w/up.csr" -CA "$w/upca.pem" -CAkey "$w/upca.key" \
		-CAcreateserial -days 2 -extfile "$w/ext" -out "$w/up.pem" 2>/dev/null
}

# Starts the proxy with the given options; sets PXT_ADDR, PXT_CA, PXT_LOG.
pxt_proxy() {
	PXT_CA=$PXT_WORK/session-ca.pem
	PXT_LOG=$PXT_WORK/records.jsonl
	$PXT_BIN --ca-out "$PXT_CA" "$@" >"$PXT_WORK/proxy.out" 2>"$PXT_LOG" &
	PXT_PID=$!
	for _ in $(seq 100); do grep -q '^listening' "$PXT_WORK/proxy.out" 2>/dev/null && break; sleep 0.05; done
	PXT_ADDR=$(sed -n 's/^listening //p' "$PXT_WORK/proxy.out")
	[ -n "$PXT_ADDR" ] || { echo "Bail out! proxy did not start"; cat "$PXT_LOG"; exit 1; }
}

pxt_proxy_stop() {
	if [ -n "$PXT_PID" ]; then
		kill -TERM "$PXT_PID" 2>/dev/null
		wait "$PXT_PID" 2>/dev/null
		local rc=$?
		PXT_PID=
		! grep -q -e 'Sanitizer' -e 'runtime error:' "$PXT_LOG" && [ $rc = 0 ]
		ok $? "the proxy stops cleanly on SIGTERM (exit $rc, no sanitizer report)"
		grep -e 'Sanitizer' -e 'runtime error:' -A30 "$PXT_LOG" | head -60 | sed 's/^/# /'
		! grep -q -e 'no transition for' -e 'event queue full' "$PXT_LOG"
		ok $? "no connection hit an undefined state x event pair or a full queue"
		grep -e 'no transition for' -e 'event queue full' "$PXT_LOG" | sort | uniq -c | head | sed 's/^/# /'
	fi
}

pxt_cleanup() {
	[ -n "$PXT_PID" ] && kill -TERM "$PXT_PID" 2>/dev/null
	[ -n "$PXT_UP_PID" ] && kill "$PXT_UP_PID" 2>/dev/null
	[ -n "$PXT_FWD_PID" ] && kill "$PXT_FWD_PID" 2>/dev/null
	ip netns pids "$PXT_NS" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$PXT_NS" 2>/dev/null
	rm -rf "$PXT_WORK"
}

ok() { # ok <condition-exit-status> <name>
	TESTS=$((TESTS + 1))
	if [ "$1" = 0 ]; then echo "ok $TESTS - $2"; else echo "not ok $TESTS - $2"; FAILED=1; fi
}

pxt_done() {
	echo "1..$TESTS"
	exit $FAILED
}

# curl through the proxy trusting the session CA.
pcurl() {
	curl -sS --max-time 10 --proxy "http://$PXT_ADDR" --cacert "$PXT_CA" "$@"
}

# Sends raw bytes (printf-style escapes in $1) to the proxy and prints
# what comes back until the proxy closes or $2 seconds (default 5) pass.
praw() {
	python3 - "$PXT_ADDR" "$1" "${2:-5}" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
data = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection((host, int(port)))
s.settimeout(float(sys.argv[3]))
s.sendall(data)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    out += b"\n<timeout>"
except ConnectionResetError:
    out += b"\n<reset>"
sys.stdout.write(out.decode("latin-1"))
PY
}

# A byte-for-byte TCP forwarder on loopback to the proxy, standing in for
# the sandbox's egress relay; sets PXT_FWD_PORT and PXT_FWD_PID.
pxt_forwarder() {
	python3 - "$PXT_ADDR" >"$PXT_WORK/fwd.port" 2>"$PXT_WORK/fwd.err" <<'PY' &
import socket, sys, threading
h, p = sys.argv[1].rsplit(":", 1)
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(64)
print(ls.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection((h, int(p)))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
	PXT_FWD_PID=$!
	for _ in $(seq 50); do [ -s "$PXT_WORK/fwd.port" ] && break; sleep 0.1; done
	PXT_FWD_PORT=$(cat "$PXT_WORK/fwd.port")
}
