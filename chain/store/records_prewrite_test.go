package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestRecordsPrewritten: a block whose record the batch determines (its
// undo record comes with it) is written to the records file before the
// transaction. A transaction that then fails leaves the bytes past the
// committed end, and the next writes over them; in a batch with another
// large record that is not prewritten (no undo record: resolve makes it),
// that one goes after the prewritten bytes. Every record reads back,
// across a reopen that cuts the file to the committed end.
func TestRecordsPrewritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	undo := undoOfSize(40)
	recLen := func(blk *chain.Block, u *chain.Undo) int64 {
		var enc []byte
		if u != nil {
			var err error
			if enc, err = encodeUndo(u); err != nil {
				t.Fatal(err)
			}
		}
		return int64(len(appendBlockRecord(nil, blk.Encode(), enc)))
	}

	a, am := bigBlock(3, 300)
	storeBlock(t, s, a, am, undo)
	end := int64(recordsHeaderSize) + recLen(a, undo)
	if got := recordsSize(t, path); got != end {
		t.Fatalf("records file is %d bytes after the first block, want %d", got, end)
	}

	// Prewritten, then refused in resolve: a meta of a block not held.
	b, bm := bigBlock(4, 280)
	bad := chain.NewBatch()
	bad.Blocks[bm.Hash], bad.Metas[bm.Hash], bad.Undos[bm.Hash] = b, bm, undo
	_, ghost := bigBlock(99, 1)
	bad.Metas[ghost.Hash] = ghost
	if err := s.Apply(bad); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("Apply of a batch with a meta of a block not held = %v, want ErrBadBatch", err)
	}
	if got, want := recordsSize(t, path), end+recLen(b, undo); got != want {
		t.Fatalf("records file is %d bytes after the refused batch, want %d: its block written before the transaction", got, want)
	}
	if _, err := s.Block(bm.Hash); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("Block of the refused batch: %v, want ErrNotFound", err)
	}

	// Two large blocks: d prewritten, e (no undo record) after it.
	c, cm := bigBlock(5, 260)
	d, dm := bigBlock(6, 300)
	e, em := bigBlock(7, 320)
	storeBlock(t, s, c, cm, undo)
	both := chain.NewBatch()
	both.Blocks[dm.Hash], both.Metas[dm.Hash], both.Undos[dm.Hash] = d, dm, undo
	both.Blocks[em.Hash], both.Metas[em.Hash] = e, em
	if err := s.Apply(both); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		checkBlock(t, s, a, am, undo)
		checkBlock(t, s, c, cm, undo)
		checkBlock(t, s, d, dm, undo)
		checkBlock(t, s, e, em, nil)
	}
	check()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	end += recLen(c, undo) + recLen(d, undo) + recLen(e, nil)
	if s, err = Open(path, WithNoSync(true)); err != nil {
		t.Fatal(err)
	}
	if got := recordsSize(t, path); got != end {
		t.Fatalf("records file is %d bytes after the reopen, want the committed end %d", got, end)
	}
	check()
}

// TestRecordsPrewriteFails: a prewrite that fails fails its batch, before
// bbolt commits a pointer to bytes that are not there; the store goes on,
// and the next block's record is written from the same end.
func TestRecordsPrewriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	undo := undoOfSize(40)
	a, am := bigBlock(3, 300)
	fault := errors.New("disk on fire")
	recordsWriteFault = func() error { return fault }
	b := chain.NewBatch()
	b.Blocks[am.Hash], b.Metas[am.Hash], b.Undos[am.Hash] = a, am, undo
	err = s.Apply(b)
	recordsWriteFault = nil
	if !errors.Is(err, fault) {
		t.Fatalf("Apply with the records write failing = %v, want its error", err)
	}
	if _, err := s.Meta(am.Hash); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("Meta of the failed block: %v, want ErrNotFound", err)
	}
	if got := recordsSize(t, path); got != int64(recordsHeaderSize) {
		t.Fatalf("records file is %d bytes, want its header alone", got)
	}
	c, cm := bigBlock(4, 280)
	storeBlock(t, s, c, cm, undo)
	checkBlock(t, s, c, cm, undo)
}
