#!/bin/sh
# bench.sh: start-up time of pywarm against the real interpreter, measured with hyperfine; run by `make bench`.
#
# Environment (set by the Makefile):
#   PYWARM_BUILDDIR     directory holding pywarm, pywarmctl and pywarm-zygote
#   PYWARM_REAL_PYTHON  the interpreter pywarm stands in for
#   PYWARM_BENCH_RUNS   timed runs per command (default 100)
#   PYWARM_BENCH_WARMUP untimed runs per command before those (default 5)
#   PYWARM_DEB_BUILDDIR a build against /usr/bin/python3 (with python3-pandas
#                       installed) for the pandas rows; skipped if unset
#   PYWARM_BENCH_RATE_N launches per client batch in the throughput run (default 400)
#   PYWARM_BENCH_CPU_N  warm launches whose CPU time is added up (default 500)
#   PYWARM_BENCH_CHART  also write a PNG chart of the medians and ratios there
#                       (gnuplot, Debian package gnuplot-nox; tests/bench.gp)
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
IMPORTS=$HERE/bench_imports.py
PANDAS=$HERE/bench_pandas.py
LEARN=$HERE/bench_learn.py
LEARN_IMPORTS=$HERE/bench_learn_imports.py
DB=${PYWARM_DEB_BUILDDIR:-}
RATE_N=${PYWARM_BENCH_RATE_N:-400}
CPU_N=${PYWARM_BENCH_CPU_N:-500}
CPU_PY=$HERE/bench_cpu.py
CHART=${PYWARM_BENCH_CHART:-}
REPORT_PY=/usr/bin/python3

command -v hyperfine >/dev/null 2>&1 || die "hyperfine is not installed (apt-get install hyperfine)"
[ -x "$REPORT_PY" ] || die "$REPORT_PY is needed to read hyperfine's results"
case "$RUNS$WARMUP$RATE_N$CPU_N" in
*[!0-9]*) die "PYWARM_BENCH_RUNS and PYWARM_BENCH_WARMUP must be numbers" ;;
esac
# hyperfine -N splits command lines itself; single quotes protect the paths.
case "$B$REAL$SCRIPT$IMPORTS$DB$PANDAS$LEARN" in
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
# The zygote may hand the first status request over before it has read
# the READY notice of the run that just ended (both wait in its queues);
# by the second request it has.
launches() {
	"$B/pywarmctl" status >/dev/null
	"$B/pywarmctl" status | sed -n 's/^  launches *\([0-9][0-9]*\) served.*/\1/p'
}

# Connections so far that found no pooled child and waited for a fork
# (pywarmctl status's prefork line: "2 (N connections found no pooled child)").
forked() {
	"$B/pywarmctl" status | sed -n 's/^  prefork .*(\([0-9][0-9]*\) connections found no pooled child)/\1/p'
}

# A line of pywarmctl ($1) status for the zygote of this directory's
# profile (others may run beside it): the first word after "  $2".
zygote_field() {
	id=$("$1" which | sed -n 's/^  identity *//p')
	"$1" status | awk -v id="$id" -v key="$2" '$1 == "zygote" { cur = $2 } cur == id && $1 == key { print $2 }'
}

# CPU time of one warm launch, launcher + zygote + child (bench_cpu.py):
# $1 pywarmctl, $2 output file, then the command.  Serial runs, so what
# is added up is each launch's own work whatever the load.
cpu_per_launch() {
	ctl=$1 out=$2
	shift 2
	zp=$(zygote_field "$ctl" pid)
	[ -n "$zp" ] || die "cannot read the zygote's pid from $ctl status"
	before=$(zygote_field "$ctl" launches)
	"$REPORT_PY" "$CPU_PY" "$zp" "$CPU_N" "$@" >"$out" || die "cannot measure the CPU time of: $*"
	zygote_field "$ctl" launches >/dev/null       # see launches()
	after=$(zygote_field "$ctl" launches)
	[ "$((after - before))" -ge "$CPU_N" ] || die "not every run of $* was served warm"
	echo "CPU per launch, $*: $(cat "$out")"
}

