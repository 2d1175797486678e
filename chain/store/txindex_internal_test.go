package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// PendingSize returns how many index entries and blocks s holds back,
// a generation being flushed included.
func PendingSize(s *Store) (entries, blocks int) { return s.pending.total() }

// WaitFlush waits for s's background flush of the index, if one runs.
func WaitFlush(s *Store) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.waitFlush()
}

// AwaitFlushEnd waits until the background flush, if any, has ended,
// leaving its result for the store's next Apply or Close to collect.
func AwaitFlushEnd(s *Store) {
	s.applyMu.Lock()
	done := s.flushDone
	s.applyMu.Unlock()
	if done != nil {
		if flushWaiting != nil {
			flushWaiting()
		}
		<-done
	}
}

// WriteEmptyGen flushes an empty generation of the index with the mark at
// height, mark, as a background flush would.
func WriteEmptyGen(s *Store, height uint64, mark chain.Hash) error {
	return s.writeGen(pendingGen{ids: map[chain.Hash]int32{}}, height, mark)
}

// PutMain writes h as the main chain's block at height, alone: a
// damaged file's main bucket.
func PutMain(t testing.TB, s *Store, height uint64, h chain.Hash) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMain)).Put(heightKey(height), h[:])
	})
	if err != nil {
		t.Fatal(err)
	}
}

// OnDisk returns the height the txindex bucket holds for id, if any.
func OnDisk(t testing.TB, s *Store, id chain.Hash) (uint64, bool) {
	t.Helper()
	var height uint64
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketTxIndex)).Get(id[:]); len(v) == heightKeySize {
			height, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return height, ok
}

// IndexMark returns the "indexed" mark of s, if it has one.
func IndexMark(t testing.TB, s *Store) (uint64, chain.Hash, bool) {
	t.Helper()
	return markIn(t, s.db)
}

// markIn returns the "indexed" mark db holds, if it has one.
func markIn(t testing.TB, db *bolt.DB) (uint64, chain.Hash, bool) {
	t.Helper()
	var height uint64
	var h chain.Hash
	var ok bool
	err := db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketMeta)).Get([]byte(keyIndexed))
		if v == nil {
			return nil
		}
		var err error
		height, h, err = decodeMark(v)
		ok = err == nil
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return height, h, ok
}

// CloseWithoutFlush closes s as a crash would leave it: the pending index
// entries are lost. A background flush already started ends first.
func CloseWithoutFlush(s *Store) error {
	WaitFlush(s)
	if s.wal != nil {
		_ = s.wal.close() // its records stay, as after a crash
	}
	err := s.db.Close()
	_ = s.recs.close()
	return err
}

// HoldFlushes makes every background flush of the index started from
// now wait before it writes, until something waits for it (an Apply, Close,
// WaitFlush) or release is called (at the latest when t ends).
func HoldFlushes(t testing.TB) (release func()) {
	_, release = holdFlushes(t, &flushGate)
	return release
}

// HoldCommittedFlushes makes every background flush started from now
// wait once it committed, before it forgets the generation it wrote, as
// HoldFlushes does; reached receives when one is held there.
func HoldCommittedFlushes(t testing.TB) (reached <-chan struct{}, release func()) {
	return holdFlushes(t, &flushCommitted)
}

func holdFlushes(t testing.TB, at *func()) (<-chan struct{}, func()) {
	gate, reached := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	*at = func() {
		select {
		case reached <- struct{}{}:
		default:
		}
		<-gate
	}
	flushWaiting = release
	t.Cleanup(func() {
		release()
		*at, flushWaiting = nil, nil
	})
	return reached, release
}

// Crash closes s's file as a crash leaves it, without waiting for a
// background flush: one held by HoldFlushes then finds the file closed.
func Crash(s *Store) error {
	if s.wal != nil {
		_ = s.wal.close() // its records stay, as after a crash
	}
	err := s.db.Close()
	_ = s.recs.close()
	return err
}

// SetPendingBounds sets the pending set's bounds for the rest of t.
//
// The tests of the held-back index count on each Apply committing its
// batch to bbolt, so it also sets the memtable's bound to one block.
func SetPendingBounds(t testing.TB, entries, blocks int) {
	SetGroupBound(t, 1)
	e, b := pendingMaxEntries, pendingMaxBlocks
	pendingMaxEntries, pendingMaxBlocks = entries, blocks
	t.Cleanup(func() { pendingMaxEntries, pendingMaxBlocks = e, b })
}

// SetGroupBound makes the memtable commit its batches once they hold n
// blocks, for the rest of t.
func SetGroupBound(t testing.TB, n int) {
	old := memMaxBlocks
	memMaxBlocks = n
	t.Cleanup(func() { memMaxBlocks = old })
	SetGroupCommitInline(t)
}

// HoldQueuedCommits makes every queued group commit of s wait, before it takes
// the Apply lock, until release is called (at the latest when t ends).
func HoldQueuedCommits(t testing.TB, s *Store) (started <-chan struct{}, release func()) {
	return holdAt(t, &s.hooks.queued)
}

