#!/bin/bash
# Builds silo (scripts/setup.sh) and installs it, for people who do not use
# CMake directly.
#   scripts/install.sh              into /usr/local (through sudo when not root)
#   scripts/install.sh --user       into ~/.local (no root needed)
#   scripts/install.sh --prefix P   into P
#   add --uninstall to remove what an earlier install put there
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local uninstall=0
while [ $# -gt 0 ]; do
	case $1 in
	--user) prefix=$HOME/.local ;;
	--prefix) prefix=${2:?--prefix needs a directory}; shift ;;
	--prefix=*) prefix=${1#--prefix=} ;;
	--uninstall) uninstall=1 ;;
	-h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option '$1'" >&2; echo "see 'scripts/install.sh --help'" >&2; exit 2 ;;
	esac
	shift
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	mkdir -p "$prefix" 2>/dev/null || true
	[ -w "$prefix" ] || sudo=sudo
fi
manifest=$prefix/share/silo/install-manifest.txt

if [ "$uninstall" = 1 ]; then
	[ -f "$manifest" ] || { echo "install.sh: nothing installed by it under $prefix ($manifest missing)" >&2; exit 1; }
	n=0
	while IFS= read -r f; do
		case $f in "$prefix"/*) ;; *) continue ;; esac # only files under the prefix
		if [ -e "$f" ] || [ -L "$f" ]; then $sudo rm -f "$f"; n=$((n + 1)); fi
	done <"$manifest"
	$sudo rm -f "$manifest"
	# the directories silo owns alone
	for d in share/silo libexec/silo share/doc/silo; do
		[ -d "$prefix/$d" ] && $sudo find "$prefix/$d" -depth -type d -empty -delete
	done
	echo "install.sh: removed $n file(s) from $prefix"
	exit 0
fi

"$src/scripts/setup.sh" "$src/build"
$sudo cmake --install "$src/build" --prefix "$prefix" >/dev/null
$sudo cp "$src/build/install_manifest.txt" "$manifest"
echo "install.sh: installed silo into $prefix ($(wc -l <"$manifest") files)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "install.sh: add $prefix/bin to PATH" ;; esac
if [ "$prefix" = "$HOME/.local" ]; then
	echo "install.sh: man pages: add $prefix/share/man to MANPATH if 'man silo' does not find them"
fi
