#!/bin/bash
# The command line's conventions, for every command in the table: --opt value
# and --opt=value alike, a usage error is one line plus a pointer to --help
# (exit 2), --help on every command, colour only on request of a terminal,
# and completion candidates from the same table.
. "$SILO_SRC/tests/integration/lib.bash"

usage_err() { # usage_err DESC PATTERN HELP-CMD ARGS...: exit 2, two lines, the pointer
	local d=$1 pat=$2 hint=$3; shift 3
	set +e; "$SILO_BIN" "$@" >"$T/o" 2>"$T/e"; local rc=$?; set -e
	check "$d: exit 2" test "$rc" -eq 2
	check "$d: names the error" grep -q -- "^silo: .*$pat" "$T/e"
	check "$d: points at --help" grep -qx -- "see '$hint'" "$T/e"
	check "$d: two lines, nothing on stdout" sh -c "[ \$(wc -l <'$T/e') -eq 2 ] && [ ! -s '$T/o' ]"
}
usage_err "unknown option" "unknown option '--bogus'" "silo run --help" run --bogus
usage_err "unknown option with a value" "unknown option '--bogus'" "silo run --help" run --bogus=1
usage_err "bad choice" "invalid --sandbox 'zfs' (auto, native" "silo run --help" run --sandbox=zfs
usage_err "bad choice, spaced" "invalid --llm 'x'" "silo run --help" run --llm x
usage_err "missing value" "needs a value" "silo run --help" run --workspace
usage_err "flag with a value" "takes no value" "silo run --help" run --create=yes
usage_err "single option twice" "given twice" "silo run --help" run --llm mock --llm=mock
usage_err "missing positional" "missing JOURNAL" "silo journal export --help" journal export
usage_err "extra positional" "unexpected argument 'b'" "silo workspace lock --help" workspace lock a b
usage_err "workspace strategy" "invalid --strategy 'zfs'" "silo workspace lock --help" workspace lock "$WS" --strategy=zfs
usage_err "unknown command" "unknown command 'frob'" "silo --help" frob
usage_err "unknown subcommand" "unknown workspace command 'frob'" "silo workspace --help" workspace frob
usage_err "bad integer" "--timeout needs an integer" "silo debug sandbox-exec --help" debug sandbox-exec --workspace "$WS" --timeout=soon

# --opt=value and --opt value reach the command alike
"$SILO_BIN" replay-test -o "$T/a.lua" /nonexistent.db 2>"$T/e1" || true
"$SILO_BIN" replay-test -o="$T/a.lua" /nonexistent.db 2>"$T/e2" || true
check "-o=V and -o V alike" cmp -s "$T/e1" "$T/e2"
"$SILO_BIN" workspace lock "$WS" --strategy=directory >"$T/o" 2>&1
check "--strategy=directory locks" grep -q "^Locked " "$T/o"
"$SILO_BIN" workspace status "$WS" --json >"$T/s1"
check "status --json" grep -q '"strategy": *"directory"' "$T/s1"
"$SILO_BIN" workspace unlock -- "$WS" >"$T/o" 2>&1
check "positional after --" grep -q "^Unlocked " "$T/o"

# --help (and help CMD) for every command, on stdout, exit 0
"$SILO_BIN" --help >"$T/top"
check "top-level help lists run" grep -q "^  run " "$T/top"
for c in "run" "workspace lock" "workspace unlock" "workspace status" "workspace list" \
	"workspace review" "shell" "replay-test" "journal export" "journal list" \
	"harnesses list" "doctor" "debug fsm" "debug seccomp" "debug sandbox-exec" \
	"debug proxy"; do
	# shellcheck disable=SC2086
	"$SILO_BIN" $c --help >"$T/h" 2>"$T/he"; rc=$?
	check "$c --help: exit 0 and usage" sh -c "[ $rc -eq 0 ] && grep -q '^usage: silo $c' '$T/h' && [ ! -s '$T/he' ]"
	# shellcheck disable=SC2086
	check "help $c == $c --help" sh -c "'$SILO_BIN' help $c | cmp -s - '$T/h'"
	check "$c --help: no spec references" sh -c "! grep -Eq '[a-z]+\\.md [0-9]' '$T/h'"
done
for g in workspace journal harnesses debug; do
	check "$g --help lists its commands" sh -c "'$SILO_BIN' $g --help | grep -q '^  silo $g '"
