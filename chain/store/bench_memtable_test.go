package store_test

import (
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkPendingAccountReads reads, in one view, the 908 addresses a
// block of 454 transfers touches among 10,000, with 0 to 63 blocks
// waiting in the memtable: what connecting the next block pays for its
// accounts the chain's cache does not hold, each read asking the pending
// batches, newest first, before bbolt. The waiting blocks hold 4
// transfers: a block of 454 (100 KiB) is over memDeferMax, and a store
// without syncs commits it at once, so blocks of that shape never wait
// there (store version 5); one that syncs logs them too, and groups of
// them wait.
func BenchmarkPendingAccountReads(b *testing.B) {
	for _, pending := range []int{0, 16, 63} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			g := newGen(71, 10_000)
			st := pendingStore(b, g, 21, 454, pending, 4)
			next := chain.NewBatch()
			blk := g.connect(next, 454)
			var addrs []string
			for _, tx := range blk.Transactions {
				addrs = append(addrs, tx.Sender, tx.Recipient)
			}
			for b.Loop() {
				err := st.View(func(v chain.StoreView) error {
					for _, a := range addrs {
						if _, err := v.Account(a); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pendingStore returns a store (no fsync) holding stored blocks of
// storedTxs transfers from g, closed and opened again, then pending
// blocks of pendingTxs, one batch each, waiting in its memtable.
func pendingStore(b *testing.B, g *gen, stored, storedTxs, pending, pendingTxs int) *store.Store {
	b.Helper()
	st := warmStore(b, g.batches(stored, 1, storedTxs), store.WithNoSync(true))
	for _, batch := range g.batches(pending, 1, pendingTxs) {
		mustApply(b, st, batch)
	}
	if n := store.PendingBatches(st); n != pending {
		b.Fatalf("%d batches pending, want %d", n, pending)
	}
	return st
}
