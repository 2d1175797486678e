package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// A block record (appendBlockRecord) is kept in the blocks bucket as
// chunks of recordChunk bytes, the last one shorter or equal, each under
// the block's key and its index. bbolt never splits a leaf of four
// entries or fewer, so block records kept whole shared their leaf with
// the two or three blocks before them, and every commit rewrote that
// leaf: a block of 1,000 transfers (about 260 KB with its undo record)
// cost the commit three to five such records written, and two in the
// connect benchmark. In chunks, a record appends as leaves of two chunks
// each, and a commit rewrites at most the last three chunks of the record
// before it.
const (
	// recordChunk is the most bytes one blocks entry holds. bbolt puts
	// two entries in a leaf whenever one is larger than a page, and two
	// of these with their keys (42 bytes) and element headers (16 bytes
	// each) and the page header (16 bytes) fill four 4,096-byte pages
	// exactly. Smaller chunks rewrite less of the record before, but
	// bbolt writes each leaf with a system call of its own: at 1,982
	// bytes (two to a page) a block of 1,000 transfers took 65 calls.
	recordChunk   = 8126
	chunkKeySize  = blockKeySize + 2 // block key | chunk index uint16
	maxRecordSize = binary.MaxVarintLen32 + chain.MaxBlockSize + maxUndoSize
	maxChunks     = (maxRecordSize + recordChunk - 1) / recordChunk
)

// chunkKey appends the key of chunk i of the record of block h at height
// to dst: height first, so that a growing chain appends to the end of the
// bucket instead of writing into random pages, then the hash, which keeps
// the blocks of one height apart, then the index, which keeps a record's
// chunks in order.
func chunkKey(dst []byte, height uint64, h chain.Hash, i int) []byte {
	dst = binary.BigEndian.AppendUint64(dst, height)
	dst = append(dst, h[:]...)
	return binary.BigEndian.AppendUint16(dst, uint16(i))
}

// chunkCount is how many chunks a record of n bytes takes.
func chunkCount(n int) int { return (n + recordChunk - 1) / recordChunk }

// stored is how a block's record is kept: in chunks, how many, or in the
// records file (records.go).
type stored struct {
	chunks int
	file   bool
}

// putRecord adds the writes that file rec as the record of block h at
// height, deleting what is left of old, the record it replaces: chunks
// past the new record's end, or all of them and a pointer. A record of
// more than fileRecordMin bytes goes to the records file (when the plan
// has one), appended at the plan's end; values are slices of rec, which
// bbolt holds until the transaction ends.
func (p *plan) putRecord(height uint64, h chain.Hash, rec []byte, old stored) {
	p.putRecordAt(height, h, rec, old, p.recEnd, true)
}

// putRecordAt is putRecord with a record that goes to the file placed at
// off, and appended to the transaction's writes if toWrite, which a record
// written before the transaction is not (prewrite.go).
func (p *plan) putRecordAt(height uint64, h chain.Hash, rec []byte, old stored, off uint64, toWrite bool) {
	n := chunkCount(len(rec))
	toFile := p.recs != nil && len(rec) > fileRecordMin
	if toFile || old.file {
		at := p.mem.mark(chunkKeySize)
		p.mem.buf = chunkKey(p.mem.buf, height, h, pointerIndex)
		w := write{key: p.mem.cut(at)} // the old pointer's deletion, unless the record goes to the file
		if toFile {
			n = 0
			at = p.mem.mark(pointerSize)
			p.mem.buf = appendPointer(p.mem.buf, off, rec)
			w.val = p.mem.cut(at)
			if toWrite {
				p.appends = append(p.appends, rec)
				p.recEnd += uint64(len(rec))
			}
		}
		p.blocks = append(p.blocks, w)
	}
	for i := range max(n, old.chunks) {
		at := p.mem.mark(chunkKeySize)
		p.mem.buf = chunkKey(p.mem.buf, height, h, i)
		w := write{key: p.mem.cut(at)}
		if i < n {
			w.val = rec[i*recordChunk : min(len(rec), (i+1)*recordChunk)]
		}
		p.blocks = append(p.blocks, w)
	}
}

