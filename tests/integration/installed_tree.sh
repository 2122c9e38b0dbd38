#!/bin/bash
# A copied or installed tree finds its own resources (docs/architecture.md,
# "Installed layout"): with no SILO_LUA_DIR or SILO_HELPER_BIN, a binary in
# a prefix layout (bin/, libexec/silo/, share/silo/) and one in a flat copy
# can lock, run a shell in the sandbox, run a scripted session and unlock;
# an override that names nothing and a tree without policies are errors.
. "$SILO_SRC/tests/integration/lib.bash"
unset SILO_LUA_DIR SILO_HELPER_BIN SILO_HELPER_BIN_LINUX
set -e
helper=$(dirname "$SILO_BIN")/silo-helper
[ -x "$helper" ] || { echo "1..0 # SKIP no silo-helper beside $SILO_BIN"; exit 77; }
native=1
"$SILO_BIN" doctor >/dev/null 2>&1 || native=0

P=$T/prefix
mkdir -p "$P/bin" "$P/libexec/silo" "$P/share/silo"
cp "$SILO_BIN" "$P/bin/silo"
cp "$helper" "$P/libexec/silo/silo-helper"
cp -r "$SILO_SRC/lua" "$SILO_SRC/policies" "$P/share/silo/"
F=$T/flat
mkdir -p "$F"
cp "$SILO_BIN" "$helper" "$F/"
cp -r "$SILO_SRC/lua" "$SILO_SRC/policies" "$F/"

for tree in "$P/bin" "$F"; do
	pol=$P/share/silo/policies/default.lua
	[ "$tree" = "$F" ] && pol=$F/policies/default.lua
	name=${tree#"$T"/}
	bin=$tree/silo
	ws=$T/ws-${name%%/*}
	mkdir -p "$ws"
	echo "from the user" >"$ws/note.txt"
	# Run from elsewhere so that nothing is found relative to the cwd.
	cd /
	check "$name: lock" "$bin" workspace lock "$ws"
	if [ $native = 1 ]; then
		set +e
		timeout 60 "$bin" shell --workspace "$ws" -- sh -c 'cat /workspace/note.txt; echo made >/workspace/made.txt' \
			</dev/null >"$T/out" 2>"$T/err"
		rc=$?
		set -e
		check "$name: silo shell -- runs in the sandbox (helper found)" test "$rc" -eq 0
		check "$name: the shell sees the workspace" contains "$T/out" "from the user"
	fi
	set +e
	timeout 60 "$bin" run --workspace "$ws" --deterministic --frontend mock --llm mock \
		--sandbox mock --script "$FIX/basic.lua" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	check "$name: a scripted session runs (tools and backends found)" test "$rc" -eq 0
	JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
	"$bin" journal export "$JOURNAL" >"$T/j.jsonl"
	check "$name: the journal lists the shipped default policy" \
		contains "$T/j.jsonl" "\"path\":\"$(realpath "$pol")\""
	set +e
	"$bin" workspace unlock "$ws" </dev/null >"$T/review" 2>&1
	rc=$?
	set -e
	check "$name: unlock (review rules found)" test "$rc" -eq 0
	[ $native = 0 ] || check "$name: the review shows the shell's file" contains "$T/review" "made.txt"
	cd "$T"
done

set +e
SILO_LUA_DIR=$T/nowhere "$P/bin/silo" run --workspace "$T/ws-prefix" --create --deterministic \
	--frontend mock --llm mock --sandbox mock --script "$FIX/basic.lua" >/dev/null 2>"$T/err"
rc=$?
set -e
check "an override naming nothing is an error" test "$rc" -ne 0
check "the error names the variable" contains "$T/err" "SILO_LUA_DIR=$T/nowhere is not a directory"
if [ ! -e /usr/local/share/silo/policies ]; then
	mv "$F/policies" "$F/policies.off"
	set +e
	"$F/silo" run --workspace "$T/ws-flat" --create --deterministic --frontend mock --llm mock \
		--sandbox mock --script "$FIX/basic.lua" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	check "a tree without policies refuses to run" test "$rc" -eq 1
	check "the refusal says what is missing" contains "$T/err" "policies not found"
fi
finish
