package store

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// The store's tests count batches against exact bounds.
func init() { memJitter = 0 }

// SetGroupJitter sets how far each store's bounds stray from the
// defaults, for stores opened during the rest of t.
func SetGroupJitter(t testing.TB, j float64) {
	old := memJitter
	memJitter = j
	t.Cleanup(func() { memJitter = old })
}

// GroupBounds returns s's memtable bounds: blocks and bytes.
func GroupBounds(s *Store) (blocks, bytes int) { return s.mem.maxBlocks(), s.mem.maxBytes() }

// PendingBatches returns how many batches s's memtable holds.
func PendingBatches(s *Store) int {
	s.mem.mu.RLock()
	defer s.mem.mu.RUnlock()
	return len(s.mem.list)
}

// CommitPending commits s's memtable, as its bound or Close would.
func CommitPending(s *Store) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.commitPending()
}

// SetWALResetFault makes every reset of the write-ahead log fail with
// err, before it writes, for the rest of t.
func SetWALResetFault(t testing.TB, err error) {
	walResetFault = func() error { return err }
	t.Cleanup(func() { walResetFault = nil })
}

// WALHeaderSize is the length of the write-ahead log's header.
const WALHeaderSize = walHeaderSize

// FuzzDecodeRecord: no payload makes decodeRecord panic, and a record
// as encodeRecord writes it decodes to a batch that encodes to the same
// bytes.
func FuzzDecodeRecord(f *testing.F) {
	b, _, _ := oneBlockBatch(1, "miner")
	b.Accounts["miner"] = chain.Account{Balance: 50}
	b.Accounts["gone"] = chain.Account{}
	rec := encodeForTest(f, b)
	got, err := decodeRecord(rec)
	if err != nil {
		f.Fatal(err)
	}
	if again := encodeForTest(f, got); !bytes.Equal(again, rec) {
		f.Fatalf("a decoded record encodes to\n%x\nwant\n%x", again, rec)
	}
	f.Add(rec)
	f.Add(withIndex(f, rec, b))
	f.Add(rec[:len(rec)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeRecord(data)
	})
}

// TestRecordIndexEntries: encodeRecord writes no index entries (a
// replay drops them), and a record with entries, as logs written before
// hold, still decodes, the entries read.
func TestRecordIndexEntries(t *testing.T) {
	b, _, txid := oneBlockBatch(1, "miner")
	rec := encodeForTest(t, b)
	got, err := decodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TxIndex) != 0 {
		t.Fatalf("the record holds %d index entries; want none", len(got.TxIndex))
	}
	old := withIndex(t, rec, b)
	if got, err = decodeRecord(old); err != nil {
		t.Fatal(err)
	}
	if len(got.TxIndex) != 1 || got.TxIndex[txid] != b.TxIndex[txid] || got.Tip != b.Tip {
		t.Fatalf("a record with entries decodes to index %v, tip %s; want %v, %s", got.TxIndex, got.Tip.Short(), b.TxIndex, b.Tip.Short())
	}
}

// withIndex returns rec, a record encodeRecord wrote for b, with b's
// index entries in it, as encodeRecord wrote them before it left them
// out: their count (rec's zero, one byte) and the entries, before the tip.
func withIndex(tb testing.TB, rec []byte, b *chain.Batch) []byte {
	tb.Helper()
	at := len(rec) - chain.HashSize - 1
	if rec[at] != 0 {
		tb.Fatalf("the record's index count is %d; want 0", rec[at])
	}
	out := binary.AppendUvarint(bytes.Clone(rec[:at]), uint64(len(b.TxIndex)))
	for _, id := range sortedHashes(b.TxIndex) {
		h := b.TxIndex[id]
		out = append(append(out, id[:]...), h[:]...)
	}
	return append(out, rec[len(rec)-chain.HashSize:]...)
}

func encodeForTest(tb testing.TB, b *chain.Batch) []byte {
	tb.Helper()
	p, err := encodeBatch(b)
	if err != nil {
		tb.Fatal(err)
	}
	rec, err := encodeRecord(nil, b, p)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// HoldGroupWrites makes every queued group commit of s wait once it
// wrote its batches to bbolt, before it takes the Apply lock again to
// drop them, until release is called (at the latest when t ends).
func HoldGroupWrites(t testing.TB, s *Store) (written <-chan struct{}, release func()) {
	return holdAt(t, &s.hooks.written)
}

// holdAt installs a hook in slot that signals each call on reached and
// waits until release is called (at the latest when t ends).
func holdAt(t testing.TB, slot *atomic.Pointer[func()]) (reached <-chan struct{}, release func()) {
	ch, gate := make(chan struct{}, 16), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	hook := func() { ch <- struct{}{}; <-gate }
	slot.Store(&hook)
	t.Cleanup(release)
	return ch, release
}

// SlowGroupWrites makes every group commit of s sleep d once it wrote
// its batches to bbolt, before it takes the Apply lock again.
func SlowGroupWrites(s *Store, d time.Duration) {
	hook := func() { time.Sleep(d) }
	s.hooks.written.Store(&hook)
}

// SetPendingBlocks sets only the pending set's block bound, for the rest
// of t.
func SetPendingBlocks(t testing.TB, blocks int) {
	old := pendingMaxBlocks
	pendingMaxBlocks = blocks
	t.Cleanup(func() { pendingMaxBlocks = old })
}

// CountQueuedCommits counts the group commits of s queued from now on.
func CountQueuedCommits(s *Store) *atomic.Int64 {
	var n atomic.Int64
	hook := func() { n.Add(1) }
	s.hooks.queued.Store(&hook)
	return &n
}

// Failure returns s's failure, nil while it writes.
func Failure(s *Store) error { return s.failure() }

// ReadTxs returns how many read transactions s's bbolt file has begun.
func ReadTxs(s *Store) int { return s.db.Stats().TxN }

// MarkKnown puts h in s's set of hashes that may be stored (known.go), as
// a block deleted since, or another hash with the same key, leaves it.
func MarkKnown(s *Store, h chain.Hash) {
	b := chain.NewBatch()
	b.Metas[h] = &chain.BlockMeta{Hash: h}
	s.known.addBatch(b)
}

// BenchmarkMergeBatches merges a group commit's 64 batches of one
// 4-transfer block each.
func BenchmarkMergeBatches(b *testing.B) {
	var list []*chain.Batch
	for i := range 64 {
		bt := chain.NewBatch()
		h := chain.Hash{byte(i), 1}
		for j := range 5 {
			id := chain.Hash{byte(i), byte(j), 2}
			bt.TxIndex[id] = h
			bt.Accounts[string(id[:3])] = chain.Account{Balance: int64(j)}
		}
		bt.Metas[h], bt.Blocks[h], bt.Undos[h] = &chain.BlockMeta{}, &chain.Block{}, &chain.Undo{}
		bt.Main[uint64(i)] = h
		list = append(list, bt)
	}
	b.ReportAllocs()
	for b.Loop() {
		if m := mergeBatches(list); len(m.TxIndex) != 64*5 {
			b.Fatalf("merged %d index entries, want %d", len(m.TxIndex), 64*5)
		}
	}
}
