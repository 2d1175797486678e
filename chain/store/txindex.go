package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// The transaction index is committed lazily. Its keys are transaction ids,
// hashes in random order, so every entry dirties a leaf of its own: in a
// sync batch of 64 blocks of four transfers they were about 70% of the
// commit's write calls (docs/benchmarks.md). A batch that only extends the
// main chain therefore commits everything but its index entries, which
// join an in-memory pending set once the commit succeeded; the set is
// written later, sorted, many entries to a leaf: in a transaction of its
// own in the background once it reaches a bound (flush.go), or in the
// transaction of a batch that may take a block off the main chain, or of
// one that would take the set to twice its bounds while no flush runs, or
// at Close. On disk the bucket is complete for the main chain up to the
// "indexed" mark (keyIndexed), an ancestor of the tip on the main chain;
// the blocks above it are the pending set's, and Open indexes them again
// from their block records if the process died before they were written.

// keyIndexed, in the meta bucket, is the block up to which the txindex
// bucket is complete: height uint64 | hash (32).
const keyIndexed = "indexed"

// markSize is the length of the keyIndexed value.
const markSize = heightKeySize + chain.HashSize

// Bounds of the pending set. The batch that reaches either starts a flush
// of the set (each store draws its entry bound from the upper half of
// pendingMaxEntries, see entryBound); while it runs, a new set may grow
// until the two together would reach twice the bounds (flush.go). So
// memory stays under about 12 MB (an entry is an id, a block number and
// the map's overhead: 131,072 of them took 10 MiB of heap) and Open
// indexes at most twice the bounds' transactions and blocks again after
// a crash. A flush into a bucket of random keys rewrites about every
// leaf once the bucket has fewer leaves than the flush has entries, so
// its cost follows the bucket's size, not the flush's: fewer, larger
// flushes cost less per entry. At 65,536 and 8,192 rather than 16,384
// and 2,048, with the deferral below, the p99 of a 100 KiB block relayed
// over 20 nodes fell by 8–33% (docs/benchmarks.md, "The transaction
// index in larger flushes"). A larger flush holds bbolt's writer longer,
// so a large block that comes meanwhile is deferred rather than left to
// wait (group.go). In a sync batch of 64 blocks of four transfers, 2,048
// blocks rather than 512 took a commit from 247 write calls to 164
// (docs/benchmarks.md).
var (
	pendingMaxEntries = 65536
	pendingMaxBlocks  = 8192
)

// entryBound draws a store's bound on held-back entries, uniformly from
// the upper half of pendingMaxEntries. Nodes that connect the same blocks
// would otherwise all write their sets on the same block; on one machine
// running many nodes, those commits then took the cores at once and
// were the slowest deliveries of a gossiped block (docs/benchmarks.md).
func entryBound() int {
	return pendingMaxEntries/2 + rand.IntN(pendingMaxEntries/2+1)
}

// commitFault, set by tests only, turns a commit that succeeded into one
// that reports an error: what bbolt does when its meta page reached the
// file but the sync after it failed.
var commitFault func() error

// reindexBudget is how many transactions one transaction of Open's
// catch-up indexes before it commits with the mark moved, so a rebuild of
// a long chain holds bounded memory and resumes where it stopped.
var reindexBudget = 1 << 16

// pendingSet is the index entries committed to the chain but not yet to
// the txindex bucket: cur, which Apply adds to, and old, the generation a
// background flush is writing (flush.go). Readers take mu for reading;
// Apply changes the set only after its transaction committed, and the
// flush drops old only after its own (see TxLocation for why that order
// is enough).
type pendingSet struct {
	mu       sync.RWMutex
	cur, old pendingGen
}

// pendingGen is one generation of held-back entries.
type pendingGen struct {
	ids    map[chain.Hash]int32 // transaction id -> index in blocks
	blocks []pendingBlock
}

// pendingBlock is a main-chain block whose transactions are pending.
type pendingBlock struct {
	height uint64
	hash   chain.Hash
}

