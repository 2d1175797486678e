package store_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// TestWALRestartOutcomes: the first batch logged after a commit straight
// to bbolt writes the log's new header and its own record, and one sync
// takes both (restart). Whatever part of the two reached the disk, a
// copy of the files opens: with the batch when both did, without it
// when one did (its Apply had not returned). A record of the generation
// after the durable header's, left on disk, is never read as one of the
// generations Open starts: the store reopened after such a crash still
// lacks the batch.
func TestWALRestartOutcomes(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(61, 16)
	direct := g.batches(3, 3, 2)[0] // several blocks: committed to bbolt, not logged
	mustApply(t, st, direct)
	var base []connected
	for _, m := range direct.Metas {
		blk := direct.Blocks[m.Hash]
		base = append(base, connected{height: m.Height(), hash: m.Hash, ids: chain.TxIDs(blk.Transactions)})
	}
	slices.SortFunc(base, func(a, b connected) int { return int(a.height) - int(b.height) })
	if n := store.PendingBatches(st); n != 0 {
		t.Fatalf("%d batches pending after a batch of three blocks; want it committed to bbolt", n)
	}
	wal := path + store.WALSuffix
	before := readAll(t, wal)
	logged := connectN(t, st, g, 1, 2) // restarts the log, then appends
	after := readAll(t, wal)
	if n := store.PendingBatches(st); n != 1 {
		t.Fatalf("%d batches pending; want the block logged", n)
	}
	hdr := store.WALHeaderSize
	if len(before) < hdr || len(after) <= hdr || slices.Equal(before[:hdr], after[:hdr]) {
		t.Fatalf("log of %d then %d bytes, header rewritten %v; want a new header and a record",
			len(before), len(after), len(before) >= hdr && !slices.Equal(before[:hdr], after[:hdr]))
	}

	tests := []struct {
		name string
		log  []byte
		has  bool // the logged block is in the store
	}{
		{"both reached the disk", after, true},
		{"the record alone", slices.Concat(before[:hdr], after[hdr:]), false},
		{"the header alone", slices.Concat(after[:hdr], before[hdr:]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := copyStore(t, path)
			if err := os.WriteFile(cp+store.WALSuffix, tt.log, 0o600); err != nil {
				t.Fatal(err)
			}
			for round := range 2 { // opened, closed, opened again
				got, err := store.Open(cp, store.WithNoSync(true))
				if err != nil {
					t.Fatalf("open %d: %v", round+1, err)
				}
				want := base
				if tt.has {
					want = append(slices.Clone(base), logged...)
				}
				checkChain(t, got, want, nil)
				if _, err := got.Meta(logged[0].hash); !tt.has && !errors.Is(err, chain.ErrNotFound) {
					t.Fatalf("open %d: the logged block: %v; want not found", round+1, err)
				}
				if err := got.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
