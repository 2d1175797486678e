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

// write is one key of a bucket: a put, or a delete when val is nil.
type write struct {
	key, val []byte
}

// appendFill is the fill percent of the buckets whose keys grow with the
// chain (blocks, main). bbolt splits a page at half full by default,
// which suits random keys; new keys of these buckets land at the end, so a
// page filled to the brim is never written into again, and half-full
// pages would double their size on disk.
const appendFill = 1.0

// Apply commits every write of b: all of them or, on error, none. When it
// returns nil the batch is on disk (unless the store was opened
// WithNoSync). A nil or empty batch writes nothing.
//
// A batch that only adds blocks on top of the tip (deferrable) is
// appended to the write-ahead log, synced, and kept in the memtable,
// where every read finds it; the memtable's batches are committed to
// bbolt together, in one transaction, once they reach a bound, before any
// other batch, and at Close (memtable.go). Any other batch is committed
// in one bbolt transaction of its own. The memtable keeps b, no copy.
//
// The transaction index of a batch that only extends the main chain is
// held in memory and committed later, in a flush of its own in the
// background or with a batch that is not one of those (txindex.go,
// flush.go). TxLocation answers it from the moment Apply returns, and
// Open rebuilds it from the block records if the process died first.
//
// Records are encoded before the transaction begins, and bbolt's single
// writer lock is held only to find the heights of the blocks that the
// batch's undo records, deletions and transaction index name without their
// meta, and for the puts. A record the store cannot hold (ErrBadBatch)
// fails the batch with the transaction rolled back: the file is as it was
// (bytes past the records file's committed end aside, prewrite.go).
func (s *Store) Apply(b *chain.Batch) (err error) {
	defer func() {
		if err != nil {
			s.noteReported(err)
		}
	}()
	if b == nil || batchEmpty(b) {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("apply: %w", ErrClosed)
	}
	p, err := encodeBatch(b)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	// Before any read can find them: in the memtable or the file.
	s.known.addBatch(b)
	// One Apply at a time from the plan to the pending set's update: a
	// batch that writes the set must see every entry committed before it.
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("apply: %w", ErrClosed)
	}
	if s.groupDone == nil {
		// A group commit writing meanwhile owns the flush's state;
		// it, or the next Apply after it, collects the flush.
		_ = s.flushBusy() // collects a finished flush: its failure is the store's
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	if done, err := s.tryDefer(b, p); done || err != nil {
		return err
	}
	if err := s.commitPending(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return s.commit(b, p)
}

// commit commits b, encoded as p, in a bbolt transaction of its own, and
// adds its held-back index entries to the pending set. Called under
// applyMu with no group commit writing, or by the group commit.
func (s *Store) commit(b *chain.Batch, p *plan) error {
	busy := s.flushBusy()
	if err := s.failedErr(); err != nil {
		return err
	}
	ip, err := s.commitBatch(b, p, busy)
	if errors.Is(err, errFlushBusy) {
		// The batch is to be written with the pending set, or would
		// take it to its hard cap, while a background flush is still
		// writing part of it: wait, then plan it again from its
		// encoding (resolve changed p).
		_ = s.waitFlush() // its failure is the store's now
		if err := s.failedErr(); err != nil {
			return err
		}
		if p, err = encodeBatch(b); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		ip, err = s.commitBatch(b, p, false)
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	// Only now: a reader that misses an entry here finds it on disk.
	if !ip.lazy {
		s.pending.clear()
		return nil
	}
	s.pending.add(ip.byBlock, ip.heights)
	entries, blocks := s.pending.size()
	// A flush that ended since the top of this Apply is left for the
	// next Apply or Close to collect: collected here, its failure would
	// be reported by neither (this batch committed).
	if (entries >= s.maxEntries || blocks >= pendingMaxBlocks) && s.flushDone == nil && s.failure() == nil {
		s.startFlush(ip.tipHeight, ip.tip)
	}
	return nil
}

// failedErr is Apply's error once an earlier commit or flush failed.
func (s *Store) failedErr() error {
	if err := s.failure(); err != nil {
		return fmt.Errorf("apply: an earlier write failed, the store writes nothing more until it is reopened: %w", err)
	}
	return nil
}

// commitBatch runs the batch's bbolt transaction. Called as commit is.
func (s *Store) commitBatch(b *chain.Batch, p *plan, busy bool) (indexPlan, error) {
	var ip indexPlan
	planned := false
	if err := s.prewrite(p); err != nil {
		return ip, err
	}
	defer func() { _ = p.pre.wait() }() // not to outlive a failed transaction, nor the file
	err := boltErr(s.db.Update(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err != nil {
			return err
		}
		if err := p.resolve(b, bk, s.recs); err != nil {
			return err
		}
		if ip, err = s.planIndex(b, bk, p, busy); err != nil {
			return err
		}
		if err := p.commit(bk); err != nil {
			return err
		}
		planned = true
		return nil
	}))
	if err == nil && commitFault != nil {
		err = commitFault()
	}
	if err != nil && (planned || errors.Is(err, errPrewriteEnd)) {
		// bbolt's commit failed after the writes were planned: its
		// meta page may have reached the file and the map anyway, so
		// what the file holds is unknown, and a flush on top of it
		// (a later batch's or Close's) would move the mark over
		// entries it never had. Open's catch-up settles it. So do
		// records written over the committed end (errPrewriteEnd).
		s.fail(err)
	}
	return ip, err
}

func batchEmpty(b *chain.Batch) bool {
	return len(b.Blocks) == 0 && len(b.Metas) == 0 && len(b.Undos) == 0 && len(b.Main) == 0 &&
		len(b.Accounts) == 0 && len(b.TxIndex) == 0 && b.Tip.IsZero()
}

// buckets are the store's buckets opened in one transaction.
type buckets struct {
	blocks, metas, main, accounts, txindex, meta *bolt.Bucket
}

func openBuckets(tx *bolt.Tx) (*buckets, error) {
	var bk buckets
	for _, o := range []struct {
		name string
		to   **bolt.Bucket
	}{
		{bucketBlocks, &bk.blocks}, {bucketMetas, &bk.metas}, {bucketMain, &bk.main},
		{bucketAccounts, &bk.accounts}, {bucketTxIndex, &bk.txindex}, {bucketMeta, &bk.meta},
	} {
		b, err := getBucket(tx, o.name)
		if err != nil {
			return nil, err
		}
		*o.to = b
	}
	return &bk, nil
}

// plan is a batch encoded into writes per bucket. The writes to blocks
// and txindex, whose keys or values need a height the batch may not carry
// or a block record's stored part, are filled in by resolve, inside the
// transaction.
type plan struct {
	blocks, metas, main, accounts, txindex, meta []write
	// newBlocks are the blocks put, each with the length of its
	// encoding: resolve encodes it straight into its record. undos are
	// the undo records put (nil for a deletion), by block hash.
	newBlocks map[chain.Hash]newBlock
	undos     map[chain.Hash][]byte
	// indexHeights are the heights of the blocks the batch's index
	// entries name, found by resolve.
	indexHeights map[chain.Hash]uint64
	// mem holds the small keys and values.
	mem *arena
	// recs is the records file the plan's large records go to (nil: they
	// stay in chunks); recBase is its committed end, read in the
	// transaction, recEnd the end after appends, the records the
	// transaction writes there before it commits (records.go).
	recs            *recordsFile
	recBase, recEnd uint64
	appends         [][]byte
	// pre are the records written before the transaction (prewrite.go).
	pre *prewritten
}

// newBlock is a block to put and the length of its encoding.
type newBlock struct {
	b    *chain.Block
	size int
}

// encodeBatch turns b into writes, refusing records the store cannot hold.
// A block and its meta are one record pair (the meta's header is the
// block's): they are put together, or deleted together; a meta alone
// updates the status of a block already stored.
func encodeBatch(b *chain.Batch) (*plan, error) {
	p := &plan{
		newBlocks: make(map[chain.Hash]newBlock, len(b.Blocks)),
		undos:     make(map[chain.Hash][]byte, len(b.Undos)),
		metas:     make([]write, 0, len(b.Metas)),
		main:      make([]write, 0, len(b.Main)),
		accounts:  make([]write, 0, len(b.Accounts)),
		txindex:   make([]write, 0, len(b.TxIndex)),
		mem: newArena(len(b.Metas)*(chain.HashSize+maxIndexSize) + len(b.Main)*(heightKeySize+chain.HashSize) +
			len(b.Accounts)*(1+compactAddrLen+accountSize) + len(b.TxIndex)*chain.HashSize + chain.HashSize),
	}
	for h, blk := range b.Blocks {
		m, ok := b.Metas[h]
		if !ok || (m == nil) != (blk == nil) {
			return nil, fmt.Errorf("%w: block %s put or deleted without its meta", ErrBadBatch, h.Short())
		}
		if blk == nil {
			continue // deleted with its meta, once resolve knows its height
		}
		if got := blk.Hash(); got != h {
			return nil, fmt.Errorf("%w: block %s filed under %s", ErrBadBatch, got.Short(), h.Short())
		}
		size := blk.EncodedSize()
		if size > chain.MaxBlockSize {
			return nil, fmt.Errorf("%w: block %s is %d bytes, limit %d", ErrBadBatch, h.Short(), size, chain.MaxBlockSize)
		}
		if int(m.Size) != size || int(m.TxCount) != len(blk.Transactions) {
			return nil, fmt.Errorf("%w: meta of %s says %d bytes and %d transactions, the block has %d and %d",
				ErrBadBatch, h.Short(), m.Size, m.TxCount, size, len(blk.Transactions))
		}
		p.newBlocks[h] = newBlock{b: blk, size: size}
	}
	for h, m := range b.Metas {
		if m == nil {
			if _, ok := b.Blocks[h]; !ok {
				return nil, fmt.Errorf("%w: meta %s deleted without its block", ErrBadBatch, h.Short())
			}
			continue
		}
		if m.Hash != h || m.Header.Hash() != h {
			return nil, fmt.Errorf("%w: meta of %s (header %s) filed under %s", ErrBadBatch, m.Hash.Short(), m.Header.Hash().Short(), h.Short())
		}
		at := p.mem.mark(maxIndexSize)
		enc, err := appendIndex(p.mem.buf, m)
		if err != nil {
			return nil, err
		}
		p.mem.buf = enc
		val := p.mem.cut(at)
		p.metas = append(p.metas, write{key: p.hashKey(h), val: val})
	}
	for h, u := range b.Undos {
		if u == nil {
			p.undos[h] = nil
			continue
		}
		enc, err := encodeUndo(u)
		if err != nil {
			return nil, fmt.Errorf("undo %s: %w", h.Short(), err)
		}
		p.undos[h] = enc
	}
	for height, h := range b.Main {
		p.main = append(p.main, write{key: p.heightKey(height), val: p.hashVal(h)})
	}
	for addr, a := range b.Accounts {
		if err := checkAddress(addr); err != nil {
			return nil, fmt.Errorf("account %q: %w", addr, err)
		}
		at := p.mem.mark(1 + len(addr))
		p.mem.buf = appendAccountKey(p.mem.buf, addr)
		w := write{key: p.mem.cut(at)}
		if !a.IsZero() {
			at = p.mem.mark(accountSize)
			p.mem.buf = appendAccount(p.mem.buf, a)
			w.val = p.mem.cut(at)
		}
		p.accounts = append(p.accounts, w)
	}
	if !b.Tip.IsZero() {
		p.meta = append(p.meta, write{key: []byte(keyTip), val: p.hashKey(b.Tip)})
	}
	return p, nil
}

// resolve adds the writes that need a block's height or its stored
// record: blocks put (with their undo record, from the batch or kept from
// the store), block pairs deleted (with their undo record), undo records
// put or deleted alone (the block record rewritten), and the transaction
// index. It reads before anything is written, so a block deleted by this
// batch is still found. Large records go to recs (nil: to chunks).
func (p *plan) resolve(b *chain.Batch, bk *buckets, recs *recordsFile) error {
	p.recs = recs
	end, err := recordsBase(bk.meta.Get([]byte(keyRecords)), recs)
	if err != nil {
		return err
	}
	if p.pre != nil {
		if p.pre.base != end {
			return fmt.Errorf("%w: %w: from %d, the end is %d", ErrCorrupt, errPrewriteEnd, p.pre.base, end)
		}
		end += p.pre.size
	}
	p.recBase, p.recEnd, p.appends = end, end, p.appends[:0]
	for h, m := range b.Metas {
		if m != nil {
			if _, ok := b.Blocks[h]; !ok && bk.metas.Get(h[:]) == nil {
				return fmt.Errorf("%w: meta %s of a block the store does not hold", ErrBadBatch, h.Short())
			}
			continue
		}
		height, ok, err := heightOf(b, bk, h)
		if err != nil || !ok {
			continue // not stored: nothing to delete (a damaged record is kept for Check)
		}
		p.metas = append(p.metas, write{key: p.hashKey(h)})
		p.deleteRecord(bk.blocks, height, h)
	}
	for h, nb := range p.newBlocks {
		height := b.Metas[h].Height()
		old, oldAt, err := readRecord(bk.blocks, p.recs, height, h, false)
		if err != nil {
			return fmt.Errorf("block %s: %w", h.Short(), err)
		}
		if pr, ok := p.pre.record(h); ok {
			p.putRecordAt(height, h, pr.rec, oldAt, pr.off, false)
			continue
		}
		undo, ok := p.undos[h]
		if !ok && old != nil {
			// A block stored again keeps the undo record it has.
			if _, undo, err = splitBlockRecord(old); err != nil {
				return fmt.Errorf("block %s: %w", h.Short(), err)
			}
		}
		p.putRecord(height, h, newRecord(nb, undo), oldAt)
	}
	for h, undo := range p.undos {
		if _, ok := b.Blocks[h]; ok {
			continue // written or deleted with its block above
		}
		height, ok, err := heightOf(b, bk, h)
		if err != nil {
			return err
		}
		if !ok {
			if undo == nil {
				continue
			}
			return fmt.Errorf("%w: undo of block %s, which the store does not hold", ErrBadBatch, h.Short())
		}
		old, oldAt, err := readRecord(bk.blocks, p.recs, height, h, false)
		if err != nil {
			return fmt.Errorf("block %s: %w", h.Short(), err)
		}
		if old == nil {
			return fmt.Errorf("block %s: %w: meta without its block record", h.Short(), ErrCorrupt)
		}
		enc, had, err := splitBlockRecord(old)
		if err != nil {
			return fmt.Errorf("block %s: %w", h.Short(), err)
		}
		if undo == nil && had == nil {
			continue
		}
		p.putRecord(height, h, appendBlockRecord(make([]byte, 0, 3+len(enc)+len(undo)), enc, undo), oldAt)
	}
	if len(p.appends) > 0 || p.pre != nil {
		at := p.mem.mark(recordsMetaSize)
		p.mem.buf = append(p.mem.buf, p.recs.id[:]...)
		p.mem.buf = binary.BigEndian.AppendUint64(p.mem.buf, p.recEnd)
		p.meta = append(p.meta, write{key: []byte(keyRecords), val: p.mem.cut(at)})
	}
	// A block holds many transactions: its height and main-chain check
	// are worked out once.
	onMain := make(map[chain.Hash][]byte)
	p.indexHeights = make(map[chain.Hash]uint64)
	for id, h := range b.TxIndex {
		if h.IsZero() {
			p.txindex = append(p.txindex, write{key: p.hashKey(id)})
			continue
		}
		val, done := onMain[h]
		if !done {
			height, ok, err := heightOf(b, bk, h)
			if err != nil {
				return err
			}
			main, inBatch := b.Main[height]
			if ok && !inBatch {
				main, _ = decodeHash(bk.main.Get(heightKey(height)))
			}
			if ok && main == h {
				val = p.heightKey(height)
				p.indexHeights[h] = height
			}
			onMain[h] = val
		}
		if val == nil {
			// The index keeps the height only, so the block must be the
			// main chain's at that height once the batch is in.
			return fmt.Errorf("%w: transaction %s indexed to %s, not a main-chain block", ErrBadBatch, id.Short(), h.Short())
		}
		p.txindex = append(p.txindex, write{key: p.hashKey(id), val: val})
	}
	return nil
}

// heightOf returns the height of block h: from its meta in b, or stored.
func heightOf(b *chain.Batch, bk *buckets, h chain.Hash) (uint64, bool, error) {
	if m := b.Metas[h]; m != nil {
		return m.Height(), true, nil
	}
	return storedHeight(bk.metas, h)
}

// storedHeight returns the height in the metas record of h, if stored.
func storedHeight(metas *bolt.Bucket, h chain.Hash) (uint64, bool, error) {
	v := metas.Get(h[:])
	if v == nil {
		return 0, false, nil
	}
	rec, err := decodeIndex(v)
	if err != nil {
		return 0, false, fmt.Errorf("meta %s: %w", h.Short(), err)
	}
	return rec.height, true, nil
}

// commit writes the plan, each bucket's keys in order: map order is
// random, and sorted keys make the commit deterministic and walk each
// B+tree once from left to right.
func (p *plan) commit(bk *buckets) error {
	bk.blocks.FillPercent, bk.main.FillPercent = appendFill, appendFill
	var synced <-chan error
	if len(p.appends) > 0 {
		var err error
		if synced, err = p.recs.write(p.recBase, p.appends); err != nil {
			return err
		}
		// A put that fails still waits for the sync: it must not
		// outlive the file it syncs.
		defer func() {
			if synced != nil {
				<-synced
			}
		}()
	}
	for _, o := range []struct {
		name string
		b    *bolt.Bucket
		ws   []write
	}{
		{bucketBlocks, bk.blocks, p.blocks}, {bucketMetas, bk.metas, p.metas}, {bucketMain, bk.main, p.main},
		{bucketAccounts, bk.accounts, p.accounts},
		{bucketTxIndex, bk.txindex, p.txindex}, {bucketMeta, bk.meta, p.meta},
	} {
		for _, w := range sortWrites(o.ws) {
			var err error
			if w.val == nil {
				err = o.b.Delete(w.key)
			} else {
				err = o.b.Put(w.key, w.val)
			}
			if err != nil {
				return fmt.Errorf("bucket %s: %w", o.name, err)
			}
		}
	}
	if synced != nil {
		// The records must be on disk before the transaction that points
		// to them commits. A failed sync fails the transaction, so bbolt
		// commits nothing: the store goes on, and the next records are
		// written over these from the same committed length, and synced
		// again.
		err := <-synced
		synced = nil
		if err != nil {
			return fmt.Errorf("records file: %w", err)
		}
	}
	if err := p.pre.wait(); err != nil {
		return fmt.Errorf("records file: %w", err)
	}
	return nil
}

// hashKey returns h as a key or value in the plan's arena.
func (p *plan) hashKey(h chain.Hash) []byte {
	at := p.mem.mark(chain.HashSize)
	p.mem.buf = append(p.mem.buf, h[:]...)
	return p.mem.cut(at)
}

// heightKey returns the key of a height in the plan's arena.
func (p *plan) heightKey(height uint64) []byte {
	at := p.mem.mark(heightKeySize)
	p.mem.buf = binary.BigEndian.AppendUint64(p.mem.buf, height)
	return p.mem.cut(at)
}

// hashVal is the value of a hash-valued entry: nil, a delete, for ZeroHash.
func (p *plan) hashVal(h chain.Hash) []byte {
	if h.IsZero() {
		return nil
	}
	return p.hashKey(h)
}

// sortIndexBits is how many low bits of a sort key hold the write's
// index; the rest hold the key's first six bytes.
const sortIndexBits = 16

// sortWrites returns ws sorted by key. The accounts and transaction index
// keys of a batch are hashes in random order, thousands of them for a
// large block, and sorting them as byte slices through a comparison
// function was a tenth of a connect's CPU. Each write becomes one number
// instead, its key's first six bytes (zero-padded, which keeps the order
// of shorter keys) above its index, and numbers sort with no function
// call; writes whose keys share those six bytes come out in index order
// and are then put in key order, stably, so that of two writes of one
// key the later still lands last.
func sortWrites(ws []write) []write {
	byKey := func(a, b write) int { return bytes.Compare(a.key, b.key) }
	if slices.IsSortedFunc(ws, byKey) {
		return ws // blocks and main append in order
	}
	if len(ws) > 1<<sortIndexBits {
		slices.SortStableFunc(ws, byKey)
		return ws
	}
	keys := make([]uint64, len(ws))
	for i, w := range ws {
		var pfx [8]byte
		copy(pfx[:8-sortIndexBits/8], w.key)
		keys[i] = binary.BigEndian.Uint64(pfx[:]) | uint64(i)
	}
	slices.Sort(keys)
	out := make([]write, len(ws))
	for j, k := range keys {
		out[j] = ws[k&(1<<sortIndexBits-1)]
	}
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>sortIndexBits == keys[lo]>>sortIndexBits {
			hi++
		}
		if hi-lo > 1 {
			slices.SortStableFunc(out[lo:hi], byKey)
		}
		lo = hi
	}
	return out
}