// lookup returns the block holding id if the set has it. cur is asked
// first: of two entries for one id, the later write wins on disk too.
func (ps *pendingSet) lookup(id chain.Hash) (chain.Hash, bool) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	for _, g := range [2]*pendingGen{&ps.cur, &ps.old} {
		if i, ok := g.ids[id]; ok {
			return g.blocks[i].hash, true
		}
	}
	return chain.Hash{}, false
}

// size returns how many entries and blocks cur holds: reaching a bound
// starts a flush of cur.
func (ps *pendingSet) size() (entries, blocks int) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.cur.ids), len(ps.cur.blocks)
}

// total returns how many entries and blocks cur and old hold together:
// the hard cap is on what memory and a crash's catch-up hold, the
// generation being flushed included.
func (ps *pendingSet) total() (entries, blocks int) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.cur.ids) + len(ps.old.ids), len(ps.cur.blocks) + len(ps.old.blocks)
}

// add records a committed batch's index entries: ids by block, each block
// with its height.
func (ps *pendingSet) add(byBlock map[chain.Hash][]chain.Hash, heights map[chain.Hash]uint64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.cur.ids == nil {
		ps.cur.ids = make(map[chain.Hash]int32)
	}
	for h, ids := range byBlock {
		i := int32(len(ps.cur.blocks))
		ps.cur.blocks = append(ps.cur.blocks, pendingBlock{height: heights[h], hash: h})
		for _, id := range ids {
			ps.cur.ids[id] = i
		}
	}
}

// detach makes cur the generation a flush writes and starts an empty
// one, returning the detached generation; old must be empty. Nothing
// changes the detached maps afterwards, so the flush reads them unlocked.
func (ps *pendingSet) detach() pendingGen {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.old, ps.cur = ps.cur, pendingGen{}
	return ps.old
}

// dropOld forgets the generation a flush wrote, once it is on disk.
func (ps *pendingSet) dropOld() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.old = pendingGen{}
}

// clear empties the set once its entries are on disk.
func (ps *pendingSet) clear() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.cur, ps.old = pendingGen{}, pendingGen{}
}

// indexPlan is what Apply does with a batch's index entries: hold them
// back (lazy) or commit them with the pending set (flush).
type indexPlan struct {
	lazy    bool
	byBlock map[chain.Hash][]chain.Hash // lazy: the batch's ids by block
	heights map[chain.Hash]uint64
	// lazy: the tip once the batch is in, where a flush of the set
	// after it puts the mark.
	tipHeight uint64
	tip       chain.Hash
}

// errFlushBusy: the batch must be committed with the pending set while a
// background flush still writes the generation before it. Apply rolls
// back, waits for the flush and plans again.
var errFlushBusy = errors.New("tx index flush in flight")

// planIndex decides, inside the batch's transaction and after resolve,
// whether the batch only extends the main chain and the pending set stays
// within its hard cap: twice its bounds, counting the generation a
// background flush is writing, which may be slower than the batches
// behind it. If so it takes the batch's
// index writes out of p and returns them for the pending set. If not, it
// puts the pending set's entries into p before the batch's own (a later
// write of a key wins) and moves the mark to the batch's tip; busy says
// a background flush is in flight, whose generation that would leave out.
func (s *Store) planIndex(b *chain.Batch, bk *buckets, p *plan, busy bool) (indexPlan, error) {
	tip, tipHeight, hasTip, err := storedTip(bk)
	if err != nil {
		return indexPlan{}, err
	}
	entries, blocks := s.pending.total()
	// The first batch (genesis) is written with its mark, so a store
	// without one is always a damaged or an old one.
	if hasTip && extendsOnly(b, tip, tipHeight, hasTip) && aboveTip(p.indexHeights, tipHeight) &&
		entries+len(b.TxIndex) < 2*s.maxEntries &&
		blocks+len(p.indexHeights) < 2*pendingMaxBlocks {
		ip := indexPlan{lazy: true, byBlock: make(map[chain.Hash][]chain.Hash, len(p.indexHeights)), heights: p.indexHeights,
			tip: tip, tipHeight: tipHeight}
		if !b.Tip.IsZero() && b.Tip != tip {
			height, err := tipHeightOf(b, bk, b.Tip)
			if err != nil {
				return indexPlan{}, err
			}
			ip.tip, ip.tipHeight = b.Tip, height
		}
		for id, h := range b.TxIndex {
			ip.byBlock[h] = append(ip.byBlock[h], id)
		}
		p.txindex = p.txindex[:0]
		return ip, nil
	}
	if busy {
		return indexPlan{}, errFlushBusy
	}
	if err := s.flushInto(b, bk, p); err != nil {
		return indexPlan{}, err
	}
	return indexPlan{}, nil
}

