#!/bin/bash
# check_layers.sh must refuse what it is there to refuse: an upward
# #include, an upward link, a weak symbol and a globbed source list, each
# planted in a scratch copy of the tree.
set -u
src=${SILO_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/silo-layers.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
copy() {
	rm -rf "$T/tree"
	mkdir -p "$T/tree"
	(cd "$src" && cp -r --parents engine sandbox proxy frontends "$T/tree/")
}
expect() { # name, pattern, after the tree was changed
	out=$(SILO_SRC=$T/tree bash "$src/tests/check_layers.sh" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q -- "$2" <<<"$out"; then
		echo "ok - $1"
	else
		echo "not ok - $1 (rc $rc): $out"
		fails=$((fails + 1))
	fi
}
copy
out=$(SILO_SRC=$T/tree bash "$src/tests/check_layers.sh" 2>&1) &&
	echo "ok - the unchanged tree passes" ||
	{ echo "not ok - the unchanged tree fails: $out"; fails=$((fails + 1)); }

echo '#include "agent/ag.h"' >>"$T/tree/engine/fsm/fsm.c"
expect "an upward include is refused" "engine/fsm/fsm.c (layer 2, engine/fsm) includes engine/agent/ag.h"
copy
echo '#include "proxy/px.h"' >>"$T/tree/sandbox/sb_core.c"
expect "an include across one layer is refused" "sandbox/sb_core.c (layer 5, sandbox) includes proxy/px.h"
copy
echo 'target_link_libraries(silo_proxy PUBLIC silo_agent)' >>"$T/tree/proxy/CMakeLists.txt"
expect "an upward link is refused" "silo_proxy (layer 5) links silo_agent"
copy
echo 'extern int x __attribute__((weak));' >>"$T/tree/engine/json/jv.c"
expect "a weak symbol is refused" "engine/json/jv.c: weak symbols"
copy
echo 'file(GLOB X *.c)' >>"$T/tree/engine/fsm/CMakeLists.txt"
expect "a globbed source list is refused" "globs its sources"
copy
echo 'int g(void);' >"$T/tree/engine/fsm/fsm_new.c"
expect "a source file missing from its layer's list is refused" "engine/fsm/fsm_new.c is not listed"
copy
mkdir -p "$T/tree/engine/newthing" && echo 'int f(void);' >"$T/tree/engine/newthing/n.c"
expect "a folder without a layer is refused" "folder engine/newthing has no layer"
exit $((fails > 0))
