# pywarm.zsh: zsh integration, printed by `pywarmctl shell-init zsh`; use it as: eval "$(pywarmctl shell-init zsh)" (after compinit, for completion)
# python and python3 are functions rather than aliases: functions also apply
# inside scripts the shell sources.
typeset -g __pywarm_bin=@PYWARM@
typeset -g __pywarm_ctl=@PYWARMCTL@
python() { "$__pywarm_bin" "$@" }
python3() { "$__pywarm_bin" "$@" }

# Pre-warm: on changing directory (and once now), start the new directory's
# zygote in the background: one fork whose child is left to run alone, its
# output discarded.  `pywarmctl start` does nothing when a zygote serves,
# and refuses a project profile that is not trusted.  &! disowns the job,
# so zsh neither announces it nor hangs up on it.
__pywarm_prewarm() {
	emulate -L zsh
	if [[ -z ${PYWARM_DISABLE-} || $PYWARM_DISABLE == 0 ]]; then
		{ "$__pywarm_ctl" start --quiet </dev/null >/dev/null 2>&1 &! } 2>/dev/null
	fi
	return 0
}
if [[ @PREWARM@ == 1 ]]; then
	autoload -Uz add-zsh-hook
	add-zsh-hook chpwd __pywarm_prewarm
	__pywarm_prewarm
fi
