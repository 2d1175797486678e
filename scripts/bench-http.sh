#!/usr/bin/env bash
# bench-http.sh measures POST /create-transaction on a running node from
# outside (docs/benchmarks.md, "HTTP create-transaction from outside"): a
# regtest `gossipchain node` process on loopback, loaded by wrk with
# transfers that client wallets signed beforehand (scripts/httpload), each
# request a different valid transaction, so the load generator is cheap C
# and no signing is in the figure. A GET /mine after every MINE_EVERY
# transactions per wrk thread mines the pool into blocks (what a node
# under load does: it mines or receives blocks; 0 turns it off, and then a
# run must stay under the mempool's 10,000).
#
# Each run starts the node on a fresh copy of one funded data directory,
# measures one core's ed25519 verify rate just before (chain's
# BenchmarkVerify1000), and prints created transactions per second (201
# answers), the node's CPU per transaction from /proc/PID/stat (its
# /mine blocks included), and the ratio to the verify rate. With -b the
# base binary and the measured one take turns, round by round.
#
# Usage: scripts/bench-http.sh [-g GOSSIPCHAIN] [-b BASE] [-r ROUNDS] [-d SECONDS]
#                              [-c CONNS] [-t THREADS] [-m MINE_EVERY] [-n TXS] [-s SENDERS] [-P DIR] [-k]
#   -g  gossipchain binary to measure (default: built from this tree)
#   -b  a second binary measured alongside, such as a build of main
#   -r  rounds (default 3)      -d  wrk seconds per run (default 5)
#   -c  connections (default 32) -t  wrk threads (default 2)
#   -m  GET /mine every this many transactions per thread (default 1000)
#   -n  transfers signed ahead, per run (default 150000)
#   -s  sender wallets (default 2000; a multiple of -t)
#   -P  write a CPU profile of the node under every run to DIR
#       (NAME-ROUND.pprof; the node serves --pprof on loopback, and the
#       profile covers the wrk run but its last second). The profiler's
#       own CPU is in the node's CPU figure; -d must stay under 90 (the
#       pprof server's write timeout)
#   -k  keep the work directory
# Environment: TMPDIR places the work directory.
#
# Nothing listens beyond loopback: the node runs with --no-mdns, --dht
# off, listening on 127.0.0.1.
set -euo pipefail

GC="" BASE="" PROF="" ROUNDS=3 DUR=5 CONNS=32 THREADS=2 MINE_EVERY=1000 TXS=150000 SENDERS=2000 KEEP=0
declare -A OPTVAR=([g]=GC [b]=BASE [P]=PROF [r]=ROUNDS [d]=DUR [c]=CONNS [t]=THREADS [m]=MINE_EVERY [n]=TXS [s]=SENDERS)
while getopts "g:b:r:d:c:t:m:n:s:P:k" opt; do
	case $opt in
	k) KEEP=1 ;;
	[gbrdctmnsP]) printf -v "${OPTVAR[$opt]}" %s "$OPTARG" ;;
	*) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
((SENDERS % THREADS == 0)) || { echo "bench-http: -s must be a multiple of -t" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench-http: needs wrk (apt-get install wrk)" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-http.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if ((KEEP)); then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
log() { echo "# $*" >&2; }
die() { echo "bench-http: $*" >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.4g\", $1 }"; }

BIN=$WORK/bin
mkdir -p "$BIN"
log "building the load helper and chain's test binary from $REPO"
(cd "$REPO" && go build -o "$BIN/httpload" ./scripts/httpload && go test -c -o "$BIN/chain.test" ./chain)
if [[ -z $GC ]]; then
	(cd "$REPO" && go build -o "$BIN/gossipchain" ./cmd/gossipchain)
	GC=$BIN/gossipchain
fi
[[ -x $GC ]] || die "$GC is not an executable"
[[ -z $BASE || -x $BASE ]] || die "$BASE is not an executable"
if [[ -n $PROF ]]; then
	((DUR < 90)) || { echo "bench-http: -P needs -d under 90 (the node's pprof server answers within 90 s)" >&2; exit 2; }
	mkdir -p "$PROF"
fi

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in {1..100}; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	die "no free port found"
}

