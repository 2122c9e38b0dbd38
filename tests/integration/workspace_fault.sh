#!/bin/bash
# Crash safety (issue 5 item 8): SILO_WS_FAULT_STEP=n kills the command with
# SIGKILL at its n-th fault point (journaled steps plus points inside the
# long copy loops). For every n of lock and of unlock, the next command must
# complete or roll back without losing a byte: after an interrupted lock the
# tree equals the original; after an interrupted unlock, re-running unlock
# restores exactly the changed tree and still prints the full review.
set -u
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
DRV=${WS_DRIVER:-$BUILD/tests/test_workspace}
export SILO_LUA_DIR=${SILO_LUA_DIR:-$SRC/lua}
[ -x "$DRV" ] || { echo "skip: no test driver $DRV"; exit 77; }
if [ -n "${SILO_BIN:-}" ] && "$SILO_BIN" workspace list >/dev/null 2>&1; then
	W=("$SILO_BIN" workspace)
else
	W=("$DRV" workspace)
fi
T=$(mktemp -d /tmp/ws-fault-XXXXXX)
export LLMDEVSILO_STATE_DIR=$T/state
SLEEPERS=()
cleanup() {
	# only our own live background jobs: a reaped pid may belong to someone else now
	kill -9 $(jobs -p) 2>/dev/null
	for m in "$T"/state/workspaces/*/mnt; do umount -l "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null; done
	[ -n "${XFS:-}" ] && umount -l "$XFS" 2>/dev/null
	chmod -R u+w "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

mkref() {
	mkdir -p "$1/d1/d2" "$1/empty" "$1/ro"
	for i in 1 2 3 4 5 6; do printf 'file %s\n' "$i" >"$1/d1/f$i.txt"; done
	printf 'same\n' >"$1/dup1"; printf 'same\n' >"$1/dup2"
	printf 'mine, not the marker\n' >"$1/LOCKED_BY_LLMDEVSILO" # a user file of that name
	head -c 300000 /dev/urandom >"$1/d1/d2/big.bin"
	ln -s d1/f1.txt "$1/link"
	printf 'x\n' >"$1/ro/file"; chmod 0555 "$1/ro"
	chmod 0700 "$1/d1/d2"
}
mutate() {
	printf 'changed\n' >>"$1/d1/f1.txt"
	rm "$1/d1/f2.txt"
	printf 'new\n' >"$1/new.txt"
	chmod 0600 "$1/dup1"
}
# A listing that captures every byte, type, mode and link target (the tree
# holds a user file named like the marker: it must survive too).
snap() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %p %l\n' | LC_ALL=C sort
	 find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2
	 stat -c 'root %a' .)
}

strategies=(directory)
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then strategies+=(ext4_loop); fi
if command -v fuse2fs >/dev/null && command -v mkfs.ext4 >/dev/null && [ -r /dev/fuse ] && [ -w /dev/fuse ] &&
	{ [ "$(id -u)" = 0 ] || command -v fusermount >/dev/null || command -v fusermount3 >/dev/null; }; then
	strategies+=(ext4_fuse)
fi

# as root, the directory and ext4_loop strategies again with the workspace on
# another filesystem than the state directory (tmpfs): copies instead of renames
XFS=""
if [ "$(id -u)" = 0 ] && mkdir -p "$T/xfs" && mount -t tmpfs -o size=256m tmpfs "$T/xfs"; then
	XFS=$T/xfs
	strategies+=(directory@xfs)
	[ "${strategies[1]}" = ext4_loop ] && strategies+=(ext4_loop@xfs)
fi

for SV in "${strategies[@]}"; do
	S=${SV%@*}
	WSBASE=$T
	[ "$SV" != "$S" ] && WSBASE=$XFS
	REF=$T/ref-${SV/@/-}; mkref "$REF"; snap "$REF" >"$T/ref.snap"
	EXP=$T/exp-${SV/@/-}; cp -a "$REF" "$EXP"; chmod u+w "$EXP/ro"; mutate "$EXP"; chmod 0555 "$EXP/ro"
	snap "$EXP" >"$T/exp.snap"

	# ---- lock ----
	n=1; done_at=0
	while [ $n -le 60 ]; do
		WS=$WSBASE/ws-$S; chmod -R u+w "$WS" 2>/dev/null; rm -rf "$WS"; cp -a "$REF" "$WS"
		SILO_WS_FAULT_STEP=$n "${W[@]}" lock "$WS" --strategy "$S" >"$T/out" 2>"$T/err"; rc=$?
		if [ $rc = 0 ]; then done_at=$n; "${W[@]}" unlock "$WS" >/dev/null 2>&1; break; fi
		if [ $rc != 137 ]; then bad "$SV lock fault $n: rc $rc $(cat "$T/err")"; break; fi
		# the next command finds the dead lock and rolls it back
		"${W[@]}" status "$WS" >"$T/st" 2>"$T/err2"
		if grep -q '^locked: yes' "$T/st"; then
			bad "$SV lock fault $n: still locked after recovery"
			"${W[@]}" unlock "$WS" >/dev/null 2>&1
		fi
		snap "$WS" >"$T/got.snap"
		if cmp -s "$T/ref.snap" "$T/got.snap"; then ok "$SV lock killed at fault point $n: rolled back, nothing lost"
		else bad "$SV lock killed at fault point $n: tree differs"; diff "$T/ref.snap" "$T/got.snap" | head -10; fi
		left=$(ls "$T/state/workspaces" 2>/dev/null)
		[ -z "$left" ] && ok "$SV lock fault $n: entry cleaned" || bad "$SV lock fault $n: entry left ($left)"
		n=$((n + 1))
	done
	[ $done_at -gt 4 ] && ok "$SV lock: looped over $((done_at - 1)) fault points" || bad "$SV lock: too few fault points ($done_at)"

	# ---- unlock ----
	n=1; done_at=0
	while [ $n -le 60 ]; do
		WS=$WSBASE/ws-$S; chmod -R u+w "$WS" 2>/dev/null; rm -rf "$WS"; cp -a "$REF" "$WS"
		"${W[@]}" lock "$WS" --strategy "$S" >/dev/null 2>&1 || { bad "$SV relock for unlock fault $n"; break; }
		sleep 600 & H=$!; SLEEPERS+=($H)
		M=$("$DRV" attach "$WS" $H) || { bad "$S attach"; break; }
		chmod u+w "$M/ro"; mutate "$M"; chmod 0555 "$M/ro"
		SILO_WS_FAULT_STEP=$n "${W[@]}" unlock "$WS" >"$T/out" 2>"$T/err"; rc=$?
		if [ $rc = 0 ]; then done_at=$n; break; fi
		if [ $rc != 137 ]; then bad "$SV unlock fault $n: rc $rc $(cat "$T/err")"; break; fi
		# attaching in between is refused
		if "$DRV" attach "$WS" $$ >/dev/null 2>"$T/err2"; then
			grep -q . /dev/null
			"${W[@]}" status "$WS" | grep -q '^locked: yes' && bad "$SV unlock fault $n: attach allowed while unlocking"
		else
			grep -q "unlock is in progress\|not locked" "$T/err2" && ok "$SV unlock fault $n: attach refused" || bad "$SV unlock fault $n: attach error $(cat "$T/err2")"
		fi
		"${W[@]}" unlock "$WS" >"$T/out" 2>"$T/err"; rc=$?
		if [ $rc = 0 ]; then
			if grep -q '^Changes since lock: 4$' "$T/out"; then ok "$SV unlock killed at fault point $n: resumed with the full review"
			else
				# killed after the review was saved: the saved review is complete
				"${W[@]}" review "$WS" >"$T/out2" 2>&1
				grep -q '^Changes since lock: 4$' "$T/out2" && grep -q 'not locked' "$T/err" \
					&& ok "$SV unlock killed at fault point $n: finished, review saved" \
					|| bad "$SV unlock fault $n: review incomplete: $(head -c 300 "$T/out") $(cat "$T/err")"
			fi
		elif grep -q 'not locked' "$T/err"; then
			"${W[@]}" review "$WS" >"$T/out2" 2>&1
			grep -q '^Changes since lock: 4$' "$T/out2" && ok "$SV unlock killed at fault point $n: was complete, review saved" \
				|| bad "$SV unlock fault $n: no saved review"
		else
			bad "$SV unlock fault $n: resume failed: $(cat "$T/err")"
		fi
		snap "$WS" >"$T/got.snap"
		if cmp -s "$T/exp.snap" "$T/got.snap"; then ok "$SV unlock fault $n: every byte restored"
		else bad "$SV unlock fault $n: tree differs"; diff "$T/exp.snap" "$T/got.snap" | head -10; fi
		"${W[@]}" status >/dev/null 2>&1 # prunes leftovers
		left=$(ls "$T/state/workspaces" 2>/dev/null)
		[ -z "$left" ] && ok "$SV unlock fault $n: entry cleaned" || bad "$SV unlock fault $n: entry left ($left)"
		mount | grep -q "$T/state" && bad "$SV unlock fault $n: still mounted" || true
		n=$((n + 1))
	done
	[ $done_at -gt 6 ] && ok "$SV unlock: looped over $((done_at - 1)) fault points" || bad "$SV unlock: too few fault points ($done_at)"
	snap "$WS" >"$T/got.snap"
	cmp -s "$T/exp.snap" "$T/got.snap" && ok "$SV uninterrupted unlock restores the changed tree" || bad "$SV uninterrupted unlock"
done
echo "# $fails failure(s)"
[ $fails = 0 ]
