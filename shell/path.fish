# path.fish: printed by `pywarmctl shell-init --path fish`: pywarm's python and python3 links first on PATH, for every program the session starts.
if test "$PATH[1]" != @LINKDIR@
	set -gx PATH @LINKDIR@ $PATH
end
