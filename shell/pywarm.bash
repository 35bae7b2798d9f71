# pywarm.bash: bash integration, printed by `pywarmctl shell-init bash`; use it as: eval "$(pywarmctl shell-init bash)"
# python and python3 are functions rather than aliases: functions also apply
# inside scripts the shell sources and in `if`/`for` bodies read as one unit.
__pywarm_bin=@PYWARM@
__pywarm_ctl=@PYWARMCTL@
python() { "$__pywarm_bin" "$@"; }
python3() { "$__pywarm_bin" "$@"; }

# Pre-warm: when the prompt is drawn in a directory not seen last time,
# start its profile's zygote in the background.  One string comparison per
# prompt; on a change, one fork whose child is left to run alone, its
# output discarded.  `pywarmctl start` does nothing when a zygote serves,
# and refuses a project profile that is not trusted.  The job is started
# with stderr closed so that bash prints no "[1] PID", and disowned so that
# it prints no "Done" (a subshell around it would cost a second fork and a
# wait).
__pywarm_prewarm() {
	local rc=$?
	if [[ $PWD != "${__pywarm_dir-}" ]]; then
		__pywarm_dir=$PWD
		if [[ -z ${PYWARM_DISABLE-} || $PYWARM_DISABLE == 0 ]]; then
			{ "$__pywarm_ctl" start --quiet </dev/null >/dev/null 2>&1 & } 2>/dev/null
			disown $! 2>/dev/null
		fi
	fi
	return $rc
}
if [[ @PREWARM@ == 1 && ${PROMPT_COMMAND-} != *__pywarm_prewarm* ]]; then
	PROMPT_COMMAND="__pywarm_prewarm${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
