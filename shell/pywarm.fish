# pywarm.fish: fish integration, printed by `pywarmctl shell-init fish`; use it as: pywarmctl shell-init fish | source
set -g __pywarm_bin @PYWARM@
set -g __pywarm_ctl @PYWARMCTL@
function python --wraps python3 --description 'python3, served warm by pywarm'
    $__pywarm_bin $argv
end
function python3 --wraps python3 --description 'python3, served warm by pywarm'
    $__pywarm_bin $argv
end

# Pre-warm: on changing directory (and once now), start the new directory's
# zygote in the background, output discarded; disowned, so that fish never
# reports the job's end at the prompt.  `pywarmctl start` does nothing when a
# zygote serves, and refuses a project profile that is not trusted.
if test @PREWARM@ = 1
    function __pywarm_prewarm --on-variable PWD
        if test -z "$PYWARM_DISABLE" -o "$PYWARM_DISABLE" = 0
            $__pywarm_ctl start --quiet </dev/null >/dev/null 2>&1 &
            disown $last_pid 2>/dev/null
        end
    end
    __pywarm_prewarm
end