// flushInto adds the pending set's writes and the mark to p. A pending
// entry whose block this batch takes off the main chain is dropped: the
// index must not name a block off the main chain. It is called with no
// background flush in flight, so all the set is in cur.
func (s *Store) flushInto(b *chain.Batch, bk *buckets, p *plan) error {
	s.pending.mu.RLock()
	own := p.txindex
	p.txindex = make([]write, 0, len(s.pending.cur.ids)+len(own))
	for id, i := range s.pending.cur.ids {
		blk := s.pending.cur.blocks[i]
		if m, in := b.Main[blk.height]; in && m != blk.hash {
			continue
		}
		p.txindex = append(p.txindex, write{key: p.hashKey(id), val: p.heightKey(blk.height)})
	}
	s.pending.mu.RUnlock()
	p.txindex = append(p.txindex, own...)
	tip := b.Tip
	if tip.IsZero() {
		var err error
		var has bool
		if tip, _, has, err = storedTip(bk); err != nil || !has {
			return err
		}
	}
	height, err := tipHeightOf(b, bk, tip)
	if err != nil {
		return err
	}
	p.setMark(height, tip)
	return nil
}

// tipHeightOf returns the height of tip, the batch's new tip or the
// stored one, from the batch's metas or the stored ones.
func tipHeightOf(b *chain.Batch, bk *buckets, tip chain.Hash) (uint64, error) {
	height, ok, err := heightOf(b, bk, tip)
	if err == nil && !ok {
		err = fmt.Errorf("%w: tip %s has no meta", ErrBadBatch, tip.Short())
	}
	return height, err
}

// extendsOnly reports whether b only adds blocks on top of the stored tip:
// no index entry deleted, no main-chain entry at or below the stored tip's
// height (none replaced or removed), none zeroed, and a new tip, if any,
// the highest of the batch's main-chain entries. Anything else may take a
// block off the main chain and is committed with the pending set.
func extendsOnly(b *chain.Batch, tip chain.Hash, tipHeight uint64, hasTip bool) bool {
	for _, h := range b.TxIndex {
		if h.IsZero() {
			return false
		}
	}
	var top uint64
	var topHash chain.Hash
	for height, h := range b.Main {
		if h.IsZero() || (hasTip && height <= tipHeight) {
			return false
		}
		if height >= top {
			top, topHash = height, h
		}
	}
	if len(b.Main) > 0 {
		return b.Tip == topHash
	}
	return b.Tip.IsZero() || b.Tip == tip
}

// aboveTip reports whether every block the index entries name is above
// the stored tip: catch-up after a crash starts above the mark, so an
// entry held back for a block at or below it would be lost.
func aboveTip(heights map[chain.Hash]uint64, tipHeight uint64) bool {
	for _, h := range heights {
		if h <= tipHeight {
			return false
		}
	}
	return true
}

