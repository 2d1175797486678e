package store

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/gossipchain/gossipchain/chain"
)

// Deferred batches. Every bbolt commit writes 10 to 230 pages with a
// pwrite each and two fdatasyncs, and at one block per batch that was
// most of what mining a block cost on disk and about 30% of a relayed
// block's CPU per node (issue 13). A batch that only adds blocks on top
// of the tip (deferrable) is therefore appended to the write-ahead log,
// one write and one fdatasync (wal.go), and kept in memory, in the
// memtable's list of pending batches; reads look there before bbolt. The
// pending batches are merged into one and committed through commitBatch,
// in one bbolt transaction, when they reach a bound (group.go: without
// the Apply lock), before any batch that is not deferrable, and at Close;
// then the log is reset (after the batches that came while the group was
// written are committed too).

// Bounds of the memtable. The batch that reaches either commits the
// list. memMaxBlocks counts blocks, not batches: a sync batch holds up to
// 64 blocks itself. 64 blocks: a sync batch is up to 64 blocks already,
// and a group that large takes a coinbase-only block's commit from ~10
// pages to about one page per block. 1 MiB of encoded blocks: what Open
// reads from the log and commits again after a crash stays small (a
// group and the batches that came while it was written).
//
// memDeferMax is the largest batch, in encoded blocks, that a store
// without syncs (WithNoSync) defers at all: a larger one is committed at
// once, as before the memtable, unless a background flush of the index
// holds bbolt's writer (group.go). A store that syncs defers a batch of
// any size: there the log's one fdatasync takes the place of the three
// a block committed at once waits for in turn, and connecting a block of
// 1,000 transfers went from a median 0.093 of verifying its signatures
// to 0.080 (docs/benchmarks.md); without syncs, a large block's copy
// in the log is CPU for nothing.
// The group commit held the Apply lock while it ran when these were measured,
// and bbolt inserts each key of a transaction into its in-memory node
// with a copy of the node's tail, so a group of large blocks cost more
// than their commits one by one, and stalled the Apply that waited for
// it: with 8 MiB
// groups of 100 KiB blocks, GossipPropagation20's committed p99 went
// from 59–62 ms to 470–660 ms, and with 1 MiB groups to 190 ms
// (docs/benchmarks.md). Small blocks, one per call or relayed, are where
// a bbolt commit's fixed cost (two fdatasyncs, ~10 pages) dominated.
// While a background flush of the index holds bbolt's writer, large
// blocks are deferred all the same (group.go), so such groups form
// then, of the few blocks that come during a flush: waiting behind the
// flush measured worse (docs/benchmarks.md, "The transaction index in
// larger flushes").
//
// Each store scales both bounds by its own factor, drawn at Open within
// memJitter of 1: stores that take the same blocks (nodes sharing a
// machine, as the testnet command and GossipPropagation20 run them) would
// otherwise commit their groups at the same block, each group a burst of
// bbolt work, and relay that block late together. With 20 nodes on two
// cores, the bursts took GossipPropagation20's 1 KiB p99 from 2.08 × raw
// (no group commits in the run) to 2.42, and with the jitter it was 2.13
// (medians of 8 alternating runs, docs/benchmarks.md).
var (
	memMaxBlocks = 64
	memMaxBytes  = 1 << 20
	memDeferMax  = 16 << 10
	memJitter    = 0.25
)

// memtable is the list of pending batches: each appended to the log and
// not yet committed to bbolt, oldest first.
//
// Why readers see one instant. A reader takes mu shared, copies the list
// (list is never changed in place: an append past a copy's length is not
// seen by it, and a drop installs a new slice), begins its bbolt read
// transaction, and lets mu go. The list changes only under mu held
// exclusively: an append, and the drop of the batches a group commit
// wrote, which comes after that commit. bbolt is written meanwhile only
// by the group commit of the list's first batches, those listed when it
// began (a batch that is not deferrable commits only once the list is
// empty, and a background flush of the transaction index writes nothing a
// view reads). So while a reader holds mu, the file is either the state
// before those batches or the state after them, and the list read over
// either is the same state, because every write of the merged batch is a
// put of an absolute value that the list itself answers. The group commit
// does not hold mu while bbolt syncs: no reader waits for it.
type memtable struct {
	mu   sync.RWMutex
	list []*chain.Batch
	// sizes are the sizes of the listed batches' encoded blocks.
	sizes []int
	// blocks and bytes count the listed batches' blocks, a batch
	// without one as one (so a run of them is bounded too), and the size
	// of their encodings.
	blocks, bytes int
	// scale is this store's factor of the bounds (memJitter), set at
	// Open.
	scale float64
	// tip and tipHeight are the tip once the list is in; set while the
	// list is not empty.
	tip       chain.Hash
	tipHeight uint64
}

