#!/usr/bin/env bash
# bench-relay.sh compares the block relay of two revisions of this
# repository in alternating runs of BenchmarkGossipPropagation20
# (docs/benchmarks.md): each run times a block of SIZE (1KiB or 100KiB)
# and the bare GossipSub payload of the same size in the same process,
# and reports the committed p99 ÷ the bare p99 (the figure), the
# forwarding p99 ÷ the bare p99, and the CPU per block of each. The two
# revisions take turns, each round starting with the first, so that a
# machine that slows down slows both; the medians of the rounds close.
#
# Usage: scripts/bench-relay.sh [-r ROUNDS] [-s SIZE] REV_A REV_B
#   -r ROUNDS  alternating rounds (default 8)
#   -s SIZE    1KiB (default) or 100KiB
#
# Each revision is exported with git archive into a scratch directory and
# its p2p test binary built there; nothing in the work tree changes.
set -euo pipefail

rounds=8 size=1KiB
while getopts r:s: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	s) size=$OPTARG ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { sed -n '2,16p' "$0"; exit 2; }
case $size in 1KiB | 100KiB) ;; *) echo "size: 1KiB or 100KiB" >&2; exit 2 ;; esac

repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for rev in "$@"; do
	dir=$work/$(git -C "$repo" rev-parse --short "$rev")
	mkdir -p "$dir"
	git -C "$repo" archive "$rev" | tar -x -C "$dir"
	(cd "$dir" && go test -c -o p2p.test ./p2p)
done

results=$work/results
for i in $(seq "$rounds"); do
	for rev in "$@"; do
		dir=$work/$(git -C "$repo" rev-parse --short "$rev")
		(cd "$dir/p2p" && ../p2p.test -test.run '^$' -test.benchtime 1x \
			-test.bench "GossipPropagation20/(block=$size|raw=$size)\$" 2>&1) |
			awk -v rev="$rev" -v round="$i" '
				/^BenchmarkGossipPropagation20\// {
					kind = ($1 ~ /block=/) ? "block" : "raw"
					for (f = 3; f < NF; f++) v[kind, $(f + 1)] = $f
				}
				END {
					r = v["raw", "p99-ms"]
					if (r == 0 || v["block", "p99-ms"] == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
					printf "%s round %d: p99 %.2f ms, fwd %.2f, raw %.2f: ratio %.2f, fwd ratio %.2f; cpu-ms/block %.2f, raw %.2f\n",
						rev, round, v["block", "p99-ms"], v["block", "fwd-p99-ms"], r,
						v["block", "p99-ms"] / r, v["block", "fwd-p99-ms"] / r,
						v["block", "cpu-ms/block"], v["raw", "cpu-ms/block"]
				}' | tee -a "$results"
	done
done

for rev in "$@"; do
	grep "^$rev round" "$results" | awk -v rev="$rev" '
		{ ratio[NR] = $12 + 0; fwd[NR] = $15 + 0 }
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END { n = NR; printf "%s: median ratio %.2f, median fwd ratio %.2f over %d rounds\n", rev, median(ratio, n), median(fwd, n), n }'
done