done
check "--version on a subcommand" sh -c "'$SILO_BIN' doctor --version | grep -q '^silo '"
check "--help as an option's value is the value" sh -c "! '$SILO_BIN' run --prompt --help 2>/dev/null | grep -q '^usage'"


# colour: only on a terminal (script(1) gives one), never with NO_COLOR set
# or TERM=dumb; the unlock review of a real change is what is coloured
if command -v script >/dev/null && "$SILO_BIN" doctor >/dev/null 2>&1; then
	unlock_with() { # unlock_with OUT ENV...: a session changes a file, then unlock on a pty
		local out=$1 c="$T/colour-$1"; shift
		cp -r "$FIX/demo-project" "$c"
		"$SILO_BIN" run --workspace "$c" --create --llm mock --sandbox native \
			--frontend headless --script "$FIX/demo.lua" --prompt fix >/dev/null 2>&1
		if [ "$1" = pipe ]; then
			TERM=xterm "$SILO_BIN" workspace unlock "$c" >"$T/$out" 2>&1
		else
			script -qec "env $* '$SILO_BIN' workspace unlock '$c'" /dev/null </dev/null >"$T/$out" 2>&1
		fi
		grep -q 'calc.sh' "$T/$out"
	}
	esc=$'\033['
	check "colour on a terminal" sh -c "$(declare -f unlock_with); T='$T' FIX='$FIX' SILO_BIN='$SILO_BIN'; unlock_with c1 TERM=xterm && grep -qF '${esc}3' '$T/c1'"
	for v in "NO_COLOR=1 TERM=xterm" "TERM=dumb" "pipe"; do
		check "no colour with $v" sh -c "$(declare -f unlock_with); T='$T' FIX='$FIX' SILO_BIN='$SILO_BIN'; unlock_with c-${v%%=*} $v && ! grep -qF '${esc}3' '$T/c-${v%%=*}'"
	done
fi

# completion from the table
comp() { "$SILO_BIN" __complete "$@"; }
check "completes commands" sh -c "'$SILO_BIN' __complete wor | grep -qx workspace"
check "completes subcommands" sh -c "'$SILO_BIN' __complete workspace un | grep -qx unlock"
check "completes flags" sh -c "'$SILO_BIN' __complete run --allow-d | grep -qx -- --allow-domain"
check "completes sandbox kinds" sh -c "'$SILO_BIN' __complete run --sandbox '' | grep -qx native"
check "completes backends after =" sh -c "'$SILO_BIN' __complete run --llm=open | grep -qx -- --llm=openai-ws"
check "bash's split --llm = value" sh -c "'$SILO_BIN' __complete run --llm = an | grep -qx anthropic"
check "a given single flag is not offered again" sh -c "! '$SILO_BIN' __complete run --llm mock --ll | grep -qx -- --llm"
check "files for --script" sh -c "'$SILO_BIN' __complete run --script '' | grep -qx :file"
"$SILO_BIN" workspace lock "$WS" --strategy directory >/dev/null
check "completes locked workspaces" sh -c "'$SILO_BIN' __complete workspace unlock '' | grep -qx '$(cd "$WS" && pwd -P)'"
check "completes locked workspaces for --workspace" sh -c "'$SILO_BIN' __complete shell --workspace '' | grep -qx '$(cd "$WS" && pwd -P)'"
"$SILO_BIN" workspace unlock "$WS" >/dev/null
# the shipped bash script relays those candidates (words as bash splits them)
mkdir -p "$T/bin" && ln -sf "$SILO_BIN" "$T/bin/silo"
bcomp() { # bcomp WORD...: what bash would offer for the last word
	PATH="$T/bin:$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		_silo; printf "%s\n" "${COMPREPLY[@]}"' _ "$SILO_SRC/completions/silo.bash" silo "$@"
}
check "bash: sandbox kinds" test "$(bcomp run --sandbox na)" = native
check "bash: --opt = value" test "$(bcomp run --llm = anth)" = anthropic
check "bash: subcommands" test "$(bcomp workspace unl)" = unlock
check "bash: files for --script" sh -c "cd '$FIX' && [ \"\$(PATH='$T/bin:$PATH' bash -c '. \"\$1\"; COMP_WORDS=(silo run --script demo.l); COMP_CWORD=3; _silo; printf \"%s\\n\" \"\${COMPREPLY[@]}\"' _ '$SILO_SRC/completions/silo.bash')\" = demo.lua ]"
check "nothing after -- of shell" sh -c "[ -z \"\$('$SILO_BIN' __complete shell --workspace x -- l)\" ]"
finish
