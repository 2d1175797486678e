package chain_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// BenchmarkMineConnect is what one /mine asks of the chain, without the
// node, the HTTP exchange or the fsync: a block mined on the tip at
// regtest's target and connected as the node connects its own, one after
// another on a store of 30 blocks (no fsync, so the figure is CPU, not
// the disk). It reports the store's counted reads a block (metas, main
// hashes, views) and the process's CPU a block beside the time:
//
//	go test -run '^$' -bench MineConnect -benchmem ./chain
func BenchmarkMineConnect(b *testing.B) {
	h, c, cs := countingChain(b, 30)
	reads, cpu := cs.reads, cpuTime(b)
	for b.Loop() {
		mineConnect(b, c, h.miner.Addr)
	}
	b.ReportMetric(float64(cs.reads-reads)/float64(b.N), "store-reads/block")
	// The process's CPU, besides the wall time: the machine is shared.
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/block")
}

// mineConnect mines a block on c's tip paying addr and connects it as the
// node connects its own.
func mineConnect(tb testing.TB, c *chain.Chain, addr string) {
	tb.Helper()
	b, err := c.Mine(tb.Context(), nil, addr, 1, nil)
	if err != nil {
		tb.Fatalf("mine: %v", err)
	}
	if _, err := c.ProcessBlock(tb.Context(), b); err != nil {
		tb.Fatalf("process: %v", err)
	}
}

// countingChain returns a chain of n blocks reopened through a
// readCountingStore, with the harness that built it.
func countingChain(tb testing.TB, n int) (*harness, *chain.Chain, *readCountingStore) {
	tb.Helper()
	h := newHarness(tb, nil)
	h.extend(h.tipHash(), n)
	h.close()
	c, cs := openCounting(tb, h.p, h.dir)
	return h, c, cs
}
