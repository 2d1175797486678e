#!/usr/bin/env bash
# bench-btcd.sh measures gossipchain against btcd v0.26.2 side by side on
# this machine, every process on 127.0.0.1 (docs/benchmarks.md, "Against
# btcd"):
#
#   a. coinbase-only sync from launch: a fresh node whose only peer holds
#      BLOCKS blocks, wall time from its launch until it reaches that height;
#   b. mining one block per API call: CALLS calls of gossipchain's POST /mine
#      against btcd's JSON-RPC "generate 1", each sent by one curl process
#      over one kept-alive connection (so neither side pays a process spawn
#      per call), blocks per second;
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
# Usage: scripts/bench-btcd.sh [-n BLOCKS] [-c CALLS] [-g GOSSIPCHAIN] [-v VARIANTS] [-k]
#   -n BLOCKS       chain length for a, c, d (default 2000)
#   -c CALLS        /mine and generate calls timed for b (default 500, at most BLOCKS)
#   -g GOSSIPCHAIN  gossipchain binary to measure (default: built from this tree)
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
VARIANTS="nocfilters default"
KEEP=0
while getopts "n:c:g:v:k" opt; do
	case $opt in
	n) BLOCKS=$OPTARG ;;
	c) CALLS=$OPTARG ;;
	g) GC=$OPTARG ;;
	v) VARIANTS=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
if ((CALLS > BLOCKS)); then
	echo "-c $CALLS: at most -n ($BLOCKS)" >&2
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

# --- helpers --------------------------------------------------------------
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic (awk: no bc needed).
calc() { awk "BEGIN { printf \"%.4g\", $1 }"; }
# fcalc EXPR: the same with three decimals, for instants and seconds.
fcalc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

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
# gc_start NAME [FLAGS...]: starts a regtest node with data directory
# $WORK/NAME; sets GC_PID and GC_API. It logs warnings only, as a node
# logging every block would time its terminal too.
gc_start() {
	local name=$1
	shift
	GC_API=http://127.0.0.1:$(free_port)
	"$GC" node --network regtest --no-mdns --dht off --listen /ip4/127.0.0.1/tcp/0 -p "${GC_API##*:}" \
		--data-dir "$WORK/$name" --log-level warn "$@" >"$WORK/$name.log" 2>&1 &
	GC_PID=$!
	PIDS+=("$GC_PID")
}
gc_ready() { curl -sf "$1/status" >/dev/null; }
gc_height() { curl -sf "$1/status" | grep -o '"height":[0-9]*' | head -1 | cut -d: -f2; }
gc_at() { [[ $(gc_height "$1") == "$2" ]]; }

