package p2p

import (
	"errors"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// maxAsking bounds the gossiped blocks whose assembly waits on their
// sender at once: half the block validators, as for the blocks waiting
// on a parent (inflight.go).
const maxAsking = blockValidators / 2

// askers counts the gossiped blocks whose assembly waits on their
// sender: the request for missing transactions (up to BlockTxnTimeout),
// then perhaps the whole block (up to the validator's timeout). A sender
// that answers neither costs nothing in score (it may only be slow), so
// without a bound a peer could send copies of one sound header, each a
// message of its own (its own nonce), and stall every validator for 10 s;
// GossipSub then drops the honest copy as throttled, and every later copy
// of that message as seen (it marks a message seen before its throttle),
// and the block is lost to gossip. So at most maxAsking blocks wait on
// their senders, at most one on any one sender, and at least half the
// validators stay free for blocks that need no round trip (protocol.md
// 16.6.5 step 3).
type askers struct {
	mu    sync.Mutex
	peers map[peer.ID]struct{}
}

// take reserves a wait on p, if the bounds allow one; release ends it.
func (a *askers) take(p peer.ID) (release func(), ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, busy := a.peers[p]; busy || len(a.peers) >= maxAsking {
		return nil, false
	}
	if a.peers == nil {
		a.peers = make(map[peer.ID]struct{}, maxAsking)
	}
	a.peers[p] = struct{}{}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.peers, p)
	}, true
}

// errAsksBusy: the block needs a round trip to its sender, and the
// blocks waiting on senders are at their bound. It is left to sync,
// which asks the sender for it.
var errAsksBusy = errors.New("compact block needs its sender, and as many blocks as allowed wait on senders")
