#!/usr/bin/env bash
# bench-btcd.sh measures gossipchain against btcd v0.26.2 side by side on
# this machine, every process on 127.0.0.1 (docs/benchmarks.md, "Against
# btcd"):
#
#   a. coinbase-only sync from launch: a fresh node whose only peer holds
#      BLOCKS blocks, wall time from its launch until it reaches that height;
#   b. mining one block per API call: CALLS calls of gossipchain's POST /mine
#      against btcd's JSON-RPC "generate 1", each round sent by one curl
#      process over one kept-alive connection (so neither side pays a
#      process spawn per call), in ROUNDS rounds where the systems take
#      turns, every node running meanwhile; blocks per second, two ways:
#      the rounds' wall time (curl's start and exit and the generation of
#      its list of calls included, about 35 ms a round here), and the
#      calls' own time, the sum of each call's time_total as curl reports
#      it (from the request's start to the answer's end: the node's time,
#      on one connection);
#   c. disk bytes per block: du of the mining node's data directory after
#      BLOCKS blocks, minus du of the same directory after the node's first
#      launch, both taken after a clean stop (btcd keeps index and UTXO
#      writes in a cache it flushes at exit); allocated bytes (du -B1) and
#      apparent bytes (du -b);
#   d. peak RSS: VmHWM of each node from /proc/<pid>/status.
#
# btcd runs in two variants: with its compact filter index (its default)
# and with --nocfilters. Ratios are gossipchain ÷ btcd for speeds (above 1:
# gossipchain faster) and for disk and memory (below 1: gossipchain smaller).
#
# Usage: scripts/bench-btcd.sh [-n BLOCKS] [-c CALLS] [-r ROUNDS] [-g GOSSIPCHAIN] [-b BASE] [-v VARIANTS] [-k]
#   -n BLOCKS       chain length for a, c, d (default 2000)
#   -c CALLS        one-block calls timed for b (default 500, at most BLOCKS)
#   -r ROUNDS       rounds the timed calls are split into, the systems
#                   taking turns, each round starting with the next system
#                   (default 5)
#   -g GOSSIPCHAIN  gossipchain binary to measure (default: built from this tree)
#   -b BASE         a second gossipchain binary measured alongside (gc-base),
#                   such as a build of the branch point
#   -v VARIANTS     btcd variants, space-separated: nocfilters default (default both)
#   -k              keep the work directory (data directories and logs)
# Environment: BTCD_GOBIN, a directory already holding btcd and btcctl
# v0.26.2, skips the install; TMPDIR places the work directory (and so the
# data directories: measure on the disk you care about).
#
# Nothing listens beyond loopback: btcd gets --listen/--rpclisten on
# 127.0.0.1, no DNS seeds, no UPnP (off by default), and the fresh btcd
# --connect's only to the first; gossipchain nodes run with --no-mdns,
# --dht off, no port mapping (off by default), listening on 127.0.0.1.
set -euo pipefail

BLOCKS=2000
CALLS=500
GC=""
BASE=""
ROUNDS=5
VARIANTS="nocfilters default"
KEEP=0
while getopts "n:c:r:g:b:v:k" opt; do
	case $opt in
	n) BLOCKS=$OPTARG ;;
	c) CALLS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	g) GC=$OPTARG ;;
	b) BASE=$OPTARG ;;
	v) VARIANTS=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
if ((CALLS > BLOCKS || ROUNDS < 1 || CALLS < ROUNDS)); then
	echo "want -r ROUNDS ≤ -c CALLS ≤ -n BLOCKS" >&2
	exit 2
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-btcd.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if ((KEEP)); then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

log() { echo "# $*" >&2; }
die() {
	echo "bench-btcd: $*" >&2
	exit 1
}

# --- binaries -------------------------------------------------------------
BIN=$WORK/bin
mkdir -p "$BIN"
if [[ -n ${BTCD_GOBIN:-} ]]; then
	cp "$BTCD_GOBIN/btcd" "$BTCD_GOBIN/btcctl" "$BIN/"
else
	log "installing btcd and btcctl v0.26.2 (Go module proxy)"
	GOBIN=$BIN go install github.com/btcsuite/btcd@v0.26.2 github.com/btcsuite/btcd/cmd/btcctl@v0.26.2
fi
if [[ -z $GC ]]; then
	log "building gossipchain from $REPO"
	(cd "$REPO" && go build -o "$BIN/gossipchain" ./cmd/gossipchain)
	GC=$BIN/gossipchain
