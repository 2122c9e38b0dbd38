#!/bin/bash
# docs/man is generated from the parser's option tables; it must be current
# (regenerate: silo manpages docs/man), and every page must render.
. "$SILO_SRC/tests/integration/lib.bash"
"$SILO_BIN" manpages "$T/man" 2>"$T/msg"
check "manpages reports its count" grep -q "wrote [0-9]* man page(s) to $T/man" "$T/msg"
check "docs/man matches the binary" diff -r "$T/man" "$SILO_SRC/docs/man"
for p in silo silo-run silo-workspace silo-shell silo-replay-test silo-harnesses silo-journal \
	silo-doctor silo-debug; do
	check "$p.1 exists" test -f "$T/man/$p.1"
done
for f in "$T"/man/*; do
	b=${f##*/}
	for s in NAME DESCRIPTION "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		check "$b has $s" grep -q "^\.SH $s\$" "$f"
	done
	check "$b cites no spec sections" sh -c "! grep -Eiq '[a-z]+\.md *[0-9]|decisions [0-9]|§' '$f'"
done
missing=""
for o in $("$SILO_BIN" run --help | sed -n 's/^  --\([a-z-]*\).*/\1/p'); do
	grep -qF ".B \\-\\-${o//-/\\-}" "$T/man/silo-run.1" || missing="$missing $o"
done
check "every option of silo run is in silo-run.1 ($missing)" test -z "$missing"
if command -v man >/dev/null && command -v groff >/dev/null; then
	check "silo-run.1 renders" sh -c "man -l '$T/man/silo-run.1' 2>&1 | grep -q 'allow-domain'"
fi
"$SILO_BIN" run --help >"$T/help"
check "run --help lists --allow-domain" contains "$T/help" "--allow-domain PATTERN"
check "silo help run == silo run --help" sh -c "'$SILO_BIN' help run | cmp -s - '$T/help'"
set +e; "$SILO_BIN" >/dev/null 2>&1; rc=$?; set -e
check "silo with no command exits 2" test "$rc" -eq 2
check "silo -V" sh -c "'$SILO_BIN' -V | grep -q '^silo '"
finish
