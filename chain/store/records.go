package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"
)

// A block record larger than fileRecordMin is not kept in the blocks
// bucket's chunks but appended to the records file (the store file's
// path and RecordsSuffix), and the bucket holds a pointer to it under
// the block's key with chunk index pointerIndex: the record's offset in
// the file (uint64), its length (uint32), the CRC-32C (Castagnoli) of the
// record (uint32) and that of its first recordChunk bytes, or all of
// them if fewer (uint32, what a meta reads), big-endian, 20 bytes. bbolt writes every byte it is given
// through its pages: each chunk put into the tree, its leaf allocated,
// zeroed, copied and written, and the last chunks of the record before
// written again. A 100 KiB block's record cost a node about 0.4 ms of
// CPU there, of a relay hop's 2 ms, against 26 µs for appending the
// same bytes to a file (docs/benchmarks.md). Small records stay in
// chunks, where a file would save little: most small blocks go through
// the write-ahead log and are committed in groups (a deferred block's
// record over the bound, with its undo record, goes to the file when
// its group is committed).
//
// The meta bucket's keyRecords holds the file's committed length: the
// end of the last record a committed transaction points to. A batch's
// records are written from there, inside the batch's bbolt write
// transaction (bbolt's one writer, so two batches never write at once),
// and synced before bbolt commits it; the new end is put in the same
// transaction. So every pointer a reader finds names bytes already on
// disk, and bytes below the committed end are never written again. A
// transaction that fails leaves its records past the end, where the
// next one writes over them; a crash may leave them too, and Open cuts
// the file to the end (a file that holds bytes while the store commits
// none is moved aside instead: it is another store's, or the leftover of
// a first write that never committed). A record rewritten (its undo record put
// or dropped) or deleted leaves its old bytes in the file, unread: the
// file grows by what reorganisations rewrite, as a block file does.
const (
	// RecordsSuffix follows the store file's path in the records
	// file's name: "chain.db-records".
	RecordsSuffix = "-records"
	// pointerIndex is the chunk index a pointer is filed under: past
	// any chunk's, so that the cursor that looks for chunk 0 finds it
	// when there is none.
	pointerIndex = 0xffff
	pointerSize  = 20
	keyRecords   = "records"
)

// fileRecordMin: a record of more bytes goes to the file, one of fewer
// stays in the tree. Two chunks: a block of about 70 transfers or more.
// A variable for tests, which write large records in chunks as versions
// 3 and 4 did (withChunkedRecords).
var fileRecordMin = 2 * recordChunk

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordsFile is the store's records file.
type recordsFile struct {
	f      *os.File
	noSync bool
}

// openRecords opens or creates the records file at path and cuts it to
// end, the committed length: what lies past it was written by a
// transaction that did not commit. A file shorter than end lost records
// the store points to. A file that holds bytes while end is zero is not
// cut but renamed aside (path, ".orphan." and the time), logged: a
// store with no record committed may be a chain.db started afresh beside
// another store's records file, which cutting would destroy. A created
// file's directory entry is synced, as the log's is.
func openRecords(path string, end uint64, noSync bool, log *slog.Logger) (*recordsFile, error) {
	if fi, err := os.Stat(path); err == nil && end == 0 && fi.Size() > 0 {
		aside := path + ".orphan." + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, aside); err != nil {
			return nil, fmt.Errorf("records file: %w", err)
		}
		log.Warn("moved aside a records file the store holds no record of", "file", path, "to", aside, "bytes", fi.Size())
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("records file: %w", err)
	}
	r := &recordsFile{f: f, noSync: noSync}
	fi, err := f.Stat()
	if err == nil {
		switch size := uint64(fi.Size()); {
		case size < end:
			err = fmt.Errorf("%w: %s is %d bytes, and the store's records end at %d: "+
				"it is not the file this store wrote (docs/operator.md)", ErrCorrupt, path, size, end)
		case size > end:
			err = f.Truncate(int64(end))
		}
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(filepath.Dir(path), noSync)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("records file: %w", err)
	}
	return r, nil
}

// write writes recs one after the other from offset at, then starts the
// fdatasync that must end before the transaction pointing to them
// commits: the returned channel yields its error.
func (r *recordsFile) write(at uint64, recs [][]byte) (<-chan error, error) {
	for _, rec := range recs {
		if _, err := r.f.WriteAt(rec, int64(at)); err != nil {
			return nil, fmt.Errorf("records file: %w", err)
		}
		at += uint64(len(rec))
	}
	done := make(chan error, 1)
	if r.noSync {
		done <- nil
		return done, nil
	}
	// The sync runs while the transaction puts its other writes.
	go func() { done <- fdatasync(r.f) }()
	return done, nil
}

// read returns the record ptr points to, checked against its CRC. With
// head, at most the first chunk's worth: what a meta reads.
func (r *recordsFile) read(ptr []byte, head bool) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: a record in the records file, which this store did not open", ErrCorrupt)
	}
	off, n32, sum, headSum := decodePointer(ptr)
	if n32 == 0 || n32 > maxRecordSize || off > math.MaxInt64-uint64(n32) {
		return nil, fmt.Errorf("%w: record pointer of %d bytes at %d", ErrCorrupt, n32, off)
	}
	n := int(n32)
	want := n
	if head {
		want = min(n, recordChunk)
	}
	buf := make([]byte, want)
	if _, err := r.f.ReadAt(buf, int64(off)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: record at %d (%d bytes) is past the records file's end", ErrCorrupt, off, n)
		}
		return nil, fmt.Errorf("records file: %w", err)
	}
	if head {
		sum = headSum
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		return nil, fmt.Errorf("%w: record at %d (%d bytes) fails its CRC", ErrCorrupt, off, n)
	}
	return buf, nil
}

func (r *recordsFile) close() error {
	if r == nil {
		return nil
	}
	return r.f.Close()
}

// appendPointer appends the pointer to a record of rec's bytes at off.
func appendPointer(dst []byte, off uint64, rec []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, off)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(rec, castagnoli))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(rec[:min(len(rec), recordChunk)], castagnoli))
}

// decodePointer splits a pointer; a value of another size is no record
// (a length of zero).
func decodePointer(v []byte) (off uint64, n, sum, headSum uint32) {
	if len(v) != pointerSize {
		return 0, 0, 0, 0
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]),
		binary.BigEndian.Uint32(v[12:]), binary.BigEndian.Uint32(v[16:])
}

// recordsEnd is the committed length of the records file, from the meta
// bucket (zero when no record went to the file yet).
func recordsEnd(meta []byte) (uint64, error) {
	switch len(meta) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(meta), nil
	}
	return 0, fmt.Errorf("%w: records end is %d bytes, want 8", ErrCorrupt, len(meta))
}
