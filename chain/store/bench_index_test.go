package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkReindexAtOpen times what Open does after a crash: index the
// blocks whose transaction index the store held back (catch-up: the
// most one generation holds, 8,191 blocks of eight transactions), or, with the
// mark gone, the whole main chain (rebuild: 20,000 blocks of five).
// Each Open reads the block records and hashes their transactions; it
// reports blocks and transactions indexed a second.
func BenchmarkReindexAtOpen(b *testing.B) {
	for _, sh := range []struct {
		name    string
		blocks  int
		txs     int
		rebuild bool
	}{
		{"catch-up", 8191, 7, false},
		{"rebuild", 20_000, 4, true},
	} {
		b.Run(sh.name, func(b *testing.B) {
			st, path := openTemp(b, store.WithNoSync(true))
			for _, batch := range newGen(31, 1_000).batches(sh.blocks, 64, sh.txs) {
				mustApply(b, st, batch)
			}
			if err := st.Close(); err != nil { // the mark at the tip
				b.Fatal(err)
			}
			tip := uint64(sh.blocks - 1)
			for b.Loop() {
				b.StopTimer()
				st, err := store.Open(path, store.WithNoSync(true))
				if err != nil {
					b.Fatal(err)
				}
				if err := store.CloseWithoutFlush(st); err != nil {
					b.Fatal(err)
				}
				if sh.rebuild {
					store.SetMark(b, path, 0, chain.ZeroHash)
				} else {
					// As a crash leaves it: the mark at genesis, every
					// block above held back and lost.
					store.SetMark(b, path, 0, mainHash(b, path, 0))
				}
				b.StartTimer()
				st, err = store.Open(path, store.WithNoSync(true))
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if h, _, ok := store.IndexMark(b, st); !ok || h != tip {
					b.Fatalf("mark at %d (%t) after Open, want %d", h, ok, tip)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(sh.blocks)*n/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(sh.blocks*(sh.txs+1))*n/b.Elapsed().Seconds(), "txs/s")
		})
	}
}

// mainHash returns the main chain's block at height in the closed store
// at path.
func mainHash(b *testing.B, path string, height uint64) chain.Hash {
	b.Helper()
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := st.MainHash(height)
	if err != nil {
		b.Fatal(err)
	}
	return h
}
