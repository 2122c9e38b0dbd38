# bash completion for silo. The candidates come from the binary's own
# command table (`silo __complete WORDS...`), so they match the installed
# version; ":file" and ":dir" hand over to bash's path completion.
_silo() {
	local cur=${COMP_WORDS[COMP_CWORD]} line
	local -a words=("${COMP_WORDS[@]:1:COMP_CWORD}")
	COMPREPLY=()
	while IFS= read -r line; do
		case $line in
		:file)
			compopt -o filenames 2>/dev/null
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur") ;;
		:dir)
			compopt -o filenames 2>/dev/null
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur") ;;
		*)
			[[ $line == "$cur"* ]] && COMPREPLY+=("$line") ;;
		esac
	done < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
}
complete -F _silo silo