# node_start BINARY DIR [PPROF_ADDR]: a regtest node on DIR; sets PID and
# API, and returns once its API answers (or fails after 30 s).
node_start() {
	API=http://127.0.0.1:$(free_port)
	"$1" node --network regtest --no-mdns --dht off --listen /ip4/127.0.0.1/tcp/0 -p "${API##*:}" \
		--data-dir "$2" --log-level warn ${3:+--pprof "$3"} >"$2.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 3000); do
		curl -sf "$API/status" >/dev/null && return
		kill -0 "$PID" 2>/dev/null || die "node exited: $(tail -5 "$2.log")"
		sleep 0.01
	done
	die "node's API did not answer in 30 s"
}
node_stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# cpu_ticks PID: user + system CPU of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# verify_rate: one core's ed25519 verifies per second (BenchmarkVerify1000:
# 1,000 verifies an op).
verify_rate() {
	(cd "$REPO/chain" && "$BIN/chain.test" -test.run '^$' -test.bench 'Verify1000$' -test.benchtime 20x) |
		awk '/^BenchmarkVerify1000/ { printf "%.0f", 1000 / ($3 / 1e9) }'
}

log "funding $SENDERS senders and signing $TXS transfers"
node_start "$GC" "$WORK/template"
"$BIN/httpload" --api "$API" --senders "$SENDERS" --txs "$TXS" --out "$WORK/bodies" 2>"$WORK/httpload.log" ||
	die "httpload: $(tail -3 "$WORK/httpload.log")"
node_stop

# run NAME BINARY: one wrk run against a fresh copy of the template.
run() {
	local name=$1 bin=$2 dir=$WORK/run-$1-$3 v t0 t1 out created secs paddr="" ppid=""
	v=$(verify_rate)
	cp -a "$WORK/template" "$dir"
	[[ -z $PROF ]] || paddr=127.0.0.1:$(free_port)
	node_start "$bin" "$dir" "$paddr"
	if [[ -n $PROF ]]; then
		curl -sf -o "$PROF/$name-$3.pprof" "http://$paddr/debug/pprof/profile?seconds=$((DUR > 1 ? DUR - 1 : 1))" &
		ppid=$!
	fi
	t0=$(cpu_ticks "$PID")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$REPO/scripts/bench-http.lua" "$API" \
		-- "$WORK/bodies" "$THREADS" "$MINE_EVERY")
	t1=$(cpu_ticks "$PID")
	[[ -z $ppid ]] || wait "$ppid" || die "the CPU profile of $name round $3 failed"
	node_stop
	rm -rf "$dir"
	grep '^thread' <<<"$out" >&2 || true
	created=$(awk '/^status 201:/ { print $3 }' <<<"$out")
	secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' <<<"$out")
	[[ -n $created && -n $secs ]] || die "no 201s: $out"
	local others
	others=$(awk '/^status / && $2 != "201:" && $2 != "200:" { printf "%s%s", $2, $3 } /^exhausted [1-9]/ { printf " exhausted %s", $2 }' <<<"$out")
	local rate cpu p50 p99
	rate=$(calc "$created / $secs")
	cpu=$(calc "($t1 - $t0) / $TICK * 1e6 / $created")
	p50=$(awk '/^p50/ { print $2 }' <<<"$out")
	p99=$(awk '/^p50/ { print $5 }' <<<"$out")
	printf "%-5s round %s: %s created/s, node CPU %s µs/tx (%s cores), p50 %s µs p99 %s µs, verify %s/s, ratio %s%s\n" \
		"$name" "$3" "$rate" "$cpu" "$(calc "($t1 - $t0) / $TICK / $secs")" "$p50" "$p99" "$v" \
		"$(calc "$rate / $v")" "${others:+  OTHER STATUSES: $others}"
}

for r in $(seq "$ROUNDS"); do
	if [[ -n $BASE ]]; then run base "$BASE" "$r"; fi
	run this "$GC" "$r"
done
