#!/bin/sh
# learned_profile.sh: a user profile that learned, for make check's learned pass: tests/bench_learn.py run warm until `pywarmctl learn` offers its modules, then `learn --write`; the profile is copied to OUT.
#
# Usage: learned_profile.sh BUILDDIR OUT
#
# In a tree of its own (runtime, state, config and data directories), so
# that nothing of the caller's profiles or zygotes is touched.
set -eu
B=$1
OUT=$2
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/pywarm-learned.XXXXXX")
mkdir -m 700 "$T/run" "$T/state" "$T/config" "$T/data"
export XDG_RUNTIME_DIR="$T/run" XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"
trap '"$B/pywarmctl" stop --all >/dev/null 2>&1; rm -rf "$T"' EXIT
"$B/pywarmctl" start --wait >/dev/null 2>&1 || { echo "learned_profile.sh: pywarmctl start --wait failed" >&2; exit 1; }
i=0
until "$B/pywarmctl" learn 2>/dev/null | grep -q 'http\.server'; do
	i=$((i + 1))
	if [ "$i" -gt 30 ]; then
		echo "learned_profile.sh: pywarmctl learn offers no module after $i runs" >&2
		"$B/pywarmctl" suggest >&2 || true
		exit 1
	fi
	"$B/pywarm" "$HERE/tests/bench_learn.py" >/dev/null
done
"$B/pywarmctl" learn --write >/dev/null
grep -q 'added by pywarmctl learn --write' "$T/config/pywarm/pywarm.ini"
cp "$T/config/pywarm/pywarm.ini" "$OUT"
echo "learned_profile.sh: $OUT preloads what $i runs of bench_learn.py imported"
