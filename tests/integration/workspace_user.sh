#!/bin/bash
# The workspace commands as an unprivileged user: as root, runs the CLI and
# fault-injection suites again as `silotest` (created when absent) with a
# state directory that user owns; the auto strategy must pick what works
# for that user (ext4_fuse when FUSE is usable, else directory with the
# install hint) and the locked directory must refuse the user's writes.
set -u
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
DRV=${WS_DRIVER:-$BUILD/tests/test_workspace}
[ "$(id -u)" = 0 ] || { echo "skip: needs root to switch to an unprivileged user"; exit 77; }
[ -x "$DRV" ] || { echo "skip: no test driver $DRV"; exit 77; }
id silotest >/dev/null 2>&1 || useradd -m silotest || { echo "skip: cannot create silotest"; exit 77; }

T=$(mktemp -d /tmp/ws-user-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$DRV" "$T/test_workspace"
cp -r "$SRC/lua" "$T/lua"
cp "$SRC/tests/integration/workspace_cli.sh" "$SRC/tests/integration/workspace_fault.sh" "$SRC/tests/integration/workspace_hostile.sh" "$T/"
chmod 755 "$T"
chown -R silotest "$T"
fails=0
run_as() { su silotest -s /bin/bash -c "cd $T && env SILO_LUA_DIR=$T/lua WS_DRIVER=$T/test_workspace SILO_SRC=$T SILO_BUILD=$T LLMDEVSILO_STATE_DIR=$T/state PATH=/usr/local/bin:/usr/bin:/bin $*"; }

run_as "$T/test_workspace workspace lock --create $T/ws" >"$T/out" 2>"$T/err"
if grep -q "^Locked $T/ws" "$T/out"; then echo "ok - silotest: lock"; else echo "not ok - silotest: lock: $(cat "$T/err")"; fails=$((fails+1)); fi
run_as "$T/test_workspace workspace status $T/ws" >"$T/st"
strategy=$(sed -n 's/^strategy: //p' "$T/st")
echo "# auto strategy for silotest: $strategy"
if [ "$strategy" = directory ]; then
	grep -q "fuse" "$T/out" && echo "ok - silotest: directory fallback names the fix" || { echo "not ok - no hint"; fails=$((fails+1)); }
	grep -q "directory strategy" "$T/out" && echo "ok - silotest: directory warning printed" || { echo "not ok - no warning"; fails=$((fails+1)); }
elif [ "$strategy" = ext4_fuse ]; then
	echo "ok - silotest: ext4_fuse chosen"
else
	echo "not ok - silotest: unexpected strategy '$strategy'"; fails=$((fails+1))
fi
if run_as "touch $T/ws/x" 2>/dev/null; then echo "not ok - silotest could write into the locked dir"; fails=$((fails+1)); else echo "ok - locked dir refuses the user's writes"; fi
run_as "$T/test_workspace workspace unlock $T/ws" >"$T/out" 2>"$T/err" && echo "ok - silotest: unlock" || { echo "not ok - silotest unlock: $(cat "$T/err")"; fails=$((fails+1)); }
rm -rf "$T/state"

run_as "bash $T/workspace_cli.sh" >"$T/cli.log" 2>&1 && echo "ok - CLI suite as silotest" || { echo "not ok - CLI suite as silotest"; grep "not ok" "$T/cli.log"; fails=$((fails+1)); }
run_as "bash $T/workspace_fault.sh" >"$T/fault.log" 2>&1 && echo "ok - fault suite as silotest" || { echo "not ok - fault suite as silotest"; grep "not ok" "$T/fault.log"; fails=$((fails+1)); }
run_as "bash $T/workspace_hostile.sh" >"$T/hostile.log" 2>&1 && echo "ok - hostile trees as silotest" || { echo "not ok - hostile trees as silotest"; grep "not ok" "$T/hostile.log"; fails=$((fails+1)); }
echo "# $(grep -c '^ok' "$T/cli.log") + $(grep -c '^ok' "$T/fault.log") + $(grep -c '^ok' "$T/hostile.log") checks passed as silotest"
[ $fails = 0 ]
