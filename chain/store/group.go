package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// tryDefer appends b to the log and the memtable if it is deferrable
// against the tip as the memtable leaves it, and commits the memtable if
// b takes it to a bound. It reports whether b was taken. Called under
// applyMu.
func (s *Store) tryDefer(b *chain.Batch, p *plan) (bool, error) {
	if s.wal == nil {
		return false, nil
	}
	// The cheap refusals first: most batches of a sync are refused
	// here, before any read.
	if len(b.Blocks) > 1 {
		// A batch of several blocks (a sync's, a reorg's, orphans
		// connected with their parent) already shares one commit
		// among them; deferring it measured slower (Sync10k 10,400 →
		// 8,900 blocks/s): a second encoding, a log write, and a
		// group commit on top of its own.
		return false, nil
	}
	size := 0
	for _, nb := range p.newBlocks {
		size += nb.size
	}
	// While a background flush of the index writes (a group commit
	// writing owns the flush's state: then none is assumed), bbolt's
	// one writer is the flush's, and a large block committed at once
	// would wait for it: it is deferred instead (any block: the largest,
	// 512 KiB, is under the memtable's smallest bound), and committed
	// with the memtable after. With the index's larger flushes
	// (txindex.go), the five-node load included fewer transfers in three
	// pairs of four without this, as many with it
	// (docs/benchmarks.md).
	//
	// A store that syncs defers blocks of any size: the log's one
	// fdatasync then replaces the three a block committed at once waits
	// for in turn (its record's in the records file, bbolt's two), on
	// the connect's path; the block's second write, to bbolt and the
	// records file, comes with its group, after its Apply returned.
	// Without syncs there is nothing to save, and the second write
	// costs CPU (memDeferMax).
	flushing := s.groupDone == nil && s.flushDone != nil
	commitNow := size > memDeferMax && !flushing && s.wal.noSync
	if size >= s.mem.maxBytes() || commitNow {
		// A batch that reaches a bound alone would be committed at
		// once: writing it to the log first is a second copy for
		// nothing. One of large blocks is committed on its own
		// (memDeferMax says why).
		return false, nil
	}
	tip, height, ok := s.mem.pendingTip()
	empty := !ok // and so is the log
	if empty {
		var err error
		if tip, height, ok, err = s.committedTip(); err != nil || !ok {
			// An empty store's first batch, or a tip that does not
			// read: the commit reports it.
			return false, nil
		}
	}
	if !deferrable(b, tip, height) {
		return false, nil
	}
	// The log is empty, and a batch committed directly moved the file's
	// tip since it began: its records must name the tip they extend
	// (replayWAL).
	restart, base := empty && s.wal.base != tip, tip
	if !b.Tip.IsZero() && b.Tip != tip {
		tip, height = b.Tip, b.Metas[b.Tip].Height() // deferrable: a block b puts
	}
	rec, err := encodeRecord(s.wal.next(), b, p)
	if err != nil {
		return true, fmt.Errorf("apply: %w", err)
	}
	// Right before the append, whose sync takes the new header with it
	// (restart): an unsynced header is always followed by a record and
	// a sync, or the store fails.
	if restart {
		if err := s.wal.restart(base); err != nil {
			s.fail(err)
			return true, fmt.Errorf("apply: %w", err)
		}
	}
	if err := s.wal.append(rec); err != nil {
		// What reached the file is unknown: a later record after a
		// torn one would be lost at Open, so nothing more is written.
		s.fail(err)
		return true, fmt.Errorf("apply: %w", err)
	}
	blocks, bytes := s.mem.add(b, size, tip, height)
	switch {
	case blocks < s.mem.maxBlocks() && bytes < s.mem.maxBytes():
	case groupCommitInline || blocks >= 2*s.mem.maxBlocks() || bytes >= 2*s.mem.maxBytes():
		// A failure is not b's: b is in the log and the memtable,
		// every read sees it and the next Open commits it, so it is
		// applied. The failure is the store's now, and the next Apply or
		// Close reports it; the store writes nothing more.
		_ = s.commitPending()
	case !s.groupQueued && s.groupDone == nil:
		// After this Apply returns, so that its block's connect does
		// not wait for the group's commit: committed inline, that
		// commit took a relayed block's p99 up (docs/benchmarks.md).
		// An Apply that gets applyMu first defers on top, up to twice
		// the bounds, past which it commits inline. While a group is
		// written, the batches it takes count too: it commits those that
		// came meanwhile itself when it ends.
		s.groupQueued = true
		go s.commitQueued()
	}
	return true, nil
}

