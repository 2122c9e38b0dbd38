#!/bin/bash
# The policy's `sandbox` key: tmpfs size and inodes, memory and process
# limits and the Unix socket switch reach the native sandbox and its access
# report; bad values stop the run with a message naming the key.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
"$SILO_BIN" workspace lock "$WS" --strategy directory >/dev/null
printf 'return { sandbox = { tmpfs_mb = 0 } }\n' >"$T/bad.lua"
printf 'return { sandbox = { memory_mb = "lots" } }\n' >"$T/bad2.lua"
printf 'return { sandbox = { swap_mb = 1 } }\n' >"$T/bad3.lua"
printf 'return { sandbox = { unix_connect = 1 } }\n' >"$T/bad4.lua"
for p in bad bad2 bad3 bad4; do
	set +e
	"$SILO_BIN" run --workspace "$WS" --llm mock --sandbox mock --frontend headless --prompt x \
		--script "$FIX/headless.lua" --policy "$T/$p.lua" --print-access >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	check "$p.lua refused with exit 1" test "$rc" = 1
	check "$p.lua: the message names the key" grep -q "policy $T/$p.lua: .*sandbox" "$T/err"
done
if ! "$SILO_BIN" doctor >/dev/null 2>&1; then
	echo "# native sandbox unavailable here: policy checks only"
	finish
fi
printf 'return { sandbox = { tmpfs_mb = 64, tmpfs_inodes = 5000, memory_mb = 512, pids_max = 100 } }\n' >"$T/p.lua"
"$SILO_BIN" run --workspace "$WS" --llm mock --sandbox native --frontend headless --prompt x \
	--script "$FIX/headless.lua" --policy "$T/p.lua" --print-access >"$T/report" 2>"$T/err"
lim() { /usr/bin/python3 -c "import json,sys; print(json.load(open('$T/report'))['limits']['$1'])"; }
check "tmpfs size from the policy" test "$(lim tmpfs_bytes)" = $((64 << 20))
check "tmpfs inodes from the policy" test "$(lim tmpfs_inodes)" = 5000
check "memory limit from the policy" test "$(lim memory_bytes)" = $((512 << 20))
check "process limit from the policy" test "$(lim pids_max)" = 100
check "how memory is bounded" sh -c "case $(lim memory_by) in cgroup|rlimit_data) ;; *) exit 1;; esac"
check "how processes are bounded" sh -c "case $(lim pids_by) in cgroup|rlimit_nproc) ;; *) exit 1;; esac"
check "Unix sockets refused by default" grep -q 'commands cannot create Unix sockets' "$T/report"
printf 'return { sandbox = { unix_connect = true } }\n' >"$T/u.lua"
"$SILO_BIN" run --workspace "$WS" --llm mock --sandbox native --frontend headless --prompt x \
	--script "$FIX/headless.lua" --policy "$T/u.lua" --print-access >"$T/report" 2>"$T/err"
check "unix_connect = true reaches the sandbox" grep -q 'commands may create Unix sockets' "$T/report"
finish
