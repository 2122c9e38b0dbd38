#!/bin/bash
# Installs the Debian packages silo needs (once) and builds it. Idempotent;
# works as root and as an ordinary user (then apt runs through sudo).
# Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
shift || true

lists=("$src/scripts/deps-base.txt")
[ -f "$src/scripts/deps.txt" ] && lists+=("$src/scripts/deps.txt")
pkgs=$(cat "${lists[@]}" | sed 's/#.*//' | sort -u)
missing=()
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# progress from the build's own percentages: one updating line on a
# terminal, a line per quarter otherwise; errors still show in full
log=$(mktemp "${TMPDIR:-/tmp}/silo-build.XXXXXX")
tty=0
[ -t 2 ] && tty=1
set +e
cmake --build "$build" -j"$(nproc)" 2>&1 | tee "$log" | awk -v tty="$tty" -v b="$build" '
	/^\[ *[0-9]+%\]/ {
		p = $0; sub(/^\[ */, "", p); sub(/%.*/, "", p); p += 0
		if (tty) printf "\rsetup: building %s: %3d%%", b, p > "/dev/stderr"
		else if (p >= next_q) { printf "setup: building %s: %d%%\n", b, p > "/dev/stderr"; next_q = p - p % 25 + 25 }
	}
	END { if (tty) printf "\n" > "/dev/stderr" }'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	grep -v '^\[ *[0-9]*%\]' "$log" | tail -n 40 >&2
	rm -f "$log"
	echo "setup: the build failed (exit $rc)" >&2
	exit "$rc"
fi
rm -f "$log"
echo "setup: built $build/silo" >&2
