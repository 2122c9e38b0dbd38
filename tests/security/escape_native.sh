#!/bin/bash
# Escape attempts against the native sandbox (the security suite). Every
# attempt runs INSIDE a fresh native sandbox (through the helper's exec op)
# and must fail; host-side checks then verify that nothing leaked or
# changed. Runs as root and, when possible, as the unprivileged `silotest`.
set -u
. "$(dirname "$0")/lib/sandbox.bash"
sb_init
sb_build_try

T=$SB_T
SECRET=silo-secret-$RANDOM$RANDOM$RANDOM
export SILO_TEST_ENV_SECRET=silo-envsecret-$RANDOM$RANDOM
mkdir -p "$T/home/.ssh" "$T/home/.aws" "$T/state/.llmdevsilo"
echo "$SECRET" >"$T/home/.ssh/id_rsa"
echo "aws_secret_access_key=$SECRET" >"$T/home/.aws/credentials"
echo "$SECRET" >"$T/state/.llmdevsilo/token"
chmod -R a+rX "$T/home" "$T/state" # readable on the host: only the sandbox hides them
SECRET_B64=$(printf '%s\n' "$SECRET" | base64)

# Host listeners that must never see a connection from inside.
perl -MIO::Socket::INET -e '
	$|=1; my $s = IO::Socket::INET->new(LocalAddr=>"127.0.0.1", LocalPort=>0, Listen=>8, ReuseAddr=>1) or die;
	my $u = IO::Socket::INET->new(LocalAddr=>"127.0.0.1", LocalPort=>0, Proto=>"udp") or die;
	print $s->sockport, " ", $u->sockport, "\n";
	my $rin = ""; vec($rin, fileno($s), 1) = 1; vec($rin, fileno($u), 1) = 1;
	while (1) { select(my $r = $rin, undef, undef, undef);
		open my $f, ">>", $ARGV[0]; print $f "hit\n"; close $f;
		if (vec($r, fileno($s), 1)) { my $c = $s->accept; close $c if $c }
		if (vec($r, fileno($u), 1)) { my $b; $u->recv($b, 100) } }' "$T/hits" >"$T/ports" &
LISTENER=$!
ABSTRACT=silo-sec-$RANDOM$RANDOM
perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Local=>"\0".$ARGV[0], Listen=>4) or die;
	my $p = IO::Socket::UNIX->new(Local=>$ARGV[1], Listen=>4) or die;
	chmod 0777, $ARGV[1];
	while (1) { my $rin = ""; vec($rin, fileno($s), 1) = 1; vec($rin, fileno($p), 1) = 1;
		select(my $r = $rin, undef, undef, undef);
		open my $f, ">>", $ARGV[2]; print $f "unix\n"; close $f;
		my $c = vec($r, fileno($s), 1) ? $s->accept : $p->accept; close $c if $c }' \
	"$ABSTRACT" "$T/host.sock" "$T/hits" &
UNIXL=$!
trap 'kill $LISTENER $UNIXL 2>/dev/null; sb_cleanup' EXIT
for _ in $(seq 50); do [ -s "$T/ports" ] && [ -S "$T/host.sock" ] && break; sleep 0.1; done
read -r TPORT UPORT <"$T/ports"
[ -n "$TPORT" ] || sb_skip "cannot start host listeners"

HOST_HOSTNAME=$(hostname)
ROOT_OPTS=$(findmnt -n -o OPTIONS / 2>/dev/null || true)

# blocked DESC ATTEMPT [ARGS]: try-syscall inside must report BLOCKED.
blocked() {
	local d=$1
	shift
	local out
	out=$(sb_exec --workspace "$WS" -- /workspace/try-syscall "$@" 2>&1)
	local rc=$?
	if [ $rc = 0 ] && grep -q '^BLOCKED' <<<"$out" && ! grep -q "$SECRET" <<<"$out"; then
		sb_ok "$d"
	else
		sb_notok "$d" "rc=$rc" "$out"
	fi
}

