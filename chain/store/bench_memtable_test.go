package store_test

import (
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkPendingAccountReads reads, in one view, the 908 addresses a
// block of 454 transfers touches among 10,000, with 0 to 63 blocks of
// that shape waiting in the memtable: what connecting the next block
// pays for its accounts the chain's cache does not hold, each read
// asking the pending batches, newest first, before bbolt.
func BenchmarkPendingAccountReads(b *testing.B) {
	for _, pending := range []int{0, 16, 63} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			g := newGen(71, 10_000)
			batches := g.batches(21+pending, 1, 454)
			st := warmStore(b, batches[:21], store.WithNoSync(true))
			for _, batch := range batches[21:] {
				mustApply(b, st, batch)
			}
			if n := store.PendingBatches(st); n != pending {
				b.Fatalf("%d batches pending, want %d", n, pending)
			}
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