// SetGroupCommitInline makes the Apply that takes the memtable to a bound
// commit it before it returns, for the rest of t, so that the batches
// pending can be counted right after.
func SetGroupCommitInline(t testing.TB) {
	old := groupCommitInline
	groupCommitInline = true
	t.Cleanup(func() { groupCommitInline = old })
}

// SetGroupBytes makes the memtable commit its batches once their blocks'
// encodings take n bytes, for the rest of t.
func SetGroupBytes(t testing.TB, n int) {
	old := memMaxBytes
	memMaxBytes = n
	t.Cleanup(func() { memMaxBytes = old })
	SetGroupCommitInline(t)
}

// SetDeferMax makes the memtable of a store opened WithNoSync take only
// batches whose blocks' encodings take at most n bytes, for the rest of
// t (a store that syncs takes blocks of any size).
func SetDeferMax(t testing.TB, n int) {
	old := memDeferMax
	memDeferMax = n
	t.Cleanup(func() { memDeferMax = old })
}

// SetMark overwrites the "indexed" mark of the closed store at path; a
// zero hash deletes it.
func SetMark(t testing.TB, path string, height uint64, h chain.Hash) {
	t.Helper()
	var v []byte
	if !h.IsZero() {
		v = appendMark(nil, height, h)
	}
	SetMarkRaw(t, path, v)
}

// SetMarkRaw sets the "indexed" value of the closed store at path to v;
// nil deletes it.
func SetMarkRaw(t testing.TB, path string, v []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		if v == nil {
			return meta.Delete([]byte(keyIndexed))
		}
		return meta.Put([]byte(keyIndexed), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeMark: no value of the "indexed" key makes the decoder panic;
// what it refuses is ErrCorrupt, and what it takes encodes back the same.
func FuzzDecodeMark(f *testing.F) {
	f.Add(appendMark(nil, 7, chain.Hash{1, 2, 3}))
	f.Add(make([]byte, markSize-1))
	f.Add(make([]byte, markSize+1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		height, h, err := decodeMark(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if again := appendMark(nil, height, h); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gave %x", b, again)
		}
	})
}

// TestEntryBound: each store's bound lies in the upper half of
// pendingMaxEntries, and stores do not all draw the same one (nodes
// sharing a machine would flush on the same block).
func TestEntryBound(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		n := entryBound()
		if n < pendingMaxEntries/2 || n > pendingMaxEntries {
			t.Fatalf("bound %d outside [%d, %d]", n, pendingMaxEntries/2, pendingMaxEntries)
		}
		seen[n] = true
	}
	if len(seen) < 100 {
		t.Fatalf("200 draws gave %d distinct bounds", len(seen))
	}
}

// SetCommitFault makes each commit that succeeds report err instead, as
// bbolt does when its meta page reached the file but the sync failed.
func SetCommitFault(t testing.TB, err error) {
	commitFault = func() error { return err }
	t.Cleanup(func() { commitFault = nil })
}

// ClearCommitFault makes commits report what they did again.
func ClearCommitFault() { commitFault = nil }

// PutIndexEntry writes an index entry straight into the bucket, as a
// flush the mark does not cover would have.
func PutIndexEntry(t testing.TB, s *Store, id chain.Hash, height uint64) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTxIndex)).Put(id[:], binary.BigEndian.AppendUint64(nil, height))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CatchUpOnce runs one transaction of Open's catch-up up to height tip
// on the closed store at path, with a budget of budget transactions, and
// leaves the store as a crash after it would: the mark moved part of the
// way. It returns the height of the mark the file then holds.
func CatchUpOnce(t testing.TB, path string, tip uint64, budget int) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := reindexBudget
	reindexBudget = budget
	defer func() { reindexBudget = old }()
	err = db.Update(func(tx *bolt.Tx) error {
		height, _, err := decodeMark(tx.Bucket([]byte(bucketMeta)).Get([]byte(keyIndexed)))
		if err != nil {
			return err
		}
		_, err = indexBlocks(tx, nil, height+1, tip)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The mark as the file now holds it, which is what a resume reads.
	mark, _ := readMark(t, db)
	return mark
}

// SetReindexBudget sets the catch-up's budget for the rest of t.
func SetReindexBudget(t testing.TB, n int) {
	old := reindexBudget
	reindexBudget = n
	t.Cleanup(func() { reindexBudget = old })
}

// SetFlushFault makes each background flush that commits report err
// instead, for the rest of t.
func SetFlushFault(t testing.TB, err error) {
	flushFault = func() error { return err }
	t.Cleanup(func() { flushFault = nil })
}

// FileMark returns the "indexed" mark the closed store file at path
// holds, without Open's catch-up moving it.
func FileMark(t testing.TB, path string) (uint64, chain.Hash) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return readMark(t, db)
}

// readMark returns the mark db holds; a file without one fails t.
func readMark(t testing.TB, db *bolt.DB) (uint64, chain.Hash) {
	t.Helper()
	height, h, ok := markIn(t, db)
	if !ok {
		t.Fatal("the store file holds no indexed mark")
	}
	return height, h
}

// OnClose makes Close call fn just before it closes the file, for the
// rest of t.
func OnClose(t testing.TB, fn func()) {
	closeHook = fn
	t.Cleanup(func() { closeHook = nil })
}
