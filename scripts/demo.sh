#!/bin/bash
# README command (a): sets up silo and runs a demo session. The model is the
# mock LLM replaying a shipped, clearly scripted fixture (no API key needed);
# the sandbox, the workspace lock and the journal are real.
# Usage: scripts/demo.sh [--keep]   (--keep leaves the project and journal behind)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
keep=0
case ${1:-} in
--keep) keep=1 ;;
"") ;;
*) echo "demo.sh: unknown option '$1' (only --keep)" >&2; exit 2 ;;
esac
"$src/scripts/setup.sh" "$src/build"
silo="$src/build/silo"

demo=$(mktemp -d "${TMPDIR:-/tmp}/silo-demo.XXXXXX")
export LLMDEVSILO_STATE_DIR="$demo/state"
locked=0
finish() {
	local rc=$?
	# an interrupted demo still gives the directory back before removing it
	[ "$locked" = 1 ] && "$silo" workspace unlock "$demo/project" >/dev/null 2>&1 || true
	if [ "$keep" = 1 ] || [ "$locked" = 1 ]; then
		echo "== the demo's project and journal are in $demo (remove it when done)"
	else
		rm -rf "$demo"
		echo "== removed the demo's project and journal ($demo); scripts/demo.sh --keep keeps them"
	fi
	exit $rc
}
trap finish EXIT
mkdir -p "$demo/project"
cp -r "$src/tests/fixtures/demo-project/." "$demo/project/"

sandbox=${SILO_DEMO_SANDBOX:-}
if [ -z "$sandbox" ]; then
	if "$silo" doctor >/dev/null 2>&1; then sandbox=native; else sandbox=mock; fi
fi
echo "== silo demo: a SCRIPTED model (mock LLM playing tests/fixtures/demo.lua), sandbox: $sandbox"
echo "== workspace: $demo/project (locked for the session)"
fixture="$src/tests/fixtures/demo.lua"
[ "$sandbox" = mock ] && fixture="$src/tests/fixtures/demo-mock.lua"
locked=1
set +e
"$silo" run --workspace "$demo/project" --create --llm mock --sandbox "$sandbox" \
	--frontend headless --script "$fixture" \
	--prompt "Fix the failing test in this project."
rc=$?
set -e
echo "== exit code $rc; unlocking and reviewing the changes:"
if "$silo" workspace unlock "$demo/project"; then locked=0; fi
if [ "$keep" = 1 ]; then
	echo "== the session's journal: $(ls "$LLMDEVSILO_STATE_DIR"/journals/*.db 2>/dev/null | head -n1)"
	echo "== (silo journal export JOURNAL shows every step; silo replay-test turns it into a test)"
fi
exit $rc
