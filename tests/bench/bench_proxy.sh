#!/bin/bash
# Egress proxy benchmark: keep-alive request latency, new-connection rate,
# bulk throughput, proxy CPU per GB and per connection, proxy RSS and
# time to first byte on a fresh proxy, each against a direct TLS
# connection to the same upstream measured in the same run (interleaved
# rounds; the best round of each is reported). Needs root: the upstream
# (tests/integration/proxy_upstream.py, Python + OpenSSL) runs in its own
# network namespace at 198.51.100.2, exactly as in the integration tests.
#
#   SILO_BIN=build/silo tests/bench/bench_proxy.sh
# Environment: BENCH_ROUNDS (3), BENCH_BULK_MB (512), BENCH_LAT_N (2000),
# BENCH_CONN_S (4). With Debian's squid-openssl installed (scripts/deps-bench.txt),
# squid with ssl-bump runs as a peer in the same rounds. The same client (bench_proxy_client.c, mbedTLS) drives
# both paths. Both legs are TLS 1.2 (Debian's mbedTLS 2.28 has no 1.3).
HERE=$(cd "$(dirname "$0")" && pwd)
SILO_SRC=${SILO_SRC:-$(cd "$HERE/../.." && pwd)}
SILO_BIN=${SILO_BIN:-$SILO_SRC/build/silo}
export SILO_SRC SILO_BIN
source "$SILO_SRC/tests/integration/proxy_env.bash"
pxt_init "$@"
ROUNDS=${BENCH_ROUNDS:-3}
BULK=$((${BENCH_BULK_MB:-512} * 1048576))
LAT_N=${BENCH_LAT_N:-2000}
CONN_S=${BENCH_CONN_S:-4}

CLIENT=${SILO_BUILD:-$SILO_SRC/build}/tests/bench/bench_proxy_client
if [ ! -x "$CLIENT" ]; then
	CLIENT=$PXT_WORK/bench_proxy_client
	cc -O2 -D_GNU_SOURCE -o "$CLIENT" "$HERE/bench_proxy_client.c" -lmbedtls -lmbedx509 -lmbedcrypto || exit 1
fi

pxt_proxy --allow-domain up.test --hosts up.test=198.51.100.2 \
	--upstream-ca "up.test=$PXT_WORK/upca.pem"
PID=$PXT_PID
direct() { "$CLIENT" "$1" --host up.test --addr 198.51.100.2:443 --ca "$PXT_WORK/upca.pem" "${@:2}"; }
proxied() { "$CLIENT" "$1" --host up.test --proxy "$PXT_ADDR" --ca "$PXT_CA" "${@:2}"; }
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; } # clock ticks
TICK=$(getconf CLK_TCK)

