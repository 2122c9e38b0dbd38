#!/bin/bash
# Toolchain caches (decisions 24): a per-workspace directory under the
# user's cache directory is mounted writable at ~/.cache, ~/.cargo, ... in
# that workspace's sandboxes, so a second session finds what the first one
# cached, while the rest of HOME is scratch and gone.
. "$SILO_SRC/tests/integration/lib.bash"
set -e
"$SILO_BIN" doctor >/dev/null 2>&1 || { echo "1..0 # SKIP native sandbox unavailable"; exit 77; }
export XDG_CACHE_HOME="$T/xdg"
fx() { # fx COMMAND -> fixture path
	cat >"$T/fx.lua" <<LUA
return { llm = {
  { response = { content = { { type = "tool_use", id = "a", name = "Bash", input = { command = [[$1]] } } },
      stop_reason = "tool_use" } },
  { response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "ok" } } },
      stop_reason = "tool_use" } } } }
LUA
	echo "$T/fx.lua"
}
run() { timeout 120 "$SILO_BIN" run --workspace "$WS" "$@" --llm mock --sandbox native \
	--frontend headless --prompt go >"$T/out" 2>"$T/err"; sed -n 's/^journal: //p' "$T/err"; }
j1=$(run --create --script "$(fx 'echo built >~/.cache/artifact; echo gone >~/scratch-file; echo ok')")
j2=$(run --script "$(fx 'cat ~/.cache/artifact; cat ~/scratch-file 2>&1')")
"$SILO_BIN" journal export "$j2" >"$T/j2"
check "the second session sees the first one's cache" grep -q '"content":"built' "$T/j2"
check "the rest of HOME did not survive" grep -q 'scratch-file: No such file' "$T/j2"
check "the cache lives under the user's cache directory" sh -c "ls '$XDG_CACHE_HOME'/silo/*/.cache/artifact"
check "the access report lists the caches" sh -c "'$SILO_BIN' journal export '$j1' | grep -q toolchain_caches"
finish
