package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// Records written before the transaction. A block connected at the tip
// brings its undo record, so its whole record is known before bbolt's
// transaction begins, and when it goes to the records file it is written
// and synced from there, on a goroutine of its own, rather than from
// inside the transaction after resolve: the sync, which must end before
// bbolt commits, then runs while the transaction begins, resolves and
// puts, and the record's write leaves the committing goroutine. Connecting
// a block of 1,000 transfers with fsync waited for the records file's
// fdatasync (about 1 ms for its 266 KB) after the puts
// (docs/benchmarks.md).
//
// The records are written from the committed end, read in a read
// transaction: commits are one at a time (an Apply's under applyMu, after
// any group commit ended; a group commit's while it owns the writes), so
// the write transaction that follows finds the same end, and resolve
// checks that it does (errPrewriteEnd). The prewritten bytes take the
// first place after it, in hash order; the transaction's other records
// go after them. A transaction that fails leaves them past the end, as
// any records of a failed transaction, and the next writes over them.
type prewritten struct {
	base, size uint64
	at         map[chain.Hash]prewrittenRecord
	done       chan error
	err        error
	waited     bool
}

// errPrewriteEnd: the committed end moved between the prewrite's read
// and the transaction, which commits one at a time cannot let happen; the
// prewrite may have written over committed records, so the store fails.
var errPrewriteEnd = errors.New("records written before the transaction from another end than the committed")

// recordsWriteFault, set by tests only, fails a prewrite before it
// writes (writeSynced).
var recordsWriteFault func() error

type prewrittenRecord struct {
	off uint64
	rec []byte
}

// prewrite starts writing the records of p's new blocks that go to the
// records file and that p determines alone (their undo record is in the
// batch; a block stored again without one keeps the stored one, which
// resolve reads). p.pre is nil when there are none.
func (s *Store) prewrite(p *plan) error {
	p.pre = nil
	if s.recs == nil {
		return nil
	}
	var hs []chain.Hash
	var sizeLen [binary.MaxVarintLen64]byte
	for h, nb := range p.newBlocks {
		if undo, ok := p.undos[h]; ok && binary.PutUvarint(sizeLen[:], uint64(nb.size))+nb.size+len(undo) > fileRecordMin {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return nil
	}
	slices.SortFunc(hs, func(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) })
	base, err := s.recordsEnd()
	if err != nil {
		return err
	}
	pre := &prewritten{base: base, done: make(chan error, 1)}
	pre.at = make(map[chain.Hash]prewrittenRecord, len(hs))
	recs := make([][]byte, 0, len(hs))
	off := base
	for _, h := range hs {
		rec := newRecord(p.newBlocks[h], p.undos[h])
		pre.at[h] = prewrittenRecord{off: off, rec: rec}
		recs = append(recs, rec)
		off += uint64(len(rec))
	}
	pre.size = off - base
	r := s.recs
	go func() { pre.done <- r.writeSynced(base, recs) }()
	p.pre = pre
	return nil
}

// record returns the prewritten record of h, if there is one.
func (pw *prewritten) record(h chain.Hash) (prewrittenRecord, bool) {
	if pw == nil {
		return prewrittenRecord{}, false
	}
	r, ok := pw.at[h]
	return r, ok
}

// wait returns once the records are written and synced, with the
// write's error. The committing goroutine calls it, as often as it
// likes.
func (pw *prewritten) wait() error {
	if pw == nil {
		return nil
	}
	if !pw.waited {
		pw.err, pw.waited = <-pw.done, true
	}
	return pw.err
}

// recordsEnd returns the records file's committed end.
func (s *Store) recordsEnd() (uint64, error) {
	var end uint64
	err := s.view(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, bucketMeta)
		if err == nil {
			end, err = recordsBase(b.Get([]byte(keyRecords)), s.recs)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("records file: %w", err)
	}
	return end, nil
}

// recordsBase returns where a transaction's records go in recs: the
// committed end that meta, the meta bucket's keyRecords, holds, or past
// the header if it holds none.
func recordsBase(meta []byte, recs *recordsFile) (uint64, error) {
	id, end, committed, err := decodeRecordsMeta(meta)
	if err != nil || recs == nil {
		return end, err
	}
	if !committed {
		return uint64(recordsHeaderSize), nil // the store's first records
	}
	if id != recs.id {
		return 0, fmt.Errorf("%w: the records file is another store's", ErrCorrupt)
	}
	return end, nil
}

// newRecord returns the block record of nb with the undo record undo
// (appendBlockRecord), nb encoded straight into it.
func newRecord(nb newBlock, undo []byte) []byte {
	rec := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen32+nb.size+len(undo)), uint64(nb.size))
	return append(nb.b.AppendEncode(rec), undo...)
}
