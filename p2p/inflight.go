package p2p

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// Blocks in flight (protocol.md §16.6.5 step 1). GossipSub validates a
// topic's messages concurrently and in no order, so a block mined right
// after its parent can reach its validator while the parent's is still
// under way here: asking its sender for missing transactions, or
// connecting. Taken for an orphan, the child would be neither forwarded
// nor in the propagation view, and sync would fetch it; Bitcoin Core
// never meets this, as it handles one peer's messages in order. So a
// block whose parent is being validated here waits for that validation
// to end, and then goes on as any block does: judged in full if the
// parent is now validated, an orphan if it failed.
//
// A waiting block holds one of the blockValidators, and its header
// cannot be judged for work before its parent is validated, so a peer
// could send any number of children of a block in flight. The waits are
// bounded thus:
//
//   - Only a block whose own header was judged in full (its parent was
//     validated when it was checked) can be waited for; a block becomes
//     one after its own wait, once its parent is validated. No chain of
//     unjudged blocks waits on one real block.
//   - Each such block lets one child wait, the first whose header passes
//     PrecheckChild; any other child, another copy of the waiting one
//     included, takes the orphan's path at once. No copy stands for
//     another: two messages of one block can carry different bodies, and
//     a peer whose copy waits must not shadow an honest copy. So waiting
//     blocks never outnumber the judged blocks being validated, and
//     however many children a peer sends, at least half the validators
//     stay free of waits. One per parent rather than a few: an honest
//     chain has one child, and a fork's rival child is fetched by sync
//     as before.
//   - A child waits only if its header passes against the parent's
//     (height, target, median time: chain.Chain.PrecheckChild), so a
//     child that takes the wait cost its maker a block's work at the
//     branch's target; a header that fails is judged by that failure,
//     as it would be once the parent is validated.
//   - Waiting children and blocks waiting on their sender (asks.go)
//     share one bound, half the validators: a child of each of two
//     blocks asking stalling senders does not wait.
//   - The wait ends once any copy of the parent is validated (a slow
//     copy, a peer's, does not keep the child waiting after an honest
//     one connected), when the last copy's validation ends, at
//     parentWait, or when the validator's own timeout ends ctx.
//
// The table holds only judged blocks in a validator, at most
// blockValidators records.

// flight is a block being validated here, in one or more copies.
type flight struct {
	hdr  chain.Header
	done chan struct{} // closed once the block is validated or no copy is left
	once sync.Once
	// copies counts the messages of the block in a validator; waited
	// reports whether a child has taken the one wait.
	copies int
	waited bool
}

// inFlight is the blocks being validated here by gossip, by hash.
type inFlight struct {
	mu sync.Mutex
	m  map[chain.Hash]*flight
	// waiting counts the blocks waiting for a parent now, waits those
	// that ever did, gaveUp those whose wait ended at parentWait.
	waiting atomic.Int64
	waits   atomic.Uint64
	gaveUp  atomic.Uint64
}

// begin records a copy of the block h, with header hdr, as being
// validated; the caller calls end when that copy's validation ends,
// saying whether the block is validated then. elsewhere is closed once
// another copy of the block ended validated (while this one is under
// way, no other can be the last): this copy's waits on its sender are
// for nothing then (asks.go).
func (f *inFlight) begin(h chain.Hash, hdr *chain.Header) (end func(validated bool), elsewhere <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.m[h]
	if fl == nil {
		if f.m == nil {
			f.m = make(map[chain.Hash]*flight)
		}
		fl = &flight{hdr: *hdr, done: make(chan struct{})}
		f.m[h] = fl
	}
	fl.copies++
	return func(validated bool) {
		f.mu.Lock()
		fl.copies--
		last := fl.copies == 0
		if last {
			delete(f.m, h)
		}
		f.mu.Unlock()
		if validated || last {
			fl.once.Do(func() { close(fl.done) })
		}
	}, fl.done
}

// parent returns the flight of the block h, or nil if it is not in
// flight.
func (f *inFlight) parent(h chain.Hash) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[h]
}

// claim takes fl's one wait; it reports false when the wait is taken.
func (f *inFlight) claim(fl *flight) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl.waited {
		return false
	}
	fl.waited = true
	return true
}

// awaitParent waits, if it may, for the validation of the parent of the
// block h, with header hdr, that is under way here. It returns the
// failure of hdr against the parent's header (the block's verdict);
// otherwise the caller goes on as usual, and, if the block waited,
// judges it again as a block that came now.
func (g *Gossip) awaitParent(ctx context.Context, from peer.ID, h chain.Hash, hdr *chain.Header) (waited bool, err error) {
	fl := g.inflight.parent(hdr.PrevHash)
	if fl == nil {
		return false, nil
	}
	if err := g.chain.PrecheckChild(hdr, &fl.hdr); err != nil {
		return false, err
	}
	// The shared bound first, so that a child that finds it full leaves
	// the parent's one wait to a later child.
	release, ok := g.waits.take("") // a parent's wait
	if !ok {
		return false, nil
	}
	defer release()
	if !g.inflight.claim(fl) {
		return false, nil
	}
	g.inflight.waits.Add(1)
	g.inflight.waiting.Add(1)
	defer g.inflight.waiting.Add(-1)
	bound := time.NewTimer(g.parentWait)
	defer bound.Stop()
	select {
	case <-fl.done:
	case <-bound.C:
		g.inflight.gaveUp.Add(1)
		g.log.Debug("block gave up waiting for its parent's validation", "peer", from, "height", hdr.Height,
			"hash", h.Short(), "parent", hdr.PrevHash.Short())
	case <-ctx.Done():
	}
	return true, nil
}