fi
[[ -x $GC ]] || die "$GC is not an executable"
[[ -z $BASE || -x $BASE ]] || die "$BASE is not an executable"

# --- helpers --------------------------------------------------------------
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic (awk: no bc needed).
calc() { awk "BEGIN { printf \"%.4g\", $1 }"; }
# fcalc EXPR: the same with three decimals, for instants and seconds.
fcalc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
# ucalc EXPR: the same to the microsecond, for times that are summed.
ucalc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# poll_until DEADLINE_S CMD...: runs CMD every 10 ms until it succeeds, or
# fails after DEADLINE_S seconds.
poll_until() {
	local deadline=$1
	shift
	local end
	end=$(fcalc "$(now) + $deadline")
	until "$@"; do
		if awk "BEGIN { exit !($(now) > $end) }"; then
			return 1
		fi
		sleep 0.01
	done
}

# stop PID...: SIGTERM, then wait for a clean exit (both nodes flush what
# they cache on the way out, so du afterwards counts everything).
stop() {
	kill "$@"
	local pid
	for pid in "$@"; do
		wait "$pid" 2>/dev/null || true
	done
}

hwm_bytes() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$1/status"; }
du_alloc() { du -s -B1 "$1" | cut -f1; }
du_apparent() { du -s -b "$1" | cut -f1; }

# --- gossipchain ----------------------------------------------------------
# gc_start BINARY NAME [FLAGS...]: starts a regtest node with data
# directory $WORK/NAME; sets PID and API. It logs warnings only, as a node
# logging every block would time its terminal too.
gc_start() {
	local bin=$1 name=$2
	shift 2
	API=http://127.0.0.1:$(free_port)
	"$bin" node --network regtest --no-mdns --dht off --listen /ip4/127.0.0.1/tcp/0 -p "${API##*:}" \
		--data-dir "$WORK/$name" --log-level warn "$@" >"$WORK/$name.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}
gc_ready() { curl -sf "$1/status" >/dev/null; }
gc_height() { curl -sf "$1/status" | grep -o '"height":[0-9]*' | head -1 | cut -d: -f2; }
gc_at() { [[ $(gc_height "$1") == "$2" ]]; }

# --- btcd -----------------------------------------------------------------
RPCUSER=bench
RPCPASS=bench-$RANDOM$RANDOM
# The regtest P2PKH address of the all-zero hash160 (version 0x6f): blocks
# pay nobody in particular, and btcd needs some address for generate.
MINING_ADDR=mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8

# btcd_start VARIANT NAME [FLAGS...]: sets PID, API (the RPC URL) and P2P.
btcd_start() {
	local variant=$1 name=$2
	shift 2
	P2P=127.0.0.1:$(free_port)
	API=http://127.0.0.1:$(free_port)
	local extra=()
	[[ $variant == nocfilters ]] && extra+=(--nocfilters)
	"$BIN/btcd" --regtest --datadir "$WORK/$name" --logdir "$WORK/$name-logs" \
		--listen "$P2P" --rpclisten "${API#http://}" --notls \
		--rpcuser "$RPCUSER" --rpcpass "$RPCPASS" --nodnsseed --miningaddr "$MINING_ADDR" \
		"${extra[@]}" "$@" >"$WORK/$name.out" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}
# rpc URL METHOD PARAMS: one JSON-RPC call; prints the answer.
rpc() {
	curl -sf -u "$RPCUSER:$RPCPASS" -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1/"
}
btcd_height() { rpc "$1" getblockcount '[]' | grep -o '"result":[0-9]*' | cut -d: -f2; }
btcd_ready() { [[ -n $(btcd_height "$1") ]]; }
btcd_at() { [[ $(btcd_height "$1") == "$2" ]]; }

# --- one system: a gossipchain binary or a btcd variant ---------------------
# Systems are named gc (the binary measured), gc-base (-b) and btcd-VARIANT.
declare -A A_PID A_API A_P2P B_PID EMPTY_ALLOC EMPTY_APP MINE_T MINE_C SYNC_S HWM_A HWM_B DISK_ALLOC DISK_APP
SYSTEMS=(gc)
[[ -n $BASE ]] && SYSTEMS+=(gc-base)
for v in $VARIANTS; do SYSTEMS+=("btcd-$v"); done

# start S NAME [FLAGS...]: starts a node of system S.
start() {
	local s=$1
	shift
	case $s in
	gc) gc_start "$GC" "$@" ;;
	gc-base) gc_start "$BASE" "$@" ;;
	btcd-*) btcd_start "${s#btcd-}" "$@" ;;
	esac
}
ready() { case $1 in gc*) gc_ready "$2" ;; *) btcd_ready "$2" ;; esac }
at() { case $1 in gc*) gc_at "$2" "$3" ;; *) btcd_at "$2" "$3" ;; esac }
height() { case $1 in gc*) gc_height "$2" ;; *) btcd_height "$2" ;; esac }