// snapshot returns the pending batches, oldest first. Called with mu held.
func (mt *memtable) snapshot() pendingBatches { return pendingBatches(mt.list) }

// add appends b, whose blocks' encodings take size bytes and which leaves
// the tip at tip, tipHeight, and returns the list's blocks and bytes.
func (mt *memtable) add(b *chain.Batch, size int, tip chain.Hash, tipHeight uint64) (blocks, bytes int) {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	mt.list = append(mt.list, b)
	mt.sizes = append(mt.sizes, size)
	mt.blocks += max(1, len(b.Blocks))
	mt.bytes += size
	mt.tip, mt.tipHeight = tip, tipHeight
	return mt.blocks, mt.bytes
}

// full reports whether the list holds a bound's worth.
func (mt *memtable) full() bool {
	mt.mu.RLock()
	defer mt.mu.RUnlock()
	return mt.blocks >= mt.maxBlocks() || mt.bytes >= mt.maxBytes()
}

// maxBlocks and maxBytes are the store's bounds, memMaxBlocks and
// memMaxBytes scaled by its factor. scale is set once, at Open.
func (mt *memtable) maxBlocks() int { return max(1, int(float64(memMaxBlocks)*mt.factor())) }
func (mt *memtable) maxBytes() int  { return max(1, int(float64(memMaxBytes)*mt.factor())) }

func (mt *memtable) factor() float64 {
	if mt.scale == 0 {
		return 1
	}
	return mt.scale
}

// jitterScale draws a store's factor of the bounds, within memJitter of 1.
func jitterScale() float64 { return 1 + memJitter*(2*rand.Float64()-1) }

// pendingTip returns the tip once the list is in, if the list is not
// empty. Called under applyMu, which serialises every change of the list.
func (mt *memtable) pendingTip() (chain.Hash, uint64, bool) {
	mt.mu.RLock()
	defer mt.mu.RUnlock()
	return mt.tip, mt.tipHeight, len(mt.list) > 0
}

// listed returns the pending batches and the tip once they are in. Called
// under applyMu, which serialises every change of the list.
func (mt *memtable) listed() ([]*chain.Batch, chain.Hash) {
	mt.mu.RLock()
	defer mt.mu.RUnlock()
	return mt.list, mt.tip
}

// clear forgets the batches, which a group commit wrote. A new slice:
// readers may still hold the old one.
func (mt *memtable) clear() {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	mt.list, mt.sizes, mt.blocks, mt.bytes = nil, nil, 0, 0
}

// drop forgets the n oldest batches, which a group commit wrote while
// later ones were added, and returns how many are left. A new slice:
// readers may still hold the old one.
func (mt *memtable) drop(n int) int {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	for i, b := range mt.list[:n] {
		mt.blocks -= max(1, len(b.Blocks))
		mt.bytes -= mt.sizes[i]
	}
	mt.list = slices.Clone(mt.list[n:])
	mt.sizes = slices.Clone(mt.sizes[n:])
	return len(mt.list)
}

// deferrable reports whether b only adds blocks on top of the tip at
// tipHeight, so that it can wait in the memtable: extendsOnly, and
// moreover every block, meta, undo record and index entry it writes is
// of a block it puts on the main chain. So each pending batch is whole
// on its own (nothing in it needs a stored record to be written or
// read), adds no side block, and can fail no check of resolve later; a
// meta alone (a status change), a side block, or a deletion commits at
// once, after the pending batches.
func deferrable(b *chain.Batch, tip chain.Hash, tipHeight uint64) bool {
	if !extendsOnly(b, tip, tipHeight, true) {
		return false
	}
	onMain := func(h chain.Hash) bool {
		m := b.Metas[h]
		return m != nil && b.Blocks[h] != nil && b.Main[m.Height()] == h
	}
	for h := range b.Blocks {
		if !onMain(h) {
			return false
		}
	}
	for h := range b.Metas {
		if !onMain(h) {
			return false
		}
	}
	for h, u := range b.Undos {
		if u == nil || !onMain(h) {
			return false
		}
	}
	for _, h := range b.Main {
		if !onMain(h) {
			return false
		}
	}
	for _, h := range b.TxIndex {
		if !onMain(h) {
			return false
		}
	}
	return true
}

