package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// undoOfSize returns an undo record of n entries.
func undoOfSize(n int) *chain.Undo {
	u := &chain.Undo{}
	for i := range n {
		u.Entries = append(u.Entries, chain.UndoEntry{Address: string(rune('a'+i%26)) + "addr", Prev: chain.Account{Balance: int64(i)}})
	}
	return u
}

// storeBlock applies a batch putting blk with meta m and undo u (nil for
// none).
func storeBlock(t *testing.T, s *Store, blk *chain.Block, m *chain.BlockMeta, u *chain.Undo) {
	t.Helper()
	b := chain.NewBatch()
	b.Blocks[m.Hash], b.Metas[m.Hash] = blk, m
	if u != nil {
		b.Undos[m.Hash] = u
	}
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
}

// checkBlock reads blk back through every read of a record.
func checkBlock(t *testing.T, s *Store, blk *chain.Block, m *chain.BlockMeta, u *chain.Undo) {
	t.Helper()
	h := m.Hash
	if got, err := s.Block(h); err != nil || !bytes.Equal(got.Encode(), blk.Encode()) {
		t.Fatalf("Block = %v, %v", got != nil, err)
	}
	if got, err := s.BlockBytes(h); err != nil || !bytes.Equal(got, blk.Encode()) {
		t.Fatalf("BlockBytes: %d bytes, %v; want %d", len(got), err, blk.EncodedSize())
	}
	if got, err := s.Meta(h); err != nil || got.Header != m.Header || got.Size != m.Size || got.TxCount != m.TxCount {
		t.Fatalf("Meta = %+v, %v; want %+v", got, err, m)
	}
	got, err := s.Undo(h)
	if u == nil && !errors.Is(err, chain.ErrNotFound) || u != nil && (err != nil || !reflect.DeepEqual(got, u)) {
		t.Fatalf("Undo = %d entries, %v", len(got.Entries), err)
	}
}

// recordsSize is the records file's length.
func recordsSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + RecordsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// pointerKey is the key of block h's pointer at height.
func pointerKey(height uint64, h chain.Hash) []byte { return chunkKey(nil, height, h, pointerIndex) }

// TestRecordsFile: a record over two chunks goes to the records file,
// the bucket holding its pointer alone, and reads back whole through
// every read, across a reopen; an undo record put alone writes the
// record again at the file's end; a record that shrinks to two chunks or
// fewer goes back to the tree and its pointer goes, and one that grows
// past them leaves the tree for the file; deleting the block leaves
// nothing filed under it.
func TestRecordsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	big, bm := bigBlock(3, 300) // about 39 KB: the file
	storeBlock(t, s, big, bm, nil)
	if keys := chunksOf(t, s, 3, bm.Hash); len(keys) != 1 || !bytes.Equal(keys[0], pointerKey(3, bm.Hash)) {
		t.Fatalf("filed under the block: %x, want its pointer alone", keys)
	}
	rec := appendBlockRecord(nil, big.Encode(), nil)
	if got := recordsSize(t, path); got != int64(recordsHeaderSize+len(rec)) {
		t.Fatalf("records file is %d bytes, want the header and the record's %d", got, len(rec))
	}
	checkBlock(t, s, big, bm, nil)

	u := undoOfSize(40)
	b := chain.NewBatch()
	b.Undos[bm.Hash] = u
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	checkBlock(t, s, big, bm, u)
	if got := recordsSize(t, path); got <= int64(recordsHeaderSize+2*len(rec)) {
		t.Fatalf("records file is %d bytes after the record was written again, want over %d", got, 2*len(rec))
	}
	s.Close()
	if s, err = Open(path, WithNoSync(true)); err != nil {
		t.Fatal(err)
	}
	checkBlock(t, s, big, bm, u)

	// About 11 KB of block: in the tree alone, in the file with a large
	// undo record, in the tree again without it.
	mid, mm := bigBlock(4, 85)
	if n := len(appendBlockRecord(nil, mid.Encode(), nil)); n <= recordChunk || n > fileRecordMin {
		t.Fatalf("the middle block's record is %d bytes, the test needs %d to %d", n, recordChunk+1, fileRecordMin)
	}
	storeBlock(t, s, mid, mm, nil)
	if keys := chunksOf(t, s, 4, mm.Hash); len(keys) != 2 {
		t.Fatalf("%d keys filed under the middle block, want its 2 chunks", len(keys))
	}
	bigUndo := undoOfSize(800)
	b = chain.NewBatch()
	b.Undos[mm.Hash] = bigUndo
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	if keys := chunksOf(t, s, 4, mm.Hash); len(keys) != 1 || !bytes.Equal(keys[0], pointerKey(4, mm.Hash)) {
		t.Fatalf("filed under the middle block with its undo: %x, want its pointer alone", keys)
	}
	checkBlock(t, s, mid, mm, bigUndo)
	b = chain.NewBatch()
	b.Undos[mm.Hash] = nil
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	if keys := chunksOf(t, s, 4, mm.Hash); len(keys) != 2 {
		t.Fatalf("%d keys filed under the middle block without its undo, want its 2 chunks", len(keys))
	}
	checkBlock(t, s, mid, mm, nil)

	del := chain.NewBatch()
	del.Blocks[bm.Hash], del.Metas[bm.Hash], del.Undos[bm.Hash] = nil, nil, nil
	if err := s.Apply(del); err != nil {
		t.Fatal(err)
	}
	if keys := chunksOf(t, s, 3, bm.Hash); len(keys) != 0 {
		t.Fatalf("%d keys left after the block was deleted", len(keys))
	}
	if _, err := s.Block(bm.Hash); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("Block after the delete: %v, want ErrNotFound", err)
	}
}

