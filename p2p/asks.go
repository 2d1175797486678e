package p2p

import (
	"errors"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// maxHeld bounds the gossiped blocks that wait in a validator at once,
// for their sender or for a parent: half the block validators, so that
// at least half stay free for blocks that need neither.
const maxHeld = blockValidators / 2

// waits counts the gossiped blocks that hold a validator while waiting:
// on their sender (asks), or on a parent in another validator (parent
// waits, inflight.go). Each kind is costly or bounded alone, but not
// together: two blocks asking stalling senders, and a child of each
// waiting for it, held all four validators. So the two kinds share one
// bound.
//
// A block waits on its sender through the request for missing
// transactions (up to BlockTxnTimeout), then perhaps the whole block (up
// to the validator's timeout). A sender that answers neither costs
// nothing in score (it may only be slow), so without a bound a peer could
// send copies of one sound header, each a message of its own (its own
// nonce), and stall every validator for 10 s; GossipSub then drops the
// honest copy as throttled, and every later copy of that message as seen
// (it marks a message seen before its throttle), and the block is lost to
// gossip. So at most one block waits on any one sender (protocol.md
// 16.6.5 step 3), and a copy's wait ends once another copy of its block
// is validated (assemble), so that stalled copies do not keep their
// places after an honest copy connected.
type waits struct {
	mu     sync.Mutex
	n      int // blocks waiting, of either kind
	askers map[peer.ID]struct{}
}

// take reserves a wait, if the bounds allow one: on the sender asker, or
// for a parent's validation if asker is empty; release ends it.
func (w *waits) take(asker peer.ID) (release func(), ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, busy := w.askers[asker]; busy || w.n >= maxHeld { // "" is never an asker
		return nil, false
	}
	if asker != "" {
		if w.askers == nil {
			w.askers = make(map[peer.ID]struct{}, maxHeld)
		}
		w.askers[asker] = struct{}{}
	}
	w.n++
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.askers, asker)
		w.n--
	}, true
}

// errAsksBusy: the block needs a round trip to its sender, and the
// blocks waiting are at their bound. It is left to sync, which asks the
// sender for it.
var errAsksBusy = errors.New("compact block needs its sender, and as many blocks as allowed wait")
