#!/bin/bash
# An installed silo needs neither the source tree nor the build tree nor
# any SILO_* variable: `cmake --install` to a prefix, a copy of that prefix,
# the Debian package unpacked into a scratch root and the relocatable
# tarball each lock a workspace, run the demo session and unlock it. As root
# the source tree is hidden under an empty tmpfs while they do.
. "$SILO_SRC/tests/integration/lib.bash"
unset SILO_LUA_DIR SILO_HELPER_BIN
B=${SILO_BUILD:?}
command -v cmake >/dev/null || { echo "1..0 # SKIP no cmake"; exit 77; }
sandbox=mock
"$SILO_BIN" doctor >/dev/null 2>&1 && sandbox=native

# session PREFIX NAME: lock, the demo session and unlock with PREFIX/bin/silo
session() {
	local p=$1 name=$2 w="$T/$2-ws" fx
	cp -r "$p/share/silo/demo/demo-project" "$w"
	fx=$p/share/silo/demo/demo.lua
	[ "$sandbox" = mock ] && fx=$p/share/silo/demo/demo-mock.lua
	local script="set -e; export LLMDEVSILO_STATE_DIR='$T/$name-state'
		'$p/bin/silo' workspace lock '$w'
		'$p/bin/silo' run --workspace '$w' --llm mock --sandbox $sandbox --frontend headless \
			--script '$fx' --prompt 'Fix the failing test.'
		'$p/bin/silo' workspace unlock '$w'"
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		unshare -m sh -c "mount -t tmpfs none '$SILO_SRC' && mount -t tmpfs none '$B' 2>/dev/null; $script" \
			>"$T/$name.out" 2>&1
	else
		sh -c "$script" >"$T/$name.out" 2>&1
	fi
	local rc=$?
	check "$name: lock, demo session, unlock (rc $rc)" test "$rc" -eq 0
	check "$name: the session fixed the file" grep -q 'Fixed add()' "$T/$name.out"
	check "$name: the unlock reviewed the change" grep -q '^Unlocked ' "$T/$name.out"
	check "$name: the change is back in the directory" grep -q '\$((\$1 + \$2))' "$w/calc.sh"
}

layout() { # layout ROOT NAME: the FHS layout under ROOT
	local r=$1 name=$2 f
	for f in bin/silo libexec/silo/silo-helper share/silo/lua/tools share/silo/lua/review \
		share/silo/policies/default.lua share/man/man1/silo.1.gz share/man/man1/silo-run.1.gz \
		share/man/man1/silo-workspace.1.gz share/man/man5/silo-policy.5.gz \
		share/bash-completion/completions/silo share/zsh/site-functions/_silo \
		share/doc/silo/copyright; do
		check "$name: $f" test -e "$r/$f"
	done
}

cmake --install "$B" --prefix "$T/prefix" >"$T/install.log" 2>&1
check "cmake --install to a prefix" test $? -eq 0
layout "$T/prefix" prefix
session "$T/prefix" prefix
cp -a "$T/prefix" "$T/copied"
rm -rf "$T/prefix"
session "$T/copied" copied

if command -v cpack >/dev/null && command -v dpkg-deb >/dev/null; then
	(cd "$B" && cpack -G "DEB;TGZ" -B "$T/pkg") >"$T/cpack.log" 2>&1
	rc=$?
	check "cpack builds a .deb and a tarball" test $rc -eq 0
	[ $rc -eq 0 ] || sed 's/^/# /' "$T/cpack.log" | tail -20
	deb=$(ls "$T"/pkg/*.deb 2>/dev/null | head -n1)
	tgz=$(ls "$T"/pkg/*.tar.gz 2>/dev/null | head -n1)
	if [ -n "$deb" ]; then
		dpkg-deb -f "$deb" Depends >"$T/depends"
		for d in libc6 libuv1 libsqlite3-0 libseccomp2 liblua5.4-0 libcurl4 e2fsprogs; do
			check "the .deb depends on $d" grep -q "\\b$d\\b" "$T/depends"
		done
		dpkg-deb -c "$deb" >"$T/contents"
		check "the .deb installs under /usr" grep -q ' ./usr/bin/silo$' "$T/contents"
		mkdir -p "$T/root"
		dpkg -x "$deb" "$T/root"
		layout "$T/root/usr" deb
		session "$T/root/usr" deb
		if command -v lintian >/dev/null; then
			lintian --fail-on error,warning "$deb" >"$T/lintian" 2>&1
			check "lintian finds no error or warning" test $? -eq 0
		fi
	fi
	if [ -n "$tgz" ]; then
		mkdir -p "$T/tree"
		tar -C "$T/tree" -xzf "$tgz"
		top=$(ls "$T/tree")
		layout "$T/tree/$top" tarball
		session "$T/tree/$top" tarball
	fi
fi
finish
