package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestView reads the main index and metas through one view: the same
// answers as the store's own reads, MainHashes ending where the index
// does, and fn's error returned. (That a view is one snapshot is bbolt's
// read transaction; a test that commits inside a view could deadlock on
// bbolt's remap, which waits for open readers.)
func TestView(t *testing.T) {
	st, _ := openTemp(t)
	g := newGen(2, 4)
	b := chain.NewBatch()
	var hashes []chain.Hash
	for range 6 {
		hashes = append(hashes, g.connect(b, 0).Hash())
	}
	mustApply(t, st, b)
	first := hashes[0]
	m0, err := st.Meta(first)
	if err != nil {
		t.Fatal(err)
	}
	base := m0.Height() // heights base … base+5 are on the main chain

	tests := []struct {
		name string
		from uint64
		n    int
		want int
	}{
		{"all", base, 6, 6},
		{"fewer than there are", base + 1, 3, 3},
		{"past the tip", base + 4, 10, 2},
		{"beyond the tip", base + 6, 5, 0},
		{"none asked", base, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := st.View(func(v chain.StoreView) error {
				got, err := v.MainHashes(tc.from, tc.n)
				if err != nil {
					return err
				}
				if len(got) != tc.want {
					t.Fatalf("MainHashes(%d, %d): %d hashes, want %d", tc.from, tc.n, len(got), tc.want)
				}
				for i, h := range got {
					if want := hashes[tc.from-base+uint64(i)]; h != want {
						t.Errorf("hash %d = %s, want %s", i, h.Short(), want.Short())
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	err = st.View(func(v chain.StoreView) error {
		if _, err := v.MainHash(base + 6); !errors.Is(err, chain.ErrNotFound) {
			t.Errorf("MainHash past the tip: %v, want ErrNotFound", err)
		}
		if m, err := v.Meta(first); err != nil || m.Hash != first {
			t.Errorf("Meta in a view: %v, %v", m, err)
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("View returned %v, want fn's error", err)
	}
}

var errStop = errors.New("stop")

// TestApplyDuringView: a commit that grows a store still small does not
// wait for an open read transaction. bbolt remaps the file when a commit
// outgrows the map, and a remap waits for every reader; the store maps
// enough from the start (initialMmapSize) that a new store never remaps,
// so a commit in the middle of a view of the chain's (a block's
// accounts, a peer's headers) goes through. Before the initial map, this
// Apply waited for the view and the view for the Apply.
func TestApplyDuringView(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(3, 50)
	first := chain.NewBatch()
	g.connect(first, 0)
	mustApply(t, st, first)
	big := chain.NewBatch()
	for range 40 {
		g.connect(big, 200) // several MB of pages: many times the file so far
	}
	err := st.View(func(v chain.StoreView) error {
		done := make(chan error, 1)
		go func() { done <- st.Apply(big) }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return errors.New("the commit waited for the open view")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