// groupCommitInline makes the Apply that takes the memtable to a bound
// commit it itself, for tests that count the batches pending.
var groupCommitInline = false

// commitQueued commits the memtable's batches once the Apply that took
// it to a bound returned, unless it is no longer full (a batch that is
// not deferrable, or an Apply past twice the bounds, committed it), or
// the store closed (Close committed it) or failed.
//
// It writes to bbolt without applyMu, so that the Applies of the next
// blocks do not wait for it: they append to the log and the memtable
// meanwhile. It takes the batches listed when it starts, and drops them
// from the memtable once they are in bbolt; readers see the list over
// the file before or after the commit, the same state either way
// (memtable). Then, under applyMu, it commits the batches that came
// meanwhile (commitPending) and resets the log. Until then the log holds
// the batches in bbolt and the new ones after them, and Open replays
// them all over a file whose tip is any of theirs (replayWAL). While it
// writes, it owns what a commit reads and changes besides bbolt (the
// index's pending set and background flush); an Apply that must commit
// itself waits for it (awaitGroup).
func (s *Store) commitQueued() {
	if h := s.hooks.queued.Load(); h != nil {
		(*h)()
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.groupQueued = false
	s.awaitGroup()
	if s.closed.Load() || s.failure() != nil || !s.mem.full() {
		return
	}
	list, tip := s.mem.listed() // tip: the file's once list is in it
	done := make(chan struct{})
	s.groupDone = done
	s.applyMu.Unlock()
	err := s.commitMerged(list)
	if h := s.hooks.written.Load(); h != nil {
		(*h)()
	}
	s.applyMu.Lock()
	s.groupDone = nil
	close(done)
	if err != nil {
		// The batches are in the log, for the next Open; the next Apply,
		// or Close, reports it.
		s.failGroup(len(list), err)
		return
	}
	if s.mem.drop(len(list)) == 0 {
		// Before any later commit: a log replayed over a file that
		// moved on (a reorg's batch) would undo part of it.
		if err := s.wal.reset(tip); err != nil {
			s.failGroup(len(list), err)
		}
		return
	}
	// Batches came while the group was written: the few blocks of a
	// write's time. They are committed now, under applyMu, and the log
	// reset behind them: left for the next group, they kept the log from
	// ever being reset while blocks came one after the other (one /mine
	// after another), and the log file, which keeps its largest size,
	// grew by a block's record for every block (scripts/bench-btcd.sh:
	// 1,051 bytes of disk a block against 584).
	_ = s.commitPending() // a failure is the store's, for the next Apply or Close
}

// failGroup makes a group commit's failure the store's, and notes it in
// the log now: no Apply waits for the group, so whichever Apply or Close
// reports it may come much later. A warning: the report is the error
// (the node logs one ERROR line when its store fails, naming the cause).
func (s *Store) failGroup(batches int, err error) {
	err = fmt.Errorf("group commit of %d deferred batches: %w", batches, err)
	s.log.Warn("group commit failed; the store writes nothing more until it is reopened", "err", err)
	s.fail(err)
}

// awaitGroup waits for the group commit writing without applyMu, if
// one is. Called under applyMu, which it lets go while it waits.
func (s *Store) awaitGroup() {
	for s.groupDone != nil {
		done := s.groupDone
		s.applyMu.Unlock()
		<-done
		s.applyMu.Lock()
	}
}

// committedTip returns bbolt's tip and its height, if it has one.
func (s *Store) committedTip() (tip chain.Hash, height uint64, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err != nil {
			return err
		}
		tip, height, ok, err = storedTip(bk)
		return err
	})
	return tip, height, ok, err
}

