#!/bin/bash
# The risk list through `silo run` (sandbox.md 9): risky read-allowlist
# entries are refused with the reason; --allow-risky-path exempts one entry;
# the state directory is never exempt.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
export HOME="$T/home"
mkdir -p "$HOME/.ssh" "$HOME/.aws"
echo "-----BEGIN OPENSSH PRIVATE KEY-----" >"$HOME/.ssh/id_rsa"
try() { # try ARGS... -> $RC, $T/err
	set +e
	timeout 30 "$SILO_BIN" run --workspace "$WS" --deterministic --frontend headless --prompt "Tidy the repo." \
		--llm mock --sandbox mock --script "$FIX/headless.lua" "$@" >/dev/null 2>"$T/err"
	RC=$?
	set -e
}
mkdir -p "$WS"; "$SILO_BIN" workspace lock "$WS" --strategy directory >/dev/null
try --allow-read "$HOME"
check "--allow-read \$HOME refused" test "$RC" -eq 1
check "reason names the exposed path" contains "$T/err" "refusing risky read allowlist entries: $HOME exposes $HOME/.ssh (SSH private keys)"
try --allow-read "$HOME/.ssh"
check "--allow-read ~/.ssh refused" test "$RC" -eq 1
check "reason for ~/.ssh" contains "$T/err" "$HOME/.ssh exposes $HOME/.ssh (SSH private keys)"
try --allow-read "$HOME/.ssh" --allow-risky-path "$HOME/.ssh"
check "--allow-risky-path exempts it" test "$RC" -eq 0
try --allow-read "$LLMDEVSILO_STATE_DIR" --allow-risky-path "$LLMDEVSILO_STATE_DIR"
check "the state directory is never exempt" test "$RC" -eq 1
# host-wide places: runtime sockets, password hashes, sudo rules, root's home
try --allow-read /etc
check "--allow-read /etc refused" test "$RC" -eq 1
check "reason for /etc names /etc/shadow" contains "$T/err" "/etc exposes /etc/shadow (password hashes)"
for p in /run /var/run /root; do
	[ -e "$p" ] || continue
	try --allow-read "$p"
	check "--allow-read $p refused" test "$RC" -eq 1
done
try --allow-read /etc --allow-risky-path /etc
check "--allow-risky-path /etc accepts it" test "$RC" -eq 0
finish