# fails DESC SHELL-COMMAND: the command inside must exit non-zero and print
# nothing of the secret.
fails() {
	local d=$1 out rc
	out=$(sb_exec --workspace "$WS" -- sh -c "$2" 2>&1)
	rc=$?
	if [ $rc != 0 ] && ! grep -q -e "$SECRET" -e "$SILO_TEST_ENV_SECRET" <<<"$out"; then
		sb_ok "$d"
	else
		sb_notok "$d" "rc=$rc" "$out"
	fi
}

# works DESC SHELL-COMMAND: sanity checks that the sandbox is usable.
works() {
	local out
	out=$(sb_exec --workspace "$WS" -- sh -c "$2" 2>&1)
	if [ $? = 0 ]; then sb_ok "$1"; else sb_notok "$1" "$out"; fi
}

# The helper stops answering (stopped from the host, the way a taken-over
# helper would behave): the harness's own deadline for the request (its
# timeout plus a grace) must end the call and the sandbox instead of
# hanging the session.
frozen_helper() {
	local d="a frozen helper does not hang the session" log=$T/frozen.$SB_USER drv helper=
	sb_exec --workspace "$WS" --timeout 1000 -- sleep 600 >"$log" 2>&1 &
	drv=$!
	# the helper is the silo-helper among the driver's descendants
	for _ in $(seq 100); do
		helper=$(ps -e -o pid=,ppid=,comm= | awk -v root="$drv" '
			{ par[$1] = $2; comm[$1] = $3 }
			END { for (p in comm) if (comm[p] == "silo-helper") {
				for (q = p; q in par && q != root; q = par[q]) ;
				if (q == root) print p } }' | head -1)
		[ -n "$helper" ] && break
		sleep 0.1
	done
	if [ -z "$helper" ]; then
		sb_notok "$d" "no helper found"
		kill "$drv" 2>/dev/null
		return
	fi
	kill -STOP "$helper"
	local i
	for i in $(seq 400); do kill -0 "$drv" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$drv" 2>/dev/null; then
		sb_notok "$d" "still waiting after 40 s"
		kill -KILL "$helper" 2>/dev/null
		kill "$drv" 2>/dev/null
	elif grep -q 'did not answer' "$log" && ! kill -0 "$helper" 2>/dev/null; then
		sb_ok "$d"
	else
		sb_notok "$d" "$(cat "$log")"
	fi
	wait "$drv" 2>/dev/null
}

run_suite() {
	WS=$T/ws-$SB_USER
	mkdir -p "$WS"
	cp "$T/try-syscall" "$WS/try-syscall"
	chown -R "$SB_USER" "$WS"

	works "sanity: a command runs in the workspace" 'test "$(pwd)" = /workspace && echo hi >/workspace/ok'
	# secrets on the host
	fails "read ~/.ssh/id_rsa of a fake HOME" "cat $T/home/.ssh/id_rsa"
	fails "read ~/.aws/credentials" "cat $T/home/.aws/credentials"
	fails "read the state directory" "cat $T/state/.llmdevsilo/token; ls $T/state"
	fails "read /etc/shadow" "cat /etc/shadow"
	fails "harness env secret in /proc/1/environ" "tr '\\0' '\\n' </proc/1/environ | grep -q silo-envsecret"
	fails "harness env secret in any environment" "cat /proc/[0-9]*/environ | tr '\\0' '\\n' | grep -q silo-envsecret || env | grep -q silo-envsecret"
	blocked "harness memory via /proc/<pid>/mem" open-read "/proc/$$/mem"
	# writes outside
	blocked "write into /usr" open-write /usr/sb-pwn
	blocked "write into /etc" open-write /etc/sb-pwn
	blocked "write into /" open-write /sb-pwn
	blocked "write into the scratch dir itself" open-write /scratch/sb-pwn
	blocked "write a host path outside the workspace" open-write /var/tmp/silo-sec-outside
	# the sandbox's own /tmp is a private tmpfs: writing there is allowed
	# and must not reach the host
	works "write the sandbox's private /tmp" "echo x >$T/outside"
	sb_check "host: nothing written outside" test ! -e "$T/outside" -a ! -e /usr/sb-pwn -a ! -e /sb-pwn -a ! -e /var/tmp/silo-sec-outside
	# path tricks
	fails "escape with .." "cat /workspace/../../..$T/home/.ssh/id_rsa"
	fails "escape with a symlink" "ln -sf $T/home/.ssh/id_rsa /workspace/l1 && cat /workspace/l1"
	rm -f "$WS/l1"
	blocked "hardlink a file from outside the workspace" link /etc/passwd /workspace/hl
	fails "escape via /proc/self/root" "cat /proc/self/root$T/home/.ssh/id_rsa"
	fails "escape via /proc/1/root" "cat /proc/1/root$T/home/.ssh/id_rsa"
	fails "inherited fds pointing outside" "ls -l /proc/1/fd/ /proc/self/fd/ | grep -- '-> /' | grep -v -e '-> /dev/' -e '-> /scratch' -e '-> /workspace' -e '-> /proc/'"
	# symlink swapped between check and use, against the helper's read op
	local out
	out=$(sb_exec --workspace "$WS" --op exec --args \
		'{"command":"setsid sh -c '"'"'i=0; while [ $i -lt 3000 ]; do ln -sfn '"$T"'/home/.ssh/id_rsa /workspace/race; echo benign >/workspace/race.f; mv -f /workspace/race.f /workspace/race; i=$((i+1)); done'"'"' </dev/null >/dev/null 2>&1 &","timeout_ms":5000}' \
		$(for _ in $(seq 40); do printf -- '--op read --args {"path":"/workspace/race"} '; done) 2>&1)
	if grep -q -e "$SECRET_B64" -e "$SECRET" <<<"$out"; then
		sb_notok "symlink swapped between check and use" "$out"
	else
		sb_ok "symlink swapped between check and use"
	fi
	rm -f "$WS/race" "$WS/race.f"
	# kernel interfaces
	blocked "mount tmpfs" mount
	blocked "bind mount over /usr" mount-bind
	blocked "remount /usr read-write" remount-rw
	blocked "umount the workspace" umount
	blocked "unshare a user namespace" unshare-user
	blocked "unshare a mount namespace" unshare-mount
	blocked "clone a new user namespace" clone-newuser
	fails "unshare(1) -U" "unshare -U true"
	blocked "setns" setns
	blocked "clone3 (flags not inspectable)" clone3
	blocked "new mount API: fsopen" fsopen
	blocked "new mount API: open_tree clone of /usr" open_tree
	blocked "new mount API: mount_setattr clearing read-only" mount_setattr
	blocked "pivot_root" pivot_root
	blocked "chroot" chroot
	blocked "ptrace a process outside (the test's pid)" ptrace "$$"
	# the helper channel: pid 1 is the helper, holding the engine socket
	blocked "PTRACE_SEIZE the helper (pid 1)" ptrace-seize 1
	blocked "PTRACE_ATTACH the helper (pid 1)" ptrace-attach 1
	blocked "pidfd_getfd of the helper's sockets" pidfd-getfd 1
	blocked "read the helper's memory via /proc/1/mem" proc-mem 1
	blocked "SIGSTOP the helper (kill -STOP 1)" sigstop 1
	blocked "PTRACE_SEIZE the helper from a background process" ptrace-seize 1
	out=$(sb_exec --workspace "$WS" -- sh -c 'setsid /workspace/try-syscall ptrace-seize 1 </dev/null >/workspace/bg.out 2>&1 & sleep 0.3; cat /workspace/bg.out' 2>&1)
	if grep -q '^BLOCKED' <<<"$out"; then sb_ok "PTRACE_SEIZE the helper from a setsid daemon"; else sb_notok "PTRACE_SEIZE the helper from a setsid daemon" "$out"; fi
	rm -f "$WS/bg.out"
	works "a command still signals its own background job" 'sleep 30 & kill $! && wait $!; test $? = 143'
	frozen_helper
	blocked "keyctl" keyctl
	blocked "add_key" add_key
	blocked "bpf" bpf
	blocked "perf_event_open" perf_event_open
	blocked "io_uring_setup" io_uring_setup
	blocked "io_uring_enter" io_uring_enter
	blocked "ioctl TIOCSTI" tiocsti
	blocked "ioctl TIOCSTI aliased with high bits" tiocsti-highbits
	blocked "ioctl TIOCLINUX" tioclinux
	blocked "raw IPv4 socket" raw-socket
	blocked "raw IPv6 socket" raw-socket6
	blocked "packet socket" packet-socket
	blocked "packet datagram socket" packet-dgram
	blocked "vsock socket (to the hypervisor)" vsock
	blocked "mknod a character device" mknod-char
	blocked "mknod a block device" mknod-block
	blocked "open the host disk /dev/vda" open-read /dev/vda
	blocked "open /dev/mem" open-read /dev/mem
	fails "see /sys" "ls /sys/class"
	blocked "clock_settime" clock_settime
	blocked "settimeofday" settimeofday
	fails "date -s" "date -s '2001-01-01 00:00'"
	blocked "sethostname" sethostname
	blocked "reboot" reboot
	blocked "swapon" swapon
	blocked "init_module" init_module
	blocked "kexec_load" kexec_load
	blocked "userfaultfd" userfaultfd
	blocked "open_by_handle_at" open_by_handle_at
	blocked "x32 system call ABI" x32
	blocked "i386 entry point (int 0x80 unshare)" i386
	blocked "no capabilities at all" caps
	blocked "no_new_privs and seccomp in force" nnp
	blocked "write /proc/sysrq-trigger" open-write /proc/sysrq-trigger
	blocked "write /proc/sys/kernel/hostname" open-write /proc/sys/kernel/hostname
	blocked "read /proc/kcore (masked)" open-read /proc/kcore
	blocked "read /proc/slabinfo (masked)" open-read /proc/slabinfo
	blocked "read /proc/vmallocinfo (masked)" open-read /proc/vmallocinfo
	blocked "read /proc/pagetypeinfo (masked)" open-read /proc/pagetypeinfo
	if [ "$SB_USER" != root ]; then
		blocked "setuid(0)" setuid-root
		cp "$T/try-syscall" "$WS/suid-try"
		chown root:root "$WS/suid-try"
		chmod 4755 "$WS/suid-try"
		out=$(sb_exec --workspace "$WS" -- /workspace/suid-try euid 2>&1)
		if grep -q '^BLOCKED' <<<"$out"; then sb_ok "setuid-root binary does not elevate"; else sb_notok "setuid-root binary does not elevate" "$out"; fi
		rm -f "$WS/suid-try"
	fi
	# silo shell: the shell has a pty of the sandbox's own, never the caller's
	out=$(sb_exec --workspace "$WS" --shell -- /workspace/try-syscall tiocsti 2>&1 </dev/null)
	if [ $? = 0 ] && grep -q '^BLOCKED' <<<"$out"; then sb_ok "TIOCSTI from silo shell"; else sb_notok "TIOCSTI from silo shell" "$out"; fi
	out=$(sb_exec --workspace "$WS" --shell -- /workspace/try-syscall tiocsti-highbits 2>&1 </dev/null)
	if [ $? = 0 ] && grep -q '^BLOCKED' <<<"$out"; then sb_ok "TIOCSTI with high bits from silo shell"; else sb_notok "TIOCSTI with high bits from silo shell" "$out"; fi
	out=$(sb_exec --workspace "$WS" --shell -- ls -l /proc/self/fd/ 2>&1 </dev/null | tr -d '\r')
	bad=$(grep -- '->' <<<"$out" | grep -v -e '-> /dev/pts/0$' -e '-> /proc/')
	if grep -q -- '-> /dev/pts/0' <<<"$out" && [ -z "$bad" ]; then sb_ok "silo shell holds no fd of the caller"; else sb_notok "silo shell holds no fd of the caller" "$out"; fi
	out=$(sb_exec --workspace "$WS" --shell -- /workspace/try-syscall caps 2>&1 </dev/null)
	if grep -q '^BLOCKED' <<<"$out"; then sb_ok "silo shell has no capabilities"; else sb_notok "silo shell has no capabilities" "$out"; fi
	out=$(sb_exec --workspace "$WS" --shell -- /workspace/try-syscall nnp 2>&1 </dev/null)
	if grep -q '^BLOCKED' <<<"$out"; then sb_ok "silo shell under no_new_privs and seccomp"; else sb_notok "silo shell under no_new_privs and seccomp" "$out"; fi
	# the caller's terminal: silo may run on one, the sandbox must not reach it
	if command -v script >/dev/null; then
		local mk=ttymark$RANDOM$RANDOM
		out=$(cd "$T" && script -qec "$(printf '%q ' env SILO_HELPER_BIN="$SILO_HELPER_BIN" TMPDIR="$TMPDIR" $([ "$SB_USER" != "$(id -un)" ] && echo runuser -u "$SB_USER" --) "${SB_DRV[@]}") --workspace $WS -- sh -c 'echo $mk-\$((1+1)) >/dev/tty; /workspace/try-syscall tiocsti'" /dev/null </dev/null 2>&1)
		if ! grep -q "$mk-2" <<<"$out" && grep -q '^BLOCKED' <<<"$out"; then
			sb_ok "no write to the caller's terminal through /dev/tty"
		else
			sb_notok "no write to the caller's terminal through /dev/tty" "$out"
		fi
	fi
	# network
	blocked "TCP to a host loopback listener" tcp 127.0.0.1 "$TPORT"
	blocked "TCP to [::ffff:127.0.0.1]" tcp6 ::ffff:127.0.0.1 "$TPORT"
	blocked "TCP to [::1]" tcp6 ::1 "$TPORT"
	blocked "TCP to 10.0.0.1" tcp 10.0.0.1 80
	blocked "TCP to 169.254.169.254" tcp 169.254.169.254 80
	blocked "UDP to the host loopback listener" udp 127.0.0.1 "$UPORT"
	blocked "UDP to 8.8.8.8:53" udp 8.8.8.8 53
	blocked "ICMP echo to 8.8.8.8" icmp 8.8.8.8
	fails "bash /dev/tcp to the host listener" "bash -c 'echo x >/dev/tcp/127.0.0.1/$TPORT'"
	fails "curl without proxy variables (decimal IP)" "env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY curl -sS --max-time 3 http://2130706433:$TPORT/"
	fails "curl without proxy variables (octal IP)" "env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY curl -sS --max-time 3 http://0177.0.0.1:$TPORT/"
	fails "wget without proxy variables" "env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY wget -q -T 3 -t 1 -O- http://127.0.0.1:$TPORT/"
	fails "DNS: getent hosts example.com" "getent hosts example.com"
	blocked "host Unix socket by path" unix "$T/host.sock"
	blocked "host abstract Unix socket" unix-abstract "$ABSTRACT"
	blocked "D-Bus system socket" unix /run/dbus/system_bus_socket
	blocked "Docker socket" unix /var/run/docker.sock
	# a host process listening on a Unix socket inside the workspace: the
	# bind shares the socket file, so only refusing socket(AF_UNIX) to
	# commands keeps it out of reach
	perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Local=>$ARGV[0], Listen=>1) or die;
		chmod 0777, $ARGV[0]; alarm 10; $s->accept; open my $f, ">>", $ARGV[1]; print $f "ws-unix\n"' \
		"$WS/host-in-ws.sock" "$T/hits" &
	local wsl=$!
	for _ in $(seq 30); do [ -S "$WS/host-in-ws.sock" ] && break; sleep 0.1; done
	blocked "host Unix listener inside the workspace" unix /workspace/host-in-ws.sock
	fails "host Unix listener inside the workspace (python)" "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"/workspace/host-in-ws.sock\")'"
	fails "the harness relay socket /scratch/proxy.sock" "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"/scratch/proxy.sock\")'"
	works "socketpair still works" "python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"x\"); assert b.recv(1) == b\"x\"'"
	works "HTTP through the relay still works" "curl -s -o /dev/null -w '%{http_code}' http://example.com/ | grep -q 403"
	kill $wsl 2>/dev/null
	wait $wsl 2>/dev/null
	rm -f "$WS/host-in-ws.sock"
	# resources: each tmpfs is sized, memory and processes are bounded
	# (low test limits: these attacks run only inside the sandbox)
	works "every tmpfs has size= and nr_inodes= (defaults)" 'for d in /tmp /dev/shm /scratch/home /scratch/tmp; do grep -q " $d tmpfs .*size=1048576k,nr_inodes=262144" /proc/mounts || exit 1; done'
	SILO_SANDBOX_TMPFS_MB=8 fails "fill a tmpfs past its size (8 MiB)" 'for d in /tmp /dev/shm /scratch/home /scratch/tmp; do head -c 20M /dev/zero >$d/fill && exit 0; done; exit 1'
	SILO_SANDBOX_PIDS_MAX=64 blocked "fork bomb bounded (64 processes)" forkbomb 1000
	SILO_SANDBOX_MEMORY_MB=64 blocked "memory hog bounded (64 MiB)" memhog 512
	out=$(SILO_SANDBOX_PIDS_MAX=64 SILO_SANDBOX_MEMORY_MB=64 sb_exec --workspace "$WS" --access 2>&1 | head -1)
	if grep -q '"pids_max":64' <<<"$out" && grep -q '"memory_bytes":67108864' <<<"$out" && grep -q '"tmpfs_bytes":1073741824' <<<"$out"; then
		sb_ok "the limits are in the access report"
	else
		sb_notok "the limits are in the access report" "$out"
	fi
	# an allowlisted host /etc: the synthesized passwd, group and hosts
	# are bound on top of it, read-only
	out=$(sb_exec --workspace "$WS" --allow-read /etc -- sh -c 'grep -c . /etc/passwd; grep "silo sandbox" /etc/passwd; grep -c localhost /etc/hosts; ls /etc/ssl >/dev/null && echo x >/etc/passwd' 2>&1)
	if [ "$(head -1 <<<"$out")" = 1 ] && grep -q 'silo sandbox' <<<"$out" && grep -q 'Read-only' <<<"$out"; then
		sb_ok "--allow-read /etc starts, with the synthesized /etc/passwd on top"
	else
		sb_notok "--allow-read /etc starts, with the synthesized /etc/passwd on top" "$out"
	fi
	# the relay socket: a flood must not spend the harness's fds
	blocked "flood the egress relay with connections" relay-flood 3128 400
	# leftovers
	local mark=sbmark$RANDOM$RANDOM
	sb_exec --workspace "$WS" -- sh -c "setsid sh -c 'sleep 300; : $mark' </dev/null >/dev/null 2>&1 & sleep 0.2" >/dev/null 2>&1
	sleep 0.3
	# the bracket keeps pgrep from matching its own command line
	sb_check "no background child survives the sandbox" sh -c "! pgrep -f '[s]${mark#s}' >/dev/null"
	sb_check "host listeners saw no connection" test ! -s "$T/hits"
	sb_check "host hostname unchanged" test "$(hostname)" = "$HOST_HOSTNAME"
}

SB_USER=$(id -un)
run_suite
if sb_have_user; then
	SB_USER=silotest
	run_suite
else
	echo "# no unprivileged user available: root only"
fi
if [ "$(id -u)" = 0 ]; then
	SB_USER=host
	sb_check "host / still writable (no plain remount)" sh -c "touch /.silo-sec-check && rm -f /.silo-sec-check"
	sb_check "host / mount options unchanged" test "$(findmnt -n -o OPTIONS / 2>/dev/null || true)" = "$ROOT_OPTS"
	sb_check "no sandbox mount leaked to the host" sh -c "! grep -q -e silo-scratch -e ' /workspace ' /proc/self/mountinfo"
	sb_check "no scratch directory left behind" sh -c "[ -z \"\$(ls -A $TMPDIR)\" ]"
fi
sb_finish
