package store

import (
	"errors"
	"fmt"

	"github.com/gossipchain/gossipchain/chain"
)

// The pending set is written in a bbolt transaction of its own, after the
// commit of the batch that took it to its bound, while Apply goes on: in
// the batch's commit it was about a quarter of a relayed 100 KiB block's
// CPU across the nodes, and it made the commit of one block in 18 to 36,
// which the node's tip waits for, its slowest by far (docs/benchmarks.md). One
// flush runs at a time; the batches committed meanwhile fill a new
// generation until the two together would reach twice the bounds: the
// batch that would reach it waits for the flush, then is planned again
// against what is left. The flush's mark is the tip after the batch that
// started it, which stays on the main chain because a batch that may
// take a block off it (not lazy) waits for the flush first. For the same
// reason a flush already started may still commit after a batch's commit
// failed (the store then starts no write): that batch only extended the
// main chain, so the flush's mark and entries are true whether or not it
// reached the file.

// flushGate, set by tests only, runs in the flush's goroutine before it
// writes, and flushCommitted after its commit, before the generation is
// dropped: a test holds a flush there to look at the store meanwhile.
// flushWaiting, also for tests, runs when a caller starts waiting for
// the flush: what lets a held one go.
var flushGate, flushCommitted, flushWaiting func()

// flushFault, set by tests only, turns a flush that committed into one
// that reports an error, as commitFault does for a batch's commit.
var flushFault func() error

// startFlush detaches the pending set and writes it in the background
// with the mark at height, tip. Called under applyMu with no flush in
// flight.
func (s *Store) startFlush(height uint64, tip chain.Hash) {
	g := s.pending.detach()
	done := make(chan struct{})
	s.flushDone = done
	gate, committed := flushGate, flushCommitted
	go func() {
		defer close(done)
		if gate != nil {
			gate()
		}
		err := s.writeGen(g, height, tip)
		if err == nil && flushFault != nil {
			err = flushFault()
		}
		if err != nil {
			// The generation stays in the set, so lookups still find
			// it; the store writes nothing more (waitFlush), and the
			// next Open indexes its blocks again from their records.
			// Logged now: it is reported to whichever Apply or Close
			// collects it, which may be much later.
			s.flushErr = fmt.Errorf("background flush of the transaction index up to height %d: %w", height, err)
			s.log.Error("background flush of the transaction index failed; the store writes nothing more until it is reopened",
				"mark", height, "err", err)
			return
		}
		if committed != nil {
			committed()
		}
		s.pending.dropOld()
	}()
}

// writeGen commits g's entries, sorted, and the mark at height, tip.
func (s *Store) writeGen(g pendingGen, height uint64, tip chain.Hash) error {
	p := &plan{mem: newArena(len(g.ids)*chain.HashSize + len(g.blocks)*heightKeySize), txindex: make([]write, 0, len(g.ids))}
	vals := make([][]byte, len(g.blocks))
	for i, blk := range g.blocks {
		vals[i] = p.heightKey(blk.height)
	}
	for id, i := range g.ids {
		p.txindex = append(p.txindex, write{key: p.hashKey(id), val: vals[i]})
	}
	// Sorted here, before bbolt's writer lock is taken: the batches
	// behind the flush wait for that lock, and commit then finds the
	// keys in order.
	p.txindex = sortWrites(p.txindex)
	p.setMark(height, tip)
	// Apply waits for this flush before any batch that could take the
	// mark's block off the main chain; this is the check that it did.
	return s.commitIndex(p, func(bk *buckets) error {
		err := markAtTip(bk, height, tip)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return err
	})
}

// flushBusy reports whether a background flush is still running,
// collecting the result of one that finished. Called under applyMu.
func (s *Store) flushBusy() bool {
	if s.flushDone == nil {
		return false
	}
	select {
	case <-s.flushDone:
		s.waitFlush()
		return false
	default:
		return true
	}
}

// waitFlush waits for the background flush, if any, and makes its
// failure the store's: like a failed commit, it leaves the store writing
// nothing more. It returns that failure, for Close to report. Called
// under applyMu.
func (s *Store) waitFlush() error {
	if s.flushDone == nil {
		return nil
	}
	if flushWaiting != nil {
		flushWaiting()
	}
	<-s.flushDone
	err := s.flushErr
	if err != nil {
		s.fail(err)
	}
	s.flushDone, s.flushErr = nil, nil
	return err
}
