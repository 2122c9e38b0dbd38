#!/bin/bash
# The native sandbox end to end with the real silo-helper: commands and
# helper ops through `silo debug sandbox-exec`, exit codes, timeout and
# interrupt, streamed output, the environment of sandbox.md 3, the egress
# relay (to the 403 stub and to a fake proxy on host loopback), the access
# report, startup canaries, `silo doctor` and scratch cleanup; as root and
# as an unprivileged user.
set -u
. "$SILO_SRC/tests/security/lib/sandbox.bash"
sb_init
T=$SB_T
# an allowlist entry and a sibling every test user can reach (the source
# tree may sit in a home directory the unprivileged user cannot enter)
RO=$T/tree
mkdir -p "$RO/docs" "$RO/engine"
echo doc >"$RO/docs/a.md"
echo code >"$RO/engine/b.c"
chmod -R a+rX "$RO"

# A fake "proxy" on host loopback: answers every connection with one
# HTTP response, so the relay path sandbox -> helper -> proxy.sock -> TCP
# can be seen end to end.
perl -MIO::Socket::INET -e '
	$|=1; my $s = IO::Socket::INET->new(LocalAddr=>"127.0.0.1", LocalPort=>0, Listen=>8, ReuseAddr=>1) or die;
	print $s->sockport, "\n";
	while (my $c = $s->accept) { my $h = ""; while (<$c>) { $h .= $_; last if /^\r?$/ }
		my ($l) = split /\r?\n/, $h; my $b = "fake-proxy saw: $l\n";
		print $c "HTTP/1.1 200 OK\r\nContent-Length: ".length($b)."\r\nConnection: close\r\n\r\n$b"; close $c }' \
	>"$T/pport" &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; sb_cleanup' EXIT
for _ in $(seq 50); do [ -s "$T/pport" ] && break; sleep 0.1; done
PPORT=$(cat "$T/pport")

