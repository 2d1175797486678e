package store

import (
	"crypto/rand"
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
// bucket's chunks but appended to the records file (the store file's path
// and RecordsSuffix), and the bucket holds a pointer to it under the
// block's key with chunk index pointerIndex: the record's offset in the
// file (uint64), its length (uint32), the CRC-32C (Castagnoli) of the
// record (uint32) and that of its first recordChunk bytes, or all of them
// if fewer (uint32, what a meta reads), big-endian, 20 bytes. bbolt writes
// every byte it is given through its pages: each chunk put into the tree,
// its leaf allocated, zeroed, copied and written, and the last chunks of
// the record before written again. A 100 KiB block's record cost a node
// about 0.4 ms of CPU there, of a relay hop's 2 ms, against 26 µs for
// appending the same bytes to a file (docs/benchmarks.md). Small records
// stay in chunks, where a file would save little: most small blocks go
// through the write-ahead log and are committed in groups (a deferred
// block's record over the bound, with its undo record, goes to the file
// when its group is committed).
//
// The meta bucket's keyRecords holds the file's committed length: the end
// of the last record a committed transaction points to (and the file's id,
// below). A batch's records are written from there by its commit (one
// at a time: an Apply's under applyMu, a group commit's while it owns the
// writes; a connected block's just before its transaction begins,
// prewrite.go), and synced before bbolt commits the transaction; the new
// end is put in the same transaction. So every pointer a reader finds
// names bytes already on disk, and bytes below the committed end are
// never written again. A transaction that fails leaves its records past
// the end, where the next one writes over them; a crash may leave them too, and Open cuts the file
// to the end once its header shows it is the store's own (openRecords). A
// record rewritten (its undo record put or dropped) or deleted leaves its
// old bytes in the file, unread: the file grows by what reorganisations
// rewrite, as a block file does.
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
// 3 and 4 did (chunkedRecords).
var fileRecordMin = 2 * recordChunk

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The records file begins with a header, recordsMagic and the store's
// records id (16 random bytes drawn when the file is created), and the
// meta bucket's keyRecords holds that id and the committed length: so a
// store never cuts or writes over a records file that is not its own.
const (
	recordsMagic      = "gcrec\x00\x00\x01"
	recordsIDSize     = 16
	recordsHeaderSize = len(recordsMagic) + recordsIDSize
	recordsMetaSize   = recordsIDSize + 8
)

// recordsFile is the store's records file.
type recordsFile struct {
	f      *os.File
	id     [recordsIDSize]byte
	noSync bool
}

// openRecords opens the records file at path for a store whose meta
// bucket holds meta under keyRecords, or creates it.
//
// A store that committed records (meta set) needs its own file: one
// whose header holds another id, or none, or that is shorter than the
// committed length, is ErrCorrupt, and left as it is. Past the committed
// length lie the records of a transaction that did not commit: the file
// is cut there.
//
// A store that committed none takes a file that holds its header alone
// (one it created and never wrote a record to); any other file with
// bytes is renamed aside (path, ".orphan.", the time and a number),
// logged, never cut: a chain.db started afresh beside another store's
// records file, or the first records of a transaction that did not
// commit. A created file's header is synced, and its directory entry, as
// the log's is.
func openRecords(path string, meta []byte, noSync bool, log *slog.Logger) (*recordsFile, error) {
	id, end, committed, err := decodeRecordsMeta(meta)
	if err != nil {
		return nil, err
	}
	if committed {
		return openOwnRecords(path, id, end, noSync)
	}
	r := &recordsFile{noSync: noSync}
	if r.f, err = os.OpenFile(path, os.O_RDWR, 0); err == nil {
		hdr, herr := readHeader(r.f)
		if herr == nil && hdr.size == int64(recordsHeaderSize) {
			r.id = hdr.id
			return r, nil
		}
		_ = r.f.Close()
		if herr == nil && hdr.size == 0 {
			err = os.Remove(path)
		} else {
			err = moveAside(path, log)
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("records file: %w", err)
	}
	if r.f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode); err != nil {
		return nil, fmt.Errorf("records file: %w", err)
	}
	if _, err = rand.Read(r.id[:]); err == nil {
		if _, err = r.f.WriteAt(append([]byte(recordsMagic), r.id[:]...), 0); err == nil && !noSync {
			err = fdatasync(r.f)
		}
	}
	if err == nil {
		err = syncDir(filepath.Dir(path), noSync)
	}
	if err != nil {
		_ = r.f.Close()
		return nil, fmt.Errorf("records file: %w", err)
	}
	return r, nil
}

// openOwnRecords opens the records file of a store that committed
// records up to end, under id.
func openOwnRecords(path string, id [recordsIDSize]byte, end uint64, noSync bool) (*recordsFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: records file %s is missing, and the store holds records in it (docs/operator.md)", ErrCorrupt, path)
		}
		return nil, fmt.Errorf("records file: %w", err)
	}
	hdr, err := readHeader(f)
	switch {
	case err != nil:
	case hdr.id != id:
		err = fmt.Errorf("%w: %s is another store's records file (docs/operator.md)", ErrCorrupt, path)
	case uint64(hdr.size) < end:
		err = fmt.Errorf("%w: %s is %d bytes, and the store's records end at %d (docs/operator.md)", ErrCorrupt, path, hdr.size, end)
	case uint64(hdr.size) > end:
		err = f.Truncate(int64(end))
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("records file: %w", err)
	}
	return &recordsFile{f: f, id: id, noSync: noSync}, nil
}

