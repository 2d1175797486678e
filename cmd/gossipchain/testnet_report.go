package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// testnetReport is what driveTestnet measured.
type testnetReport struct {
	opts               testnetOptions
	setup              time.Duration
	height             uint64
	blocks, reorgs     int
	submitted, refused int
	included, pending  int
	lost               int
	invalid            int // gone, and no longer valid on the main chain (classifyGone)
	refusals           map[string]int
	converge           time.Duration
	propagation        []time.Duration // every (block, node) arrival after the block was mined
	droppedStreams     int             // nodes whose event stream fell behind: arrivals after it not counted
	peakRSS            uint64          // bytes, 0 if unknown
	audit              string
	done               bool // the run got to the end
	// work is what the running nodes did from the end of setup to the
	// end of the drain, summed over them.
	work nodeWork
	// Figures of the whole network, for the simulation's growth table.
	rssBefore, rssNodes uint64        // resident bytes before the nodes and once they are up
	loadCPU             time.Duration // process CPU time (user + system) during the load
	gossip              testnet.GossipFigures
	stale               int           // blocks mined that ended off the main chain
	healConverge        time.Duration // from the heal to one tip, 0 if not reached during the load
	verifyRate          float64       // ed25519 verifies a second on every core, the better of before and after the run (verifyLimit)
	loadWall            time.Duration // the load's length: --duration, or less after a Ctrl-C
}

// nodeWork sums the counters of the work per transfer: signature
// verifications and cache hits, and how gossiped compact blocks were
// assembled.
type nodeWork struct {
	verifies, hits                        uint64
	rebuilt, requested, txsAsked, fetched uint64
	// txsRecent: transactions placed from recently received batches
	// (p2p.CompactStats.TxsRecent), not asked for.
	txsRecent uint64
}

// sumWork adds up the counters of the running nodes.
func sumWork(nt *testnet.Net) nodeWork {
	var w nodeWork
	for _, i := range nt.Running() {
		st := nt.Node(i).Stats()
		w.verifies += st.Sigs.Verifies
		w.hits += st.Sigs.Hits
		c := st.Gossip.Compact
		w.rebuilt += c.Rebuilt
		w.requested += c.Requested
		w.txsAsked += c.TxsRequested
		w.fetched += c.Fetched
		w.txsRecent += c.TxsRecent
	}
	return w
}

// minus is w's counters less o's. A node restarted in between (--fault
// restart) counts again from zero, so a counter can end below where it
// began: that one reads 0 rather than wrapping around.
func (w nodeWork) minus(o nodeWork) nodeWork {
	sub := func(a, b uint64) uint64 { return a - min(a, b) }
	return nodeWork{sub(w.verifies, o.verifies), sub(w.hits, o.hits), sub(w.rebuilt, o.rebuilt),
		sub(w.requested, o.requested), sub(w.txsAsked, o.txsAsked), sub(w.fetched, o.fetched), sub(w.txsRecent, o.txsRecent)}
}

// watcher reads every node's events: when each block was mined, when it
// reached every other node, and the reorgs.
type watcher struct {
	mu      sync.Mutex
	mined   map[string]time.Time
	arrived map[string][]time.Time
	reorgs  int
	dropped int // streams the node dropped for falling behind
	wg      sync.WaitGroup
	// buffer is each node's event buffer: 16,384 at 20 nodes, less at
	// 1,000, where that many would cost gigabytes.
	buffer int
}

func newWatcher(nodes int) *watcher {
	return &watcher{mined: map[string]time.Time{}, arrived: map[string][]time.Time{},
		buffer: min(1<<14, max(1<<10, (1<<22)/nodes))}
}

func (w *watcher) watch(ctx context.Context, n *node.Node) {
	sub := n.Subscribe(w.buffer)
	w.wg.Go(func() {
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-sub.C:
				if !ok {
					// Dropped for falling behind: the report says so,
					// as its arrivals from then on are missing.
					w.mu.Lock()
					w.dropped++
					w.mu.Unlock()
					return
				}
				w.record(ev)
			}
		}
	})
}

