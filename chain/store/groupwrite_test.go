package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// groupWritten applies blocks until the memtable reaches its bound of 64
// and waits until the queued group commit wrote them to bbolt, where
// HoldGroupWrites holds it, without the Apply lock.
func groupWritten(t *testing.T, st *store.Store, g *gen) (hashes []chain.Hash, release func()) {
	t.Helper()
	written, release := store.HoldGroupWrites(t, st)
	for range 64 {
		b := chain.NewBatch()
		hashes = append(hashes, g.connect(b, 1).Hash())
		mustApply(t, st, b)
	}
	select {
	case <-written:
	case <-time.After(10 * time.Second):
		t.Fatal("the group commit of 64 blocks never wrote")
	}
	return hashes, release
}

// TestApplyWhileGroupWrites: the Applies after the one that took the
// memtable to its bound do not wait for the group's commit: they return
// while it writes to bbolt, are read meanwhile, and are committed by the
// group when it ends. Every block reads the same after a reopen.
func TestApplyWhileGroupWrites(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(83, 8)
	connectN(t, st, g, 1, 0)
	hashes, release := groupWritten(t, st, g)
	applied := make(chan []chain.Hash)
	go func() {
		var more []chain.Hash
		for range 5 {
			b := chain.NewBatch()
			more = append(more, g.connect(b, 1).Hash())
			if err := st.Apply(b); err != nil {
				t.Error(err)
			}
		}
		applied <- more
	}()
	var more []chain.Hash
	select {
	case more = <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("Applies waited for the group commit writing to bbolt")
	}
	for _, h := range append(hashes, more...) {
		if _, err := st.Meta(h); err != nil {
			t.Fatalf("block %s while the group commit writes: %v", h.Short(), err)
		}
	}
	release()
	testutil.Eventually(t, 10*time.Second, "the group commit's end", func() bool {
		return store.PendingBatches(st) == 0 // those that came meanwhile too
	})
	if tip, err := st.Tip(); err != nil || tip != more[len(more)-1] {
		t.Fatalf("tip %s, %v; want the last block applied", tip.Short(), err)
	}
	st = reopen(t, st, path)
	for _, h := range append(hashes, more...) {
		if _, err := st.Meta(h); err != nil {
			t.Fatalf("block %s after reopening: %v", h.Short(), err)
		}
	}
}

// TestWALReplayOverGroupWritten: a crash after a group commit wrote its
// blocks to bbolt, while more blocks were logged after them, loses none:
// before the group ended, Open replays the log over a file whose tip is
// one of its records'; after, the group had committed them too.
func TestWALReplayOverGroupWritten(t *testing.T) {
	for _, ended := range []bool{false, true} {
		name := map[bool]string{false: "while the group writes", true: "after the group ended"}[ended]
		t.Run(name, func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(89, 8)
			connectN(t, st, g, 1, 0)
			hashes, release := groupWritten(t, st, g)
			var last chain.Hash
			for range 3 {
				b := chain.NewBatch()
				last = g.connect(b, 1).Hash()
				hashes = append(hashes, last)
				mustApply(t, st, b)
			}
			if ended {
				release()
				testutil.Eventually(t, 10*time.Second, "the group commit's end", func() bool {
					return store.PendingBatches(st) == 0
				})
			}
			if err := store.Crash(st); err != nil {
				t.Fatal(err)
			}
			release()
			st, err := store.Open(path, store.WithNoSync(true))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if tip, err := st.Tip(); err != nil || tip != last {
				t.Fatalf("tip after the crash %s, %v; want %s", tip.Short(), err, last.Short())
			}
			for _, h := range hashes {
				if _, err := st.Meta(h); err != nil {
					t.Fatalf("block %s after the crash: %v", h.Short(), err)
				}
			}
		})
	}
}

// TestGroupWriteOwnsFlushes: while a group commit writes, it alone
// collects and starts the background flushes of the transaction index
// (run with -race: an Apply that collected one meanwhile raced it), and
// every transaction is found, before and after a reopen.
func TestGroupWriteOwnsFlushes(t *testing.T) {
	store.SetPendingBlocks(t, 40)
	st, path := openTemp(t, store.WithNoSync(true))
	store.SlowGroupWrites(st, 2*time.Millisecond)
	g := newGen(11, 8)
	blocks := connectN(t, st, g, 600, 1)
	checkLookups(t, st, blocks)
	st = reopen(t, st, path)
	checkLookups(t, st, blocks)
}