suite() {
	WS=$T/ws-$SB_USER
	mkdir -p "$WS"
	echo "original" >"$WS/file.txt"
	chown -R "$SB_USER" "$WS"

	out=$(sb_exec --workspace "$WS" -- sh -c 'echo out; echo err >&2; exit 7' 2>&1)
	rc=$?
	sb_check "exec: output and exit code pass through" test "$rc" = 7 -a "$out" = "$(printf 'out\nerr')"

	out=$(sb_exec --workspace "$WS" -- sh -c 'echo "$HOME|$TMPDIR|$PATH|$HTTPS_PROXY|$ALL_PROXY|$SSL_CERT_FILE|$NODE_EXTRA_CA_CERTS|${SILO_TEST_ENV_SECRET:-none}"; grep -c "BEGIN CERTIFICATE" "$SILO_PROXY_CA" | sed "s/^[1-9][0-9]*$/ca-ok/"; touch "$HOME/h" "$TMPDIR/t" && echo writable; hostname; id -u')
	exp="/scratch/home|/scratch/tmp|/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin|http://127.0.0.1:3128|http://127.0.0.1:3128|/scratch/proxy-ca.pem|/scratch/proxy-ca.pem|none
ca-ok
writable
silo-sandbox
$(id -u "$SB_USER")"
	if [ "$out" = "$exp" ]; then sb_ok "environment of sandbox.md 3, cleared otherwise"; else sb_notok "environment of sandbox.md 3, cleared otherwise" "$out"; fi

	out=$(sb_exec --workspace "$WS" \
		--op write --args '{"path":"/workspace/new/a.txt","content_b64":"aGVsbG8gd29ybGQK"}' \
		--op edit --args '{"path":"/workspace/new/a.txt","old":"world","new":"sandbox"}' \
		--op read --args '{"path":"/workspace/new/a.txt","offset":6}' \
		--op listdir --args '{"path":"/workspace/new"}' \
		--op read --args '{"path":"/workspace/missing"}' 2>&1)
	sb_check "write op lands in the host workspace" test "$(cat "$WS/new/a.txt" 2>/dev/null)" = "hello sandbox"
	sb_check "edit, read with offset, listdir" grep -q -e '"content_b64":"c2FuZGJveAo="' <<<"$out"
	sb_check "listdir entries" grep -q '"entries":\[{"name":"a.txt","is_dir":false,"size":14}\]' <<<"$out"
	sb_check "per-request errors are tool errors" grep -q 'error: cannot open /workspace/missing: No such file or directory (os error 2)' <<<"$out"

	start=$(date +%s%N)
	out=$(sb_exec --workspace "$WS" --interrupt-after 300 -- sh -c 'echo partial; sleep 30' 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	sb_check "interrupt cancels a long exec with partial output (rc $rc, ${ms} ms)" test "$rc" = 130 -a "$out" = partial -a "$ms" -lt 10000

	out=$(sb_exec --workspace "$WS" --timeout 300 -- sh -c 'sleep 30' 2>&1)
	sb_check "timeout kills the exec" test "$?" = 124

	out=$(sb_exec --workspace "$WS" --stream -- sh -c 'echo one; sleep 0.2; echo two' 2>&1)
	sb_check "streamed output" test "$out" = "$(printf 'one\ntwo')"

	out=$(sb_exec --workspace "$WS" -- curl -sS --max-time 5 http://example.com/ 2>&1)
	sb_check "relay without a proxy: the stub refuses with a reason" grep -q 'proxy stub: all egress refused until the proxy is configured' <<<"$out"
	out=$(sb_exec --workspace "$WS" -- curl -sS --max-time 5 https://example.com/ 2>&1)
	sb_check "relay without a proxy: CONNECT refused" grep -q '403' <<<"$out"
	out=$(sb_exec --workspace "$WS" --proxy "127.0.0.1:$PPORT" -- curl -sS --max-time 5 http://example.com/path 2>&1)
	sb_check "relay pipes to the proxy address" grep -q 'fake-proxy saw: GET http://example.com/path HTTP/1.1' <<<"$out"

	out=$(sb_exec --workspace "$WS" --access --allow-read "$RO/docs" 2>&1)
	sb_check "access report" grep -q "\"sandbox_kind\":\"linux-native\",\"workspace_mount\":\"/workspace\",\"scratch_dir\":\"/scratch\",\"readable_paths\":\[\"$RO/docs\",\"/usr\"" <<<"$out"
	out=$(sb_exec --workspace "$WS" --allow-read "$RO/docs" -- sh -c "ls $RO/docs >/dev/null && ! touch $RO/docs/x 2>/dev/null && ! ls $RO/engine 2>/dev/null && echo ro-ok" 2>&1)
	sb_check "allowlist entry readable, read-only, siblings hidden" test "$out" = ro-ok
	out=$(sb_exec --workspace "$WS" --allow-read /nonexistent/path -- true 2>&1)
	sb_check "missing allowlist entry is a start error" grep -q 'error: --allow-read /nonexistent/path' <<<"$out"

	CD=$T/cache-$SB_USER
	mkdir -p "$CD" && chown "$SB_USER" "$CD"
	sb_exec --workspace "$WS" --cache-dir "$CD" -- sh -c 'echo built >$HOME/.cargo/artifact' >/dev/null 2>&1
	out=$(sb_exec --workspace "$WS" --cache-dir "$CD" -- cat /scratch/home/.cargo/artifact 2>&1)
	sb_check "toolchain cache persists across sandboxes" test "$out" = built -a -f "$CD/.cargo/artifact"
	out=$(sb_exec --workspace "$WS" -- sh -c 'ls $HOME/.cargo' 2>&1)
	sb_check "no cache without --cache-dir" test $? != 0
	out=$(sb_exec --workspace "$WS" --cache-dir "$CD" --access 2>&1)
	sb_check "access report lists the caches" grep -q "\"toolchain_caches\":{\"host_dir\":\"$CD\"" <<<"$out"

	out=$(sb_exec --workspace "$WS" --canaries 2>&1)
	sb_check "startup canaries pass" grep -q '^{"passed":true' <<<"$out"

	out=$(sb_exec --workspace "$WS" --shell -- sh -c 'tty; exit 5' 2>&1 </dev/null)
	rc=$?
	sb_check "user shell: fresh pty inside, exit code passed on" test "$rc" = 5 -a "$(tr -d '\r' <<<"$out")" = /dev/pts/0
	out=$(sb_exec --workspace "$WS" --shell -- sh -c 'kill -9 $$' 2>&1 </dev/null)
	sb_check "user shell: death by signal 9 is status 137" test "$?" = 137
	start=$(date +%s%N)
	out=$(sb_exec --workspace "$WS" --shell --terminate-after 300 -- sleep 30 2>&1 </dev/null)
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	sb_check "terminate_user_shell ends the shell (rc $rc, ${ms} ms)" test "$rc" = 143 -a "$ms" -lt 5000
	if command -v script >/dev/null; then
		out=$(SHELL=/bin/sh script -qec "$(printf '%q ' "${SB_DRV[@]}") --workspace $WS --shell -- sh -c 'test -t 0 && stty -a | grep -q icanon && echo tty-ok'" /dev/null </dev/null 2>&1)
		sb_check "user shell on a real terminal" grep -q tty-ok <<<"$out"
	fi

	if sb_exec --workspace "$WS" --access 2>/dev/null | grep -q 'processes (pids cgroup)'; then
		out=$(SILO_SANDBOX_PIDS_MAX=40 sb_exec --workspace "$WS" -- sh -c 'n=0; for i in $(seq 60); do sleep 1 & n=$((n+1)); done; echo started' 2>&1)
		sb_check "pids cgroup stops a fork bomb" grep -q -i -e 'fork' -e 'resource temporarily unavailable' <<<"$out"
		out=$(SILO_SANDBOX_PIDS_MAX=40 sb_exec --workspace "$WS" --shell -- sh -c 'for i in $(seq 60); do sleep 1 & done; echo started' 2>&1 </dev/null)
		sb_check "the pids limit holds in silo shell too" grep -q -i -e 'fork' -e 'resource temporarily unavailable' <<<"$out"
	fi

	out=$(sb_exec --workspace "$WS" -- sh -c '(sleep 0.2 &); sleep 0.5; ps -eo stat= | grep -c Z' 2>&1)
	sb_check "the helper reaps orphans (no zombies)" test "$out" = 0
}

SB_USER=$(id -un)
suite
if sb_have_user; then
	SB_USER=silotest
	suite
fi
SB_USER=host
sb_check "every scratch directory removed" sh -c "[ -z \"\$(ls -A $TMPDIR)\" ]"
if [ "${SB_DRV[0]##*/}" = test_sandbox_native ]; then
	out=$("$SILO_BUILD/tests/test_sandbox_native" doctor 2>&1)
	sb_check "doctor: native works here" grep -q 'default (--sandbox auto): native' <<<"$out"
	out=$("$SILO_BUILD/tests/test_sandbox_native" seccomp 2>&1)
	sb_check "seccomp table prints" grep -q '| keyctl | always | EPERM |' <<<"$out"
fi
sb_finish
