#!/bin/bash
# The Lua that ships (lua/, policies/) and the test fixtures pass luacheck
# under .luacheckrc: no stray globals, no unused locals, no shadowing.
src=${SILO_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
command -v luacheck >/dev/null || { echo "1..0 # SKIP luacheck not installed (Debian: lua-check)"; exit 77; }
cd "$src" && exec luacheck --no-color --codes --config .luacheckrc lua policies tests/fixtures