// TestCloseReportsGroupFailure: a group commit that fails after its Apply
// returned is reported by Close when no Apply came to report it, and its
// batches, in the log, are there after a reopen.
//
// An Apply that fails for a fault of its own batch meanwhile (a meta
// deleted without its block) does not report the store's failure, so it
// does not stop Close from reporting it: before, it counted as reported,
// and Close returned nil.
func TestCloseReportsGroupFailure(t *testing.T) {
	for _, badBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("bad batch between=%v", badBatch), func(t *testing.T) {
			st, path := openTemp(t, store.WithNoSync(true))
			g := newGen(7, 8)
			connectN(t, st, g, 1, 0)
			fault := errors.New("sync failed")
			store.SetCommitFault(t, fault)
			blocks := connectN(t, st, g, 64, 0)
			testutil.Eventually(t, 10*time.Second, "the queued group commit's failure", func() bool {
				return store.Failure(st) != nil
			})
			if badBatch {
				b := chain.NewBatch()
				b.Metas[chain.Hash{1}] = nil
				if err := st.Apply(b); !errors.Is(err, store.ErrBadBatch) || errors.Is(err, fault) {
					t.Fatalf("a bad batch: %v, want ErrBadBatch alone", err)
				}
			}
			if err := st.Close(); !errors.Is(err, fault) {
				t.Fatalf("Close after a group commit failed: %v, want %v", err, fault)
			}
			store.ClearCommitFault()
			st, err := store.Open(path, store.WithNoSync(true))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, c := range blocks {
				if _, err := st.Meta(c.hash); err != nil {
					t.Fatalf("block at %d after the failed group commit: %v", c.height, err)
				}
			}
		})
	}
}

// TestNoGroupQueuedWhileOneWrites: Applies while a group commit writes
// start no other (each found the memtable at its bound, the written
// batches counting); the group commits them itself when it ends.
func TestNoGroupQueuedWhileOneWrites(t *testing.T) {
	st, _ := openTemp(t, store.WithNoSync(true))
	queued := store.CountQueuedCommits(st)
	g := newGen(13, 8)
	connectN(t, st, g, 1, 0)
	_, release := groupWritten(t, st, g)
	connectN(t, st, g, 60, 0) // under twice the bound: none commits inline
	if n := queued.Load(); n != 1 {
		t.Fatalf("%d group commits queued while one wrote, want only it", n)
	}
	release()
	testutil.Eventually(t, 10*time.Second, "the group commit's end", func() bool {
		return store.PendingBatches(st) == 0
	})
	if n := queued.Load(); n != 1 {
		t.Fatalf("%d group commits queued in all, want 1", n)
	}
}

// TestLogResetBehindGroupWrites: blocks that come while groups are
// written do not keep the log from being reset: the group commits them
// too when it ends, and the log file stays the size of a group's records
// instead of growing with every block.
func TestLogResetBehindGroupWrites(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(97, 8)
	connectN(t, st, g, 1, 0)
	const groups = 6
	var first int64
	for i := range groups {
		_, release := groupWritten(t, st, g)
		connectN(t, st, g, 3, 0) // while the group writes
		release()
		// The group's end: it drops its 64 batches, then commits the
		// three that came meanwhile.
		testutil.Eventually(t, 10*time.Second, "the group commit's end, the three after it committed too", func() bool {
			return store.PendingBatches(st) == 0
		})
		if i == 0 {
			first = fileSize(t, path+store.WALSuffix)
		}
	}
	// The file keeps its largest size: one group's records and the
	// three after them, each time.
	if got := fileSize(t, path+store.WALSuffix); got > first*3/2 {
		t.Fatalf("log file of %d bytes after %d groups, %d after the first: it was not reset behind the groups", got, groups, first)
	}
}

// TestGroupBoundsJittered: each store's group bounds are the defaults
// scaled by a factor of its own, within a quarter of 1, so that stores
// fed the same blocks do not all commit their groups at the same one.
func TestGroupBoundsJittered(t *testing.T) {
	store.SetGroupJitter(t, 0.25)
	seen := make(map[int]bool)
	for range 16 {
		st, _ := openTemp(t, store.WithNoSync(true))
		blocks, bytes := store.GroupBounds(st)
		if blocks < 48 || blocks > 80 {
			t.Fatalf("a store's group bound is %d blocks, want 48 to 80", blocks)
		}
		if scale, bscale := float64(blocks)/64, float64(bytes)/(1<<20); bscale < 0.75 || bscale > 1.25 || bscale-scale > 1.0/64 || scale-bscale > 1.0/64 {
			t.Fatalf("bounds %d blocks and %d bytes: not the defaults scaled alike", blocks, bytes)
		}
		seen[blocks] = true
	}
	if len(seen) < 4 {
		t.Fatalf("16 stores drew %d bounds between them", len(seen))
	}
}