# Run a command once with the debug trace on; fail unless it was served warm.
check_warm() {
	rm -f "$T/trace"
	PYWARM_DEBUG=$T/trace "$@" >/dev/null
	if ! grep -q ': event=warm ' "$T/trace"; then
		echo "$me: not served warm: $*" >&2
		sed 's/^/  trace: /' "$T/trace" >&2
		show_log
		exit 1
	fi
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$B/pywarmctl" start --wait || { show_log; die "the zygote did not start"; }
check_warm "$B/pywarm" -c pass
check_warm "$B/pywarm" "$SCRIPT"
check_warm "$B/pywarm" "$IMPORTS"
PYWARM_SANDBOX=default check_warm "$B/pywarm" -c pass
before=$(launches)
[ -n "$before" ] || die "cannot read the zygote's launch count from pywarmctl status"
forked0=$(forked)

echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/startup.json" \
	-n "pywarm -c pass" "'$B/pywarm' -c pass" \
	-n "python3 -c pass" "'$REAL' -c pass" \
	-n "/bin/true" "/bin/true"
echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/stdlib.json" \
	-n "pywarm bench_stdlib.py" "'$B/pywarm' '$SCRIPT'" \
	-n "python3 bench_stdlib.py" "'$REAL' '$SCRIPT'"
# Imports of preloaded modules are served from the zygote's cache once the
# run's own search has found the same files: the cost of that check.
echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/imports.json" \
	-n "pywarm bench_imports.py" "'$B/pywarm' '$IMPORTS'" \
	-n "python3 bench_imports.py" "'$REAL' '$IMPORTS'"
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
want=$((5 * (WARMUP + RUNS)))
served=$((after - before))
[ "$served" -ge "$want" ] ||
	die "only $served of $want pywarm runs were served warm; the numbers above mix in cold runs"
forked1=$(forked)

echo
cpu_per_launch "$B/pywarmctl" "$T/cpu-builtin" "$B/pywarm" -c pass

# Throughput: RATE_N launches of -c pass from 8 concurrent clients (xargs -P 8).
seq "$RATE_N" >"$T/n-warm"
seq "$((RATE_N / 8))" >"$T/n-cold"
echo
before=$(launches)
hyperfine -N -w 1 -r 5 --export-json "$T/rate.json" \
	-n "pywarm x$RATE_N, 8 clients" "xargs -a '$T/n-warm' -P 8 -n 1 '$B/pywarm' -c pass" \
	-n "python3 x$((RATE_N / 8)), 8 clients" "xargs -a '$T/n-cold' -P 8 -n 1 '$REAL' -c pass"
served_rate=$(($(launches) - before))
# A shortfall here is reported, not fatal: the status count can lag by the
# notices still queued when it is read, and a few cold runs change the
# rate by less than its spread.
[ "$served_rate" -ge $((6 * RATE_N)) ] ||
	echo "$me: warning: only $served_rate of $((6 * RATE_N)) concurrent pywarm runs were counted warm" >&2
forked2=$(forked)
echo
echo "Launches that found no pooled child and waited for a fork (status requests included):"
echo "  back to back: $((forked1 - forked0)) of $served; 8 concurrent clients: $((forked2 - forked1)) of $served_rate"

# pandas: a build against Debian's python3 and a profile that preloads pandas.
pandas_rows=
if [ -n "$DB" ] && [ -x "$DB/pywarm" ] && /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
	# Debian's python3 against the build for it, with the built-in profile.
	"$DB/pywarmctl" start --wait >/dev/null || { show_log; die "the zygote of $DB did not start"; }
	check_warm "$DB/pywarm" -c pass
	echo
	hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/deb.json" \
		-n "pywarm -c pass (build-deb)" "'$DB/pywarm' -c pass" \
		-n "/usr/bin/python3 -c pass" "/usr/bin/python3 -c pass"
	"$DB/pywarmctl" stop >/dev/null
	mkdir "$T/pandas"
	# pandas imports more modules and fills caches on first use: the
	# warmup script does that once in the zygote.
	# pandas imports dateutil.parser and _strptime, which read the date at
	# import: without clock = shared every run would import pandas afresh.
	printf '[preload]\nmodules = pandas\nclock = shared\nwarmup = %s\n' "$HERE/bench_pandas_warmup.py" >"$T/pandas/.pywarm.ini"
	(cd "$T/pandas" && "$DB/pywarmctl" trust .pywarm.ini >/dev/null && "$DB/pywarmctl" start --wait >/dev/null) ||
		{ show_log; die "the pandas zygote did not start"; }
	cd "$T/pandas"
	check_warm "$DB/pywarm" "$PANDAS"
	echo
	hyperfine -N -w 3 -r 30 --export-json "$T/pandas.json" \
		-n "pywarm bench_pandas.py" "'$DB/pywarm' '$PANDAS'" \
		-n "python3 bench_pandas.py" "/usr/bin/python3 '$PANDAS'"
	check_warm "$DB/pywarm" -c pass
	echo
	hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/pandas-pass.json" \
		-n "pywarm -c pass (pandas profile)" "'$DB/pywarm' -c pass" \
		-n "/bin/true (beside the pandas profile)" "/bin/true"
	"$DB/pywarm" "$PANDAS" --mem >"$T/mem-warm"
	/usr/bin/python3 "$PANDAS" --mem >"$T/mem-cold"
	echo
	cpu_per_launch "$DB/pywarmctl" "$T/cpu-pandas" "$DB/pywarm" -c pass
	"$DB/pywarmctl" stop >/dev/null
	cd "$T"
	pandas_rows="$T/pandas.json $T/deb.json $T/pandas-pass.json $T/mem-warm $T/mem-cold $T/cpu-pandas"
else
	echo "$me: no pandas rows: set PYWARM_DEB_BUILDDIR to a build against /usr/bin/python3 with python3-pandas installed" >&2
fi

cpu=$(sed -n 's/^\(model name\|Hardware\|cpu model\|Processor\)[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
# shellcheck disable=SC1091
os=$([ -r /etc/os-release ] && . /etc/os-release && echo "${PRETTY_NAME:-}") || os=
pyver=$("$REAL" -c 'import sys; print(sys.version.split()[0])')
# The report below also writes the chart's data there.
[ -z "$CHART" ] || { PW_BENCH_DATA=$T/chart; export PW_BENCH_DATA; }

echo
echo "## Numbers"
echo
echo "- CPU: ${cpu:-unknown} ($(nproc) CPUs online)"
echo "- Kernel: $(uname -srm)${os:+, $os}"
echo "- Load average (1, 5, 15 min) at the start: $load0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# A profile that learned: bench_learn.py's modules are outside the built-in
# profile; three runs record them, `pywarmctl learn --write` adds the safe
# ones to a user profile (its own XDG_CONFIG_HOME), whose zygote serves the
# "after" rows.  All through env(1), so that only the profile differs.
mkdir -p "$T/learned"
for i in 1 2 3; do
	check_warm env XDG_CONFIG_HOME="$T/learned" "$B/pywarm" "$LEARN"
done
XDG_CONFIG_HOME="$T/learned" "$B/pywarmctl" learn --write >"$T/learn.out" ||
	{ cat "$T/learn.out"; show_log; die "pywarmctl learn --write failed"; }
check_warm env XDG_CONFIG_HOME="$T/learned" "$B/pywarm" "$LEARN"
echo
hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$T/learn.json" \
	-n "pywarm bench_learn.py (built-in profile)" "env '$B/pywarm' '$LEARN'" \
	-n "pywarm bench_learn.py (learned profile)" "env XDG_CONFIG_HOME='$T/learned' '$B/pywarm' '$LEARN'" \
	-n "pywarm bench_learn_imports.py (built-in profile)" "env '$B/pywarm' '$LEARN_IMPORTS'" \
	-n "pywarm bench_learn_imports.py (learned profile)" "env XDG_CONFIG_HOME='$T/learned' '$B/pywarm' '$LEARN_IMPORTS'" \
	-n "pywarm -c pass (learned profile)" "env XDG_CONFIG_HOME='$T/learned' '$B/pywarm' -c pass" \
	-n "python3 bench_learn.py" "env '$REAL' '$LEARN'" \
	-n "python3 bench_learn_imports.py" "env '$REAL' '$LEARN_IMPORTS'"

echo "- Interpreter: $REAL (Python $pyver)"
echo "- $(hyperfine --version), $RUNS runs after $WARMUP warm-up runs per command;" \
	"all $served pywarm runs not marked cold served warm"
echo
"$REPORT_PY" - "$RATE_N" "$T/startup.json" "$T/stdlib.json" "$T/imports.json" "$T/sandbox.json" "$T/rate.json" \
	"$T/learn.json" "$T/cpu-builtin" $pandas_rows <<'EOF'
import json
import statistics
import sys

rate_n = int(sys.argv[1])
rows = {}
order = []
mem = {}
cpu = {}
for path in sys.argv[2:]:
    if path.endswith(("mem-warm", "mem-cold")):
        with open(path) as f:
            mem[path[-4:]] = dict(kv.split("=") for kv in f.read().split())
        continue
    if path.endswith(("cpu-builtin", "cpu-pandas")):
        with open(path) as f:
            cpu[path.rsplit("-", 1)[1]] = dict(kv.split("=") for kv in f.read().split() if "=" in kv)
        continue
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
print("| Cost of resolving 30 imports of preloaded modules (`bench_imports.py`) | medians | minimums |")
print("|---|---:|---:|")
imp, bare = rows["pywarm bench_imports.py"], rows["pywarm -c pass"]
print(f"| warm run, against `pywarm -c pass` | {statistics.median(imp) - statistics.median(bare):+.2f} ms "
      f"| {min(imp) - min(bare):+.2f} ms |")
print()
print("| Cost of a sandbox (`PYWARM_SANDBOX=default`) per launch | medians | minimums |")
print("|---|---:|---:|")
for kind in ("", "cold "):
    plain = rows[f"{kind}pywarm -c pass (no sandbox)"]
    confined = rows[f"{kind}pywarm -c pass (PYWARM_SANDBOX=default)"]
    print(f"| {'cold' if kind else 'warm'} run: filter built and loaded "
          f"| {statistics.median(confined) - statistics.median(plain):+.2f} ms "
          f"| {min(confined) - min(plain):+.2f} ms |")

print()
print("| A profile that learned (`bench_learn.py`: sqlite3, xml.dom.minidom, http.server, zoneinfo, tomllib) | medians | minimums |")
print("|---|---:|---:|")
before, after = rows["pywarm bench_learn.py (built-in profile)"], rows["pywarm bench_learn.py (learned profile)"]
bare = rows["pywarm -c pass (learned profile)"]
print(f"| before `pywarmctl learn --write` | {statistics.median(before):.2f} ms | {min(before):.2f} ms |")
print(f"| after | {statistics.median(after):.2f} ms | {min(after):.2f} ms |")
print(f"| after, against `pywarm -c pass` | {statistics.median(after) - statistics.median(bare):+.2f} ms "
      f"| {min(after) - min(bare):+.2f} ms |")
ibefore = rows["pywarm bench_learn_imports.py (built-in profile)"]
iafter = rows["pywarm bench_learn_imports.py (learned profile)"]
print(f"| its imports alone (`bench_learn_imports.py`), before | {statistics.median(ibefore):.2f} ms | {min(ibefore):.2f} ms |")
print(f"| its imports alone, after | {statistics.median(iafter):.2f} ms | {min(iafter):.2f} ms |")
print(f"| its imports alone, after, against `pywarm -c pass` | {statistics.median(iafter) - statistics.median(bare):+.2f} ms "
      f"| {min(iafter) - min(bare):+.2f} ms |")
print(f"| `python3 bench_learn.py` / `python3 bench_learn_imports.py` | "
      f"{statistics.median(rows['python3 bench_learn.py']):.2f} / {statistics.median(rows['python3 bench_learn_imports.py']):.2f} ms "
      f"| {min(rows['python3 bench_learn.py']):.2f} / {min(rows['python3 bench_learn_imports.py']):.2f} ms |")

# The figures pywarm is held to, measured here.
def line(figure, target, value, ok):
    print(f"| {figure} | {target} | {value} | {'yes' if ok else '**no**'} |")


print()
print("| Figure | Target | Measured | Met |")
print("|---|---|---:|---|")
r = med("pywarm -c pass") / med("/bin/true")
line("`pywarm -c pass` / `/bin/true`", "at most 2×", f"{r:.1f}×", r <= 2)
r = med("python3 -c pass") / med("pywarm -c pass")
line("`python3 -c pass` / `pywarm -c pass`", "at least 10×", f"{r:.1f}×", r >= 10)
if "pywarm -c pass (build-deb)" in rows:
    r = med("/usr/bin/python3 -c pass") / med("pywarm -c pass (build-deb)")
    line("`/usr/bin/python3 -c pass` / `pywarm -c pass` (`build-deb`)", "at least 10×", f"{r:.1f}×", r >= 10)
if "pywarm -c pass (pandas profile)" in rows:
    r = med("pywarm -c pass (pandas profile)") / med("/bin/true (beside the pandas profile)")
    line("`pywarm -c pass` / `/bin/true`, pandas profile (`build-deb`)", "at most 2.5×", f"{r:.1f}×", r <= 2.5)
if "pywarm bench_pandas.py" in rows:
    r = med("python3 bench_pandas.py") / med("pywarm bench_pandas.py")
    line("pandas script, cold / warm (`/usr/bin/python3` build)", "at least 100×", f"{r:.0f}×", r >= 100)
    warm, cold = int(mem["warm"]["private_kb"]), int(mem["cold"]["rss_kb"])
    line("private memory of the warm pandas child / RSS of the cold one", "under 5%",
         f"{warm / 1024:.1f} / {cold / 1024:.1f} MiB = {100 * warm / cold:.1f}%", warm < 0.05 * cold)
for profile, label in (("builtin", "built-in profile"), ("pandas", "pandas profile (`build-deb`)")):
    if profile in cpu:
        c = cpu[profile]
        us = int(c["cpu_us"])
        line(f"CPU time per warm `-c pass`, launcher + zygote + child, {label}", "at most 1.5 ms",
             f"{us / 1000:.2f} ms ({int(c['launcher_us']) / 1000:.2f} + {int(c['zygote_us']) / 1000:.2f}"
             f" + {int(c['children_us']) / 1000:.2f})", us <= 1500)
r = med("pywarm bench_learn.py (learned profile)") - med("pywarm -c pass (learned profile)")
line("learned `bench_learn.py` against `-c pass`, medians", "within 1 ms", f"{r:+.2f} ms", r <= 1)
r = med("pywarm bench_learn_imports.py (learned profile)") - med("pywarm -c pass (learned profile)")
line("learned `bench_learn_imports.py` (its imports alone) against `-c pass`, medians", "within 1 ms",
     f"{r:+.2f} ms", r <= 1)
warm_rate = rate_n / (med(f"pywarm x{rate_n}, 8 clients") / 1000)
cold_rate = (rate_n // 8) / (med(f"python3 x{rate_n // 8}, 8 clients") / 1000)
line("launches/s, 8 concurrent clients, `-c pass`, warm / cold", "at least 10×",
     f"{warm_rate:.0f} / {cold_rate:.0f} = {warm_rate / cold_rate:.1f}×", warm_rate >= 10 * cold_rate)

# The chart's data (bench.gp): medians side by side; ratios, their targets
# and whether each is met (1), missed (0) or has no target (2).
import os
data = os.environ.get("PW_BENCH_DATA")
if data:
    os.makedirs(data, exist_ok=True)
    pairs = [("-c pass", "pywarm -c pass", "python3 -c pass"),
             ("bench_stdlib.py", "pywarm bench_stdlib.py", "python3 bench_stdlib.py"),
             ("bench_pandas.py", "pywarm bench_pandas.py", "python3 bench_pandas.py")]
    with open(os.path.join(data, "medians.dat"), "w") as f:
        f.write("# program, pywarm median (ms), python3 median (ms)\n")
        for label, warm, cold in pairs:
            if warm in rows:
                f.write(f'"{label}" {med(warm):.3f} {med(cold):.3f}\n')
    with open(os.path.join(data, "true.dat"), "w") as f:
        f.write(f"{med('/bin/true'):.3f}\n")
    ratios = [("python3 / pywarm, -c pass", med("python3 -c pass") / med("pywarm -c pass"), 10, 1),
              ("python3 / pywarm, stdlib", med("python3 bench_stdlib.py") / med("pywarm bench_stdlib.py"),
               None, 1)]
    if "pywarm bench_pandas.py" in rows:
        ratios.append(("cold / warm, pandas", med("python3 bench_pandas.py") / med("pywarm bench_pandas.py"),
                       100, 1))
    ratios.append(("launches/s, warm / cold", warm_rate / cold_rate, 10, 1))
    ratios.append(("pywarm / true (at most)", med("pywarm -c pass") / med("/bin/true"), 2, -1))
    with open(os.path.join(data, "ratios.dat"), "w") as f:
        f.write("# figure, measured, target (NaN: none), met (1), missed (0), no target (2)\n")
        for label, value, target, sense in ratios:
            met = 2 if target is None else int(value * sense >= target * sense)
            f.write(f'"{label}" {value:.2f} {"NaN" if target is None else target} {met}\n')
EOF
if [ -n "$CHART" ]; then
	if command -v gnuplot >/dev/null 2>&1; then
		sub="$(date -u +%Y-%m-%d), $(nproc) CPUs, load $load0 at the start, Python $pyver"
		gnuplot -e "dir='$T/chart'; out='$CHART'; sub='$sub'" "$HERE/bench.gp" &&
			echo && echo "Chart: $CHART"
	else
		echo "$me: no chart: gnuplot is not installed (apt-get install gnuplot-nox)" >&2
	fi
fi