// mergeBatches returns one batch holding the writes of list, a later
// batch's write of a key over an earlier one's: the group commit.
func mergeBatches(list []*chain.Batch) *chain.Batch {
	// Sized for every key once: grown as they came, the maps were
	// rehashed several times in a group of 64 blocks, and the merge took
	// about 2–4 times as long, with twice the bytes
	// (BenchmarkMergeBatches).
	var blocks, metas, undos, main, accounts, txindex int
	for _, b := range list {
		blocks, metas, undos = blocks+len(b.Blocks), metas+len(b.Metas), undos+len(b.Undos)
		main, accounts, txindex = main+len(b.Main), accounts+len(b.Accounts), txindex+len(b.TxIndex)
	}
	out := &chain.Batch{
		Blocks:   make(map[chain.Hash]*chain.Block, blocks),
		Metas:    make(map[chain.Hash]*chain.BlockMeta, metas),
		Undos:    make(map[chain.Hash]*chain.Undo, undos),
		Main:     make(map[uint64]chain.Hash, main),
		Accounts: make(map[string]chain.Account, accounts),
		TxIndex:  make(map[chain.Hash]chain.Hash, txindex),
	}
	for _, b := range list {
		mergeInto(out, b)
	}
	return out
}

// mergeInto puts every write of b into dst, over dst's.
func mergeInto(dst, b *chain.Batch) {
	maps.Copy(dst.Blocks, b.Blocks)
	maps.Copy(dst.Metas, b.Metas)
	maps.Copy(dst.Undos, b.Undos)
	maps.Copy(dst.Main, b.Main)
	maps.Copy(dst.Accounts, b.Accounts)
	maps.Copy(dst.TxIndex, b.TxIndex)
	if !b.Tip.IsZero() {
		dst.Tip = b.Tip
	}
}

// pendingBatches is a reader's copy of the memtable's list. Its lookups
// ask the newest batch first: a later write of a key wins, as in the
// group commit.
type pendingBatches []*chain.Batch

func (pb pendingBatches) meta(h chain.Hash) (*chain.BlockMeta, bool) {
	return newest(pb, func(b *chain.Batch) map[chain.Hash]*chain.BlockMeta { return b.Metas }, h)
}

func (pb pendingBatches) block(h chain.Hash) (*chain.Block, bool) {
	return newest(pb, func(b *chain.Batch) map[chain.Hash]*chain.Block { return b.Blocks }, h)
}

func (pb pendingBatches) undo(h chain.Hash) (*chain.Undo, bool) {
	return newest(pb, func(b *chain.Batch) map[chain.Hash]*chain.Undo { return b.Undos }, h)
}

func (pb pendingBatches) main(height uint64) (chain.Hash, bool) {
	return newest(pb, func(b *chain.Batch) map[uint64]chain.Hash { return b.Main }, height)
}

func (pb pendingBatches) account(addr string) (chain.Account, bool) {
	return newest(pb, func(b *chain.Batch) map[string]chain.Account { return b.Accounts }, addr)
}

func (pb pendingBatches) txLocation(id chain.Hash) (chain.Hash, bool) {
	return newest(pb, func(b *chain.Batch) map[chain.Hash]chain.Hash { return b.TxIndex }, id)
}

// newest returns the value of k in the newest batch of pb whose map m has it.
func newest[K comparable, V any](pb pendingBatches, m func(*chain.Batch) map[K]V, k K) (V, bool) {
	for i := len(pb) - 1; i >= 0; i-- {
		if v, ok := m(pb[i])[k]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

func (pb pendingBatches) tip() (chain.Hash, bool) {
	for i := len(pb) - 1; i >= 0; i-- {
		if !pb[i].Tip.IsZero() {
			return pb[i].Tip, true
		}
	}
	return chain.Hash{}, false
}
