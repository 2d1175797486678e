package p2p_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/p2p"
)

// BenchmarkRelayHop is the node's own CPU cost of relaying a gossiped
// block of txs transfers whose transactions it has in its mempool (as
// GossipPropagation20's warm nodes have): the block topic's validator on
// the compact block (decode, header precheck, rebuild from the mempool,
// the chain's checks, connect), then the commit and the mempool's
// update, which finish after the validator accepted it (protocol.md
// §16.8). GossipSub's and the transport's work (receiving, decrypting,
// forwarding to the mesh) is not in it: BenchmarkGossipPropagation20's
// raw cases measure that. The store runs without fsync, as in
// GossipPropagation20. cpu-µs/block is the process's CPU time per block:
// the idle host's timers and the collector count too, and a queued group
// commit partly falls outside the timed part (see the loop).
func BenchmarkRelayHop(b *testing.B) {
	for _, txs := range []int{4, 454} {
		b.Run(fmt.Sprintf("txs=%d", txs), func(b *testing.B) { benchRelayHop(b, txs) })
	}
}

func benchRelayHop(b *testing.B, txs int) {
	p := chain.RegTest()
	miner, senders, prefix := benchSenders(b, txs)
	src, closeSrc := openBenchChain(b, b.TempDir(), true)
	b.Cleanup(closeSrc)
	dst, closeDst := openBenchChain(b, b.TempDir(), true)
	b.Cleanup(closeDst)
	processAll(b, src, prefix, len(prefix))
	processAll(b, dst, prefix, len(prefix))
	h := newNodeHost(b)
	b.Cleanup(func() { h.Close() })
	g, err := p2p.NewGossip(context.Background(), h.Host, dst, nopSync{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	from := newNodeHost(b)
	b.Cleanup(func() { from.Close() })

	// Every block first, on the source chain: its processing verifies
	// signatures, which would dwarf the hop's own work in the process's
	// CPU time.
	ctx := context.Background()
	blocks := make([]*chain.Block, b.N)
	for k := range blocks {
		list := make(txList, txs)
		for i, s := range senders {
			list[i] = s.Tx(p, senders[(i+1)%txs].Addr, 1, 0, uint64(k))
		}
		blk, err := src.Mine(ctx, list, miner.Addr, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := src.processNow(ctx, blk); err != nil {
			b.Fatal(err)
		}
		blocks[k] = blk
	}
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for k, blk := range blocks {
		// The mempool holds the block's transactions and nothing else,
		// as at GossipPropagation20's nodes. Untimed: a group commit
		// the last block queued may run meanwhile, and lose the few of
		// its microseconds that fall here.
		b.StopTimer()
		batch := blk.Transactions[1:]
		for i, err := range dst.AddTxs(batch, chain.TxIDs(batch)) {
			if err != nil {
				b.Fatalf("transfer %d: %v", i, err)
			}
		}
		msg := p2p.CompactBlockOf(blk, nil)
		b.StartTimer()
		cpu0 := testutil.ProcessCPU()
		if res, err := g.CheckBlock(ctx, from.ID(), msg); res != pubsub.ValidationAccept {
			b.Fatalf("block %d: %v, %v", k, res, err)
		}
		dst.early.Wait()
		cpu += testutil.ProcessCPU() - cpu0
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/block")
}
