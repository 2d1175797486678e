package p2p

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/protocol"
)

// txSlice offers its transactions to a template as they are.
type txSlice []*chain.Transaction

func (l txSlice) Select(int, int) []*chain.Transaction { return l }

// poolChain is the part of Chain a compact block's rebuild reads: the
// mempool.
type poolChain struct {
	Chain
	mp *chain.Mempool
}

func (p poolChain) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) { p.mp.Range(f) }
func (p poolChain) DigestTxs(txs []*chain.Transaction, ids []chain.Hash) *chain.TxDigest {
	return p.mp.DigestTxs(txs, ids)
}

// hopFixture is a relay hop's state before a 100 KiB block of n
// transfers arrives: the transfers in its mempool, their signatures in
// the chain's cache, the block's compact encoding as a peer sends it.
type hopFixture struct {
	c       *chain.Chain
	g       *Gossip
	block   *chain.Block
	compact []byte
}

func newHopFixture(b testing.TB, n int) *hopFixture {
	b.Helper()
	st, err := store.OpenDir(b.TempDir(), store.WithNoSync(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	c, err := chain.New(chain.RegTest(), st)
	if err != nil {
		b.Fatal(err)
	}
	p := c.Params()
	ctx := context.Background()
	funder, miner := testwallet.New("hop funder"), testwallet.New("hop miner")
	mine := func(txs txSlice) *chain.Block {
		blk, err := c.Mine(ctx, txs, funder.Addr, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(blk.Transactions) != 1+len(txs) {
			b.Fatalf("block took %d of %d transfers", len(blk.Transactions)-1, len(txs))
		}
		return blk
	}
	for range 2*uint64(n)/p.Reward + 1 {
		if _, err := c.ProcessBlock(ctx, mine(nil)); err != nil {
			b.Fatal(err)
		}
	}
	senders := make([]*testwallet.Wallet, n)
	fund := make(txSlice, n)
	for i := range senders {
		senders[i] = testwallet.New(fmt.Sprintf("hop sender %d", i))
		fund[i] = funder.Tx(p, senders[i].Addr, 2, 0, uint64(i))
	}
	if _, err := c.ProcessBlock(ctx, mine(fund)); err != nil {
		b.Fatal(err)
	}
	mp := chain.NewMempool(p, chain.WithMempoolSigCache(c.SigCache()))
	txs := make(txSlice, n)
	for i, s := range senders {
		txs[i] = s.Tx(p, senders[(i+1)%n].Addr, 1, 0, 0)
		if err := mp.Add(txs[i], c); err != nil {
			b.Fatal(err)
		}
	}
	blk, err := c.Mine(ctx, txs, miner.Addr, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	g := &Gossip{chain: poolChain{mp: mp}, recent: newRecentTxs()}
	return &hopFixture{c: c, g: g, block: blk, compact: compactBlock(blk, chain.TxIDs(blk.Transactions), nil)}
}

// BenchmarkRelayHop100KiB is a relay hop's own work on a 100 KiB block
// (454 transfers) whose transactions are all in its mempool, their
// signatures in its cache, as at each of GossipPropagation20's nodes:
// decode the compact block, rebuild the block from the mempool and check
// its merkle root, then the chain's checks that take no lock
// (CheckBlockDigest: the work gate, sanity, the signature cache). The
// connect and the store's commit are not in it. sha256=100KiB, hashing
// the block's encoding once, is the limit in the same run.
func BenchmarkRelayHop100KiB(b *testing.B) {
	f := newHopFixture(b, 454)
	ctx := context.Background()
	// cpu-ns/op, the process's CPU time, is what the hop costs the
	// machine's cores; ns/op also counts the waits of a loaded machine.
	b.Run("hop", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := testutil.ProcessCPU()
		for b.Loop() {
			c, err := protocol.DecodeCompactBlock(f.compact)
			if err != nil {
				b.Fatal(err)
			}
			blk, d, faithful, err := f.g.assemble(ctx, "", c, false, nil)
			if err != nil || !faithful {
				b.Fatal("not rebuilt:", err)
			}
			if _, err := f.c.CheckBlockDigest(blk, d); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	enc := f.block.Encode()
	b.Run("sha256=100KiB", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := testutil.ProcessCPU()
		for b.Loop() {
			sha256.Sum256(enc)
		}
		b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
}
