#!/bin/bash
# demo.sh: show pywarm at work: a cold first run that starts a zygote, then the same program cold and warm, timed; run by `make demo`.
#
# Environment (set by the Makefile):
#   PYWARM_BUILDDIR     directory holding pywarm, pywarmctl and pywarm-zygote
#   PYWARM_REAL_PYTHON  the interpreter pywarm stands in for
#
# Runs in a private temporary tree (socket, state and config directories)
# with every PYTHON* and PYWARM_* variable removed, and stops its zygote on
# exit, so it leaves nothing behind.

# `make demo` starts this with sh; the rest needs bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

set -euo pipefail

me=demo.sh
die() {
	echo "$me: $*" >&2
	exit 1
}

B=${PYWARM_BUILDDIR:-}
REAL=${PYWARM_REAL_PYTHON:-}
RUNS=10
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$HERE/bench_stdlib.py

SCRATCH_NAME=demo
# shellcheck source=tests/scratch.sh
. "$HERE/scratch.sh"

# Print a section heading (bold on a terminal).
if [[ -t 1 ]]; then
	bold=$'\033[1m' plain=$'\033[0m'
else
	bold='' plain=''
fi
say() {
	printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}

# Wall-clock microseconds of one run of "$@", output discarded, into $us.
time_us() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >/dev/null
	t1=$EPOCHREALTIME
	us=$((10#${t1//[!0-9]/} - 10#${t0//[!0-9]/}))
}

# Microseconds as milliseconds with one decimal.
ms() {
	printf '%d.%d ms' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# Time $RUNS runs of "$@"; print every run, the best and the median.
# The median is left in $median.
bench() {
	local label=$1 all=() i sorted
	shift
	printf '%-8s' "$label"
	for ((i = 0; i < RUNS; i++)); do
		time_us "$@"
		all+=("$us")
		printf ' %s' "$(ms "$us" | sed 's/ ms//')"
	done
	mapfile -t sorted < <(printf '%s\n' "${all[@]}" | sort -n)
	median=$(((sorted[RUNS / 2 - 1] + sorted[RUNS / 2]) / 2))
	printf '\n%-8s best %s, median %s\n' "" "$(ms "${sorted[0]}")" "$(ms "$median")"
}

echo "pywarm demo: the program is $SCRIPT"
echo "(it imports json, argparse, subprocess, email, http.client and asyncio,"
echo "then prints one line of JSON)"
echo "interpreter: $REAL ($("$REAL" -V 2>&1))"

say "1. No zygote runs yet: pywarm runs python3 itself and starts one in the background"
PYWARM_DEBUG=1 "$B/pywarm" "$SCRIPT" --host first.run 2>&1 | sed 's/^/   /'

say "2. Wait until the zygote has imported its modules"
"$B/pywarmctl" start --wait

say "3. The same output, cold and warm"
cold_out=$("$REAL" "$SCRIPT" --path /x)
warm_out=$(PYWARM_DEBUG=$T/trace "$B/pywarm" "$SCRIPT" --path /x)
echo "   python3: $cold_out"
echo "   pywarm:  $warm_out"
[[ $cold_out == "$warm_out" ]] || die "the outputs differ"
grep -q ': event=warm ' "$T/trace" || die "pywarm did not serve the run warm: $(cat "$T/trace")"
echo "   identical; pywarm's run was served by the zygote ($(grep -o 'event=warm .*' "$T/trace"))"

say "4. Wall-clock time of $RUNS runs each, in milliseconds"
bench "python3" "$REAL" "$SCRIPT"
cold=$median
bench "pywarm" "$B/pywarm" "$SCRIPT"
warm=$median
if ((warm > 0)); then
	printf '\npywarm ran the program %d.%d times as fast as python3 (medians).\n' \
		$((cold / warm)) $((cold * 10 / warm % 10))
fi

say "5. The zygote that served these runs"
"$B/pywarmctl" status
echo
echo "The zygote is stopped now; nothing is left running."
