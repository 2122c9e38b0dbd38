#!/bin/bash
# README command (a): sets up silo and runs a demo session. The model is the
# mock LLM replaying a shipped, clearly scripted fixture (no API key needed);
# the sandbox, the workspace lock and the journal are real.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/setup.sh" "$src/build"
silo="$src/build/silo"

demo=$(mktemp -d "${TMPDIR:-/tmp}/silo-demo.XXXXXX")
export LLMDEVSILO_STATE_DIR="$demo/state"
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
set +e
"$silo" run --workspace "$demo/project" --create --llm mock --sandbox "$sandbox" \
	--frontend headless --script "$fixture" \
	--prompt "Fix the failing test in this project."
rc=$?
set -e
echo "== exit code $rc; unlocking and reviewing the changes:"
"$silo" workspace unlock "$demo/project" || true
echo "== state directory (journals): $LLMDEVSILO_STATE_DIR"
exit $rc
