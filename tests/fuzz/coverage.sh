#!/bin/bash
# Coverage floor of one fuzz target (ctest fuzzcov_<name>, SILO_FUZZ=ON
# builds only): runs the libFuzzer binary for a few seconds on its corpus
# and fails when the edges it reports (libFuzzer's "cov:") fall below the
# floor recorded for it in floors.txt, so a target that goes blind (a
# library built without instrumentation, a seam that stops reaching the
# parser) is caught. New inputs go to a scratch directory, never into the
# checked-in corpus.
#   coverage.sh BINARY [SECONDS]
set -euo pipefail
bin=$1
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$bin")
floor=$(awk -v t="$name" '$1 == t { print $2 }' "$here/floors.txt")
if [ -z "$floor" ]; then
	echo "coverage: no floor for $name in tests/fuzz/floors.txt" >&2
	exit 1
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/silo-fuzzcov.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log=$scratch/log
# The first directory receives new inputs; the corpus is only read.
mkdir "$scratch/new"
if ! "$bin" -max_total_time="$secs" -seed=1 -timeout=30 -rss_limit_mb=2048 \
	-artifact_prefix="$scratch/" "$scratch/new" "$here/corpus/$name" >"$log" 2>&1; then
	tail -40 "$log" >&2
	echo "coverage: $name failed (crash or error above)" >&2
	exit 1
fi
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{ print $2 }')
execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
if [ -z "$cov" ]; then
	tail -20 "$log" >&2
	echo "coverage: $name printed no coverage figure" >&2
	exit 1
fi
echo "coverage: $name cov $cov (floor $floor) after ${execs:-0} executions in ${secs}s"
if [ "$cov" -lt "$floor" ]; then
	echo "coverage: $name reaches $cov edges, below its floor of $floor" >&2
	exit 1
fi
