package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// connected is a block the test connected, with its transaction ids.
type connected struct {
	height uint64
	hash   chain.Hash
	ids    []chain.Hash
}

// connectedOf is blk as the tests list a connected block.
func connectedOf(blk *chain.Block) connected {
	return connected{height: blk.Header.Height, hash: blk.Hash(), ids: chain.TxIDs(blk.Transactions)}
}

// connectN applies n batches of one block of nTx transfers each and
// returns the blocks.
func connectN(t testing.TB, st *store.Store, g *gen, n, nTx int) []connected {
	t.Helper()
	var out []connected
	for range n {
		b := chain.NewBatch()
		blk := g.connect(b, nTx)
		mustApply(t, st, b)
		out = append(out, connectedOf(blk))
	}
	return out
}

// reopen closes st, failing on an error, and opens the store at path
// again, closed when the test ends.
func reopen(t testing.TB, st *store.Store, path string) *store.Store {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// checkLookups fails unless every id of blocks answers its block.
func checkLookups(t testing.TB, st *store.Store, blocks []connected) {
	t.Helper()
	for _, c := range blocks {
		for _, id := range c.ids {
			if got, err := st.TxLocation(id); err != nil || got != c.hash {
				t.Fatalf("TxLocation(%s) = %s, %v; want %s at height %d", id.Short(), got.Short(), err, c.hash.Short(), c.height)
			}
		}
	}
}

// checkOnDisk fails unless the txindex bucket holds every id of blocks
// at its block's height.
func checkOnDisk(t testing.TB, st *store.Store, blocks []connected) {
	t.Helper()
	for _, c := range blocks {
		for _, id := range c.ids {
			if h, ok := store.OnDisk(t, st, id); !ok || h != c.height {
				t.Fatalf("%s of block %d on disk at %d (%t), want at %d", id.Short(), c.height, h, ok, c.height)
			}
		}
	}
}

// TestTxIndexPending: a batch that extends the main chain leaves its
// index entries out of the bucket, and TxLocation answers them at once;
// the batch that reaches the bound starts a flush that writes them all,
// with the mark at its tip.
func TestTxIndexPending(t *testing.T) {
	store.SetPendingBounds(t, 1000, 4)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(7, 16)
	// The first batch (genesis) is written with its mark.
	first := connectN(t, st, g, 1, 5)[0]
	if _, ok := store.OnDisk(t, st, first.ids[0]); !ok {
		t.Fatal("the first block's index entries are not on disk")
	}
	blocks := connectN(t, st, g, 3, 5)
	checkLookups(t, st, blocks)
	for _, c := range blocks {
		if _, ok := store.OnDisk(t, st, c.ids[0]); ok {
			t.Fatalf("block %d's index entries are on disk before the bound", c.height)
		}
	}
	if e, b := store.PendingSize(st); e != 18 || b != 3 {
		t.Fatalf("pending: %d entries of %d blocks, want 18 of 3", e, b)
	}
	if h, m, ok := store.IndexMark(t, st); !ok || h != first.height || m != first.hash {
		t.Fatalf("mark %d %s (%t) before the bound, want the first block %d", h, m.Short(), ok, first.height)
	}

	// The fourth block reaches the bound of four blocks, and its flush
	// starts.
	blocks = append(blocks, connectN(t, st, g, 1, 5)...)
	store.WaitFlush(st)
	checkLookups(t, st, blocks)
	checkOnDisk(t, st, blocks)
	if e, b := store.PendingSize(st); e != 0 || b != 0 {
		t.Fatalf("pending after the flush: %d entries of %d blocks", e, b)
	}
	last := blocks[len(blocks)-1]
	if h, m, ok := store.IndexMark(t, st); !ok || h != last.height || m != last.hash {
		t.Fatalf("mark %d %s (%t), want the tip %d %s", h, m.Short(), ok, last.height, last.hash.Short())
	}
}

// TestTxIndexReorgFlushes: a batch that takes a block off the main chain
// writes the pending set without that block's entries, and its own
// deletions, so its ids are gone from lookups and from disk.
func TestTxIndexReorgFlushes(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(8, 16)
	blocks := connectN(t, st, g, 4, 3)
	gone := blocks[3]

	b := chain.NewBatch()
	b.Main[gone.height] = chain.ZeroHash
	b.Undos[gone.hash] = nil
	for _, id := range gone.ids {
		b.TxIndex[id] = chain.ZeroHash
	}
	b.Tip = blocks[2].hash
	mustApply(t, st, b)
	// The replacement block at the same height, from the store's state.
	g = newGen(9, 16)
	if err := g.resume(st); err != nil {
		t.Fatal(err)
	}
	blocks = append(blocks[:3], connectN(t, st, g, 1, 3)...)

	for _, id := range gone.ids {
		if _, err := st.TxLocation(id); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("TxLocation(%s) of the disconnected block = %v, want ErrNotFound", id.Short(), err)
		}
		if h, ok := store.OnDisk(t, st, id); ok {
			t.Fatalf("disconnected block's %s still on disk at %d", id.Short(), h)
		}
	}
	checkLookups(t, st, blocks)
	for _, c := range blocks[:3] {
		if _, ok := store.OnDisk(t, st, c.ids[0]); !ok {
			t.Fatalf("block %d's entries not written by the reorg's flush", c.height)
		}
	}
	if h, m, ok := store.IndexMark(t, st); !ok || h != 2 || m != blocks[2].hash {
		t.Fatalf("mark %d %s (%t), want the reorg's tip at 2", h, m.Short(), ok)
	}
}

