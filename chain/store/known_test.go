package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestKnownBlocks: every block the store holds reads back, whether its
// batch waits in the memtable, went to the file, or was there before the
// store was opened, and a block it does not hold is not found. A hash it
// has never seen is answered without a read transaction; one its set of
// hashes holds without the block (a block deleted, or another hash with
// the same key) is looked up, and not found either.
func TestKnownBlocks(t *testing.T) {
	g := newGen(41, 16)
	st, path := openTemp(t)
	var hashes []chain.Hash
	apply := func(b *chain.Batch) {
		mustApply(t, st, b)
		for h := range b.Metas {
			hashes = append(hashes, h)
		}
	}
	for _, b := range g.batches(10, 5, 2) { // several blocks a batch: committed at once
		apply(b)
	}
	for _, b := range g.batches(3, 1, 2) { // one block on the tip: deferred
		apply(b)
	}
	if n := store.PendingBatches(st); n == 0 {
		t.Fatal("no batch waits in the memtable: the test covers only the file")
	}
	never, marked := chain.Hash{1, 2, 3}, chain.Hash{4, 5, 6}

	check := func(t *testing.T, st *store.Store) {
		t.Helper()
		store.MarkKnown(st, marked)
		for _, h := range hashes {
			if _, err := st.Meta(h); err != nil {
				t.Errorf("Meta(%s): %v", h.Short(), err)
			}
			if _, err := st.Block(h); err != nil {
				t.Errorf("Block(%s): %v", h.Short(), err)
			}
			if _, err := st.BlockBytes(h); err != nil {
				t.Errorf("BlockBytes(%s): %v", h.Short(), err)
			}
			if _, err := st.Undo(h); err != nil {
				t.Errorf("Undo(%s): %v", h.Short(), err)
			}
		}
		for _, tc := range []struct {
			name  string
			h     chain.Hash
			reads int // read transactions the misses take
		}{
			{"never stored", never, 0},
			{"marked as known", marked, 4},
		} {
			before := store.ReadTxs(st)
			_, merr := st.Meta(tc.h)
			_, berr := st.Block(tc.h)
			_, bberr := st.BlockBytes(tc.h)
			_, uerr := st.Undo(tc.h)
			verr := st.View(func(v chain.StoreView) error {
				_, err := v.Meta(tc.h)
				return err
			})
			for what, err := range map[string]error{"Meta": merr, "Block": berr, "BlockBytes": bberr, "Undo": uerr, "View's Meta": verr} {
				if !errors.Is(err, chain.ErrNotFound) {
					t.Errorf("%s: %s = %v, want chain.ErrNotFound", tc.name, what, err)
				}
			}
			// View always begins one; the other four begin one each
			// only when the hash may be stored.
			if got, want := store.ReadTxs(st)-before, 1+tc.reads; got != want {
				t.Errorf("%s: %d read transactions, want %d", tc.name, got, want)
			}
		}
	}
	t.Run("open", func(t *testing.T) { check(t, st) })
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed, the store says so, whatever it holds.
	if _, err := st.Meta(never); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Meta after Close = %v, want ErrClosed", err)
	}
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Run("reopened", func(t *testing.T) { check(t, st) })

	// A block applied after the reopen is found at once.
	b := chain.NewBatch()
	if err := g.resume(st); err != nil {
		t.Fatal(err)
	}
	g.connect(b, 2)
	mustApply(t, st, b)
	for h := range b.Metas {
		if _, err := st.Meta(h); err != nil {
			t.Errorf("Meta(%s) after Apply: %v", h.Short(), err)
		}
	}
}

// BenchmarkMetaMiss is the read of a block the store does not hold, the
// first thing asked of every block that arrives, with 0 or 63 batches
// waiting in the memtable.
func BenchmarkMetaMiss(b *testing.B) {
	for _, pending := range []int{0, 63} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			st := pendingStore(b, newGen(73, 100), 200, 4, pending, 4)
			h := chain.Hash{9, 9, 9}
			for b.Loop() {
				if _, err := st.Meta(h); !errors.Is(err, chain.ErrNotFound) {
					b.Fatal(err)
				}
			}
		})
	}
}
