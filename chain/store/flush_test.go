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

	// Two more batches while the flush is held: neither waits for it
	// (one that did would let it go and find its set written).
	later := connectN(t, st, g, 2, 5)
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
// held back until the set, the generation being flushed included, would
// reach twice the bounds; the batch that would reach it waits for the
// flush first, then is held back in a new set, which reaches the bound
// and is flushed in turn.
func TestFlushHardCap(t *testing.T) {
	store.SetPendingBounds(t, 1000, 2)
	store.HoldFlushes(t)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(32, 16)
	blocks := connectN(t, st, g, 3, 2) // the first written, a flush of two held at the third
	blocks = append(blocks, connectN(t, st, g, 1, 2)...)
	if e, b := store.PendingSize(st); e != 9 || b != 3 {
		t.Fatalf("held back: %d entries of %d blocks, want 9 of 3", e, b)
	}
	// The second block behind the flush would make four held back,
	// twice the bound: its Apply waits for the flush (which lets the
	// held one go), so the flush's blocks are on disk when it returns.
	blocks = append(blocks, connectN(t, st, g, 1, 2)...)
	checkOnDisk(t, st, blocks[:3])
	store.WaitFlush(st)
	checkOnDisk(t, st, blocks)
	checkMark(t, st, blocks[len(blocks)-1])
	if e, b := store.PendingSize(st); e != 0 || b != 0 {
		t.Fatalf("held back after the last flush: %d entries of %d blocks, want none", e, b)
	}
}

// TestFlushReorgWaits: a batch that takes blocks off the main chain,
// among them one the held flush is to write, waits for the flush, then
// drops the entries of the blocks it disconnects: they are neither found
// nor on disk, the others are, and the store goes on taking batches.
func TestFlushReorgWaits(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	store.HoldFlushes(t)
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
	mustApply(t, st, b) // waits for the flush, which lets the held one go
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
	store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	blocks := connectN(t, st, newGen(35, 16), 7, 3) // a flush held at the fifth, two held back
	if err := st.Close(); err != nil {              // waits for the flush, which lets the held one go
		t.Fatal(err)
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

// TestFlushCrash: a crash while a flush is in flight, before its
// transaction (the file closed while the flush is held before it
// writes), leaves the mark where it was; the next Open indexes the
// blocks above it again, and every lookup answers.
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
	checkFileMark(t, path, blocks[0])
	reopenCaughtUp(t, path, blocks[0].height+1, blocks)
}

// TestFlushCrashCommitted: a crash after a flush committed but before it
// forgot the generation it wrote, with later blocks held back in a new
// one, leaves the mark at the flush's block, the tip after the batch
// that started it; the next Open indexes only the blocks above it.
func TestFlushCrashCommitted(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	reached, release := store.HoldCommittedFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(39, 16)
	blocks := connectN(t, st, g, 5, 3) // a flush at the fifth
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the flush did not commit in 30s")
	}
	blocks = append(blocks, connectN(t, st, g, 2, 3)...)
	checkOnDisk(t, st, blocks[1:5])
	checkNotOnDisk(t, st, blocks[5:])
	if e, b := store.PendingSize(st); e != 6*4 || b != 6 {
		t.Fatalf("held back: %d entries of %d blocks, want 24 of 6 (the flushed generation not yet dropped)", e, b)
	}
	if err := store.Crash(st); err != nil {
		t.Fatal(err)
	}
	release()
	store.WaitFlush(st)
	checkFileMark(t, path, blocks[4])
	reopenCaughtUp(t, path, blocks[4].height+1, blocks)
}

