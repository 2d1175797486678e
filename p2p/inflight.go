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
//     PrecheckChild; any other child takes the orphan's path at once
//     (copies of the waiting child are ignored: that child stands for
//     them). So waiting blocks never outnumber the judged blocks being
//     validated, and however many children a peer sends, at least half
//     the validators stay free of waits. One per parent rather than a
//     few: an honest chain has one child, and a fork's rival child is
//     fetched by sync as before.
//   - A child waits only if its header passes against the parent's
//     (height, target, median time: chain.Chain.PrecheckChild), so a
//     child that takes the wait cost its maker a block's work at the
//     branch's target; a header that fails is judged by that failure,
//     as it would be once the parent is validated.
//   - The wait ends with the parent's validation, at parentWait, or when
//     the validator's own timeout ends ctx.
//
// The table holds only blocks in a validator, at most blockValidators.

// flight is a block being validated here.
type flight struct {
	hdr  chain.Header
	done chan struct{} // closed when its validation ends
	// child is the block that waits for it (the one wait it allows);
	// waited reports whether one has.
	child  chain.Hash
	waited bool
}

// inFlight is the blocks being validated here by gossip, by hash.
type inFlight struct {
	mu sync.Mutex
	m  map[chain.Hash]*flight
	// waiting counts the blocks waiting for a parent now, waits those
	// that ever did.
	waiting atomic.Int64
	waits   atomic.Uint64
}

// begin records the block h, with header hdr, as being validated; the
// caller calls end when its validation ends. A block already in flight
// (another copy of it) keeps its record, and end does nothing.
func (f *inFlight) begin(h chain.Hash, hdr *chain.Header) (end func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[h]; ok {
		return func() {}
	}
	if f.m == nil {
		f.m = make(map[chain.Hash]*flight)
	}
	fl := &flight{hdr: *hdr, done: make(chan struct{})}
	f.m[h] = fl
	return func() {
		f.mu.Lock()
		delete(f.m, h)
		f.mu.Unlock()
		close(fl.done)
	}
}

// parent returns the flight of the block h, or nil if it is not in
// flight.
func (f *inFlight) parent(h chain.Hash) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[h]
}

// claim takes fl's one wait for the child h. It reports false when fl's
// wait is taken, and dup when it is taken by h itself.
func (f *inFlight) claim(fl *flight, h chain.Hash) (ok, dup bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl.waited {
		return false, fl.child == h
	}
	fl.waited, fl.child = true, h
	return true, false
}

// awaitParent waits, if it may, for the validation of the parent of the
// block h, with header hdr, that is under way here. It returns the
// failure of hdr against the parent's header (the block's verdict), and
// dup when h is already waiting from another message, which the caller
// ignores. Otherwise the caller goes on as usual; it checks again
// whether the parent is validated.
func (g *Gossip) awaitParent(ctx context.Context, from peer.ID, h chain.Hash, hdr *chain.Header) (dup bool, err error) {
	fl := g.inflight.parent(hdr.PrevHash)
	if fl == nil {
		return false, nil
	}
	if err := g.chain.PrecheckChild(hdr, &fl.hdr); err != nil {
		return false, err
	}
	ok, dup := g.inflight.claim(fl, h)
	if !ok {
		return dup, nil
	}
	g.inflight.waits.Add(1)
	g.inflight.waiting.Add(1)
	defer g.inflight.waiting.Add(-1)
	bound := time.NewTimer(g.parentWait)
	defer bound.Stop()
	select {
	case <-fl.done:
	case <-bound.C:
		g.log.Debug("block gave up waiting for its parent's validation", "peer", from, "height", hdr.Height,
			"hash", h.Short(), "parent", hdr.PrevHash.Short())
	case <-ctx.Done():
	}
	return false, nil
}
