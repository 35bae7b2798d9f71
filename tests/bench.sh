#!/bin/sh
# bench.sh: start-up time of pywarm against the real interpreter, measured with hyperfine; run by `make bench`.
#
# Environment (set by the Makefile):
#   PYWARM_BUILDDIR     directory holding pywarm, pywarmctl and pywarm-zygote
#   PYWARM_REAL_PYTHON  the interpreter pywarm stands in for
#   PYWARM_BENCH_RUNS   timed runs per command (default 100)
#   PYWARM_BENCH_WARMUP untimed runs per command before those (default 5)
#
# Everything happens in a private temporary tree (socket, state and config
# directories), with every PYTHON* and PYWARM_* variable removed, so that the
# built-in profile applies and no setting of the caller forces a cold run.
# The zygote started here is stopped on exit.  Prints a markdown table of
# medians; exits 0 on success.

set -eu

me=bench.sh
die() {
	echo "$me: $*" >&2
	exit 1
}

B=${PYWARM_BUILDDIR:-}
REAL=${PYWARM_REAL_PYTHON:-}
RUNS=${PYWARM_BENCH_RUNS:-100}
WARMUP=${PYWARM_BENCH_WARMUP:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$HERE/bench_stdlib.py
REPORT_PY=/usr/bin/python3

command -v hyperfine >/dev/null 2>&1 || die "hyperfine is not installed (apt-get install hyperfine)"
[ -x "$REPORT_PY" ] || die "$REPORT_PY is needed to read hyperfine's results"
case "$RUNS$WARMUP" in
*[!0-9]*) die "PYWARM_BENCH_RUNS and PYWARM_BENCH_WARMUP must be numbers" ;;
esac
# hyperfine -N splits command lines itself; single quotes protect the paths.
case "$B$REAL$SCRIPT" in
*"'"*) die "paths with a single quote are not supported" ;;
esac

SCRATCH_NAME=bench
# shellcheck source=tests/scratch.sh
. "$HERE/scratch.sh"

# The built-in profile must apply here: no .pywarm.ini in any parent.
d=$T
while :; do
	[ ! -e "$d/.pywarm.ini" ] || die "$d/.pywarm.ini would apply to the benchmark; move it away"
	[ "$d" != / ] || break
	d=$(dirname "$d")
done

show_log() {
	for f in "$T"/state/pywarm/*.log; do
		[ -f "$f" ] && sed 's/^/  log: /' "$f" >&2
	done
	return 0
}

# Served launches so far, from pywarmctl status (one zygote in this tree).
launches() {
	"$B/pywarmctl" status | sed -n 's/^  launches *\([0-9][0-9]*\) served.*/\1/p'
}

# Run a command once with the debug trace on; fail unless it was served warm.
check_warm() {
	rm -f "$T/trace"
	PYWARM_DEBUG=$T/trace "$@" >/dev/null
	if ! grep -q 'warm pid=' "$T/trace"; then
		echo "$me: not served warm: $*" >&2
		sed 's/^/  trace: /' "$T/trace" >&2
		show_log
		exit 1
	fi
}

"$B/pywarmctl" start --wait || { show_log; die "the zygote did not start"; }
check_warm "$B/pywarm" -c pass
check_warm "$B/pywarm" "$SCRIPT"
PYWARM_SANDBOX=default check_warm "$B/pywarm" -c pass
before=$(launches)
[ -n "$before" ] || die "cannot read the zygote's launch count from pywarmctl status"

echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/startup.json" \
	-n "pywarm -c pass" "'$B/pywarm' -c pass" \
	-n "python3 -c pass" "'$REAL' -c pass" \
	-n "/bin/true" "/bin/true"
echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/stdlib.json" \
	-n "pywarm bench_stdlib.py" "'$B/pywarm' '$SCRIPT'" \
	-n "python3 bench_stdlib.py" "'$REAL' '$SCRIPT'"
# The cost of confining a run: the same launch with and without a sandbox,
# both through env(1) so that only PYWARM_SANDBOX differs.  Warm, the child
# builds and loads the filter; cold, the launcher does before it executes
# python3.
echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/sandbox.json" \
	-n "pywarm -c pass (no sandbox)" "env '$B/pywarm' -c pass" \
	-n "pywarm -c pass (PYWARM_SANDBOX=default)" "env PYWARM_SANDBOX=default '$B/pywarm' -c pass" \
	-n "cold pywarm -c pass (no sandbox)" "env PYWARM_DISABLE=1 '$B/pywarm' -c pass" \
	-n "cold pywarm -c pass (PYWARM_SANDBOX=default)" \
	"env PYWARM_DISABLE=1 PYWARM_SANDBOX=default '$B/pywarm' -c pass"

# Every timed pywarm run must have been served by the zygote, not cold.
after=$(launches)
want=$((4 * (WARMUP + RUNS)))
served=$((after - before))
[ "$served" -ge "$want" ] ||
	die "only $served of $want pywarm runs were served warm; the numbers above mix in cold runs"

cpu=$(sed -n 's/^\(model name\|Hardware\|cpu model\|Processor\)[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
# shellcheck disable=SC1091
os=$([ -r /etc/os-release ] && . /etc/os-release && echo "${PRETTY_NAME:-}") || os=
pyver=$("$REAL" -c 'import sys; print(sys.version.split()[0])')

echo
echo "## Numbers"
echo
echo "- CPU: ${cpu:-unknown} ($(nproc) CPUs online)"
echo "- Kernel: $(uname -srm)${os:+, $os}"
echo "- Interpreter: $REAL (Python $pyver)"
echo "- $(hyperfine --version), $RUNS runs after $WARMUP warm-up runs per command;" \
	"all $served pywarm runs not marked cold served warm"
echo
"$REPORT_PY" - "$T/startup.json" "$T/stdlib.json" "$T/sandbox.json" <<'EOF'
import json
import statistics
import sys

rows = {}
order = []
for path in sys.argv[1:]:
    with open(path) as f:
        for r in json.load(f)["results"]:
            ms = [t * 1000 for t in r["times"]]
            rows[r["command"]] = ms
            order.append(r["command"])


def med(name):
    return statistics.median(rows[name])


print("| Command | Median | Mean ± σ | Min | Max |")
print("|---|---:|---:|---:|---:|")
for name in order:
    ms = rows[name]
    sd = statistics.stdev(ms) if len(ms) > 1 else 0.0
    print(f"| `{name}` | {med(name):.2f} ms | {statistics.mean(ms):.2f} ± {sd:.2f} ms "
          f"| {min(ms):.2f} ms | {max(ms):.2f} ms |")
print()
print("| Ratio of medians | |")
print("|---|---:|")
print(f"| `python3 -c pass` / `pywarm -c pass` | {med('python3 -c pass') / med('pywarm -c pass'):.1f}× |")
print(f"| `python3 bench_stdlib.py` / `pywarm bench_stdlib.py` "
      f"| {med('python3 bench_stdlib.py') / med('pywarm bench_stdlib.py'):.1f}× |")
print(f"| `pywarm -c pass` / `/bin/true` | {med('pywarm -c pass') / med('/bin/true'):.1f}× |")
print()
print("| Cost of a sandbox (`PYWARM_SANDBOX=default`), difference of medians | |")
print("|---|---:|")
for kind in ("", "cold "):
    plain = med(f"{kind}pywarm -c pass (no sandbox)")
    confined = med(f"{kind}pywarm -c pass (PYWARM_SANDBOX=default)")
    print(f"| {'cold' if kind else 'warm'} run: filter built and loaded per launch "
          f"| {confined - plain:+.2f} ms |")
EOF
