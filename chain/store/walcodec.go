package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/gossipchain/gossipchain/chain"
)

// A log record's payload is one deferred batch in the store's own
// encodings. A deferred batch deletes nothing but accounts (deferrable),
// and each of its metas is of a block it holds, so the meta is the
// block's metas record and the block gives the rest, as in bbolt:
//
//	blocks    count uvarint, each: size uvarint | block encoding |
//	          metas record length (1) | metas record (appendIndex)
//	undos     count uvarint, each: block hash (32) | length uvarint | undo record (encodeUndo)
//	main      count uvarint, each: height uint64 | hash (32)
//	accounts  count uvarint, each: address (appendAddress) | account (16; zero: deleted)
//	txindex   count uvarint, each: transaction id (32) | block hash (32)
//	tip       hash (32), zero for none
//
// Entries are in key order, so a batch has one encoding. The index
// entries are written as none: a replay drops them (replayWAL), and the
// index of the replayed blocks is rebuilt from their records (catchUp),
// so writing them cost a block of 1,000 transfers 64 KB more to flush on
// its connect and a sort of its 1,000 ids (docs/benchmarks.md). A
// record with entries, from a log written before, reads as it did.

// encodeRecord appends b's payload to dst, encoded with the undo records
// p holds already. b passed encodeBatch (p) and deferrable.
func encodeRecord(dst []byte, b *chain.Batch, p *plan) ([]byte, error) {
	hashes := sortedHashes(b.Blocks)
	dst = binary.AppendUvarint(dst, uint64(len(hashes)))
	for _, h := range hashes {
		nb := p.newBlocks[h]
		dst = binary.AppendUvarint(dst, uint64(nb.size))
		dst = nb.b.AppendEncode(dst)
		at := len(dst)
		var err error
		if dst, err = appendIndex(append(dst, 0), b.Metas[h]); err != nil {
			return nil, err
		}
		dst[at] = byte(len(dst) - at - 1)
	}
	hashes = sortedHashes(b.Undos)
	dst = binary.AppendUvarint(dst, uint64(len(hashes)))
	for _, h := range hashes {
		dst = append(dst, h[:]...)
		dst = binary.AppendUvarint(dst, uint64(len(p.undos[h])))
		dst = append(dst, p.undos[h]...)
	}
	heights := slices.Sorted(maps.Keys(b.Main))
	dst = binary.AppendUvarint(dst, uint64(len(heights)))
	for _, height := range heights {
		h := b.Main[height]
		dst = append(binary.BigEndian.AppendUint64(dst, height), h[:]...)
	}
	addrs := slices.Sorted(maps.Keys(b.Accounts))
	dst = binary.AppendUvarint(dst, uint64(len(addrs)))
	for _, a := range addrs {
		dst = appendAccount(appendAddress(dst, a), b.Accounts[a])
	}
	dst = binary.AppendUvarint(dst, 0)
	return append(dst, b.Tip[:]...), nil
}

func sortedHashes[V any](m map[chain.Hash]V) []chain.Hash {
	return slices.SortedFunc(maps.Keys(m), func(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) })
}

// recordReader reads a payload; the first error sticks, and every count
// is checked against the bytes left before anything is allocated.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: write-ahead log record: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *recordReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// count reads a count of entries of at least minSize bytes each.
func (r *recordReader) count(minSize int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.fail("%d entries in %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	n, l := binary.Uvarint(r.b)
	if l <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[l:]
	return n
}

func (r *recordReader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *recordReader) uint64() uint64 {
	if b := r.bytes(heightKeySize); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *recordReader) hash() chain.Hash {
	var h chain.Hash
	copy(h[:], r.bytes(chain.HashSize))
	return h
}

func (r *recordReader) check(err error) {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: write-ahead log record: %w", ErrCorrupt, err)
	}
}

// decodeRecord returns the batch a payload holds.
func decodeRecord(payload []byte) (*chain.Batch, error) {
	r := &recordReader{b: payload}
	b := chain.NewBatch()
	for range r.count(chain.HeaderSize + 3) {
		size := r.uvarint()
		if size > chain.MaxBlockSize {
			r.fail("block of %d bytes", size)
		}
		enc := r.bytes(int(size))
		idx := r.bytes(int(r.u8()))
		if r.err != nil {
			break
		}
		blk, err := chain.DecodeBlock(enc)
		r.check(err)
		rec, err := decodeIndex(idx)
		r.check(err)
		if r.err != nil {
			break
		}
		h := blk.Hash()
		m, err := metaOf(h, rec, enc, len(enc))
		r.check(err)
		b.Blocks[h], b.Metas[h] = blk, m
	}
	for range r.count(chain.HashSize + 1) {
		h := r.hash()
		enc := r.bytes(int(min(r.uvarint(), maxUndoSize+1)))
		if r.err != nil {
			break
		}
		u, err := decodeUndo(enc)
		r.check(err)
		b.Undos[h] = u
	}
	for range r.count(heightKeySize + chain.HashSize) {
		height := r.uint64()
		b.Main[height] = r.hash()
	}
	for range r.count(2 + accountSize) {
		if r.err != nil {
			break
		}
		addr, n, err := readAddress(r.b)
		r.check(err)
		r.bytes(n)
		a, err := decodeAccount(r.bytes(accountSize))
		r.check(err)
		if r.err == nil {
			b.Accounts[addr] = a
		}
	}
	for range r.count(2 * chain.HashSize) {
		id := r.hash()
		b.TxIndex[id] = r.hash()
	}
	b.Tip = r.hash()
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return b, nil
}