# Peer: squid with ssl-bump (Debian squid-openssl), when installed. It gets
# the same upstream name mapping (hosts_file) and trusts the test CA.
SQ_PID=
start_squid() {
	command -v squid >/dev/null && [ -x /usr/lib/squid/security_file_certgen ] || return 1
	local w=$PXT_WORK/squid
	mkdir -p "$w"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=squid bench CA" -keyout "$w/ca.key" -out "$w/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
	cat "$w/ca.pem" "$w/ca.key" >"$w/ca-both.pem"
	echo "198.51.100.2 up.test" >"$w/hosts"
	/usr/lib/squid/security_file_certgen -c -s "$w/ssl_db" -M 16MB >/dev/null || return 1
	chown -R proxy:proxy "$w"
	chmod 755 "$PXT_WORK"
	cat >"$w/squid.conf" <<C
http_port 127.0.0.1:3199 ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=16MB tls-cert=$w/ca-both.pem
sslcrtd_program /usr/lib/squid/security_file_certgen -s $w/ssl_db -M 16MB
sslcrtd_children 4
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$PXT_WORK/upca.pem
hosts_file $w/hosts
http_access allow all
cache deny all
pid_filename $w/squid.pid
access_log none
cache_log $w/cache.log
cache_effective_user proxy
shutdown_lifetime 1 seconds
C
	squid -f "$w/squid.conf" -N >/dev/null 2>&1 &
	SQ_PID=$!
	for _ in $(seq 50); do
		"$CLIENT" ttfb --host up.test --proxy 127.0.0.1:3199 --ca "$w/ca.pem" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
via_squid() { "$CLIENT" "$1" --host up.test --proxy 127.0.0.1:3199 --ca "$PXT_WORK/squid/ca.pem" "${@:2}"; }
HAVE_SQUID=0
start_squid && HAVE_SQUID=1
[ $HAVE_SQUID = 1 ] || echo "# squid-openssl not installed: no squid column"

# time to first byte: the very first request through a fresh proxy
# (leaf minted on demand), then a warm one, then direct
t_fresh=$(proxied ttfb | awk '{print $2}')
t_warm=$(proxied ttfb | awk '{print $2}')
t_direct=$(direct ttfb | awk '{print $2}')
t_squid=
[ $HAVE_SQUID = 1 ] && t_squid=$(via_squid ttfb | awk '{print $2}')

best_min() { sort -g | head -1; }
best_max() { sort -g | tail -1; }
: >"$PXT_WORK/lat_d"; : >"$PXT_WORK/lat_p"; : >"$PXT_WORK/conn_d"; : >"$PXT_WORK/conn_p"
: >"$PXT_WORK/bulk_d"; : >"$PXT_WORK/bulk_p"
: >"$PXT_WORK/lat_s"; : >"$PXT_WORK/conn_s"; : >"$PXT_WORK/bulk_s"
cpu_bulk=0; cpu_conn=0; nconn=0
for r in $(seq "$ROUNDS"); do
	direct latency --n "$LAT_N" | awk '{print $2}' >>"$PXT_WORK/lat_d"
	proxied latency --n "$LAT_N" | awk '{print $2}' >>"$PXT_WORK/lat_p"
	direct connrate --seconds "$CONN_S" | awk '{print $2}' >>"$PXT_WORK/conn_d"
	c0=$(cpu)
	rate=$(proxied connrate --seconds "$CONN_S" | awk '{print $2}')
	c1=$(cpu)
	echo "$rate" >>"$PXT_WORK/conn_p"
	cpu_conn=$((cpu_conn + c1 - c0))
	nconn=$(awk -v n="$nconn" -v r="$rate" -v s="$CONN_S" 'BEGIN {print n + r * s}')
	if [ $HAVE_SQUID = 1 ]; then
		via_squid latency --n "$LAT_N" 2>/dev/null | awk '{print $2}' >>"$PXT_WORK/lat_s"
		via_squid connrate --seconds "$CONN_S" 2>/dev/null | awk '{print $2}' >>"$PXT_WORK/conn_s"
		via_squid bulk --size "$BULK" 2>/dev/null | awk '{print $2}' >>"$PXT_WORK/bulk_s"
	fi
	direct bulk --size "$BULK" | awk '{print $2}' >>"$PXT_WORK/bulk_d"
	c0=$(cpu)
	proxied bulk --size "$BULK" | awk '{print $2}' >>"$PXT_WORK/bulk_p"
	c1=$(cpu)
	cpu_bulk=$((cpu_bulk + c1 - c0))
done
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")

lat_d=$(best_min <"$PXT_WORK/lat_d"); lat_p=$(best_min <"$PXT_WORK/lat_p")
conn_d=$(best_max <"$PXT_WORK/conn_d"); conn_p=$(best_max <"$PXT_WORK/conn_p")
bulk_d=$(best_max <"$PXT_WORK/bulk_d"); bulk_p=$(best_max <"$PXT_WORK/bulk_p")
lat_s=$(best_min <"$PXT_WORK/lat_s"); conn_s=$(best_max <"$PXT_WORK/conn_s")
bulk_s=$(best_max <"$PXT_WORK/bulk_s")
awk -v ld="$lat_d" -v lp="$lat_p" -v cd="$conn_d" -v cp="$conn_p" -v bd="$bulk_d" \
	-v bp="$bulk_p" -v tf="$t_fresh" -v tw="$t_warm" -v td="$t_direct" -v rss="$rss" \
	-v hwm="$hwm" -v cb="$cpu_bulk" -v cc="$cpu_conn" -v nc="$nconn" -v tick="$TICK" \
	-v rounds="$ROUNDS" -v bulk="$BULK" -v ls="$lat_s" -v cs="$conn_s" -v bs="$bulk_s" \
	-v ts="$t_squid" 'function sq(v, base, fmt) {
		return v == "" ? "-" : sprintf(fmt " (%.2fx)", v, v / base) }
	BEGIN {
	gb = rounds * bulk / 1e9
	printf "\nsilo egress proxy vs direct TLS (same client, same upstream, best of %d rounds)\n\n", rounds
	printf "| metric | direct | silo proxy | ratio | goal | squid ssl-bump |\n|---|---|---|---|---|---|\n"
	printf "| keep-alive latency (median ms/request) | %.3f | %.3f | %.2fx | <= 1.5x | %s |\n", ld, lp, lp / ld, sq(ls, ld, "%.3f")
	printf "| new TLS connections/s | %.1f | %.1f | %.2fx | >= 0.5x | %s |\n", cd, cp, cp / cd, sq(cs, cd, "%.1f")
	printf "| bulk throughput (MB/s, %d MiB body) | %.1f | %.1f | %.2fx | >= 0.8x | %s |\n", bulk / 1048576, bd, bp, bp / bd, sq(bs, bd, "%.1f")
	printf "| time to first byte, fresh proxy (ms) | %.2f | %.2f | %.2fx | | |\n", td, tf, tf / td
	printf "| time to first byte, warm proxy (ms) | %.2f | %.2f | %.2fx | | %s |\n", td, tw, tw / td, sq(ts, td, "%.2f")
	printf "| proxy CPU seconds per GB | - | %.2f | | | |\n", (cb / tick) / gb
	printf "| proxy CPU ms per new connection | - | %.3f | | | |\n", nc ? (cc / tick) * 1000 / nc : 0
	printf "| proxy RSS now / peak (MiB) | - | %.1f / %.1f | | <= 16 | |\n", rss / 1024, hwm / 1024
}'
[ -n "$SQ_PID" ] && kill "$SQ_PID" 2>/dev/null && wait "$SQ_PID" 2>/dev/null
pxt_proxy_stop >/dev/null