// storedTip returns the committed tip and its height, if there is one.
func storedTip(bk *buckets) (chain.Hash, uint64, bool, error) {
	v := bk.meta.Get([]byte(keyTip))
	if v == nil {
		return chain.Hash{}, 0, false, nil
	}
	tip, err := decodeHash(v)
	if err != nil {
		return chain.Hash{}, 0, false, fmt.Errorf("tip: %w", err)
	}
	height, ok, err := storedHeight(bk.metas, tip)
	if err == nil && !ok {
		err = fmt.Errorf("%w: block %s has no meta", ErrCorrupt, tip.Short())
	}
	if err != nil {
		return chain.Hash{}, 0, false, fmt.Errorf("tip: %w", err)
	}
	return tip, height, true, nil
}

// markAtTip is markOnMain against bk's stored tip, read here.
func markAtTip(bk *buckets, height uint64, mark chain.Hash) error {
	_, tipHeight, ok, err := storedTip(bk)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("index mark at height %d without a tip", height)
	}
	return markOnMain(bk, height, mark, tipHeight)
}

// markOnMain returns why the mark at height is not what Apply leaves (a
// main-chain block at or below the tip at tipHeight), or nil.
func markOnMain(bk *buckets, height uint64, mark chain.Hash, tipHeight uint64) error {
	if got, err := decodeHash(bk.main.Get(heightKey(height))); err != nil || got != mark {
		return fmt.Errorf("index mark %s at height %d is not the main chain's block", mark.Short(), height)
	}
	if height > tipHeight {
		return fmt.Errorf("index mark at height %d is above the tip", height)
	}
	return nil
}

// setMark adds to p the write of the mark at height, h.
func (p *plan) setMark(height uint64, h chain.Hash) {
	p.meta = append(p.meta, write{key: []byte(keyIndexed), val: appendMark(nil, height, h)})
}

func appendMark(dst []byte, height uint64, h chain.Hash) []byte {
	dst = binary.BigEndian.AppendUint64(dst, height)
	return append(dst, h[:]...)
}

// decodeMark decodes a keyIndexed value.
func decodeMark(v []byte) (uint64, chain.Hash, error) {
	if len(v) != markSize {
		return 0, chain.Hash{}, fmt.Errorf("%w: index mark is %d bytes, want %d", ErrCorrupt, len(v), markSize)
	}
	var h chain.Hash
	copy(h[:], v[heightKeySize:])
	return binary.BigEndian.Uint64(v), h, nil
}

// flush commits the pending set with the mark at the stored tip, for
// Close.
func (s *Store) flush() error {
	if n, _ := s.pending.size(); n == 0 {
		return nil
	}
	p := &plan{mem: newArena(0)}
	if err := s.commitIndex(p, func(bk *buckets) error { return s.flushInto(chain.NewBatch(), bk, p) }); err != nil {
		return err
	}
	s.pending.clear()
	return nil
}

// commitIndex commits p, the pending set's writes and the mark that fill
// adds to it in the transaction before the commit, in a transaction of
// their own: Close's flush and the background one.
func (s *Store) commitIndex(p *plan, fill func(*buckets) error) error {
	err := boltErr(s.db.Update(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err != nil {
			return err
		}
		if err := fill(bk); err != nil {
			return err
		}
		return p.commit(bk)
	}))
	if err != nil {
		return fmt.Errorf("flush tx index: %w", err)
	}
	return nil
}

