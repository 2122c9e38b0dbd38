#!/bin/bash
# Unlock against trees the agent built to hurt it (everything in the
# workspace at unlock is the attacker's): a 2,000-deep directory chain, a
# directory without permissions, a FIFO, sparse files of terabytes, a file
# with 20 hard links, a workspace entry named like the restore's stage, the
# user's own lost+found. Each must unlock, lose nothing of the user's,
# write no more than the image holds, and say in the review what it did.
# Runs every strategy that works for the current user (workspace_user.sh
# runs it again as an unprivileged user).
set -u
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
DRV=${WS_DRIVER:-$BUILD/tests/test_workspace}
export SILO_LUA_DIR=${SILO_LUA_DIR:-$SRC/lua}
[ -x "$DRV" ] || { echo "skip: no test driver $DRV"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
W=("$DRV" workspace)
T=$(mktemp -d /tmp/ws-hostile-XXXXXX)
export LLMDEVSILO_STATE_DIR=$T/state
cleanup() {
	kill -9 $(jobs -p) 2>/dev/null
	for m in "$T"/state/workspaces/*/mnt; do umount -l "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null; done
	[ -n "${XFS:-}" ] && umount -l "$XFS" 2>/dev/null
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
has() { if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1 (no '$2' in $3)"; head -30 "$3"; fi; }
hasnt() { if grep -q -- "$2" "$3"; then bad "$1 ('$2' in $3)"; else ok "$1"; fi; }

strategies=(directory)
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && [ -e /dev/loop-control ]; then strategies+=(ext4_loop); fi
# ext4_fuse is left out: fuse2fs needs minutes for a chain this deep (its
# inode lookups are slow), longer than the suite's budget
# as root, the directory strategy again across filesystems: the restore goes
# through a stage directory inside the workspace
XFS=""
if [ "$(id -u)" = 0 ] && mkdir -p "$T/xfs" && mount -t tmpfs -o size=512m tmpfs "$T/xfs"; then
	XFS=$T/xfs
	strategies+=(directory@xfs)
fi

# depth DIR: how many levels the chain d/d/d... under DIR has
depth() { python3 - "$1" <<'PY'
import os, sys
os.chdir(sys.argv[1]); n = 0
while os.path.isdir("d"):
    os.chdir("d"); n += 1
print(n)
PY
}
chain() { python3 - "$1" "$2" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for _ in range(int(sys.argv[2])):
    os.mkdir("d"); os.chdir("d")
open("bottom", "w").write("deep\n")
PY
}

# WS_STRATEGIES="a b" restricts the run (debugging one strategy)
[ -n "${WS_STRATEGIES:-}" ] && read -r -a strategies <<<"$WS_STRATEGIES"
for SV in "${strategies[@]}"; do
	S=${SV%@*}
	base=$T; [ "$SV" != "$S" ] && base=$XFS
	WS=$base/ws-$S; mkdir -p "$WS/lost+found"
	echo "# $SV"
	echo mine >"$WS/lost+found/keep"          # the user's own lost+found
	mkdir -p "$WS/.silo-restore-stage"         # named like the old fixed stage
	echo user >"$WS/.silo-restore-stage/file"
	echo hi >"$WS/README"
	"${W[@]}" lock "$WS" --strategy "$S" >"$T/out" 2>"$T/err" || { bad "$SV: lock: $(cat "$T/err")"; continue; }
	sleep 600 & H=$!
	M=$("$DRV" attach "$WS" $H) || { bad "$SV: attach"; continue; }
	[ -f "$M/lost+found/keep" ] && ok "$SV: the user's lost+found is in the container" || bad "$SV: lost+found missing inside"
	chain "$M" 2000
	mkdir "$M/noperm"; echo secret >"$M/noperm/f"; chmod 000 "$M/noperm"
	mkfifo "$M/fifo"
	truncate -s 3G "$M/sparse3g"
	truncate -s 15T "$M/sparse15t" 2>/dev/null || truncate -s 1T "$M/sparse15t"
	head -c 20000000 /dev/urandom >"$M/linked"
	for i in $(seq 2 20); do ln "$M/linked" "$M/link$i"; done
	t0=$(date +%s)
	"${W[@]}" unlock "$WS" >"$T/review" 2>"$T/err"; rc=$?
	t1=$(date +%s)
	[ $rc = 0 ] && ok "$SV: unlock succeeds" || { bad "$SV: unlock rc $rc: $(head -c 600 "$T/err")"; continue; }
	echo "# $SV: unlock took $((t1 - t0)) s"
	R=$T/review
	d=$(depth "$WS")
	[ "$d" = 1024 ] && ok "$SV: the chain is restored to 1024 levels" || bad "$SV: chain depth $d"
	has "$SV: the review says what was left out" "nested deeper than 1024 directory levels" "$R"
	chmod 700 "$WS/noperm" 2>/dev/null
	[ "$(cat "$WS/noperm/f" 2>/dev/null)" = secret ] && ok "$SV: chmod 000 directory restored with its file" || bad "$SV: noperm/f missing"
	has "$SV: mode 000 kept and reported" "added    noperm" "$R"
	[ -e "$WS/fifo" ] && bad "$SV: fifo not restored" || ok "$SV: fifo not restored"
	has "$SV: fifo listed" "fifo.*special file, not restored" "$R"
	[ "$(cat "$WS/lost+found/keep" 2>/dev/null)" = mine ] && ok "$SV: the user's lost+found kept" || bad "$SV: lost+found lost"
	[ "$(cat "$WS/.silo-restore-stage/file" 2>/dev/null)" = user ] && ok "$SV: a .silo-restore-stage of the user's survives" || bad "$SV: .silo-restore-stage lost"
	hasnt "$SV: nothing of the user's reported deleted" "deleted  " "$R"
	ls -a "$WS" | grep -q '^\.silo-stage-' && bad "$SV: a stage directory was left behind" || ok "$SV: no stage left behind"
	alloc=$(du -k "$WS/sparse3g" | cut -f1)
	[ "$(stat -c %s "$WS/sparse3g")" = 3221225472 ] && [ "$alloc" -lt 1024 ] && ok "$SV: 3 GiB sparse file restored sparse (${alloc} KiB)" || bad "$SV: sparse3g: $(stat -c %s "$WS/sparse3g") bytes, $alloc KiB"
	[ "$(du -k "$WS/sparse15t" | cut -f1)" -lt 1024 ] && ok "$SV: terabyte sparse file costs nothing" || bad "$SV: sparse15t allocated"
	has "$SV: sparse files flagged" "!! sparse3g — sparse file: 3.0 GiB apparent size" "$R"
	has "$SV: the terabyte one too" "!! sparse15t — sparse file" "$R"
	inodes=$(stat -c %i "$WS"/linked "$WS"/link* | sort -u | wc -l)
	[ "$inodes" = 1 ] && [ "$(stat -c %h "$WS/linked")" = 20 ] && ok "$SV: 20 hard links restored as links" || bad "$SV: hard links: $inodes inodes, $(stat -c %h "$WS/linked") links"
	total=$(du -sk "$WS" | cut -f1)
	[ "$total" -lt 60000 ] && ok "$SV: restored tree takes ${total} KiB (no amplification)" || bad "$SV: restored tree takes ${total} KiB"
	[ -z "$(ls "$T/state/workspaces")" ] && ok "$SV: entry removed" || bad "$SV: entry left"
	kill -9 $H 2>/dev/null
done

# a hard link to a file outside the workspace still gets its own copy
# (directory strategy), once for all its links
WS=$T/ws-out; mkdir -p "$WS" "$T/outside"; echo hi >"$WS/README"; echo outside >"$T/outside/t"
"${W[@]}" lock "$WS" --strategy directory >/dev/null 2>&1
sleep 600 & H=$!
M=$("$DRV" attach "$WS" $H)
ln "$T/outside/t" "$M/a"; ln "$T/outside/t" "$M/b"
"${W[@]}" unlock "$WS" >"$T/review" 2>"$T/err" && ok "outside hard link: unlock" || bad "outside hard link: unlock $(cat "$T/err")"
echo changed >>"$WS/a"
[ "$(cat "$T/outside/t")" = outside ] && ok "outside hard link broken" || bad "outside file changed through the workspace"
[ "$(stat -c %i "$WS/a")" = "$(stat -c %i "$WS/b")" ] && ok "its two links inside share the one copy" || bad "two copies made"

# the user's tree deeper than the cap is refused at lock, nothing changes
WS=$T/ws-deep; mkdir -p "$WS"; chain "$WS" 1100
"${W[@]}" lock "$WS" --strategy directory >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "nested deeper than 1024 directory levels" "$T/err" && ok "a too deep tree refuses the lock" || bad "deep lock rc $rc: $(head -c 300 "$T/err")"
[ "$(depth "$WS")" = 1100 ] && [ ! -e "$WS/LOCKED_BY_LLMDEVSILO" ] && ok "refused deep lock rolled back" || bad "deep lock not rolled back"

echo "# $fails failure(s)"
[ $fails = 0 ]
