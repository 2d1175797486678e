package chain_test

import (
	"context"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkConnectAdmittedBlock1000 times the whole of connecting a
// block of 1,000 signed transfers that all passed mempool admission:
// sanity (every signature a cache hit), context, ledger and the store's
// commit, on the tip of a fresh chain each iteration. ConnectAdmitted1000
// is its sanity check alone. Issue 13 asks for at most 0.1 of verifying
// the block's signatures: docs/benchmarks.md holds both against
// Verify1000 of the same run (one core), and gives Verify1000Parallel
// (both) beside it.
//
// store=… hands the block whole to ProcessBlock, which hashes every
// transaction for its id: a block mined here, or fetched whole.
// ids=mempool/store=… hands it as gossip does once a compact block is
// rebuilt from the pool (p2p's compact.go): the pool's digest
// (Mempool.DigestTxs, timed: each transaction the pool holds is taken
// under the id it was admitted with, the coinbase hashed), then
// CheckBlockDigest and ProcessChecked. The rebuild's own matching of
// short ids is the relay hop's cost, not the connect's
// (p2p's BenchmarkRelayHop100KiB).
func BenchmarkConnectAdmittedBlock1000(b *testing.B) {
	h, blk := signedBlock(b, 1000)
	before := mainAboveGenesis(b, h.c)
	for _, v := range []struct {
		name            string
		noSync, rebuilt bool
	}{
		{"store=nosync", true, false},
		{"store=fsync", false, false},
		{"ids=mempool/store=nosync", true, true},
		{"ids=mempool/store=fsync", false, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			// The process's CPU, run-queue wait, faults and blocking
			// across the timed connects: what the wall time is made of.
			// closing is the store's Close after each connect, timed
			// apart: from store version 4 it writes the transaction
			// index the connect's commit held back (with the setup's),
			// and a store that syncs commits there the block its
			// connect logged (its record and bbolt's pages), which a
			// connect's figure alone leaves out.
			var cost, closing procCost
			var closeWall time.Duration
			for b.Loop() {
				b.StopTimer()
				c, pool, closeStore := admittedChain(b, before, blk, v.noSync)
				ids := poolIDs(b, pool, blk)
				from := sampleProc(b)
				b.StartTimer()
				var ch *chain.Change
				var err error
				// The label follows the goroutines the connect starts
				// (its checks run on every core), which a profile's
				// focus on ProcessBlock's stack misses: -tagfocus
				// bench=connect sees them.
				pprof.Do(context.Background(), connectLabel, func(ctx context.Context) {
					if !v.rebuilt {
						ch, err = c.ProcessBlock(ctx, blk)
						return
					}
					var cb *chain.CheckedBlock
					if cb, err = c.CheckBlockDigest(blk, pool.DigestTxs(blk.Transactions, ids)); err == nil {
						ch, err = c.ProcessChecked(ctx, cb)
					}
				})
				b.StopTimer()
				cost.add(b, from)
				from, start := sampleProc(b), time.Now()
				closeStore()
				closeWall += time.Since(start)
				closing.add(b, from)
				if err != nil || ch == nil || ch.NewTip.Hash != blk.Hash() {
					b.Fatalf("the block did not connect: %v", err)
				}
				b.StartTimer()
			}
			cost.report(b)
			n := float64(b.N)
			b.ReportMetric(float64(closeWall.Microseconds())/n, "close-us/op")
			b.ReportMetric(float64(closing.sum.cpu.Microseconds())/n, "close-cpu-us/op")
			b.ReportMetric(float64(closing.sum.writes)/n, "close-write-calls/op")
		})
	}
}

// poolIDs returns, for each of blk's transactions, the id pool holds it
// under (zero for the coinbase, which it does not hold): the ids a
// compact block's rebuild records as it places the pool's transactions.
func poolIDs(b *testing.B, pool *chain.Mempool, blk *chain.Block) []chain.Hash {
	b.Helper()
	at := make(map[*chain.Transaction]chain.Hash, pool.Len())
	pool.Range(func(id chain.Hash, tx *chain.Transaction) bool {
		at[tx] = id
		return true
	})
	ids := make([]chain.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions[1:] {
		id, ok := at[tx]
		if !ok {
			b.Fatalf("transaction %d is not in the pool", i+1)
		}
		ids[i+1] = id
	}
	return ids
}

// mainAboveGenesis returns c's main chain after genesis, in order: the
// blocks a block built on c's tip connects to on a fresh chain.
func mainAboveGenesis(b *testing.B, c *chain.Chain) []*chain.Block {
	b.Helper()
	var blocks []*chain.Block
	for height := uint64(1); height <= c.Tip().Height(); height++ {
		hash, err := c.MainHash(height)
		if err != nil {
			b.Fatal(err)
		}
		pb, err := c.Block(hash)
		if err != nil {
			b.Fatal(err)
		}
		blocks = append(blocks, pb)
	}
	return blocks
}

// connectLabel marks the timed connect's CPU in a profile.
var connectLabel = pprof.Labels("bench", "connect")

// admittedChain returns a chain on a new store holding before, on which
// every transaction of blk passed admission to a mempool as the node's
// does it: the pool shares the chain's signature cache and reads the
// accounts through the chain, so both caches hold what a node's hold when
// a block of its pool's transactions arrives.
func admittedChain(b *testing.B, before []*chain.Block, blk *chain.Block, noSync bool) (*chain.Chain, *chain.Mempool, func()) {
	b.Helper()
	st, err := store.OpenDir(b.TempDir(), store.WithNoSync(noSync))
	if err != nil {
		b.Fatal(err)
	}
	c, err := chain.New(chain.RegTest(), st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		st.Close()
		b.Fatal(err)
	}
	if _, n, err := c.ProcessBlocks(context.Background(), before); err != nil || n != len(before) {
		st.Close()
		b.Fatalf("processed %d of %d blocks: %v", n, len(before), err)
	}
	pool := chain.NewMempool(c.Params(), chain.WithMempoolSigCache(c.SigCache()),
		chain.WithMempoolClock(func() time.Time { return testNow }))
	for _, tx := range blk.Transactions[1:] {
		if err := pool.Add(tx, c); err != nil {
			st.Close()
			b.Fatal(err)
		}
	}
	return c, pool, func() { st.Close() }
}