// TestApplyDuringClose: an Apply once Close has begun fails with
// ErrClosed, even one that would reach the bound and start a flush in
// the moment before Close closes the file: no flush outlives Close, and
// reopened, the store holds what Close wrote, the mark at its tip. The
// Apply runs from Close's hook, on Close's goroutine, so it meets the
// flag before applyMu (which Close holds): had Close set the flag only
// after closing the file, the Apply would wait on applyMu for ever and
// the test would not end.
func TestApplyDuringClose(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(38, 16)
	blocks := connectN(t, st, g, 4, 3) // the first written, three held back
	var applied error
	store.OnClose(t, func() {
		b := chain.NewBatch()
		g.connect(b, 3) // the fourth held back: the bound
		applied = st.Apply(b)
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(applied, store.ErrClosed) {
		t.Fatalf("Apply while Close closes the file = %v, want ErrClosed", applied)
	}
	checkFileMark(t, path, blocks[len(blocks)-1])
	st = reopen(t, st, path)
	checkOnDisk(t, st, blocks)
	if tip, err := st.Tip(); err != nil || tip != blocks[len(blocks)-1].hash {
		t.Fatalf("tip %s, %v; want the last block before Close %s", tip.Short(), err, blocks[len(blocks)-1].hash.Short())
	}
}

// TestLargeBatchDeferredWhileFlushing: a block over the defer limit is
// committed at once, except while a background flush of the index may
// hold bbolt's writer: then it waits in the memtable and the log and
// answers every read, and the next block that cannot be deferred, once
// the flush is done, commits it first.
func TestLargeBatchDeferredWhileFlushing(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	store.SetGroupBound(t, 64) // the memtable keeps what it takes
	store.SetDeferMax(t, 1)    // every block is a large one
	release := store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(34, 16)
	blocks := connectN(t, st, g, 5, 3) // the fifth takes the set to its bound: a flush, held
	if n := store.PendingBatches(st); n != 0 {
		t.Fatalf("%d large blocks deferred with no flush running, want none", n)
	}
	wal := fileSize(t, path+store.WALSuffix)
	blocks = append(blocks, connectN(t, st, g, 1, 3)...)
	if n, now := store.PendingBatches(st), fileSize(t, path+store.WALSuffix); n != 1 || now <= wal {
		t.Fatalf("a large block while the flush runs: %d deferred, log %d bytes (was %d); want it deferred", n, now, wal)
	}
	checkLookups(t, st, blocks)
	checkBlocks(t, st, blocks)

	release()
	store.WaitFlush(st)
	blocks = append(blocks, connectN(t, st, g, 1, 3)...)
	if n := store.PendingBatches(st); n != 0 {
		t.Fatalf("%d batches deferred after a large block with no flush running, want none", n)
	}
	checkLookups(t, st, blocks)
	st = reopen(t, st, path)
	checkLookups(t, st, blocks)
}

// TestLargeBatchDeferredReplayed: a large block deferred while a flush
// ran is in the log only when the process dies; the next Open replays
// it, its reads and its index entries included.
func TestLargeBatchDeferredReplayed(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	store.SetGroupBound(t, 64)
	store.SetDeferMax(t, 1)
	store.HoldFlushes(t)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(35, 16)
	blocks := connectN(t, st, g, 6, 3) // the sixth deferred while the fifth's flush is held
	if n := store.PendingBatches(st); n != 1 {
		t.Fatalf("%d deferred, want the last block", n)
	}
	if err := store.CloseWithoutFlush(st); err != nil { // lets the flush go, keeps the log
		t.Fatal(err)
	}
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if tip, err := st.Tip(); err != nil || tip != blocks[5].hash {
		t.Fatalf("tip after reopening %s, %v; want the deferred block %s", tip.Short(), err, blocks[5].hash.Short())
	}
	checkBlocks(t, st, blocks)
	checkLookups(t, st, blocks)
}

// checkBlocks fails unless st has the record and meta of every block.
func checkBlocks(t testing.TB, st *store.Store, blocks []connected) {
	t.Helper()
	for _, c := range blocks {
		if b, err := st.Block(c.hash); err != nil || b.Hash() != c.hash {
			t.Fatalf("Block(%s): %v", c.hash.Short(), err)
		}
		if m, err := st.Meta(c.hash); err != nil || m.Height() != c.height {
			t.Fatalf("Meta(%s): %v", c.hash.Short(), err)
		}
	}
}

// TestFlushMarkAboveTipRefused: a flush checks its mark against the file
// it writes: a mark that is not the main chain's block at its height, or
// is above the stored tip (a main bucket holding a block past it, as
// only a damaged file does), fails it as corrupt rather than recording
// an index the chain's blocks do not back.
func TestFlushMarkAboveTipRefused(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(37, 8)
	tip := connectN(t, st, g, 3, 2)[2]
	// Closed and opened again, so that the file holds the blocks the
	// write-ahead log held.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var stray chain.Hash
	stray[0] = 0x5a
	store.PutMain(t, st, tip.height+2, stray)
	tests := []struct {
		name   string
		height uint64
		mark   chain.Hash
		want   error
	}{
		{name: "the tip", height: tip.height, mark: tip.hash},
		{name: "not the main chain's block", height: tip.height, mark: stray, want: store.ErrCorrupt},
		{name: "above the tip", height: tip.height + 2, mark: stray, want: store.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.WriteEmptyGen(st, tt.height, tt.mark); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("flush with the mark at %d: %v, want %v", tt.height, err, tt.want)
			}
		})
	}
}