run_gossipchain() {
	log "gossipchain: mining $BLOCKS blocks, $CALLS of them timed"
	# The empty node's size: launched, ready, stopped.
	gc_start gcA
	poll_until 30 gc_ready "$GC_API" || die "gossipchain node A did not start: $(tail -5 "$WORK/gcA.log")"
	stop "$GC_PID"
	local empty_alloc empty_app
	empty_alloc=$(du_alloc "$WORK/gcA")
	empty_app=$(du_apparent "$WORK/gcA")

	gc_start gcA
	local pidA=$GC_PID api=$GC_API addr
	poll_until 30 gc_ready "$api" || die "gossipchain node A did not start: $(tail -5 "$WORK/gcA.log")"
	addr=$(curl -sf "$api/status" | grep -o '/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*' | head -1)
	[[ -n $addr ]] || die "gossipchain node A has no loopback address in /status"

	# One curl, CALLS kept-alive requests; each answer is a line of JSON.
	local t0 t1
	t0=$(now)
	curl -s -X POST --config <(for _ in $(seq "$CALLS"); do echo "url = \"$api/mine\""; done) >"$WORK/gc-mine.out"
	t1=$(now)
	local ok
	ok=$(grep -o 'Successfully Mined' "$WORK/gc-mine.out" | wc -l)
	((ok == CALLS)) || die "gossipchain: $ok of $CALLS /mine calls succeeded"
	GC_MINE_RATE=$(calc "$CALLS / ($t1 - $t0)")
	if ((BLOCKS > CALLS)); then
		curl -s -X POST --config <(for _ in $(seq $((BLOCKS - CALLS))); do echo "url = \"$api/mine\""; done) >/dev/null
	fi
	gc_at "$api" "$BLOCKS" || die "gossipchain node A at height $(gc_height "$api"), want $BLOCKS"

	log "gossipchain: syncing $BLOCKS blocks into a fresh node"
	t0=$(now)
	gc_start gcB --bootstrap "$addr"
	local pidB=$GC_PID apiB=$GC_API
	poll_until 600 gc_at "$apiB" "$BLOCKS" || die "gossipchain node B stuck at height $(gc_height "$apiB")"
	t1=$(now)
	GC_SYNC_S=$(fcalc "$t1 - $t0")
	GC_HWM_A=$(hwm_bytes "$pidA")
	GC_HWM_B=$(hwm_bytes "$pidB")
	stop "$pidA" "$pidB"
	GC_DISK_ALLOC=$(calc "($(du_alloc "$WORK/gcA") - $empty_alloc) / $BLOCKS")
	GC_DISK_APP=$(calc "($(du_apparent "$WORK/gcA") - $empty_app) / $BLOCKS")
}

# --- btcd -----------------------------------------------------------------
RPCUSER=bench
RPCPASS=bench-$RANDOM$RANDOM
# The regtest P2PKH address of the all-zero hash160 (version 0x6f): blocks
# pay nobody in particular, and btcd needs some address for generate.
MINING_ADDR=mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8

# btcd_start NAME VARIANT [FLAGS...]: sets BTCD_PID, BTCD_RPC, BTCD_P2P.
btcd_start() {
	local name=$1 variant=$2
	shift 2
	BTCD_P2P=$(free_port)
	BTCD_RPC=$(free_port)
	local extra=()
	[[ $variant == nocfilters ]] && extra+=(--nocfilters)
	"$BIN/btcd" --regtest --datadir "$WORK/$name" --logdir "$WORK/$name-logs" \
		--listen "127.0.0.1:$BTCD_P2P" --rpclisten "127.0.0.1:$BTCD_RPC" --notls \
		--rpcuser "$RPCUSER" --rpcpass "$RPCPASS" --nodnsseed --miningaddr "$MINING_ADDR" \
		"${extra[@]}" "$@" >"$WORK/$name.out" 2>&1 &
	BTCD_PID=$!
	PIDS+=("$BTCD_PID")
}
# rpc PORT METHOD PARAMS: one JSON-RPC call; prints the answer.
rpc() {
	curl -sf -u "$RPCUSER:$RPCPASS" -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "http://127.0.0.1:$1/"
}
btcd_height() { rpc "$1" getblockcount '[]' | grep -o '"result":[0-9]*' | cut -d: -f2; }
btcd_ready() { [[ -n $(btcd_height "$1") ]]; }
btcd_at() { [[ $(btcd_height "$1") == "$2" ]]; }

