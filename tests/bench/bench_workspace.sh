#!/bin/bash
# Lock + unlock of a generated 50,000-file tree (mixed sizes) against
# `cp -a` of the same tree and against `git add -A && git diff --cached
# --stat`, all measured in this run. Prints seconds and ratios; never fails
# on timing. Goal (issue 5, decisions 39): lock + unlock <= 2x cp -a with
# ext4_loop. Usage: bench_workspace.sh [FILES] (default 50000).
set -eu
SRC=${SILO_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SILO_BUILD:-$SRC/build}
DRV=${WS_DRIVER:-$BUILD/tests/test_workspace}
export SILO_LUA_DIR=${SILO_LUA_DIR:-$SRC/lua}
if [ -n "${SILO_BIN:-}" ] && "$SILO_BIN" workspace list >/dev/null 2>&1; then
	W=("$SILO_BIN" workspace)
elif [ -x "$DRV" ]; then
	W=("$DRV" workspace)
else
	echo "skip: neither 'silo workspace' nor $DRV"; exit 77
fi
N=${1:-50000}
T=$(mktemp -d /tmp/ws-bench-XXXXXX)
export LLMDEVSILO_STATE_DIR=$T/state
trap 'for m in "$T"/state/workspaces/*/mnt; do umount -l "$m" 2>/dev/null || true; done; rm -rf "$T"' EXIT

echo "generating $N files..."
python3 - "$T/tree" "$N" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
words = [b"alpha", b"beta", b"gamma", b"delta", b"return", b"int", b"if", b"else", b"{", b"}"]
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "s%03d" % (i % 997 % 100))
    os.makedirs(d, exist_ok=True)
    r = rnd.random()
    if r < 0.80:
        size = rnd.randint(0, 4096)
    elif r < 0.98:
        size = rnd.randint(4096, 32768)
    else:
        size = rnd.randint(32768, 262144)
    if rnd.random() < 0.7:   # text
        out = bytearray()
        while len(out) < size:
            out += b" ".join(rnd.choice(words) for _ in range(8)) + b"\n"
        data = bytes(out[:size])
    else:
        data = os.urandom(size)
    with open(os.path.join(d, "f%06d.%s" % (i, "c" if rnd.random() < 0.5 else "bin")), "wb") as f:
        f.write(data)
PY
BYTES=$(du -sb "$T/tree" | cut -f1)
echo "tree: $N files, $((BYTES / 1048576)) MiB"
now() { date +%s.%N; }
el() { echo "$2 - $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

sync
# Copies are kept until exit: deleting 50,000 files is slow with the
# discard mount option and would slow the next measurement.
t0=$(now); cp -a "$T/tree" "$T/copy"; t1=$(now); CP=$(el "$t0" "$t1")
cp -a "$T/tree" "$T/gitws"
( cd "$T/gitws" && git init -q . && git config user.email b@x && git config user.name b )
t0=$(now); ( cd "$T/gitws" && git add -A && git diff --cached --stat >/dev/null ); t1=$(now); GIT=$(el "$t0" "$t1")
printf '%-34s %8.2f s\n' "cp -a" "$CP"
printf '%-34s %8.2f s  (%sx cp -a)\n' "git add -A && git diff --cached" "$GIT" "$(ratio "$GIT" "$CP")"

strategies=(directory)
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then strategies=(ext4_loop directory); fi
for S in "${strategies[@]}"; do
	sync
	t0=$(now); "${W[@]}" lock "$T/tree" --strategy "$S" >/dev/null; t1=$(now)
	"${W[@]}" unlock "$T/tree" >"$T/review"; t2=$(now)
	L=$(el "$t0" "$t1"); U=$(el "$t1" "$t2"); B=$(el "$t0" "$t2")
	grep -q '^Changes since lock: 0$' "$T/review" || echo "warning: unexpected changes in the review"
	# unlock leaves the old blobs to a background deleter: let it finish
	# before the next measurement (not timed)
	while ls -A "$T/state/workspaces" | grep -q '^.trash-'; do sleep 1; done
	printf '%-34s %8.2f s  (lock %.2f + unlock %.2f; %sx cp -a, %sx git)\n' "silo lock+unlock ($S)" "$B" "$L" "$U" \
		"$(ratio "$B" "$CP")" "$(ratio "$B" "$GIT")"
done