// catchUp makes the txindex bucket complete up to the tip before Open
// returns: the main chain's blocks above the mark are indexed from their
// records. A mark that is missing while the chain has a tip, does not
// decode, or is not on the main chain (which Apply never leaves), makes
// it empty the bucket and index the whole main chain. Each transaction indexes up to
// reindexBudget transactions and moves the mark, so a rebuild cut short
// resumes.
func catchUp(db *bolt.DB, recs *recordsFile, log *slog.Logger) error {
	var from uint64
	var tipHeight uint64
	var rebuild string
	err := db.View(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err != nil {
			return err
		}
		from, tipHeight = 1, 0 // nothing to index unless found below
		rawTip, rawMark := bk.meta.Get([]byte(keyTip)), bk.meta.Get([]byte(keyIndexed))
		// A store closed cleanly has its mark at its tip: there is
		// nothing to index. A tip record that does not decode is left for
		// the reads to report (ErrCorrupt), as before the mark existed.
		if rawTip == nil || len(rawTip) != chain.HashSize ||
			(len(rawMark) == markSize && bytes.Equal(rawMark[heightKeySize:], rawTip)) {
			return nil
		}
		_, h, _, err := storedTip(bk)
		if err != nil {
			// A damaged tip is for the reads to report (ErrCorrupt) and
			// for Check and repair tools to see: Open does not refuse.
			log.Warn("transaction index not caught up", "reason", err)
			return nil
		}
		tipHeight = h
		if rawMark == nil {
			rebuild = "the index mark is missing"
			return nil
		}
		mh, mark, err := decodeMark(rawMark)
		if err != nil {
			rebuild = err.Error()
			return nil
		}
		if err := markOnMain(bk, mh, mark, tipHeight); err != nil {
			rebuild = err.Error()
			return nil
		}
		from = mh + 1
		return nil
	})
	if err != nil {
		return fmt.Errorf("tx index: %w", err)
	}
	if rebuild != "" {
		log.Warn("rebuilding the transaction index from the main chain", "why", rebuild, "blocks", tipHeight+1)
		err := db.Update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket([]byte(bucketTxIndex)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(bucketTxIndex)); err != nil {
				return err
			}
			// The main chain starts at genesis; a store written by
			// tests may start higher.
			if k, _ := tx.Bucket([]byte(bucketMain)).Cursor().First(); len(k) == heightKeySize {
				from = binary.BigEndian.Uint64(k)
			}
			return tx.Bucket([]byte(bucketMeta)).Delete([]byte(keyIndexed))
		})
		if err != nil {
			return fmt.Errorf("tx index: rebuild: %w", err)
		}
	}
	if from > tipHeight {
		return nil
	}
	log.Info("indexing transactions of blocks above the index mark", "from", from, "to", tipHeight)
	for from <= tipHeight {
		err := db.Update(func(tx *bolt.Tx) error {
			var err error
			from, err = indexBlocks(tx, recs, from, tipHeight)
			return err
		})
		if err != nil {
			return fmt.Errorf("tx index: height %d: %w", from, err)
		}
	}
	return nil
}

// indexBlocks indexes the main chain's blocks from height from up to to,
// stopping after the block that takes it past reindexBudget transactions,
// and moves the mark to the last one. It returns the next height.
func indexBlocks(tx *bolt.Tx, recs *recordsFile, from, to uint64) (uint64, error) {
	bk, err := openBuckets(tx)
	if err != nil {
		return from, err
	}
	p := &plan{mem: newArena(0)}
	var last chain.Hash
	height := from
	for n := 0; height <= to && n < reindexBudget; height++ {
		v := bk.main.Get(heightKey(height))
		if last, err = decodeHash(v); err != nil {
			return height, fmt.Errorf("main chain: %w", err)
		}
		rec, _, err := readRecord(bk.blocks, recs, height, last, false)
		if err != nil {
			return height, err
		}
		if rec == nil {
			return height, fmt.Errorf("%w: main-chain block %s has no record", ErrCorrupt, last.Short())
		}
		enc, _, err := splitBlockRecord(rec)
		if err != nil {
			return height, err
		}
		blk, err := chain.DecodeBlock(enc)
		if err != nil {
			return height, fmt.Errorf("%w: block %s: %w", ErrCorrupt, last.Short(), err)
		}
		hk := p.heightKey(height)
		for _, t := range blk.Transactions {
			p.txindex = append(p.txindex, write{key: p.hashKey(t.ID()), val: hk})
		}
		n += len(blk.Transactions)
	}
	p.setMark(height-1, last)
	return height, p.commit(bk)
}
