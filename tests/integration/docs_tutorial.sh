#!/bin/bash
# docs/lua-tutorial.md works as written: its ```lua file=NAME blocks are
# written out, its ```sh run blocks run in order (silo on PATH), and every
# line of each ```text expect block appears in the output of the run block
# before it.
. "$SILO_SRC/tests/integration/lib.bash"
doc=$SILO_SRC/docs/lua-tutorial.md
D=$T/tutorial
mkdir -p "$D/bin"
ln -s "$SILO_BIN" "$D/bin/silo"
# split the page into numbered pieces: file-NAME, run-N, expect-N
awk -v dir="$D" '
	/^```/ && !inside {
		inside = 1; out = ""
		if ($0 ~ /file=/) { sub(/.*file=/, ""); out = dir "/" $0 }
		else if ($0 ~ /^```sh run/) { n++; out = dir "/run-" n }
		else if ($0 ~ /^```text expect/) { out = dir "/expect-" n }
		next
	}
	/^```/ && inside { inside = 0; if (out) close(out); next }
	inside && out { print > out }
' "$doc"
check "the tutorial has files, commands and expected output" \
	sh -c "[ -f '$D/team.lua' ] && [ -f '$D/run-1' ] && [ -f '$D/expect-1' ]"
for r in "$D"/run-*; do
	i=${r##*-}
	(cd "$D" && PATH="$D/bin:$PATH" bash -e "$r") >"$D/out-$i" 2>"$D/err-$i"
	rc=$?
	check "command block $i exits 0 (rc $rc)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$D/err-$i" | head -10
	[ -f "$D/expect-$i" ] || continue
	while IFS= read -r want; do
		check "block $i prints: $want" grep -qF -- "$want" "$D/out-$i"
	done <"$D/expect-$i"
done
finish
