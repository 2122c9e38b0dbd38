#!/bin/bash
# silo workspace lock|unlock|status|list|review: happy paths, errors, review
# contents for every kind of change, JSON output, --rules, restore attacks
# (symlink, hard link, device, FIFO, setuid) for each strategy that works
# here (ext4_loop needs root). Uses a temporary state directory only.
set -u
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
DRV=${WS_DRIVER:-$BUILD/tests/test_workspace}
export SILO_LUA_DIR=${SILO_LUA_DIR:-$SRC/lua}
if [ -n "${SILO_BIN:-}" ] && "$SILO_BIN" workspace list >/dev/null 2>&1; then
	W=("$SILO_BIN" workspace)
else
	W=("$DRV" workspace)
fi
[ -x "$DRV" ] || { echo "skip: no test driver $DRV"; exit 77; }

T=$(mktemp -d /tmp/ws-cli-XXXXXX)
export LLMDEVSILO_STATE_DIR=$T/state
SLEEPERS=()
cleanup() {
	# only our own live background jobs: a reaped pid may belong to someone else now
	kill -9 $(jobs -p) 2>/dev/null
	for m in "$T"/state/workspaces/*/mnt; do umount -l "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null; done
	chmod -R u+w "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
expect() { # expect DESC CMD... : succeeds
	local d=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then ok "$d"; else bad "$d (rc $?: $(head -c 400 "$T/err"))"; fi
}
expect_fail() { # expect_fail DESC RC PATTERN CMD...
	local d=$1 want=$2 pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"; local rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pat" "$T/err"; then ok "$d"
	else bad "$d (rc $rc, stderr: $(head -c 300 "$T/err"))"; fi
}
has() { # has DESC PATTERN FILE
	if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1 (no '$2' in $3)"; cat "$3" | head -40; fi
}
hasnt() {
	if grep -q -- "$2" "$3"; then bad "$1 ('$2' found in $3)"; else ok "$1"; fi
}

mkws() { # mkws DIR: a small tree with text, binary, symlink, hooks
	mkdir -p "$1/sub/deep" "$1/.git/hooks" "$1/gone"
	printf 'one\ntwo\nthree\n' >"$1/a.txt"
	printf 'keep\n' >"$1/sub/deep/keep.txt"
	printf '\000\001\002bin' >"$1/bin.dat"
	printf '#!/bin/sh\n' >"$1/.git/hooks/pre-commit"
	printf 'bye\n' >"$1/gone/f"
	printf '{"name":"x","version":"1.0.0","scripts":{"test":"t"}}\n' >"$1/package.json"
	printf 'mode\n' >"$1/mode.txt"
	ln -s a.txt "$1/link"
	chmod 0750 "$1/sub"
}

strategies=(directory)
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then strategies+=(ext4_loop); fi
if command -v fuse2fs >/dev/null && command -v mkfs.ext4 >/dev/null && [ -r /dev/fuse ] && [ -w /dev/fuse ] &&
	{ [ "$(id -u)" = 0 ] || command -v fusermount >/dev/null || command -v fusermount3 >/dev/null; }; then
	strategies+=(ext4_fuse)
fi

for S in "${strategies[@]}"; do
	echo "# strategy $S"
	WS=$T/ws-$S
	mkws "$WS"
	mkdir -p "$T/outside-$S"
	echo outside >"$T/outside-$S/f"
	expect "$S: lock" "${W[@]}" lock "$WS" --strategy "$S"
	has "$S: lock prints canonical path" "^Locked $WS\$" "$T/out"
	has "$S: lock prints the strategy warning" "^warning: " "$T/out"
	[ -f "$WS/LOCKED_BY_LLMDEVSILO" ] && ok "$S: marker present" || bad "$S: marker present"
	has "$S: marker says how to unlock" "silo workspace unlock $WS" "$WS/LOCKED_BY_LLMDEVSILO"
	[ "$(ls -A "$WS")" = LOCKED_BY_LLMDEVSILO ] && ok "$S: only the marker is left" || bad "$S: only the marker is left ($(ls -A "$WS"))"
	if [ "$(id -u)" != 0 ]; then
		touch "$WS/x" 2>/dev/null && bad "$S: directory read-only" || ok "$S: directory read-only"
	fi
	expect_fail "$S: lock twice" 1 "already locked" "${W[@]}" lock "$WS"
	expect "$S: status" "${W[@]}" status "$WS"
	has "$S: status locked" "^locked: yes" "$T/out"
	has "$S: status not attached" "^attached: no" "$T/out"
	has "$S: status strategy" "^strategy: $S" "$T/out"
	expect "$S: list" "${W[@]}" list
	has "$S: list shows it" "$WS" "$T/out"
	expect "$S: list --json" "${W[@]}" list --json
	has "$S: list json" "\"strategy\": \"$S\"" "$T/out"

	sleep 600 & H=$!; SLEEPERS+=($H)
	sleep 600 & SH=$!; SLEEPERS+=($SH)
	M=$("$DRV" attach "$WS" $H) && ok "$S: attach harness" || bad "$S: attach harness"
	M2=$("$DRV" attach "$WS" $SH shell) && ok "$S: attach shell" || bad "$S: attach shell"
	[ "$M" = "$M2" ] && ok "$S: one shared mount" || bad "$S: one shared mount ($M vs $M2)"
	expect_fail "$S: second harness refused" 1 "already attached to harness test-harness (pid $H)" "$DRV" attach "$WS" $$
	expect "$S: status attached" "${W[@]}" status "$WS"
	has "$S: status shows harness" "^attached: harness test-harness\$" "$T/out"
	has "$S: status shows a shell" "^shells: 1" "$T/out"
	expect "$S: status --json" "${W[@]}" status "$WS" --json
	has "$S: status json pid" "\"pid\": $H" "$T/out"

	# every kind of change, from inside the container
	(
		cd "$M" || exit 1
		printf 'one\nTWO\nthree\nfour\n' >a.txt          # text modified
		printf '\000\001\002BIN' >bin.dat                # binary modified
		printf 'new file\n' >added.txt                   # added text
		rm -rf gone                                       # deleted dir + file
		chmod 0755 mode.txt                               # mode only (becomes executable)
		rm link && ln -s sub link                         # symlink target changed
		rm sub/deep/keep.txt && mkdir sub/deep/keep.txt   # type change file -> dir
		echo 'echo pwned' >>.git/hooks/pre-commit         # auto-exec surface
		printf '{"name":"x","version":"1.0.1","scripts":{"test":"t"}}\n' >package.json
		printf 'direnv\n' >.envrc                         # added auto-exec surface
		# restore attacks
		ln -s "$T/outside-$S" escape                      # symlink out of the workspace
		printf 'suid\n' >suid && chmod 4755 suid          # setuid
		mkfifo fifo                                       # FIFO
		[ "$(id -u)" = 0 ] && mknod dev c 1 3             # device node
		printf 'ctl\n' >"$(printf 'bad\033[31mname')"     # control characters
	) || bad "$S: mutate"
	if [ "$S" = directory ]; then
		echo secret >"$T/outside-$S/hl-target"
		ln "$T/outside-$S/hl-target" "$M/hardlink" && ok "$S: made a hard link out" || bad "$S: hard link"
	fi
	"${W[@]}" unlock "$WS" >"$T/review" 2>"$T/err"; rc=$?
	[ $rc = 0 ] && ok "$S: unlock" || { bad "$S: unlock rc $rc: $(cat "$T/err")"; continue; }
	kill -0 $H 2>/dev/null && bad "$S: harness terminated" || ok "$S: harness terminated"
	kill -0 $SH 2>/dev/null && bad "$S: shell terminated" || ok "$S: shell terminated"
	R=$T/review
	has "$S: unlocked line" "^Unlocked $WS\$" "$R"
	has "$S: banner" "AUTO-EXEC WARNINGS" "$R"
	has "$S: flags hook" "!! .git/hooks/pre-commit — git runs hook" "$R"
	has "$S: flags .envrc" "!! .envrc — direnv" "$R"
	has "$S: flags setuid" "!! suid — had the setuid" "$R"
	has "$S: flags new executable" "!! mode.txt — became executable" "$R"
	has "$S: flags escaping symlink" "!! escape — symlink points outside" "$R"
	hasnt "$S: version-only package.json not flagged" "!! package.json" "$R"
	# flags come before the change list
	fl=$(grep -n '!! ' "$R" | head -1 | cut -d: -f1); cl=$(grep -n '^Changes since lock' "$R" | cut -d: -f1)
	[ -n "$fl" ] && [ "$fl" -lt "$cl" ] && ok "$S: flags first" || bad "$S: flags first"
	has "$S: modified text" "^  modified a.txt\$" "$R"
	has "$S: text diff" "^+TWO\$" "$R"
	has "$S: diff headers" "^--- locked\$" "$R"
	has "$S: binary summary" "^  modified bin.dat (binary, 6 bytes -> 6 bytes)" "$R"
	has "$S: added" "^  added    added.txt\$" "$R"
	has "$S: deleted file" "^  deleted  gone/f\$" "$R"
	has "$S: deleted dir" "^  deleted  gone\$" "$R"
	has "$S: deleted diff" "^--- gone/f (Deleted) ---" "$R"
	has "$S: mode note" "^  modified mode.txt (mode 0644 -> 0755)" "$R"
	hasnt "$S: no diff for mode-only" "^--- mode.txt (Modified)" "$R"
	has "$S: symlink note" "^  modified link (symlink target a.txt -> sub)" "$R"
	has "$S: type change note" "^  modified sub/deep/keep.txt (type file -> dir)" "$R"
	has "$S: fifo listed, not restored" "^  added    fifo (special file, not restored)" "$R"
	[ -e "$WS/fifo" ] && bad "$S: fifo not restored" || ok "$S: fifo not restored"
	if [ "$(id -u)" = 0 ]; then
		has "$S: device listed" "^  added    dev (special file, not restored)" "$R"
		[ -e "$WS/dev" ] && bad "$S: device not restored" || ok "$S: device not restored"
	fi
	has "$S: control chars escaped" 'bad\\x1b\[31mname' "$R"
	hasnt "$S: no raw escape" "$(printf '\033')" "$R"
	m=$(stat -c %a "$WS/suid"); [ "$m" = 755 ] && ok "$S: setuid stripped" || bad "$S: setuid stripped ($m)"
	[ -L "$WS/escape" ] && ok "$S: escaping symlink kept as a link" || bad "$S: escape is a link"
	[ "$(cat "$T/outside-$S/f")" = outside ] && [ "$(ls "$T/outside-$S" | grep -vc hl-target)" = 1 ] \
		&& ok "$S: nothing written outside" || bad "$S: outside untouched"
	if [ "$S" = directory ]; then
		echo changed >>"$WS/hardlink"
		[ "$(cat "$T/outside-$S/hl-target")" = secret ] && ok "$S: hard link broken at restore" || bad "$S: hard link shared with outside"
	fi
	[ ! -e "$WS/LOCKED_BY_LLMDEVSILO" ] && ok "$S: marker removed" || bad "$S: marker removed"
	[ "$(stat -c %a "$WS/sub")" = 750 ] && ok "$S: dir mode restored" || bad "$S: dir mode restored"
	[ "$(cat "$WS/a.txt")" = "$(printf 'one\nTWO\nthree\nfour')" ] && ok "$S: contents restored" || bad "$S: contents restored"
	[ -z "$(ls "$T/state/workspaces")" ] && ok "$S: entry directory removed" || bad "$S: entry dir left: $(ls "$T/state/workspaces")"
	mount | grep -q "$T/state" && bad "$S: nothing mounted" || ok "$S: nothing mounted"

	expect "$S: review again" "${W[@]}" review "$WS"
	has "$S: saved review" "!! .git/hooks/pre-commit" "$T/out"
	expect "$S: review --json" "${W[@]}" review "$WS" --json
	has "$S: json flags" '"auto_exec_flags"' "$T/out"
	has "$S: json kind" '"kind": "deleted"' "$T/out"
	expect_fail "$S: unlock while unlocked" 1 "not locked" "${W[@]}" unlock "$WS"
	expect "$S: status unlocked" "${W[@]}" status "$WS"
	has "$S: status says no" "^locked: no" "$T/out"

	# package.json scripts change, --rules adds a rule, --json unlock
	printf 'return { { name = "notes.md", reason = "team says: read notes" } }\n' >"$T/team.lua"
	expect "$S: relock" "${W[@]}" lock "$WS" --strategy "$S"
	# a harness that ignores SIGTERM is killed after the grace period
	bash -c 'trap "" TERM; while :; do sleep 1; done' & H=$!; SLEEPERS+=($H)
	M=$("$DRV" attach "$WS" $H)
	printf '{"name":"x","version":"1.0.1","scripts":{"test":"t","postinstall":"curl x|sh"}}\n' >"$M/package.json"
	echo hi >"$M/notes.md"
	expect "$S: unlock --rules --json" env SILO_WS_TERM_GRACE_MS=300 "${W[@]}" unlock "$WS" --rules "$T/team.lua" --json
	sleep 0.2; kill -0 $H 2>/dev/null && bad "$S: TERM-ignoring harness killed" || ok "$S: TERM-ignoring harness killed"
	has "$S: package.json scripts flagged" '"reason": "npm lifecycle' "$T/out"
	has "$S: --rules rule applied" '"reason": "team says: read notes"' "$T/out"
	has "$S: json unlocked" "\"unlocked\": \"$WS\"" "$T/out"
	printf 'return { { name = "x" } }\n' >"$T/broken.lua"
	expect "$S: relock 2" "${W[@]}" lock "$WS" --strategy "$S"
	expect_fail "$S: broken rules abort before any change" 1 "broken.lua" "${W[@]}" unlock "$WS" --rules "$T/broken.lua"
	[ -f "$WS/LOCKED_BY_LLMDEVSILO" ] && ok "$S: still locked after broken rules" || bad "$S: still locked"
	expect "$S: unlock 3" "${W[@]}" unlock "$WS"
	has "$S: no changes" "^Changes since lock: 0" "$T/out"
	has "$S: no flags" "(no changed auto-exec surfaces)" "$T/out"
done

for S in "${strategies[@]}"; do
	[ "$S" = directory ] && continue
	echo "# $S: image size and a full image"
	WS=$T/full-$S; mkdir -p "$WS"; echo hi >"$WS/README"
	expect "$S: lock --size 80M" "${W[@]}" lock "$WS" --strategy "$S" --size 80M
	has "$S: lock says the image size" "^warning: image size 80.0 MiB" "$T/out"
	sleep 600 & H=$!
	M=$("$DRV" attach "$WS" $H)
	dd if=/dev/zero of="$M/fill" bs=1M count=200 >/dev/null 2>"$T/dd"
	has "$S: writing past the size fails with ENOSPC" "No space left on device" "$T/dd"
	expect "$S: unlock a full image" "${W[@]}" unlock "$WS"
	has "$S: the review says the image filled up" "the workspace image (.*) filled up during the session" "$T/out"
	expect "$S: relock with the automatic size" "${W[@]}" lock "$WS" --strategy "$S"
	has "$S: automatic size has headroom" "^warning: image size [0-9.]* GiB" "$T/out"
	expect "$S: unlock again" "${W[@]}" unlock "$WS"
	hasnt "$S: no full-image note when there was room" "filled up" "$T/out"
done

echo "# errors"
expect_fail "lock /" 1 "refusing to lock /" "${W[@]}" lock /
mkdir -p "$T/home"
expect_fail "lock \$HOME" 1 "home directory" env HOME="$T/home" "${W[@]}" lock "$T/home"
expect_fail "lock the state dir" 1 "state directory $T/state" "${W[@]}" lock "$T/state"
expect_fail "lock inside the state dir" 1 "state directory" "${W[@]}" lock "$T/state/workspaces/x"
expect_fail "lock a parent of the state dir" 1 "state directory" "${W[@]}" lock "$T"
expect_fail "unlock a missing dir" 1 "not locked" "${W[@]}" unlock "$T/missing"
expect "status of a missing dir" "${W[@]}" status "$T/missing"
has "missing dir not locked" "^locked: no" "$T/out"
expect_fail "lock refuses a missing dir" 1 "does not exist (to create it and lock it, add --create)" "${W[@]}" lock "$T/new/dir" --strategy directory
[ ! -e "$T/new" ] && ok "refused lock created nothing" || bad "refused lock created $T/new"
expect "lock --create creates a missing dir" "${W[@]}" lock "$T/new/dir" --strategy directory --create
[ -f "$T/new/dir/LOCKED_BY_LLMDEVSILO" ] && ok "created and locked" || bad "created and locked"
# nested workspaces: refused both ways, naming the other one
mkdir -p "$T/nest/sub/deeper" && echo x >"$T/nest/sub/f"
expect "lock the inner workspace" "${W[@]}" lock "$T/nest/sub" --strategy directory
expect_fail "lock around a locked workspace" 1 "contains the locked workspace $T/nest/sub" "${W[@]}" lock "$T/nest" --strategy directory
expect_fail "lock inside a locked workspace" 1 "lies inside the locked workspace $T/nest/sub" "${W[@]}" lock "$T/nest/sub/deeper" --create --strategy directory
expect "unlock the inner workspace" "${W[@]}" unlock "$T/nest/sub"
[ -w "$T/nest/sub" ] && [ ! -e "$T/nest/sub/LOCKED_BY_LLMDEVSILO" ] && ok "inner workspace writable, no marker" || bad "inner workspace left locked"
expect "lock the outer one afterwards" "${W[@]}" lock "$T/nest" --strategy directory
expect "unlock the outer one" "${W[@]}" unlock "$T/nest"
expect_fail "bad --size is a usage error" 2 "invalid --size" "${W[@]}" lock "$T/nest" --size 12parsecs
expect_fail "bad strategy is a usage error" 2 "strategy" "${W[@]}" lock "$T/x" --strategy zfs
expect_fail "unknown option" 2 "unknown option" "${W[@]}" status --frobnicate
expect_fail "missing path" 2 "PATH" "${W[@]}" unlock
mkdir -p "$T/fifo-ws" && mkfifo "$T/fifo-ws/p"
expect_fail "special file refuses the lock" 1 "unsupported file type (FIFO)" "${W[@]}" lock "$T/fifo-ws" --strategy directory
[ -p "$T/fifo-ws/p" ] && [ ! -e "$T/fifo-ws/LOCKED_BY_LLMDEVSILO" ] && ok "refused lock rolled back" || bad "refused lock rolled back"
expect "status after refused lock" "${W[@]}" status "$T/fifo-ws"
has "refused lock left no entry" "^locked: no" "$T/out"
mkdir -p "$T/utf8-ws" && touch "$T/utf8-ws/$(printf 'bad\377name')"
expect_fail "non-UTF-8 name refuses the lock" 1 "not UTF-8: bad\\\\xffname" "${W[@]}" lock "$T/utf8-ws" --strategy directory
[ ! -e "$T/utf8-ws/LOCKED_BY_LLMDEVSILO" ] && [ "$(ls "$T/utf8-ws" | wc -l)" = 1 ] && ok "non-UTF-8 lock rolled back" || bad "non-UTF-8 lock rolled back"
# two concurrent locks of one path: exactly one wins, the tree is intact
mkws "$T/race"
"${W[@]}" lock "$T/race" --strategy directory >"$T/r1" 2>"$T/e1" & P1=$!
"${W[@]}" lock "$T/race" --strategy directory >"$T/r2" 2>"$T/e2" & P2=$!
wait $P1; r1=$?; wait $P2; r2=$?
if [ $((r1 + r2)) = 1 ] && cat "$T/e1" "$T/e2" | grep -q "already locked"; then ok "concurrent locks: one wins"
else bad "concurrent locks: rc $r1/$r2 $(cat "$T/e1" "$T/e2")"; fi
expect "unlock the raced dir" "${W[@]}" unlock "$T/race"
has "raced dir restored unchanged" "^Changes since lock: 0" "$T/out"
# registry lock held by someone else: the timeout message of cli.md 12
flock "$T/state/workspaces.db.lock" sleep 5 &
FL=$!; sleep 0.3
expect_fail "registry lock timeout" 1 "timed out.*registry lock $T/state/workspaces.db.lock" env SILO_WS_LOCK_TIMEOUT_MS=500 "${W[@]}" lock "$T/other" --create --strategy directory
kill $FL 2>/dev/null; wait $FL 2>/dev/null
expect "unlock the created dir" "${W[@]}" unlock "$T/new/dir"

echo "# $fails failure(s)"
[ $fails = 0 ]
