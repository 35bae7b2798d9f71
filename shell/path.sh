# path.sh: printed by `pywarmctl shell-init --path` for sh, bash and zsh: pywarm's python and python3 links first on PATH, for every program the session starts.
case ${PATH-} in
@LINKDIR@ | @LINKDIR@:*) ;;
*) PATH=@LINKDIR@${PATH:+:$PATH}; export PATH ;;
esac
