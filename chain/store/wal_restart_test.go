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
// when one did (its Apply had not returned), the accounts as they were.
// Records of older generations lie behind the header (a group was
// logged and committed first). A record of the generation after the
// durable header's, left on disk, is never read as one of the
// generations Open starts: the store reopened lacks the batch, and after
// a commit straight to bbolt and another crash it still opens (replayed
// over the file's new tip, that record would make Open refuse the log).
func TestWALRestartOutcomes(t *testing.T) {
	const seed = 61
	// upTo takes a generator through what the store is given before
	// the restart: a group of logged blocks, then three blocks in one
	// batch (committed straight to bbolt, not logged).
	upTo := func(g *gen) (logged []*chain.Batch, direct *chain.Batch) {
		logged = g.batches(4, 1, 2)
		return logged, g.batches(3, 3, 2)[0]
	}
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(seed, 16)
	small, direct := upTo(g)
	for _, b := range small {
		mustApply(t, st, b)
	}
	if err := store.CommitPending(st); err != nil { // the log reset, its records left behind
		t.Fatal(err)
	}
	mustApply(t, st, direct)
	if n := store.PendingBatches(st); n != 0 {
		t.Fatalf("%d batches pending after a batch of three blocks; want it committed to bbolt", n)
	}
	base := batchesConnected(append(small, direct))
	wal := path + store.WALSuffix
	before := readAll(t, wal)
	last := connectN(t, st, g, 1, 2) // restarts the log, then appends
	after := readAll(t, wal)
	if n := store.PendingBatches(st); n != 1 {
		t.Fatalf("%d batches pending; want the block logged", n)
	}
	hdr := store.WALHeaderSize
	if len(before) <= hdr || len(after) <= hdr || slices.Equal(before[:hdr], after[:hdr]) {
		t.Fatalf("log of %d then %d bytes; want older records behind the header, then a new header and a record",
			len(before), len(after))
	}

	tests := []struct {
		name string
		log  []byte
		has  bool // the last block is in the store
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
			want, accounts := base, newGen(seed, 16)
			upTo(accounts)
			if tt.has {
				want, accounts = append(slices.Clone(base), last...), g
			}
			got, err := store.Open(cp, store.WithNoSync(true))
			if err != nil {
				t.Fatal(err)
			}
			checkChain(t, got, want, accounts)
			if _, err := got.Meta(last[0].hash); !tt.has && !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("the last block: %v; want not found", err)
			}
			if tt.has {
				if err := got.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			// On the tip the crash left, three blocks more in one batch,
			// then a crash (a copy taken without Close).
			more := accounts.batches(3, 3, 2)[0]
			mustApply(t, got, more)
			want = append(slices.Clone(want), batchesConnected([]*chain.Batch{more})...)
			again, err := store.Open(copyStore(t, cp), store.WithNoSync(true))
			if err != nil {
				t.Fatalf("open after the next crash: %v", err)
			}
			checkChain(t, again, want, accounts)
			for _, st := range []*store.Store{got, again} {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// batchesConnected lists the blocks the batches connect, in height order.
func batchesConnected(batches []*chain.Batch) []connected {
	var out []connected
	for _, b := range batches {
		for _, blk := range b.Blocks {
			out = append(out, connectedOf(blk))
		}
	}
	slices.SortFunc(out, func(a, b connected) int { return int(a.height) - int(b.height) })
	return out
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