// header is what readHeader finds: the file's size and its id.
type header struct {
	size int64
	id   [recordsIDSize]byte
}

// readHeader reads f's size and header; a file of bytes that are not a
// header (or too few) is ErrCorrupt, an empty one has the zero id.
func readHeader(f *os.File) (header, error) {
	var h header
	fi, err := f.Stat()
	if err != nil {
		return h, err
	}
	if h.size = fi.Size(); h.size == 0 {
		return h, nil
	}
	buf := make([]byte, recordsHeaderSize)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf[:len(recordsMagic)]) != recordsMagic {
		return h, fmt.Errorf("%w: %s does not begin with a records file's header", ErrCorrupt, f.Name())
	}
	copy(h.id[:], buf[len(recordsMagic):])
	return h, nil
}

// moveAside renames the file at path to a name of its own beside it,
// never one that exists.
func moveAside(path string, log *slog.Logger) error {
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	for n := 0; n < 100; n++ {
		aside := fmt.Sprintf("%s.orphan.%s.%d", path, stamp, n)
		err := os.Link(path, aside)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err == nil {
			err = os.Remove(path)
		}
		if err == nil {
			log.Warn("moved aside a records file this store holds no record in", "file", path, "to", aside)
		}
		return err
	}
	return fmt.Errorf("no free name to move %s aside", path)
}

// write writes recs one after the other from offset at, then starts the
// fdatasync that must end before the transaction pointing to them
// commits: the returned channel yields its error.
func (r *recordsFile) write(at uint64, recs [][]byte) (<-chan error, error) {
	if err := r.writeAll(at, recs); err != nil {
		return nil, fmt.Errorf("records file: %w", err)
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

// writeSynced writes recs one after the other from at, and syncs them
// unless the store runs without fsync. Its caller names the file in the
// error.
func (r *recordsFile) writeSynced(at uint64, recs [][]byte) error {
	if recordsWriteFault != nil {
		if err := recordsWriteFault(); err != nil {
			return err
		}
	}
	if err := r.writeAll(at, recs); err != nil {
		return err
	}
	if r.noSync {
		return nil
	}
	return fdatasync(r.f)
}

func (r *recordsFile) writeAll(at uint64, recs [][]byte) error {
	for _, rec := range recs {
		if _, err := r.f.WriteAt(rec, int64(at)); err != nil {
			return err
		}
		at += uint64(len(rec))
	}
	return nil
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
// The whole record's CRC goes on from its head's, so the head is hashed
// once.
func appendPointer(dst []byte, off uint64, rec []byte) []byte {
	k := min(len(rec), recordChunk)
	head := crc32.Checksum(rec[:k], castagnoli)
	dst = binary.BigEndian.AppendUint64(dst, off)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Update(head, castagnoli, rec[k:]))
	return binary.BigEndian.AppendUint32(dst, head)
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

// decodeRecordsMeta splits the meta bucket's keyRecords value: the
// records id and the committed length; committed is false when the
// store wrote no record yet (no value).
func decodeRecordsMeta(v []byte) (id [recordsIDSize]byte, end uint64, committed bool, err error) {
	switch len(v) {
	case 0:
		return id, 0, false, nil
	case recordsMetaSize:
		copy(id[:], v)
		end = binary.BigEndian.Uint64(v[recordsIDSize:])
		if end < uint64(recordsHeaderSize) {
			return id, 0, false, fmt.Errorf("%w: records end at %d, inside the header", ErrCorrupt, end)
		}
		return id, end, true, nil
	}
	return id, 0, false, fmt.Errorf("%w: records value is %d bytes, want %d", ErrCorrupt, len(v), recordsMetaSize)
}
