package store_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// within runs fn in a goroutine and fails the test if it has not returned
// within a minute: a deadline against a hang, not a timing.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not return within a minute", what)
	}
}

// applyWithin applies b, failing the test on an error or a hang.
func applyWithin(t *testing.T, st *store.Store, b *chain.Batch) {
	t.Helper()
	within(t, "Apply", func() error { return st.Apply(b) })
}

// checkNotOnDisk fails if the txindex bucket holds an id of blocks.
func checkNotOnDisk(t testing.TB, st *store.Store, blocks []connected) {
	t.Helper()
	for _, c := range blocks {
		for _, id := range c.ids {
			if h, ok := store.OnDisk(t, st, id); ok {
				t.Fatalf("%s of block %d on disk at %d before its flush wrote", id.Short(), c.height, h)
			}
		}
	}
}

// checkMark fails unless the mark of st is block c.
func checkMark(t testing.TB, st *store.Store, c connected) {
	t.Helper()
	if h, m, ok := store.IndexMark(t, st); !ok || h != c.height || m != c.hash {
		t.Fatalf("mark %d %s (%t), want block %d %s", h, m.Short(), ok, c.height, c.hash.Short())
	}
}

// TestFlushOffTheCommit: the batch that takes the held-back set to its
// bound commits without it; the set is written afterwards in a flush of
// its own, while later batches commit and are held back, and lookups
// answer every block throughout.
func TestFlushOffTheCommit(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	release := store.HoldFlushes(t)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(31, 16)
	first := connectN(t, st, g, 1, 5)[0]
	flushed := connectN(t, st, g, 4, 5) // the fourth reaches the bound
	checkNotOnDisk(t, st, flushed)
	checkMark(t, st, first)
	checkLookups(t, st, flushed)

	// Two more batches while the flush is held: neither waits for it.
	var later []connected
	for range 2 {
		b := chain.NewBatch()
		blk := g.connect(b, 5)
		applyWithin(t, st, b)
		later = append(later, connected{height: blk.Header.Height, hash: blk.Hash(), ids: chain.TxIDs(blk.Transactions)})
	}
	if e, b := store.PendingSize(st); e != 36 || b != 6 {
		t.Fatalf("held back while the flush waits: %d entries of %d blocks, want 36 of 6", e, b)
	}
	checkLookups(t, st, append(flushed, later...))

	release()
	store.WaitFlush(st)
	checkOnDisk(t, st, flushed)
	checkNotOnDisk(t, st, later)
	checkMark(t, st, flushed[3])
	if e, b := store.PendingSize(st); e != 12 || b != 2 {
		t.Fatalf("held back after the flush: %d entries of %d blocks, want 12 of 2", e, b)
	}
	checkLookups(t, st, append(flushed, later...))
}

// TestFlushHardCap: while a flush is held, the batches behind it are
// held back up to twice the bounds; the batch that would pass that waits
// for the flush and commits the rest of the set with itself, the mark at
// its tip.
func TestFlushHardCap(t *testing.T) {
	store.SetPendingBounds(t, 1000, 2)
	release := store.HoldFlushes(t)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(32, 16)
	blocks := connectN(t, st, g, 3, 2) // the first written, a flush held at the third
	blocks = append(blocks, connectN(t, st, g, 3, 2)...)
	if e, b := store.PendingSize(st); e != 15 || b != 5 {
		t.Fatalf("held back: %d entries of %d blocks, want 15 of 5", e, b)
	}
	b := chain.NewBatch()
	blk := g.connect(b, 2) // the fourth block behind the flush: past the cap
	blocks = append(blocks, connected{height: blk.Header.Height, hash: blk.Hash(), ids: chain.TxIDs(blk.Transactions)})
	done := make(chan error, 1)
	go func() { done <- st.Apply(b) }()
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Apply at the cap did not return within a minute")
	}
	checkOnDisk(t, st, blocks)
	checkMark(t, st, blocks[len(blocks)-1])
	if e, b := store.PendingSize(st); e != 0 || b != 0 {
		t.Fatalf("held back after the batch at the cap: %d entries of %d blocks, want none", e, b)
	}
}

// TestFlushReorgWaits: a batch that takes blocks off the main chain,
// among them one the held flush is to write, waits for the flush, then
// drops the entries of the blocks it disconnects: they are neither found
// nor on disk, the others are, and the store goes on taking batches.
func TestFlushReorgWaits(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	release := store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(33, 16)
	blocks := connectN(t, st, g, 6, 3) // the first written, a flush held at the fifth, the sixth held back
	kept, gone := blocks[:4], blocks[4:]

	b := chain.NewBatch()
	for _, c := range gone {
		b.Main[c.height] = chain.ZeroHash
		b.Undos[c.hash] = nil
		for _, id := range c.ids {
			b.TxIndex[id] = chain.ZeroHash
		}
	}
	b.Tip = kept[3].hash
	done := make(chan error, 1)
	go func() { done <- st.Apply(b) }()
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the reorg's Apply did not return within a minute")
	}
	check := func(s *store.Store, mark connected) {
		t.Helper()
		for _, c := range gone {
			for _, id := range c.ids {
				if _, err := s.TxLocation(id); !errors.Is(err, chain.ErrNotFound) {
					t.Fatalf("TxLocation(%s) of a disconnected block = %v, want ErrNotFound", id.Short(), err)
				}
			}
		}
		checkNotOnDisk(t, s, gone)
		checkOnDisk(t, s, kept)
		checkLookups(t, s, kept)
		checkMark(t, s, mark)
	}
	check(st, kept[3])
	g = newGen(34, 16)
	if err := g.resume(st); err != nil {
		t.Fatal(err)
	}
	more := connectN(t, st, g, 2, 3)
	checkLookups(t, st, more)
	st = reopen(t, st, path)
	check(st, more[1])
	checkOnDisk(t, st, more)
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestFlushCloseWaits: Close waits for a flush in flight before it
// writes the rest of the set and closes the file: reopened, the mark is
// at the tip, every entry is on disk and Open indexed nothing again.
func TestFlushCloseWaits(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	release := store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	blocks := connectN(t, st, newGen(35, 16), 7, 3) // a flush held at the fifth, two held back
	done := make(chan error, 1)
	go func() { done <- st.Close() }()
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close did not return within a minute")
	}
	var logged bytes.Buffer
	st, err := store.Open(path, store.WithNoSync(true), store.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if strings.Contains(logged.String(), "index") {
		t.Fatalf("Open after a clean Close indexed again: %q", logged.String())
	}
	checkMark(t, st, blocks[len(blocks)-1])
	checkOnDisk(t, st, blocks)
}

// TestFlushCrash: a crash while a flush is in flight (the file closed
// before the flush's transaction committed) leaves the mark where it
// was; the next Open indexes the blocks above it again, and every lookup
// answers.
func TestFlushCrash(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	release := store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	blocks := connectN(t, st, newGen(36, 16), 7, 3) // a flush held at the fifth, two held back
	if err := store.Crash(st); err != nil {
		t.Fatal(err)
	}
	release()
	store.WaitFlush(st) // it found the file closed
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkMark(t, st, blocks[len(blocks)-1])
	checkOnDisk(t, st, blocks)
	checkLookups(t, st, blocks)
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}