// TestRecordsFileTail: bytes past the committed end (a transaction that
// wrote its records and did not commit) are written over by the next
// batch's records, and Open cuts the file to the end; a file shorter
// than the end is refused as ErrCorrupt.
func TestRecordsFileTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	a, am := bigBlock(3, 300)
	storeBlock(t, s, a, am, nil)
	end := recordsSize(t, path)
	garbage := bytes.Repeat([]byte{0xa5}, 100_000)
	f, err := os.OpenFile(path+RecordsSuffix, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(garbage); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bb, bbm := bigBlock(4, 250)
	storeBlock(t, s, bb, bbm, nil)
	checkBlock(t, s, a, am, nil)
	checkBlock(t, s, bb, bbm, nil)
	s.Close()

	want := end + int64(len(appendBlockRecord(nil, bb.Encode(), nil)))
	if got := recordsSize(t, path); got != end+int64(len(garbage)) {
		t.Fatalf("records file is %d bytes before the reopen, want %d (the garbage's tail left)", got, end+int64(len(garbage)))
	}
	if s, err = Open(path, WithNoSync(true)); err != nil {
		t.Fatal(err)
	}
	if got := recordsSize(t, path); got != want {
		t.Fatalf("records file is %d bytes after the reopen, want the committed end %d", got, want)
	}
	checkBlock(t, s, a, am, nil)
	checkBlock(t, s, bb, bbm, nil)
	s.Close()

	if err := os.Truncate(path+RecordsSuffix, want-1); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with the records file one byte short: %v, want ErrCorrupt", err)
	}
}

// TestRecordsFileCorrupt: a record whose bytes were changed, and a
// pointer past the file's end or of another size, read as ErrCorrupt,
// never as a wrong block, and the meta's read of the record's head
// checks its own CRC.
func TestRecordsFileCorrupt(t *testing.T) {
	blk, m := bigBlock(3, 300)
	h := m.Hash
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
		meta   bool // the meta's read fails too
	}{
		{"a byte of the header's merkle root flipped", func(t *testing.T, path string) {
			// A header that still decodes: only the CRC tells.
			flipRecordByte(t, path, int64(recordsHeaderSize+bytes.Index(appendBlockRecord(nil, blk.Encode(), nil), m.Header.MerkleRoot[:])))
		}, true},
		{"a byte of the tail flipped", func(t *testing.T, path string) { flipRecordByte(t, path, 30_000) }, false},
		{"pointer past the end", func(t *testing.T, path string) {
			tamper(t, path, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucketBlocks))
				v := bytes.Clone(b.Get(pointerKey(3, h)))
				binary.BigEndian.PutUint64(v, 1<<40)
				return b.Put(pointerKey(3, h), v)
			})
		}, true},
		{"pointer of another size", func(t *testing.T, path string) {
			tamper(t, path, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucketBlocks))
				return b.Put(pointerKey(3, h), append(bytes.Clone(b.Get(pointerKey(3, h))), 0))
			})
		}, true},
		{"a chunk beside the pointer", func(t *testing.T, path string) {
			tamper(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(bucketBlocks)).Put(chunkKey(nil, 3, h, 0), []byte{1})
			})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reopenTampered(t, blk, m, func(path string) { tc.tamper(t, path) })
			wantCorrupt(t, s, h)
			if _, err := s.Meta(h); tc.meta != errors.Is(err, ErrCorrupt) {
				t.Errorf("Meta: %v, want ErrCorrupt %v", err, tc.meta)
			}
		})
	}
}