// TestTxIndexCrash: a store closed without its flush, as a crash leaves
// it, answers every lookup once reopened, whether the mark lags, is
// missing or names a block off the main chain; a clean close leaves the
// mark at the tip.
func TestTxIndexCrash(t *testing.T) {
	tests := []struct {
		name string
		mark func(t *testing.T, path string, blocks []connected)
	}{
		{"mark lags", func(*testing.T, string, []connected) {}},
		{"mark missing", func(t *testing.T, path string, _ []connected) { store.SetMark(t, path, 0, chain.ZeroHash) }},
		{"mark garbled", func(t *testing.T, path string, _ []connected) { store.SetMarkRaw(t, path, []byte{1, 2, 3}) }},
		{"mark off the main chain", func(t *testing.T, path string, blocks []connected) {
			store.SetMark(t, path, blocks[5].height, blocks[6].hash)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.SetPendingBounds(t, 1000, 8)
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(10, 16)
			blocks := connectN(t, st, g, 13, 4) // the first written, a flush at the ninth, four pending
			store.WaitFlush(st)
			if e, _ := store.PendingSize(st); e != 4*5 {
				t.Fatalf("pending before the crash: %d entries, want 20", e)
			}
			if err := store.CloseWithoutFlush(st); err != nil {
				t.Fatal(err)
			}
			tt.mark(t, path, blocks)
			st, err := store.Open(path, store.WithNoSync(true))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if e, _ := store.PendingSize(st); e != 0 {
				t.Fatalf("pending after reopening: %d", e)
			}
			last := blocks[len(blocks)-1]
			if h, m, ok := store.IndexMark(t, st); !ok || h != last.height || m != last.hash {
				t.Fatalf("mark after reopening %d %s (%t), want the tip %d", h, m.Short(), ok, last.height)
			}
			checkOnDisk(t, st, blocks)
			checkLookups(t, st, blocks)
			if err := st.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTxIndexCloseFlushes: Close writes the pending set and the mark.
func TestTxIndexCloseFlushes(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	blocks := connectN(t, st, newGen(11, 16), 3, 2)
	st = reopen(t, st, path)
	last := blocks[len(blocks)-1]
	if h, m, ok := store.IndexMark(t, st); !ok || h != last.height || m != last.hash {
		t.Fatalf("mark after a clean close %d %s (%t), want the tip %d", h, m.Short(), ok, last.height)
	}
	for _, c := range blocks {
		if _, ok := store.OnDisk(t, st, c.ids[0]); !ok {
			t.Fatalf("block %d's entries not on disk after Close", c.height)
		}
	}
}

// TestTxLocationRacesFlush: lookups of blocks whose Apply returned never
// miss while later batches move entries from the pending set to disk.
// Small bounds make every few batches a flush.
func TestTxLocationRacesFlush(t *testing.T) {
	store.SetPendingBounds(t, 40, 3)
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(12, 16)
	const n = 300
	var (
		mu   sync.Mutex
		done []connected
		seen atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				if len(done) == 0 {
					mu.Unlock()
					continue
				}
				c := done[len(done)-1-i%min(len(done), 8)] // the newest blocks: those a flush moves
				mu.Unlock()
				for _, id := range c.ids {
					if got, err := st.TxLocation(id); err != nil || got != c.hash {
						errs <- errors.Join(errors.New("lookup missed "+id.Short()), err)
						return
					}
					seen.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		c := connectN(t, st, g, 1, 4)
		mu.Lock()
		done = append(done, c...)
		mu.Unlock()
		select {
		case err := <-errs:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		default:
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	mu.Lock()
	if len(done) < n/10 {
		t.Fatalf("only %d batches applied before the deadline", len(done))
	}
	mu.Unlock()
	t.Logf("%d batches, %d lookups", len(done), seen.Load())
}

// TestTxIndexAfterFailedCommit: a commit that reached the file but
// reported an error (a failed sync) leaves the store refusing writes,
// and Close does not write the held-back entries under a mark at the
// tip the failed commit left, which would claim entries the set never
// had: the next Open catches up from the old mark, and every block's
// transactions are found.
func TestTxIndexAfterFailedCommit(t *testing.T) {
	store.SetGroupBound(t, 1)
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(13, 16)
	blocks := connectN(t, st, g, 3, 4)

	store.SetCommitFault(t, errors.New("sync failed"))
	b := chain.NewBatch()
	blk := g.connect(b, 4)
	// The block is in the write-ahead log, so its Apply took it; the
	// failure of the group commit it set off is the next write's.
	if err := st.Apply(b); err != nil {
		t.Fatalf("a block in the log whose group commit failed: %v", err)
	}
	store.ClearCommitFault()
	blocks = append(blocks, connectedOf(blk))
	if err := st.Apply(chain.NewBatch()); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
	next := chain.NewBatch()
	g.connect(next, 1)
	if err := st.Apply(next); err == nil {
		t.Fatal("a write after the failed commit was taken")
	}
	st = reopen(t, st, path)
	checkLookups(t, st, blocks)
}

// TestCheckEntryAboveMark: Check reports an index entry on disk naming a
// height above the mark, which no flush writes without moving the mark.
func TestCheckEntryAboveMark(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(17, 16)
	blocks := connectN(t, st, g, 3, 2) // the first written with its mark, two held back
	if err := st.Check(); err != nil {
		t.Fatalf("a sound store: %v", err)
	}
	store.PutIndexEntry(t, st, chain.Hash{1}, blocks[2].height)
	if err := st.Check(); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Check = %v, want ErrCorrupt for an entry above the mark", err)
	}
}

// TestIndexOfOldBlockNotHeld: a batch indexing a transaction of a block
// at or below the stored tip is written at once: catch-up after a crash
// starts above the mark and would never write it again.
func TestIndexOfOldBlockNotHeld(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	g := newGen(19, 16)
	blocks := connectN(t, st, g, 3, 2)
	b := chain.NewBatch()
	id := chain.Hash{7}
	b.TxIndex[id] = blocks[1].hash
	mustApply(t, st, b)
	if h, ok := store.OnDisk(t, st, id); !ok || h != blocks[1].height {
		t.Fatalf("the entry for block %d: on disk %t at %d", blocks[1].height, ok, h)
	}
}

// TestTxIndexReorgInOneBatch: one batch that takes a held-back block off
// the main chain and connects another at its height writes the held-back
// entries of the blocks that stay, none of the one that left, and the new
// block's, with the mark at the new tip: whether the batch deletes the
// leaving block's entries, as the chain's do, or leaves that to the store.
func TestTxIndexReorgInOneBatch(t *testing.T) {
	for _, deletes := range []bool{true, false} {
		t.Run(fmt.Sprintf("deletes=%t", deletes), func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(21, 16)
			blocks := connectN(t, st, g, 4, 3) // the first written, three held back
			gone, kept := blocks[3], blocks[:3]

			// The replacement builds on the block before the one that leaves.
			meta, err := st.Meta(kept[2].hash)
			if err != nil {
				t.Fatal(err)
			}
			alt := newGen(22, 16)
			alt.started, alt.height, alt.prev, alt.work = true, meta.Height(), meta.Hash, meta.Work
			b := chain.NewBatch()
			b.Undos[gone.hash] = nil
			if deletes {
				for _, id := range gone.ids {
					b.TxIndex[id] = chain.ZeroHash
				}
			}
			repl := alt.connect(b, 3) // sets Main at gone's height, the tip and its entries
			mustApply(t, st, b)
			now := connectedOf(repl)
			stay := append(kept, now)

			check := func(s *store.Store) {
				t.Helper()
				for _, id := range gone.ids {
					if got, err := s.TxLocation(id); !errors.Is(err, chain.ErrNotFound) {
						t.Fatalf("TxLocation(%s) of the block that left = %s, %v; want ErrNotFound", id.Short(), got.Short(), err)
					}
					if h, ok := store.OnDisk(t, s, id); ok {
						t.Fatalf("the block that left has %s on disk at %d", id.Short(), h)
					}
				}
				checkLookups(t, s, stay)
				checkOnDisk(t, s, stay)
				if h, m, ok := store.IndexMark(t, s); !ok || h != now.height || m != now.hash {
					t.Fatalf("mark %d %s (%t), want the new tip %d %s", h, m.Short(), ok, now.height, now.hash.Short())
				}
			}
			check(st)
			check(reopen(t, st, path))
		})
	}
}

// TestTxIndexCatchUpResumes: a catch-up cut short after one of its
// transactions (a crash while Open indexed) leaves the mark part of the
// way, and the next Open, itself in several small transactions, indexes
// the rest, each entry at its block's height.
func TestTxIndexCatchUpResumes(t *testing.T) {
	store.SetPendingBounds(t, 1000, 100)
	st, path := openTemp(t, store.WithNoSync(true))
	blocks := connectN(t, st, newGen(23, 16), 13, 4) // the first written, twelve held back
	if err := store.CloseWithoutFlush(st); err != nil {
		t.Fatal(err)
	}
	tip := blocks[len(blocks)-1]
	// A budget of 11 transactions stops after the third block of five.
	if got, want := store.CatchUpOnce(t, path, tip.height, 11), blocks[3].height; got != want {
		t.Fatalf("the first catch-up transaction moved the mark to %d, want %d", got, want)
	}
	store.SetReindexBudget(t, 7) // two blocks a transaction
	var logged bytes.Buffer
	st, err := store.Open(path, store.WithNoSync(true), store.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Resumed above the mark the first transaction left, not rebuilt.
	if want := fmt.Sprintf("from=%d ", blocks[3].height+1); !strings.Contains(logged.String(), want) ||
		strings.Contains(logged.String(), "rebuilding") {
		t.Fatalf("Open's catch-up logged %q, want it to start %s and not rebuild", logged.String(), want)
	}
	if h, m, ok := store.IndexMark(t, st); !ok || h != tip.height || m != tip.hash {
		t.Fatalf("mark after the resumed catch-up %d %s (%t), want the tip %d", h, m.Short(), ok, tip.height)
	}
	checkOnDisk(t, st, blocks)
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}
