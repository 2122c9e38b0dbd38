#!/bin/bash
# Native sandbox benchmarks (issue 3), every baseline measured in this run:
#  1. cold start to the first tool result (Bash `true`): a whole
#     `silo debug sandbox-exec -- true` process (start, exec, shutdown,
#     scratch removal) against `bwrap --unshare-all` with an equivalent view
#     and against `unshare -Urmnp --fork true`; goal <= 1.5x bwrap. Also
#     the in-process figure (sb start to first result) the driver reports.
#  2. tool round trip of `true` in a started sandbox (helper exec: sh -c)
#     against a bare fork/exec of `true` and of `sh -c true`; goal <= 1 ms
#     above the bare fork/exec.
#  3. resident memory of the helper (pid 1 inside).
# Prints medians and ratios; never fails on timing.
# Usage: bench_sandbox.sh [RUNS] (default 30).
set -eu
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
if [ -n "${SILO_BIN:-}" ] && "$SILO_BIN" debug sandbox-exec 2>&1 | grep -q 'usage: silo debug sandbox-exec'; then
	DRV=("$SILO_BIN" debug sandbox-exec)
elif [ -x "$BUILD/tests/test_sandbox_native" ]; then
	DRV=("$BUILD/tests/test_sandbox_native" sandbox-exec)
else
	echo "skip: no sandbox-exec driver"; exit 77
fi
[ -n "${SILO_HELPER_BIN:-}" ] || export SILO_HELPER_BIN=$BUILD/silo-helper
N=${1:-30}
T=$(mktemp -d /tmp/sb-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
WS=$T/ws
mkdir -p "$WS"

# median of N runs of a command, in microseconds (wall clock, whole process)
median_us() {
	local i s e
	for i in $(seq "$N"); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		echo $(((e - s) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "== cold start to first result of \`true\` (median of $N, whole process) =="
native=$(median_us "${DRV[@]}" --workspace "$WS" -- true)
echo "silo native sandbox-exec:   $native us"
nocg=$(SILO_SANDBOX_PIDS_MAX=0 median_us "${DRV[@]}" --workspace "$WS" -- true)
echo "  same without pids cgroup: $nocg us"
if command -v bwrap >/dev/null; then
	bw=(bwrap --unshare-all --new-session --die-with-parent --ro-bind /usr /usr)
	for d in /bin /sbin /lib /lib64 /lib32; do
		if [ -L $d ]; then bw+=(--symlink "$(readlink $d)" $d); elif [ -d $d ]; then bw+=(--ro-bind $d $d); fi
	done
	bw+=(--ro-bind /etc/ssl /etc/ssl --proc /proc --dev /dev --tmpfs /tmp --bind "$WS" /workspace
		--chdir /workspace --clearenv sh -c true)
	bwrap_us=$(median_us "${bw[@]}")
	echo "bwrap --unshare-all sh -c:  $bwrap_us us"
	echo "ratio native / bwrap:       $(ratio "$native" "$bwrap_us")  (goal <= 1.5x)"
else
	echo "bwrap: not installed"
fi
un=$(median_us unshare -Urmnp --fork true)
echo "unshare -Urmnp --fork true: $un us"
echo "ratio native / unshare:     $(ratio "$native" "$un")"
inproc() {
	for i in $(seq "$N"); do "${DRV[@]}" --workspace "$WS" --timing -- true 2>&1 >/dev/null |
		sed -n 's/^cold start to first result: \([0-9]*\) us$/\1/p'; done | sort -n |
		awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "in-process sb start -> first result: $(inproc) us"
echo "  same without pids cgroup:          $(SILO_SANDBOX_PIDS_MAX=0 inproc) us"

echo
echo "== tool round trip of \`true\` in a started sandbox =="
R=$((N * 10))
rt=$("${DRV[@]}" --workspace "$WS" --repeat "$R" -- true 2>&1 >/dev/null |
	sed -n 's/^round trip: \([0-9]*\) us.*/\1/p')
echo "helper exec round trip (mean of $R): $rt us"
bare=$(perl -MTime::HiRes=time -e '
	my ($n, $cmd) = @ARGV; my @c = split / /, $cmd; my $t = time;
	for (1..$n) { my $p = fork; if (!$p) { exec @c; exit 127 } waitpid $p, 0 }
	printf "%d\n", (time - $t) * 1e6 / $n' "$R" /bin/true)
shc=$(perl -MTime::HiRes=time -e '
	my ($n) = @ARGV; my $t = time;
	for (1..$n) { my $p = fork; if (!$p) { exec "/bin/sh", "-c", "true"; exit 127 } waitpid $p, 0 }
	printf "%d\n", (time - $t) * 1e6 / $n' "$R")
echo "bare fork/exec of true:     $bare us"
echo "bare fork/exec of sh -c:    $shc us"
echo "overhead over bare true:    $((rt - bare)) us  (goal <= 1000 us); ratio $(ratio "$rt" "$bare")"
echo "overhead over bare sh -c:   $((rt - shc)) us; ratio $(ratio "$rt" "$shc")"

echo
echo "== helper memory =="
"${DRV[@]}" --workspace "$WS" -- sh -c 'grep -E "^(VmRSS|VmHWM)" /proc/1/status' 2>&1 | sed 's/^/helper (pid 1) /'
