# scratch.sh: sourced by bench.sh and demo.sh: check the build, scrub the environment, and make a private zygote world in a temporary directory.
#
# Needs B (build dir), REAL (real interpreter), die() and a name in
# SCRATCH_NAME; leaves T (the directory, also the cwd) with run/ state/
# config/ as the XDG directories, and stops its zygotes on exit.

[ -n "$B" ] && [ -n "$REAL" ] || die "PYWARM_BUILDDIR and PYWARM_REAL_PYTHON must be set (run it through make)"
for f in "$B/pywarm" "$B/pywarmctl" "$B/pywarm-zygote" "$REAL"; do
	[ -x "$f" ] || die "$f is not an executable (run: make)"
done

# Nothing that changes the zygote or forces a cold run.
for v in $(env | sed -n 's/^\(PYTHON[A-Za-z0-9_]*\)=.*/\1/p; s/^\(PYWARM_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pywarm-$SCRATCH_NAME.XXXXXX")
scratch_cleanup() {
	(cd "$T" && "$B/pywarmctl" stop --all >/dev/null 2>&1) || true
	rm -rf "$T"
}
trap scratch_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$T/run" "$T/state" "$T/config"
chmod 700 "$T/run"
XDG_RUNTIME_DIR=$T/run
XDG_STATE_HOME=$T/state
XDG_CONFIG_HOME=$T/config
export XDG_RUNTIME_DIR XDG_STATE_HOME XDG_CONFIG_HOME
cd "$T" || die "cannot enter $T"