# prepare S: the empty node's size (launched, ready, stopped), then node A
# started again for good.
prepare() {
	local s=$1
	start "$s" "$s-A"
	poll_until 60 ready "$s" "$API" || die "$s node A did not start: $(tail -5 "$WORK/$s-A".*)"
	stop "$PID"
	EMPTY_ALLOC[$s]=$(du_alloc "$WORK/$s-A")
	EMPTY_APP[$s]=$(du_apparent "$WORK/$s-A")
	start "$s" "$s-A"
	A_PID[$s]=$PID
	A_API[$s]=$API
	poll_until 60 ready "$s" "$API" || die "$s node A did not start: $(tail -5 "$WORK/$s-A".*)"
	case $s in
	gc*)
		A_P2P[$s]=$(curl -sf "$API/status" | grep -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' | head -1)
		[[ -n ${A_P2P[$s]} ]] || die "$s node A has no loopback address in /status"
		;;
	*) A_P2P[$s]=$P2P ;;
	esac
}

# mine S N: N calls of one block each, by one curl over one kept-alive
# connection; every answer must report a block. Prints the seconds taken
# by the round and the sum of the calls' own times (curl's time_total of
# each, written after its answer).
mine() {
	local s=$1 n=$2 api=${A_API[$1]} t0 t1 ok calls
	local out=$WORK/$s-mine.out
	local took=(-w '\n@took %{time_total}\n')
	t0=$(now)
	case $s in
	gc*)
		curl -s -X POST "${took[@]}" --config <(for _ in $(seq "$n"); do echo "url = \"$api/mine\""; done) >"$out" ||
			die "$s: curl failed (exit $?) in a round of one-block calls"
		t1=$(now)
		ok=$(grep -o 'Successfully Mined' "$out" | wc -l)
		;;
	*)
		curl -s -u "$RPCUSER:$RPCPASS" -H 'Content-Type: application/json' "${took[@]}" \
			-d '{"jsonrpc":"1.0","id":1,"method":"generate","params":[1]}' \
			--config <(for _ in $(seq "$n"); do echo "url = \"$api/\""; done) >"$out" ||
			die "$s: curl failed (exit $?) in a round of one-block calls"
		t1=$(now)
		ok=$(grep -o '"error":null' "$out" | wc -l)
		;;
	esac
	((ok == n)) || die "$s: $ok of $n one-block calls succeeded"
	calls=$(awk -v n="$n" '$1 == "@took" { t += $2; k++ } END { if (k == n) printf "%.6f", t }' "$out")
	[[ -n $calls ]] || die "$s: curl reported the times of $(grep -c '^@took' "$out") of $n calls"
	echo "$(ucalc "$t1 - $t0") $calls"
}

# sync S: a fresh node B whose only peer is A; seconds from its launch
# until it reaches height BLOCKS.
sync_from_launch() {
	local s=$1 t0 t1
	t0=$(now)
	case $s in
	gc*) start "$s" "$s-B" --bootstrap "${A_P2P[$s]}" ;;
	*) start "$s" "$s-B" --connect "${A_P2P[$s]}" ;;
	esac
	B_PID[$s]=$PID
	poll_until 600 at "$s" "$API" "$BLOCKS" || die "$s node B stuck at height $(height "$s" "$API")"
	t1=$(now)
	SYNC_S[$s]=$(fcalc "$t1 - $t0")
}

# finish S: peak RSS of both nodes, a clean stop, disk per block.
finish() {
	local s=$1
	HWM_A[$s]=$(hwm_bytes "${A_PID[$s]}")
	HWM_B[$s]=$(hwm_bytes "${B_PID[$s]}")
	stop "${A_PID[$s]}" "${B_PID[$s]}"
	DISK_ALLOC[$s]=$(calc "($(du_alloc "$WORK/$s-A") - ${EMPTY_ALLOC[$s]}) / $BLOCKS")
	DISK_APP[$s]=$(calc "($(du_apparent "$WORK/$s-A") - ${EMPTY_APP[$s]}) / $BLOCKS")
}

