package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
)

// ethereumWindow is the delay within which Ethereum's mainnet is
// reported to deliver 98% of its blocks, the published figure the
// report compares the run's propagation with.
const ethereumWindow = 4 * time.Second

// stale counts the blocks mined during the run that are not on c's main
// chain: the orphans of races between miners.
func (w *watcher) stale(c *chain.Chain) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for h := range w.mined {
		hash, err := chain.ParseHash(h)
		if err != nil {
			continue
		}
		meta, err := c.Meta(hash)
		if err != nil {
			n++ // not even stored here: lost with its branch
			continue
		}
		if main, err := c.MainHash(meta.Height()); err != nil || main != hash {
			n++
		}
	}
	return n
}

// printNetwork adds the network's figures to the report: the cost of a
// block to the whole network and to each node, which the simulation's
// growth table is made of.
func (rep *testnetReport) printNetwork(w io.Writer) {
	o, g := rep.opts, rep.gossip
	if rep.blocks > 0 {
		fmt.Fprintf(w, "  stale blocks     %d of %d (%.1f%%) off the main chain, a block every %s\n",
			rep.stale, rep.blocks, 100*float64(rep.stale)/float64(rep.blocks), o.blockInterval)
	}
	if g.Blocks > 0 && len(g.Hops) > 0 {
		d := pubsub.DefaultGossipSubParams().D
		fmt.Fprintf(w, "  gossip           %d blocks: hops p50 %d, p99 %d, max %d (log_%d(%d) = %.1f); delay p50 %s, p99 %s, max %s, %.1f%% within %s\n",
			g.Blocks, g.Hops[len(g.Hops)/2], g.Hops[min(len(g.Hops)-1, len(g.Hops)*99/100)], g.Hops[len(g.Hops)-1],
			d, o.nodes, math.Log(float64(o.nodes))/math.Log(float64(d)),
			percentile(g.Delays, 0.5).Round(time.Millisecond), percentile(g.Delays, 0.99).Round(time.Millisecond),
			percentile(g.Delays, 1).Round(time.Millisecond), 100*within(g.Delays, ethereumWindow), ethereumWindow)
		fmt.Fprintf(w, "  per block        %.1f messages sent in all (%.2f per node); per node: %.2f duplicates, %.1f KiB in, %.1f KiB out\n",
			g.MessagesPerBlock, g.MessagesPerBlock/float64(o.nodes), g.Duplicates, g.BytesIn/1024, g.BytesOut/1024)
	}
	if rep.loadCPU > 0 {
		// Per block is the window's CPU over the blocks published in
		// it, upkeep included: not what one block costs to relay.
		fmt.Fprintf(w, "  CPU              %.2f cores busy during the load (of %d here), %.1f ms per node per second, %.0f ms per block published in the load (upkeep included)\n",
			rep.loadCPU.Seconds()/o.duration.Seconds(), runtime.NumCPU(),
			1000*rep.loadCPU.Seconds()/o.duration.Seconds()/float64(o.nodes),
			1000*rep.loadCPU.Seconds()/float64(max(g.Blocks, 1)))
	}
	if rep.rssNodes > rep.rssBefore && rep.rssBefore > 0 {
		fmt.Fprintf(w, "  memory per node  %.2f MiB resident once up, after a collection (%.0f MiB for %d nodes)\n",
			float64(rep.rssNodes-rep.rssBefore)/(1<<20)/float64(o.nodes), float64(rep.rssNodes-rep.rssBefore)/(1<<20), o.nodes)
	}
	if rep.healConverge > 0 {
		fmt.Fprintf(w, "  after the heal   one tip %.2f s after the heal began, mining going on\n", rep.healConverge.Seconds())
	}
}

// within is the fraction of sorted delays no longer than d.
func within(sorted []time.Duration, d time.Duration) float64 {
	if len(sorted) == 0 {
		return 0
	}
	n := 0
	for _, v := range sorted {
		if v <= d {
			n++
		}
	}
	return float64(n) / float64(len(sorted))
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// currentRSS reads the process's resident set from /proc (Linux), 0 if
// unknown.
func currentRSS() uint64 { return procStatus("VmRSS:") }

// procStatus reads a kB field of /proc/self/status in bytes.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