// flipRecordByte flips the byte at off of the records file.
func flipRecordByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path+RecordsSuffix, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestRecordsFromVersion4: a version-4 file, whose large records are in
// chunks, opens as version 5 with those records read from the tree, and
// the next large record goes to the file.
func TestRecordsFromVersion4(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	old, om := bigBlock(3, 300)
	func() {
		defer chunkedRecords()()
		s, err := Open(path, WithNoSync(true))
		if err != nil {
			t.Fatal(err)
		}
		storeBlock(t, s, old, om, nil)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	tamper(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyVersion), binary.BigEndian.AppendUint32(nil, 4))
	})
	if err := os.Remove(path + RecordsSuffix); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketMeta)).Get([]byte(keyVersion)); binary.BigEndian.Uint32(v) != SchemaVersion {
			t.Errorf("version %d after Open, want %d", binary.BigEndian.Uint32(v), SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkBlock(t, s, old, om, nil)
	if keys := chunksOf(t, s, 3, om.Hash); len(keys) < 3 {
		t.Fatalf("%d keys under the version-4 block, want its chunks", len(keys))
	}
	nb, nm := bigBlock(4, 250)
	storeBlock(t, s, nb, nm, nil)
	if keys := chunksOf(t, s, 4, nm.Hash); len(keys) != 1 || !bytes.Equal(keys[0], pointerKey(4, nm.Hash)) {
		t.Fatalf("filed under the new block: %x, want its pointer alone", keys)
	}
	checkBlock(t, s, nb, nm, nil)
}

// TestRecordsFileBatch: several large records in one batch, synced,
// follow one another in the file and read back after a reopen.
func TestRecordsFileBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b := chain.NewBatch()
	type stored struct {
		blk *chain.Block
		m   *chain.BlockMeta
	}
	var all []stored
	size := recordsHeaderSize
	for i, n := range []int{300, 250, 200} {
		blk, m := bigBlock(uint64(3+i), n)
		b.Blocks[m.Hash], b.Metas[m.Hash] = blk, m
		all = append(all, stored{blk, m})
		size += len(appendBlockRecord(nil, blk.Encode(), nil))
	}
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := recordsSize(t, path); got != int64(size) {
		t.Fatalf("records file is %d bytes, want the header and the three records' %d", got, size)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, st := range all {
		checkBlock(t, s, st.blk, st.m, nil)
	}
}

// TestRecordsFileOrphan: a store that has committed no record, opened
// beside a records file that holds bytes (its chain.db started afresh),
// moves that file aside instead of cutting it, and starts a new one.
func TestRecordsFileOrphan(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s, err := Open(path, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	blk, m := bigBlock(3, 300)
	storeBlock(t, s, blk, m, nil)
	s.Close()
	size := recordsSize(t, path)
	for _, suffix := range []string{"", WALSuffix} {
		if err := os.Rename(path+suffix, filepath.Join(dir, "old"+suffix)); err != nil {
			t.Fatal(err)
		}
	}
	if s, err = Open(path, WithNoSync(true)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := recordsSize(t, path); got != int64(recordsHeaderSize) {
		t.Fatalf("the new store's records file is %d bytes, want its header's %d", got, recordsHeaderSize)
	}
	aside, err := filepath.Glob(path + RecordsSuffix + ".orphan.*")
	if err != nil || len(aside) != 1 {
		t.Fatalf("files moved aside: %v, %v; want one", aside, err)
	}
	if fi, err := os.Stat(aside[0]); err != nil || fi.Size() != size {
		t.Fatalf("the file moved aside: %v, %v; want its %d bytes", fi, err, size)
	}
	other, om := bigBlock(4, 250)
	storeBlock(t, s, other, om, nil)
	checkBlock(t, s, other, om, nil)
}

// TestRecordsFileOfAnotherStore: a store that holds records refuses a
// records file with another store's header, and leaves it as it is; a
// store that holds none moves such files aside, each under a name of its
// own, and keeps a file that holds its own header alone.
func TestRecordsFileOfAnotherStore(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for i, path := range []string{a, b} {
		s, err := Open(path, WithNoSync(true))
		if err != nil {
			t.Fatal(err)
		}
		blk, m := bigBlock(uint64(3+i), 250+50*i) // b's file the longer: only the id refuses it
		storeBlock(t, s, blk, m, nil)
		s.Close()
	}
	bSize := recordsSize(t, b)
	if err := os.Rename(b+RecordsSuffix, a+RecordsSuffix); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(a); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open beside another store's records file: %v, want ErrCorrupt", err)
	}
	if got := recordsSize(t, a); got != bSize {
		t.Fatalf("the other store's records file is %d bytes after the refused Open, want its %d", got, bSize)
	}

	fresh := filepath.Join(dir, "fresh.db")
	for range 2 {
		if err := os.WriteFile(fresh+RecordsSuffix, []byte("not a header, and more bytes than one"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(fresh, WithNoSync(true))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if aside, _ := filepath.Glob(fresh + RecordsSuffix + ".orphan.*"); len(aside) != 2 {
		t.Fatalf("files moved aside: %v, want two", aside)
	}
	before, err := os.ReadFile(fresh + RecordsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(fresh, WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	after, err := os.ReadFile(fresh + RecordsSuffix)
	if aside, _ := filepath.Glob(fresh + RecordsSuffix + ".orphan.*"); err != nil || len(aside) != 2 || !bytes.Equal(after, before) {
		t.Fatalf("a file holding the store's header alone was not kept: %d moved aside", len(aside))
	}
}