# --- the run ----------------------------------------------------------------
for s in "${SYSTEMS[@]}"; do
	log "$s: starting"
	prepare "$s"
	MINE_T[$s]=0
	MINE_C[$s]=0
done
# The timed calls go in ROUNDS rounds, the systems taking turns, so that a
# change in the machine's load (it is shared) falls on all of them alike.
# Each round starts with the next system: on ext4 an fsync also writes
# out what other processes left dirty, so the system that follows btcd
# (which writes without fsync) pays for btcd's writes; rotating spreads
# that over all of them.
per=$((CALLS / ROUNDS))
n=${#SYSTEMS[@]}
for r in $(seq 0 $((ROUNDS - 1))); do
	for i in $(seq 0 $((n - 1))); do
		s=${SYSTEMS[$(((r + i) % n))]}
		log "mining round $((r + 1)) of $ROUNDS: $s, $per blocks"
		# A command substitution, so that a die inside mine ends the
		# script here with its message.
		round=$(mine "$s" "$per")
		read -r took calls <<<"$round"
		MINE_T[$s]=$(ucalc "${MINE_T[$s]} + $took")
		MINE_C[$s]=$(ucalc "${MINE_C[$s]} + $calls")
	done
done
for s in "${SYSTEMS[@]}"; do
	log "$s: mining up to $BLOCKS blocks"
	left=$((BLOCKS - per * ROUNDS))
	if ((left > 0)); then # a curl with no call to make fails
		case $s in
		gc*) mine "$s" "$left" >/dev/null ;;
		*) rpc "${A_API[$s]}" generate "[$left]" >/dev/null ;;
		esac
	fi
	at "$s" "${A_API[$s]}" "$BLOCKS" || die "$s node A at height $(height "$s" "${A_API[$s]}"), want $BLOCKS"
done
for s in "${SYSTEMS[@]}"; do
	log "$s: syncing $BLOCKS blocks into a fresh node"
	sync_from_launch "$s"
done
for s in "${SYSTEMS[@]}"; do
	finish "$s"
done

# --- report -----------------------------------------------------------------
echo "blocks=$BLOCKS calls=$((per * ROUNDS)) rounds=$ROUNDS dir=$WORK gc=$GC${BASE:+ gc-base=$BASE} $(uptime | sed 's/.*load/load/')"
declare -A MINE_RATE CALL_RATE
for s in "${SYSTEMS[@]}"; do
	MINE_RATE[$s]=$(calc "$per * $ROUNDS / ${MINE_T[$s]}")
	CALL_RATE[$s]=$(calc "$per * $ROUNDS / ${MINE_C[$s]}")
done
printf '%-30s' measure
for s in "${SYSTEMS[@]}"; do printf ' %16s' "$s"; done
echo
table() { # table LABEL ARRAY
	local -n arr=$2
	printf '%-30s' "$1"
	for s in "${SYSTEMS[@]}"; do printf ' %16s' "${arr[$s]}"; done
	echo
}
table "a. sync from launch (s)" SYNC_S
table "b. blocks/s, one per call" MINE_RATE
table "b'. the same, calls' own time" CALL_RATE
table "c. disk B/block (du -B1)" DISK_ALLOC
table "c. disk B/block (du -b)" DISK_APP
table "d. peak RSS, miner (B)" HWM_A
table "d. peak RSS, synced (B)" HWM_B
echo
echo "ratios: a and b speed ÷ speed (≥ 1: as fast or faster); c and d size ÷ size (≤ 1: as small or smaller)"
printf '%-30s %8s %8s %8s %8s %8s %8s\n' "" "a" "b" "b'" "c" "d miner" "d synced"
for g in "${SYSTEMS[@]}"; do
	[[ $g == gc* ]] || continue
	for b in "${SYSTEMS[@]}"; do
		[[ $b == "$g" ]] && continue
		[[ $g == gc-base && $b == gc ]] && continue
		printf '%-30s %8s %8s %8s %8s %8s %8s\n' "$g ÷ $b" \
			"$(calc "${SYNC_S[$b]} / ${SYNC_S[$g]}")" "$(calc "${MINE_RATE[$g]} / ${MINE_RATE[$b]}")" \
			"$(calc "${CALL_RATE[$g]} / ${CALL_RATE[$b]}")" \
			"$(calc "${DISK_ALLOC[$g]} / ${DISK_ALLOC[$b]}")" \
			"$(calc "${HWM_A[$g]} / ${HWM_A[$b]}")" "$(calc "${HWM_B[$g]} / ${HWM_B[$b]}")"
	done
done