# run_btcd VARIANT: sets BT_* for the variant.
run_btcd() {
	local v=$1
	log "btcd ($v): mining $BLOCKS blocks, $CALLS of them timed"
	btcd_start "btA-$v" "$v"
	poll_until 60 btcd_ready "$BTCD_RPC" || die "btcd A did not start: $(tail -5 "$WORK/btA-$v.out")"
	stop "$BTCD_PID"
	local empty_alloc empty_app
	empty_alloc=$(du_alloc "$WORK/btA-$v")
	empty_app=$(du_apparent "$WORK/btA-$v")

	btcd_start "btA-$v" "$v"
	local pidA=$BTCD_PID rpcA=$BTCD_RPC p2pA=$BTCD_P2P
	poll_until 60 btcd_ready "$rpcA" || die "btcd A did not start: $(tail -5 "$WORK/btA-$v.out")"

	local body='{"jsonrpc":"1.0","id":1,"method":"generate","params":[1]}'
	local t0 t1
	t0=$(now)
	curl -s -u "$RPCUSER:$RPCPASS" -H 'Content-Type: application/json' -d "$body" \
		--config <(for _ in $(seq "$CALLS"); do echo "url = \"http://127.0.0.1:$rpcA/\""; done) >"$WORK/bt-mine-$v.out"
	t1=$(now)
	local ok
	ok=$(grep -o '"error":null' "$WORK/bt-mine-$v.out" | wc -l)
	((ok == CALLS)) || die "btcd: $ok of $CALLS generate calls succeeded"
	BT_MINE_RATE[$v]=$(calc "$CALLS / ($t1 - $t0)")
	if ((BLOCKS > CALLS)); then
		rpc "$rpcA" generate "[$((BLOCKS - CALLS))]" >/dev/null
	fi
	btcd_at "$rpcA" "$BLOCKS" || die "btcd A at height $(btcd_height "$rpcA"), want $BLOCKS"

	log "btcd ($v): syncing $BLOCKS blocks into a fresh node"
	t0=$(now)
	btcd_start "btB-$v" "$v" --connect "127.0.0.1:$p2pA"
	local pidB=$BTCD_PID rpcB=$BTCD_RPC
	poll_until 600 btcd_at "$rpcB" "$BLOCKS" || die "btcd B stuck at height $(btcd_height "$rpcB")"
	t1=$(now)
	BT_SYNC_S[$v]=$(fcalc "$t1 - $t0")
	BT_HWM_A[$v]=$(hwm_bytes "$pidA")
	BT_HWM_B[$v]=$(hwm_bytes "$pidB")
	stop "$pidA" "$pidB"
	BT_DISK_ALLOC[$v]=$(calc "($(du_alloc "$WORK/btA-$v") - $empty_alloc) / $BLOCKS")
	BT_DISK_APP[$v]=$(calc "($(du_apparent "$WORK/btA-$v") - $empty_app) / $BLOCKS")
}

declare -A BT_MINE_RATE BT_DISK_ALLOC BT_DISK_APP BT_SYNC_S BT_HWM_A BT_HWM_B
run_gossipchain
for v in $VARIANTS; do
	run_btcd "$v"
done

echo "blocks=$BLOCKS calls=$CALLS gossipchain=$GC $(uptime | sed 's/.*load/load/')"
printf '%-28s %14s' "measure" "gossipchain"
for v in $VARIANTS; do printf ' %16s %9s' "btcd $v" "ratio"; done
echo
row() { # row LABEL GC_VALUE ARRAY RATIO_KIND(speed|time|size)
	local label=$1 g=$2 kind=$4
	local -n arr=$3
	printf '%-28s %14s' "$label" "$g"
	for v in $VARIANTS; do
		local b=${arr[$v]} r
		case $kind in
		time) r=$(calc "$b / $g") ;; # speed ratio from times
		*) r=$(calc "$g / $b") ;;
		esac
		printf ' %16s %9s' "$b" "$r"
	done
	echo
}
row "a. sync from launch (s)" "$GC_SYNC_S" BT_SYNC_S time
row "b. blocks/s, 1 per call" "$GC_MINE_RATE" BT_MINE_RATE speed
row "c. disk B/block (du -B1)" "$GC_DISK_ALLOC" BT_DISK_ALLOC size
row "c. disk B/block (du -b)" "$GC_DISK_APP" BT_DISK_APP size
row "d. peak RSS miner (B)" "$GC_HWM_A" BT_HWM_A size
row "d. peak RSS synced (B)" "$GC_HWM_B" BT_HWM_B size
echo "ratios: a and b are gossipchain's speed ÷ btcd's (≥ 1: as fast or faster); c and d gossipchain ÷ btcd (≤ 1: as small or smaller)"
