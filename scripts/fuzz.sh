#!/bin/bash
# A fuzzing campaign over every libFuzzer target (tests/fuzz/), under
# ASan+UBSan: builds the fuzz configuration if needed, gives each target
# MINUTES (default 10) of fuzzing on its corpus, JOBS targets at a time
# (default: the number of CPUs), restarting a target after a crash until
# its time is used. New inputs are merged into tests/fuzz/corpus/<target>/
# (only those that add coverage); crashing inputs are kept under the
# campaign directory for triage. Prints one Markdown table row per target:
# CPU seconds, executions, coverage (edges) of the merged corpus, crashes.
#   scripts/fuzz.sh [MINUTES]
# Environment: JOBS, NICE (default 0), TARGETS (space-separated names),
# FUZZ_SECONDS (overrides MINUTES),
# SILO_FUZZ_BUILD (default build-fuzz), FUZZ_OUT (campaign directory).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-10}
case $minutes in '' | *[!0-9]*) echo "usage: fuzz.sh [MINUTES]" >&2; exit 2 ;; esac
jobs=${JOBS:-$(nproc)}
nice=${NICE:-0}
build=${SILO_FUZZ_BUILD:-$src/build-fuzz}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/silo-fuzz.XXXXXX")}
mkdir -p "$out/tmp"

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DSILO_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j"$jobs" >/dev/null

targets=${TARGETS:-$(cd "$src/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# libFuzzer's merge control files, and anything a target writes to TMPDIR.
export TMPDIR=$out/tmp

# Crashes, leaks, timeouts and OOMs found for a target (not slow units).
found() {
	ls "$out/crashes/$1" | grep -c -E '^(crash|leak|timeout|oom)-' || true
}

# Fuzzes one target for its share of time; writes $out/<t>.stats.
run_target() {
	local t=$1 bin=$build/tests/fuzz/$1 corpus=$src/tests/fuzz/corpus/$1
	local budget=${FUZZ_SECONDS:-$((minutes * 60))} start now left runs=0 execs=0 crashes=0 n log
	mkdir -p "$out/new/$t" "$out/crashes/$t" "$corpus"
	start=$(date +%s)
	while :; do
		now=$(date +%s)
		left=$((budget - (now - start)))
		[ "$left" -gt 0 ] || break
		runs=$((runs + 1))
		log=$out/$t.log.$runs
		/usr/bin/time -f '%U %S' -o "$out/$t.cpu.$runs" \
			nice -n "$nice" "$bin" -max_total_time="$left" -timeout=30 -rss_limit_mb=4096 \
			-print_final_stats=1 -artifact_prefix="$out/crashes/$t/" \
			"$out/new/$t" "$corpus" >"$log" 2>&1 || true
		# a crashed run prints no final stats: its last progress line counts
		n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{ print $2 }')
		[ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
		execs=$((execs + ${n:-0}))
		if [ "$(found "$t")" -eq "$crashes" ]; then
			# no new crash: the time is up, or the target could not start
			now=$(date +%s)
			if [ $((budget - (now - start))) -gt 5 ]; then
				echo "fuzz: $t stopped early, see $log" >&2
			fi
			break
		fi
		crashes=$(found "$t")
		echo "fuzz: $t crashed (run $runs, see $log), restarting" >&2
	done
	# Keep only the new inputs that add coverage to the checked-in corpus.
	nice -n "$nice" "$bin" -merge=1 -timeout=30 -rss_limit_mb=4096 "$corpus" "$out/new/$t" \
		>"$out/$t.merge.log" 2>&1 || echo "fuzz: merging $t failed, see $out/$t.merge.log" >&2
	local cov cpu
	cov=$(nice -n "$nice" "$bin" -runs=0 -rss_limit_mb=4096 "$corpus" 2>&1 |
		grep -o 'cov: [0-9]*' | tail -1 | awk '{ print $2 }')
	cpu=$(cat "$out/$t.cpu."* 2>/dev/null | awk '{ s += $1 + $2 } END { printf "%d", s }')
	echo "$t $cpu $execs ${cov:-0} $(found "$t") $(ls "$corpus" | wc -l)" \
		>"$out/$t.stats"
}

echo "fuzz: ${FUZZ_SECONDS:-$((minutes * 60))} s per target, $jobs at a time, campaign in $out" >&2
running=0
for t in $targets; do
	if [ ! -x "$build/tests/fuzz/$t" ]; then
		echo "fuzz: no binary for $t in $build" >&2
		continue
	fi
	run_target "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait

echo "| target | CPU s | executions | coverage (edges) | crashes | corpus |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for t in $targets; do
	[ -f "$out/$t.stats" ] || continue
	read -r name cpu execs cov crashes files <"$out/$t.stats"
	echo "| $name | $cpu | $execs | $cov | $crashes | $files |"
done
if ls "$out"/crashes/*/ | grep -q -E '^(crash|leak|timeout|oom)-'; then
	echo "fuzz: crashing inputs are in $out/crashes/" >&2
	exit 1
fi
