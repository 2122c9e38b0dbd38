#!/bin/bash
# README command (b): sets everything up and runs the whole test suite with
# ctest: a warnings-as-errors build, then an ASan+UBSan build (label-free,
# every test), then the suites that must also pass for an unprivileged user.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$src/scripts/setup.sh" "$src/build" -DSILO_WERROR=ON
(cd "$src/build" && ctest --output-on-failure -j"$jobs" --timeout 600)

"$src/scripts/setup.sh" "$src/build-asan" -DSILO_WERROR=ON -DSILO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd "$src/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 900 -LE nosan)

# As an unprivileged user (created when running as root), the tests that
# need no root privileges.
if [ "$(id -u)" -eq 0 ]; then
	id silotest >/dev/null 2>&1 || useradd --create-home --shell /bin/bash silotest
	tmp=$(mktemp -d /tmp/silo-unpriv.XXXXXX)
	tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tmp" -xf -
	chown -R silotest: "$tmp"
	su silotest -c "cd '$tmp' && cmake -S . -B build-user -DSILO_WERROR=ON >/dev/null && cmake --build build-user -j$jobs >/dev/null && cd build-user && ctest --output-on-failure -j$jobs --timeout 600 -L 'unit|integration|security'"
	rm -rf "$tmp"
fi
echo "test.sh: all suites passed"