// readRecord returns the record of block h at height from the blocks
// bucket b, joined from its chunks or read from recs, the records file,
// and how it is kept; nil and the zero stored when there is none. A
// record of one chunk is bbolt's memory, valid only inside the
// transaction; any other is a copy. head reads the first chunk's worth
// only (a meta needs the header and the counts, which it holds). Chunks
// out of sequence, missing or of the wrong size, a chunk beside a
// pointer, and a pointer past the file's end or whose bytes fail its CRC
// are ErrCorrupt.
func readRecord(b *bolt.Bucket, recs *recordsFile, height uint64, h chain.Hash, head bool) ([]byte, stored, error) {
	var buf [chunkKeySize]byte
	key := chunkKey(buf[:0], height, h, 0)
	c := b.Cursor()
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		if !bytes.HasPrefix(k, key[:blockKeySize]) {
			return nil, stored{}, nil
		}
		if len(k) != chunkKeySize || binary.BigEndian.Uint16(k[blockKeySize:]) != pointerIndex {
			return nil, stored{}, fmt.Errorf("%w: block record's first chunk is missing", ErrCorrupt)
		}
		rec, err := recs.read(v, head)
		if err != nil {
			return nil, stored{}, fmt.Errorf("block record: %w", err)
		}
		return rec, stored{file: true}, nil
	}
	if head || len(v) < recordChunk {
		if err := checkChunk(v, 0, len(v) < recordChunk); err != nil {
			return nil, stored{}, err
		}
		if !head {
			// A short first chunk is the whole record, unless more follow.
			if k, _ := c.Next(); bytes.HasPrefix(k, key[:blockKeySize]) {
				return nil, stored{}, fmt.Errorf("%w: block record has a chunk after a short one", ErrCorrupt)
			}
		}
		return v, stored{chunks: 1}, nil
	}
	if err := checkChunk(v, 0, false); err != nil {
		return nil, stored{}, err
	}
	rec := append(make([]byte, 0, 4*recordChunk), v...)
	n := 1
	for k, v = c.Next(); bytes.HasPrefix(k, key[:blockKeySize]); k, v = c.Next() {
		if len(k) != chunkKeySize || int(binary.BigEndian.Uint16(k[blockKeySize:])) != n {
			return nil, stored{}, fmt.Errorf("%w: block record's chunk %d is filed under %x", ErrCorrupt, n, k)
		}
		if len(rec) != n*recordChunk {
			return nil, stored{}, fmt.Errorf("%w: block record has a chunk after a short one", ErrCorrupt)
		}
		if n >= maxChunks {
			return nil, stored{}, fmt.Errorf("%w: block record has more than %d chunks", ErrCorrupt, maxChunks)
		}
		if err := checkChunk(v, n, true); err != nil {
			return nil, stored{}, err
		}
		rec = append(rec, v...)
		n++
	}
	return rec, stored{chunks: n}, nil
}

// checkChunk checks the size of chunk i of a record: recordChunk, or
// between one byte and that for the last.
func checkChunk(v []byte, i int, last bool) error {
	if len(v) == 0 || len(v) > recordChunk || (!last && len(v) != recordChunk) {
		return fmt.Errorf("%w: block record's chunk %d is %d bytes, want at most %d", ErrCorrupt, i, len(v), recordChunk)
	}
	return nil
}

// deleteRecord adds the deletions of every chunk filed under the record
// of block h at height, whatever their number or state.
func (p *plan) deleteRecord(b *bolt.Bucket, height uint64, h chain.Hash) {
	var buf [chunkKeySize]byte
	prefix := chunkKey(buf[:0], height, h, 0)[:blockKeySize]
	c := b.Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		at := p.mem.mark(len(k))
		p.mem.buf = append(p.mem.buf, k...)
		p.blocks = append(p.blocks, write{key: p.mem.cut(at)})
	}
}