func (w *watcher) record(ev node.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch d := ev.Data.(type) {
	case node.BlockEventData:
		if d.Origin == node.OriginMined {
			w.mined[d.Hash] = ev.Time
		} else if d.Count == 1 {
			// A sync batch's event stands for several blocks and has
			// one time: only single blocks count for propagation.
			w.arrived[d.Hash] = append(w.arrived[d.Hash], ev.Time)
		}
	case node.ReorgEventData:
		w.reorgs++
	}
}

func (w *watcher) results() (blocks, reorgs, dropped int, delays []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for h, at := range w.mined {
		for _, t := range w.arrived[h] {
			delays = append(delays, t.Sub(at))
		}
	}
	slices.Sort(delays)
	return len(w.mined), w.reorgs, w.dropped, delays
}

// peakRSS reads the process's peak resident set from /proc (Linux).
func peakRSS() uint64 { return procStatus("VmHWM:") }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func (rep *testnetReport) print(w io.Writer) {
	o := rep.opts
	fmt.Fprintf(w, "gossipchain testnet: %d nodes, %s of load, %g tx/s, a block every %s, fault %s, seed %d\n",
		o.nodes, o.duration, o.txRate, o.blockInterval, o.fault, o.seed)
	fmt.Fprintf(w, "  setup            %.1f s (nodes up, meshes formed, one block per node)\n", rep.setup.Seconds())
	fmt.Fprintf(w, "  blocks mined     %d (main chain height %d), reorgs seen %d\n", rep.blocks, rep.height, rep.reorgs)
	fmt.Fprintf(w, "  transactions     %d submitted, %d included, %d pending, %d lost", rep.submitted, rep.included, rep.pending, rep.lost)
	if rep.invalid > 0 {
		fmt.Fprintf(w, ", %d no longer valid on the main chain", rep.invalid)
	}
	fmt.Fprintln(w)
	if rep.included > 0 && rep.loadWall > 0 && rep.verifyRate > 0 {
		rate := float64(rep.included) / rep.loadWall.Seconds()
		fmt.Fprintf(w, "  throughput       %.0f included/s over the load; each node checks each once, and this machine verifies %.0f/s on %d cores: %.3g of that ÷ %d\n",
			rate, rep.verifyRate, runtime.GOMAXPROCS(0), rate*float64(o.nodes)/rep.verifyRate, o.nodes)
	}
	if rep.refused > 0 {
		var kinds []string
		for k, v := range rep.refusals {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		}
		slices.Sort(kinds)
		fmt.Fprintf(w, "  refused at entry %d (%s)\n", rep.refused, strings.Join(kinds, ", "))
	}
	fmt.Fprintf(w, "  converged        %.2f s after the load stopped (mempools drained, one tip)\n", rep.converge.Seconds())
	d := rep.propagation
	fmt.Fprintf(w, "  propagation      %d arrivals: p50 %s, p99 %s, max %s", len(d),
		percentile(d, 0.50).Round(10*time.Microsecond), percentile(d, 0.99).Round(10*time.Microsecond), percentile(d, 1).Round(10*time.Microsecond))
	if rep.droppedStreams > 0 {
		fmt.Fprintf(w, " (%d nodes' event streams fell behind and were dropped: their later arrivals are missing)", rep.droppedStreams)
	}
	fmt.Fprintln(w)
	if rep.peakRSS > 0 {
		fmt.Fprintf(w, "  peak memory      %.0f MiB resident, %.1f MiB per node\n",
			float64(rep.peakRSS)/(1<<20), float64(rep.peakRSS)/(1<<20)/float64(o.nodes))
	}
	fmt.Fprintf(w, "  Go heap now      %.0f MiB\n", heapMiB())
	if rep.included > 0 {
		k := rep.work
		fmt.Fprintf(w, "  signatures       %d verified, %d cache hits: %.2f verifications per included transfer per node\n",
			k.verifies, k.hits, float64(k.verifies)/float64(rep.included)/float64(o.nodes))
		fmt.Fprintf(w, "  compact blocks   %d rebuilt from the mempool, %d with %d transactions asked of the sender, %d fetched whole;"+
			" %d transactions taken from batches received but not in the mempool\n",
			k.rebuilt, k.requested, k.txsAsked, k.fetched, k.txsRecent)
	}
	rep.printNetwork(w)
	fmt.Fprintf(w, "  audit            %s\n", rep.audit)
}

func heapMiB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}
