# pywarmctl.bash: bash completion for pywarmctl (installed as bash-completion's "pywarmctl"; also part of `pywarmctl shell-init bash`).
_pywarmctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} words
	if ((COMP_CWORD == 1)); then
		words='start stop status check which interpreters suggest learn trust untrust shell-init enable disable sandbox help --help'
	else
		case ${COMP_WORDS[1]} in
		start)
			[[ $prev == --timeout ]] && return
			words='--wait --timeout --quiet --help' ;;
		stop) words='--all --help' ;;
		suggest) words='--help' ;;
		learn)
			[[ $prev == --min-runs ]] && return
			words='--write --min-runs --help' ;;
		status | which | interpreters) words='--help' ;;
		check | trust | untrust)
			# A profile file (trust, untrust: or its directory).
			compopt -o filenames
			COMPREPLY=($(compgen -f -- "$cur"))
			return ;;
		shell-init) words='bash zsh fish sh --no-prewarm --path --help' ;;
		enable | disable) words='--help' ;;
		sandbox) words='default no-network no-exec no-fork --help' ;;
		*) return ;;
		esac
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pywarmctl pywarmctl
