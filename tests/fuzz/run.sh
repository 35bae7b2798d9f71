#!/bin/sh
# run.sh: runs the libFuzzer harnesses for a fixed time budget, first over the kept regression cases; run by `make fuzz`.
#
# usage: run.sh FUZZDIR SECONDS
#   FUZZDIR  where the harness binaries are; the growing corpora and any
#            crash, leak or timeout inputs are kept there too
#   SECONDS  total budget, split evenly between the harnesses
# Seeds come from tests/fuzz/corpus/NAME (read only); inputs that once broke
# something live in tests/fuzz/regress/NAME and must all pass.

set -eu
me=run.sh
[ $# -eq 2 ] || { echo "usage: $me FUZZDIR SECONDS" >&2; exit 2; }
D=$1
S=$2
HERE=$(cd "$(dirname "$0")" && pwd)
NAMES="request profile status"
case "$S" in
'' | *[!0-9]*) echo "$me: SECONDS must be a number, not '$S'" >&2; exit 2 ;;
esac
each=$((S / 3))
[ "$each" -ge 1 ] || each=1

for n in $NAMES; do
	bin=$D/fuzz_$n
	[ -x "$bin" ] || { echo "$me: $bin is not built" >&2; exit 1; }
	if [ -d "$HERE/regress/$n" ] && [ -n "$(ls "$HERE/regress/$n")" ]; then
		echo "== fuzz_$n: regression cases"
		"$bin" "$HERE/regress/$n"/* >"$D/regress-$n.log" 2>&1 ||
			{ cat "$D/regress-$n.log" >&2; echo "$me: a regression case of fuzz_$n fails" >&2; exit 1; }
	fi
	echo "== fuzz_$n: ${each}s"
	mkdir -p "$D/corpus-$n"
	if ! "$bin" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
		-print_final_stats=1 -artifact_prefix="$D/crash-$n-" \
		"$D/corpus-$n" "$HERE/corpus/$n" >"$D/fuzz-$n.log" 2>&1; then
		tail -n 60 "$D/fuzz-$n.log" >&2
		echo "$me: fuzz_$n found a problem; the input is in $D/crash-$n-*" >&2
		exit 1
	fi
	grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$D/fuzz-$n.log" |
		sed 's/^/   /'
done
