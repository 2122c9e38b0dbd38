#!/bin/bash
# Builds the Debian package, installs it with apt (dependencies resolved by
# apt, through sudo when not root), and runs a lock, the demo session and
# an unlock with the installed /usr/bin/silo and no environment beyond
# HOME and PATH. For a scratch machine (CI, a fresh root): the package stays
# installed unless --remove is given.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
"$src/scripts/setup.sh" "$src/build"
out=$(mktemp -d "${TMPDIR:-/tmp}/silo-deb.XXXXXX")
trap 'rm -rf "$out"' EXIT
(cd "$src/build" && cpack -G DEB -B "$out" >/dev/null)
deb=$(ls "$out"/*.deb)
echo "deb-check: built $(basename "$deb")"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
echo "deb-check: installed; running lock, the demo session and unlock from /usr/bin/silo"
w=$out/project
cp -r /usr/share/silo/demo/demo-project "$w"
fx=/usr/share/silo/demo/demo.lua sandbox=native
if ! /usr/bin/silo doctor >/dev/null 2>&1; then
	fx=/usr/share/silo/demo/demo-mock.lua sandbox=mock
fi
env -i HOME="$out/home" PATH=/usr/bin:/bin sh -ec "
	mkdir -p \"\$HOME\"
	silo workspace lock '$w'
	silo run --workspace '$w' --llm mock --sandbox $sandbox --frontend headless \
		--script '$fx' --prompt 'Fix the failing test.'
	silo workspace unlock '$w' | head -n 3
	man -w silo-run >/dev/null 2>&1 || [ -f /usr/share/man/man1/silo-run.1.gz ]"
grep -q '$(($1 + $2))' "$w/calc.sh"
echo "deb-check: the installed silo fixed and gave back the project"
if [ "${1:-}" = --remove ]; then
	$sudo apt-get remove -y -qq silo >/dev/null
	echo "deb-check: removed the package"
fi
