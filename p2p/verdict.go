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
func txVerdict(err error) pubsub.ValidationResult {
	switch code := chain.CodeOf(err); {
	case err == nil:
		return pubsub.ValidationAccept
	case code == 0, code.Transient(), code.DependsOnState():
		return pubsub.ValidationIgnore
	case errors.Is(err, chain.ErrTxInPool):
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationReject
}
