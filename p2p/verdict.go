package p2p

import (
	"errors"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// This file is every rule that turns an outcome into a judgement of the
// peer that caused it: what GossipSub does with a gossiped block or
// transaction (forward, drop quietly, or drop and cost the sender score),
// and which sync errors prove a peer wrong (ban) rather than slow or
// unlucky (pass over). Gossip and sync only act on these answers.

// undecodable marks bytes that are no block or transaction at all: whoever
// sent them broke the protocol, whatever the decoder's error says. It
// prints as the decoder's error, so logs read the same.
type undecodable struct{ err error }

func (e undecodable) Error() string { return e.err.Error() }
func (e undecodable) Unwrap() error { return e.err }

// blockVerdict maps the outcome of processing a gossiped block to what
// GossipSub does with it: forward (Accept), drop quietly (Ignore), or drop
// and penalise the peer that sent it (Reject). joined reports whether the
// block itself joined the main chain.
//
//   - undecodable: reject.
//   - nil, and the block joined the main chain: valid; forward it.
//   - nil, but the block did not join the main chain (the gate let it
//     in for orphans waiting on it, but they did not connect): its
//     transactions have not been applied, so it is not known to be valid
//     and is not forwarded; should its branch become the heaviest, sync
//     carries it. Ignore.
//   - a transient rule code (duplicate, unknown parent, slightly future
//     time, chain.ErrNotHeavier: a mining race lost or a block one block
//     late, which honest relayers send): nothing wrong with the sender;
//     ignore. The chain stored nothing.
//   - chain.ErrLowWork: a branch more than one block's work below our
//     tip, on an old parent or at a target more than one retarget step
//     easier than the tip's (a recent one, a miner that was behind, is
//     chain.ErrNotHeavier above). The block may be valid, but honest
//     nodes forward only blocks
//     that joined their main chain, and such a block costs us a header
//     hash and a few reads while it costs its maker next to nothing
//     (issue 12): reject, so flooding them costs the sender its score.
//   - any other rule code: the sender relayed an invalid block; reject.
//   - no rule code: our own fault (store I/O, shutdown); ignore.
//
// And for what a compact block's assembly (compact.go) ends in:
//
//   - the block could not be had from the sender (no answer, nothing
//     sent, no whole block either): it may be slow or out of allowance;
//     ignore.
//   - the sender's answer does not decode, or holds transactions other
//     than the short ids name, or the block fetched whole does not match
//     the compact block (even if the block is valid): reject.
func blockVerdict(err error, joined bool) pubsub.ValidationResult {
	if errors.As(err, new(errUnavailable)) {
		return pubsub.ValidationIgnore
	}
	if errors.As(err, new(undecodable)) || errors.Is(err, protocol.ErrBadMessage) ||
		errors.Is(err, errWrongTxs) || errors.Is(err, errUnfaithful) {
		return pubsub.ValidationReject
	}
	switch code := chain.CodeOf(err); {
	case err == nil && joined:
		return pubsub.ValidationAccept
	case err == nil, code == 0, code.Transient():
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
	if errors.As(err, new(undecodable)) {
		return pubsub.ValidationReject
	}
	switch code := chain.CodeOf(err); {
	case err == nil:
		return pubsub.ValidationAccept
	case errors.Is(err, chain.ErrTxQueued), errors.Is(err, chain.ErrTxInPool):
		return pubsub.ValidationIgnore
	case errors.Is(err, chain.ErrFeeUnminable), errors.Is(err, chain.ErrFeeBelowFloor):
		// Not rule codes, but no block on any node can ever carry the
		// first (reward + fee overflows the coinbase), and no node of the
		// network relays the second (below the network's floor, §11.7
		// rule 5): as worthless as an invalid transaction, so it costs
		// the sender score. A fee below only our own higher minimum
		// relay fee stays Ignore: that is local policy.
		return pubsub.ValidationReject
	case code == 0, code.Transient(), code.DependsOnState():
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationReject
}

// txBatchVerdict is the verdict on a gossiped batch from the outcomes
// of its transactions (nil: admitted now), each judged as txVerdict
// judges one (protocol.md §16.9):
//
//   - any transaction rejected: reject the batch; the sender relayed
//     something invalid, whatever else it carried.
//   - every transaction admitted now: accept, and forward the batch,
//     which then carries only what this node admitted.
//   - otherwise (some already known or included, queued, or refused by
//     local policy): ignore; the sender did nothing wrong, and the
//     caller sends what it admitted in its own batch.
//
// err is the first rejected transaction's error, or else the first
// ignored one's.
func txBatchVerdict(errs []error) (pubsub.ValidationResult, error) {
	res := pubsub.ValidationAccept
	var first error
	for _, err := range errs {
		if err == nil {
			continue // admitted: the common case, and no allocation
		}
		switch txVerdict(err) {
		case pubsub.ValidationReject:
			return pubsub.ValidationReject, err
		case pubsub.ValidationIgnore:
			if first == nil {
				res, first = pubsub.ValidationIgnore, err
			}
		}
	}
	return res, first
}

// isFault reports whether a sync error proves the peer wrong: a malformed
// or unrequested message, an invalid header or block, or headers that end
// below the work the peer claimed (errWorkLie). The syncer bans such a
// peer. Timeouts, resets, refusals and missing progress are not: the peer
// may be slow, or we raced it; it is only passed over for a while.
func isFault(err error) bool {
	if errors.Is(err, protocol.ErrUnknownBody) {
		return false // perhaps a newer peer's message kind
	}
	if errors.Is(err, protocol.ErrBadMessage) || errors.Is(err, errWorkLie) {
		return true
	}
	code := chain.CodeOf(err)
	return code != 0 && !code.Transient()
}

// isRequestFault reports whether a request a peer sent us, or our attempt
// to serve it, failed because the request broke the protocol: the server
// bans such a peer. A request of a kind this version does not know is
// answered, not judged (see handleStream); I/O errors are nobody's proof.
func isRequestFault(err error) bool { return errors.Is(err, protocol.ErrBadMessage) }

// isForeignPeer reports whether opening a sync stream failed because the
// peer does not speak this network's sync protocol: another network (the
// protocol ID names the genesis) or no gossipchain node. The syncer hangs
// up on such a peer without banning it (see exchangeStatus).
func isForeignPeer(err error) bool { return errors.Is(err, msmux.ErrNotSupported[lpprotocol.ID]{}) }
