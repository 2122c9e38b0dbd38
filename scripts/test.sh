#!/bin/bash
# README command (b): sets everything up and runs the whole test suite with
# ctest: every test in a warnings-as-errors build; then the unit, fuzz
# regression and engine session suites again under ASan+UBSan (label asan);
# then the engine session suites as an unprivileged user (the sandbox and
# workspace suites run their own unprivileged passes inside).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$src/scripts/setup.sh" "$src/build" -DSILO_WERROR=ON
(cd "$src/build" && ctest --output-on-failure -j"$jobs" --timeout 600)

"$src/scripts/setup.sh" "$src/build-asan" -DSILO_WERROR=ON -DSILO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd "$src/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 900 -L 'asan|fuzz')

# The libFuzzer build (clang, every library instrumented) must build whole,
# and each target must still reach its coverage floor (tests/fuzz/).
"$src/scripts/setup.sh" "$src/build-fuzz" -DSILO_WERROR=ON -DCMAKE_C_COMPILER=clang -DSILO_FUZZ=ON
(cd "$src/build-fuzz" && ctest --output-on-failure -j"$jobs" --timeout 600 -L fuzzcov)

if [ "$(id -u)" -eq 0 ]; then
	id silotest >/dev/null 2>&1 || useradd --create-home --shell /bin/bash silotest
	# an earlier suite may have created the user without a home; silo keeps
	# per-user state there, as it would for any user
	h=$(getent passwd silotest | cut -d: -f6)
	if [ ! -d "$h" ]; then
		mkdir -p "$h" && chown silotest: "$h" && chmod 700 "$h"
	fi
	u=$(mktemp -d /tmp/silo-unpriv.XXXXXX)
	mkdir -p "$u/build"
	cp "$src/build/silo" "$src/build/silo-helper" "$u/build/"
	tar -C "$src" -cf - lua policies tests docs | tar -C "$u" -xf -
	chown -R silotest: "$u"
	chmod 755 "$u"
	fails=0
	for t in "$u"/tests/integration/{session_,replay_,hostile_,secrets,risk_}*.sh; do
		if su silotest -s /bin/bash -c "cd '$u' && SILO_BIN='$u/build/silo' SILO_SRC='$u' SILO_BUILD='$u/build' TMPDIR=/tmp bash '$t'" >"$u/log" 2>&1; then
			echo "unprivileged: ok   $(basename "$t")"
		else
			rc=$?
			if [ $rc -eq 77 ]; then echo "unprivileged: skip $(basename "$t")"; continue; fi
			echo "unprivileged: FAIL $(basename "$t")"; sed 's/^/    /' "$u/log" | tail -20
			fails=$((fails + 1))
		fi
	done
	rm -rf "$u"
	[ "$fails" -eq 0 ] || { echo "test.sh: $fails unprivileged suite(s) failed"; exit 1; }
fi
echo "test.sh: all suites passed"
