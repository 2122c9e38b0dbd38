#!/bin/bash
# Egress proxy hardening found in review: hostile sandbox-side inputs that
# must not grow the proxy without bound. Runs the proxy standalone on
# loopback (no upstream needed: every request here is answered locally).
set -u
[ -x "${SILO_BIN:-}" ] || { echo "SILO_BIN not set"; exit 77; }
command -v python3 >/dev/null || { echo "no python3"; exit 77; }
W=$(mktemp -d)
trap 'kill "$PXPID" 2>/dev/null; wait "$PXPID" 2>/dev/null; rm -rf "$W"' EXIT
"$SILO_BIN" debug proxy --allow-domain allowed.test >"$W/out" 2>"$W/log" &
PXPID=$!
for _ in $(seq 50); do grep -qs '^listening' "$W/out" && break; sleep 0.1; done
PORT=$(awk '/^listening/ {sub(/.*:/, "", $2); print $2}' "$W/out")
[ -n "$PORT" ] || { echo "not ok 1 - proxy did not start"; exit 1; }
fails=0

# A client that pipelines refused requests (each ~36 bytes, answered
# with a ~300-byte 403) and never reads the answers: the proxy must stop
# taking requests once its write queue to that client is full, not queue
# 403s without bound (about 13 bytes of memory per byte sent). Counted by
# journaled refusals, as RSS means little under ASan's quarantine.
python3 - "$PORT" <<'PY'
import socket, sys, time
req = b'GET http://denied.test/ HTTP/1.1\r\n\r\n' * 100
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(2)
try:
    for _ in range(2000):  # 200000 requests, 7.2 MB
        s.sendall(req)
        time.sleep(0.0005)
except socket.timeout:
    pass  # the proxy stopped reading: what we want
time.sleep(1)
PY
n=$(grep -c '"denied.test"' "$W/log")
rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$PXPID/status")
if [ "$n" -lt 100000 ]; then
	echo "ok 1 - a non-reading client's pipelined refusals stop at $n of 200000 (${rss} MB RSS)"
else
	echo "not ok 1 - all $n pipelined refusals were queued for a non-reading client (${rss} MB RSS)"
	fails=1
fi

# ... and once the client reads again, every pipelined request is answered.
n=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(10)
s.sendall(b'GET http://denied.test/ HTTP/1.1\r\n\r\n' * 2999 +
          b'GET http://denied.test/ HTTP/1.1\r\nConnection: close\r\n\r\n')
out = b''
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
print(out.count(b'HTTP/1.1 403 '))
PY
)
if [ "$n" = 3000 ]; then
	echo "ok 2 - a reader that catches up gets all 3000 pipelined answers"
else
	echo "not ok 2 - a reader that catches up got ${n:-?} of 3000 pipelined answers"
	fails=1
fi
echo "1..2"
exit $fails
