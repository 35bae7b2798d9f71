# bench_cpu.py: CPU time of one warm launch (launcher + zygote + child), for tests/bench.sh.
#
# Usage: bench_cpu.py ZYGOTE_PID RUNS COMMAND [ARG...]
#
# Runs COMMAND RUNS times, one after the other, and adds up the CPU time
# (user + system) of everything a launch makes run: the launcher (wait4's
# rusage of each run), the zygote itself and the children it reaped
# (utime, stime, cutime and cstime of /proc/ZYGOTE_PID/stat, before and
# after).  Pooled children forked ahead count when they are reaped, so the
# few alive at the start and at the end shift the total by at most their
# own cost.  Prints "cpu_us=<per launch> launcher_us=<...> zygote_us=<...>
# children_us=<...> runs=<n>", then the minor page faults per launch of
# each (for the children mostly copy-on-write copies of the zygote's
# pages, a count that load does not change).

import os
import sys


def zygote_times(pid):
    """utime + stime, cutime + cstime of pid, in microseconds; minor
    faults of pid and of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) * 1e6 / hz
    children = (int(fields[13]) + int(fields[14])) * 1e6 / hz
    return own, children, int(fields[7]), int(fields[8])


def main():
    pid, runs, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    null = os.open(os.devnull, os.O_RDWR)
    own0, kids0, flt0, cflt0 = zygote_times(pid)
    launcher = 0.0
    lflt = 0
    for _ in range(runs):
        child = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
        _, status, ru = os.wait4(child, 0)
        if status != 0:
            sys.exit(f"bench_cpu.py: {' '.join(argv)} exited with status {status:#x}")
        launcher += (ru.ru_utime + ru.ru_stime) * 1e6
        lflt += ru.ru_minflt
    own1, kids1, flt1, cflt1 = zygote_times(pid)
    zyg, kids = own1 - own0, kids1 - kids0
    total = launcher + zyg + kids
    print(f"cpu_us={total / runs:.0f} launcher_us={launcher / runs:.0f} "
          f"zygote_us={zyg / runs:.0f} children_us={kids / runs:.0f} runs={runs} "
          f"faults: launcher={lflt / runs:.0f} zygote={(flt1 - flt0) / runs:.0f} "
          f"children={(cflt1 - cflt0) / runs:.0f}")


if __name__ == "__main__":
    main()
