#!/bin/bash
# The layer order (docs/architecture.md) held against the code: a file may
# include headers of its own folder and of lower layers only, each layer's
# library links only lower layers, and nothing holds layers together with
# weak symbols or __has_include. Run from anywhere; SILO_SRC names the tree.
set -u
src=${SILO_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src" || exit 2

# folder rank library; equal ranks may not include each other.
layers='
engine/base        0 silo_base
engine/json        1 silo_json
sandbox/helper     2 -
engine/fsm         2 silo_fsm
engine/luahost     3 silo_luahost
engine/journal     3 silo_journal
engine/mock        4 silo_fixture
engine/http        5 silo_http
sandbox            5 silo_sandbox
proxy              5 silo_proxy
engine/workspace   5 silo_workspace
engine/policy      6 silo_policy
engine/agent       7 silo_agent
engine/harness     8 silo_harness
frontends          9 silo_frontends
frontends/interactive 9 -
engine/cli        10 silo_cli
'
declare -A rank lib_rank lib_dir
while read -r dir r lib; do
	[ -n "$dir" ] || continue
	rank[$dir]=$r
	[ "$lib" = - ] || { lib_rank[$lib]=$r; lib_dir[$lib]=$dir; }
done <<<"$layers"

bad=0
fail() { echo "check_layers: $*"; bad=$((bad + 1)); }

# Folder of a tree-relative path, with ./ and ../ resolved (in the shell:
# a process per include would make the check slow).
folder() {
	local IFS=/ part out=()
	for part in ${1%/*}; do
		case $part in
		. | '') ;;
		..) out=("${out[@]:0:${#out[@]}-1}") ;;
		*) out+=("$part") ;;
		esac
	done
	dir="${out[*]}"
}

files=$(git ls-files 'engine/*.[ch]' 'sandbox/*.[ch]' 'proxy/*.[ch]' 'frontends/*.[ch]' 2>/dev/null ||
	find engine sandbox proxy frontends -name '*.[ch]')
for f in $files; do
	folder "$f"
	from=$dir
	# The clients (silo-tui, the web client) are programs of their own.
	case $from in frontends/tui*|frontends/web*) continue ;; esac
	fr=${rank[$from]:-}
	if [ -z "$fr" ]; then
		fail "$f: folder $from has no layer (add it to tests/check_layers.sh and docs/architecture.md)"
		continue
	fi
	while IFS= read -r inc; do
		[ -n "$inc" ] || continue
		d=${f%/*}
		if [ -f "$d/$inc" ]; then t="$d/$inc"
		elif [ -f "engine/$inc" ]; then t="engine/$inc"
		elif [ -f "$inc" ]; then t="$inc"
		else
			fail "$f: #include \"$inc\" names no file of the tree"
			continue
		fi
		folder "$t"
		to=$dir
		[ "$to" = "$from" ] && continue
		tr=${rank[$to]:-}
		if [ -z "$tr" ]; then
			fail "$f: includes $t from folder $to, which has no layer"
		elif [ "$tr" -ge "$fr" ]; then
			fail "$f (layer $fr, $from) includes $t (layer $tr, $to): against the layer order"
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	if grep -nE '__attribute__[[:space:]]*\(\([[:space:]]*weak|__has_include|#pragma[[:space:]]+weak' "$f"; then
		fail "$f: weak symbols or __has_include hold layers together"
	fi
done

# Each library links only libraries of lower layers.
for l in "${!lib_dir[@]}"; do
	cm=${lib_dir[$l]}/CMakeLists.txt
	[ -f "$cm" ] || { fail "$cm missing for $l"; continue; }
	deps=$(tr '\n' ' ' <"$cm" | grep -o "target_link_libraries( *$l [^)]*)" | grep -o 'silo_[a-z_]*' | grep -vx "$l")
	for d in $deps; do
		[ -n "${lib_rank[$d]:-}" ] || { fail "$l links $d, which has no layer"; continue; }
		[ "${lib_rank[$d]}" -lt "${lib_rank[$l]}" ] ||
			fail "$l (layer ${lib_rank[$l]}) links $d (layer ${lib_rank[$d]}): against the layer order"
	done
	if grep -qE 'file *\( *GLOB' "$cm"; then
		fail "$cm globs its sources; list them"
	fi
	for c in "${lib_dir[$l]}"/*.c; do
		[ -e "$c" ] || continue
		b=${c##*/}
		[ "$b" = main.c ] || grep -qw -- "$b" "$cm" || fail "$c is not listed in $cm"
	done
done

if [ "$bad" -gt 0 ]; then
	echo "check_layers: $bad problem(s)"
	exit 1
fi
echo "check_layers: ${#rank[@]} folders, includes and links follow the layer order"
