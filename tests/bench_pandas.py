# bench_pandas.py: a script importing pandas, for tests/bench.sh; with --mem it also prints its own memory use from /proc/self/smaps_rollup.
#
# Run cold under python3 almost all its time is the import of pandas (and
# numpy); warm, pandas is already imported in the zygote.  The work itself
# is kept small (one Series): the private memory of a warm run is what the
# run itself allocates and writes, so a bigger job shows its own data.

import sys

import pandas as pd


def memory():
    """Resident and private (unique) kB of this process."""
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return fields["Rss"], fields["Private_Clean"] + fields["Private_Dirty"]


def main():
    total = int(pd.Series([1, 2, 3]).sum())
    if sys.argv[1:] == ["--mem"]:
        rss, private = memory()
        print(f"rss_kb={rss} private_kb={private}")
    else:
        print(total)


if __name__ == "__main__":
    main()
