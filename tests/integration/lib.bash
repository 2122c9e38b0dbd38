# Shared helpers for the integration tests (sourced). Each test gets a fresh
# state directory and workspace under a temp dir that is removed at exit.
set -u
: "${SILO_BIN:?SILO_BIN must point at the silo binary}"
: "${SILO_SRC:?SILO_SRC must point at the source tree}"
FIX="$SILO_SRC/tests/fixtures"
T=$(mktemp -d "${TMPDIR:-/tmp}/silo-test.XXXXXX")
export LLMDEVSILO_STATE_DIR="$T/state"
export SILO_LUA_DIR="$SILO_SRC/lua"
# set +e: under set -e a chmod racing a vanishing file would turn a pass
# into a failure with no message.
cleanup() { local rc=$?; set +e; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T" 2>/dev/null; exit $rc; }
trap cleanup EXIT
WS="$T/ws"
mkdir -p "$WS"
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # check "description" command...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
contains() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }

# silo run with mock LLM, sandbox and frontend on a fixture; stdout, stderr
# and the exit code land in $T/out, $T/err, $RC.
run_mock() { # run_mock FIXTURE [extra args...]
	local fx=$1; shift
	set +e
	timeout 60 "$SILO_BIN" run --workspace "$WS" --create --deterministic \
		--frontend mock --llm mock --sandbox mock --script "$fx" "$@" \
		>"$T/out" 2>"$T/err"
	RC=$?
	set -e
	JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
}

run_headless() { # run_headless FIXTURE PROMPT [extra args...]
	local fx=$1 prompt=$2; shift 2
	set +e
	timeout 60 "$SILO_BIN" run --workspace "$WS" --create --deterministic \
		--frontend headless --prompt "$prompt" --llm mock --sandbox mock \
		--script "$fx" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	JOURNAL=$(sed -n 's/^journal: //p' "$T/err" | tail -n1)
}

# Events of the journal as compact JSON lines (kind + payload, no seq/time).
events() {
	"$SILO_BIN" journal export "$JOURNAL" | grep '"entry":"event"'
}

finish() {
	echo "1..$n"
	if [ "$fails" -ne 0 ]; then
		echo "# $fails failed; stderr of the last run:"; sed 's/^/# /' "$T/err" 2>/dev/null
		exit 1
	fi
	exit 0
}