// commitPending commits the memtable's batches, merged, in one bbolt
// transaction, resets the log, and only then drops them from the
// memtable. Any failure leaves the store writing nothing more: the
// batches were acknowledged, and are in the log for the next Open. Called
// under applyMu; it waits for a group commit writing first.
func (s *Store) commitPending() error {
	s.awaitGroup()
	if err := s.failure(); err != nil {
		return err
	}
	list, tip := s.mem.listed() // tip: the file's once list is in it
	if len(list) == 0 {
		return nil
	}
	err := s.commitMerged(list)
	if err == nil {
		// Before any later commit: a log replayed over a file that
		// moved on (a reorg's batch) would undo part of it.
		err = s.wal.reset(tip)
	}
	if err != nil {
		s.fail(err)
		return fmt.Errorf("group commit of %d deferred batches: %w", len(list), err)
	}
	s.mem.clear() // applyMu: nothing was added since list was read
	return nil
}

// commitMerged commits list merged into one batch through commit, which
// holds back its index entries as for any batch that extends the chain.
func (s *Store) commitMerged(list []*chain.Batch) error {
	merged := mergeBatches(list)
	p, err := encodeBatch(merged)
	if err != nil {
		return err
	}
	return s.commit(merged, p)
}

// replayWAL commits the batches the log held at Open, merged, in one
// transaction, then resets the log. The batches are those since the last
// reset, in order, and every write is a put of an absolute value, so
// replaying batches whose group commit reached the file before the crash
// (and the reset did not, or it was not due: batches came while the
// group was written) leaves the same state. The file's tip is then the
// log's base or one of its batches' tips, and any other is refused.
// Their index entries are left out and the mark is not moved: the
// held-back entries of blocks below them may have died with the process,
// and catchUp, next, indexes every main-chain block above the mark.
func (s *Store) replayWAL(list []*chain.Batch) error {
	base := s.wal.base
	final := base
	tips := map[chain.Hash]bool{base: true}
	for _, b := range list {
		if !b.Tip.IsZero() {
			final = b.Tip
			tips[final] = true
		}
	}
	if len(list) > 0 {
		merged := mergeBatches(list)
		clear(merged.TxIndex)
		p, err := encodeBatch(merged)
		if err == nil {
			err = boltErr(s.db.Update(func(tx *bolt.Tx) error {
				bk, err := openBuckets(tx)
				if err != nil {
					return err
				}
				stored := rawTip(bk)
				if !tips[stored] {
					return fmt.Errorf("%w: it extends tip %s, and the store file's tip is %s: the log belongs to "+
						"another chain.db, or to another state of this one (a copy restored, or a build without the "+
						"log run after a crash); move it aside (docs/operator.md)", ErrCorrupt, base.Short(), stored.Short())
				}
				if err := p.resolve(merged, bk, s.recs); err != nil {
					return err
				}
				return p.commit(bk)
			}))
		}
		if err != nil {
			return fmt.Errorf("write-ahead log: replay of %d batches: %w", len(list), err)
		}
		s.log.Info("committed the batches of the write-ahead log", "batches", len(list))
		return s.wal.reset(final)
	}
	return s.wal.reset(s.fileTip())
}

// fileTip is the tip the file names, zero if it names none or the
// record is damaged: the log's base, which Open must not fail on (the
// chain reports a damaged tip when it reads it).
func (s *Store) fileTip() chain.Hash {
	var tip chain.Hash
	_ = s.view(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err == nil {
			tip = rawTip(bk)
		}
		return nil
	})
	return tip
}

// rawTip is the tip record of bk's meta bucket, zero if there is none or
// it is not a hash.
func rawTip(bk *buckets) chain.Hash {
	h, err := decodeHash(bk.meta.Get([]byte(keyTip)))
	if err != nil {
		return chain.Hash{}
	}
	return h
}
