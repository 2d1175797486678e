package p2p

import (
	"errors"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
)

// blockVerdict maps the outcome of processing a gossiped block to what
// GossipSub does with it: forward (Accept), drop quietly (Ignore), or drop
// and penalise the peer that sent it (Reject).
//
//   - nil: the block is valid; forward it.
//   - a transient rule code (duplicate, unknown parent, slightly future
//     time): nothing wrong with the sender; ignore.
//   - any other rule code: the sender relayed an invalid block; reject.
//   - no rule code: our own fault (store I/O, shutdown); ignore.
func blockVerdict(err error) pubsub.ValidationResult {
	switch code := chain.CodeOf(err); {
	case err == nil:
		return pubsub.ValidationAccept
	case code == 0, code.Transient():
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationReject
}

// txVerdict is blockVerdict for transactions, with one more "not now":
// the rules that depend on the ledger. Sender and receiver may disagree
// on the tip for a moment, or see two transactions of one sender in
// different orders, so a nonce or balance failure is not proof of a bad
// peer. A bad signature or a malformed transaction always is.
//
// A transaction the mempool queued (chain.ErrTxQueued: it came before its
// sender's previous nonce) is kept here but ignored, not accepted: it
// does not apply to the tip yet, and a peer that forwarded it would pass
// on something that may never become valid (a gap that never fills), so
// the network would relay for free up to a window of nonces per funded
// sender. Its predecessor reaches the peers by its own path, and so does
// it: GossipSub forwards it from every node that validated the two in
// order, and this node promotes it when the gap fills.
func txVerdict(err error) pubsub.ValidationResult {
	switch code := chain.CodeOf(err); {
	case err == nil:
		return pubsub.ValidationAccept
	case errors.Is(err, chain.ErrTxQueued), errors.Is(err, chain.ErrTxInPool):
		return pubsub.ValidationIgnore
	case code == 0, code.Transient(), code.DependsOnState():
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationReject
}
