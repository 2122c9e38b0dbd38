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
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built $build/silo" >&2
