package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestTxVerdict: only a transaction that is wrong whatever the tip costs
// the peer its score; "not now" outcomes, the queue's among them, are
// ignored.
func TestTxVerdict(t *testing.T) {
	queued := queuedError(t, chain.RegTest())
	tests := []struct {
		name string
		err  error
		want pubsub.ValidationResult
	}{
		{"accepted", nil, pubsub.ValidationAccept},
		{"queued ahead of its predecessor", queued, pubsub.ValidationIgnore},
		{"already held", fmt.Errorf("%w: abcd", chain.ErrTxInPool), pubsub.ValidationIgnore},
		{"mempool full", fmt.Errorf("%w: x", chain.ErrMempoolFull), pubsub.ValidationIgnore},
		{"sender limit", fmt.Errorf("%w: x", chain.ErrSenderLimit), pubsub.ValidationIgnore},
		{"nonce used", fmt.Errorf("wrapped: %w", chain.ErrBadNonce), pubsub.ValidationIgnore},
		{"overspend", chain.ErrInsufficientFunds, pubsub.ValidationIgnore},
		{"store error", errors.New("disk on fire"), pubsub.ValidationIgnore},
		{"bad signature", chain.ErrBadSignature, pubsub.ValidationReject},
		{"malformed", chain.ErrMalformed, pubsub.ValidationReject},
		{"coinbase", chain.ErrMultipleCoinbases, pubsub.ValidationReject},
		{"fee no block can carry", fmt.Errorf("%w: fee 9007199254740990", chain.ErrFeeUnminable), pubsub.ValidationReject},
		{"fee below our minimum", fmt.Errorf("%w: 0 < 1", chain.ErrFeeTooLow), pubsub.ValidationIgnore},
		{"fee below the network's floor", fmt.Errorf("%w: %w: 0 < 1", chain.ErrFeeTooLow, chain.ErrFeeBelowFloor), pubsub.ValidationReject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := txVerdict(tc.err); got != tc.want {
				t.Fatalf("txVerdict(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// queuedError returns what a real mempool says when it queues a
// transaction that arrived before its sender's previous nonce.
func queuedError(t *testing.T, p *chain.Params) error {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	addr := chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey))
	m := chain.NewMempool(p)
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: addr, Recipient: addr, Amount: 1, Nonce: 1}
	tx.Sign(p.NetworkID(), key)
	err := m.Add(tx, testwallet.Ledger{addr: {Balance: 100}})
	if !errors.Is(err, chain.ErrTxQueued) || m.Queued() != 1 {
		t.Fatalf("Add of nonce 1 before 0: %v, queued %d; want ErrTxQueued", err, m.Queued())
	}
	return err
}

// TestBlockVerdict: a block is forwarded only when it joined the main
// chain; bytes that are no block, and invalid blocks, cost the sender.
func TestBlockVerdict(t *testing.T) {
	_, decodeErr := chain.DecodeBlock([]byte{1, 2, 3})
	tests := []struct {
		name   string
		err    error
		joined bool
		want   pubsub.ValidationResult
	}{
		{"joined", nil, true, pubsub.ValidationAccept},
		{"side branch", nil, false, pubsub.ValidationIgnore},
		{"undecodable", undecodable{decodeErr}, false, pubsub.ValidationReject},
		{"undecodable, wrapped", fmt.Errorf("x: %w", undecodable{errors.New("short")}), false, pubsub.ValidationReject},
		{"duplicate", chain.ErrDuplicateBlock, false, pubsub.ValidationIgnore},
		{"unknown parent", chain.ErrUnknownParent, false, pubsub.ValidationIgnore},
		{"mining race lost", fmt.Errorf("x: %w", chain.ErrNotHeavier), false, pubsub.ValidationIgnore},
		{"branch far below the tip", fmt.Errorf("x: %w", chain.ErrLowWork), false, pubsub.ValidationReject},
		{"store error", errors.New("disk on fire"), false, pubsub.ValidationIgnore},
		{"malformed", chain.ErrMalformed, false, pubsub.ValidationReject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := blockVerdict(tc.err, tc.joined); got != tc.want {
				t.Fatalf("blockVerdict(%v, %v) = %v, want %v", tc.err, tc.joined, got, tc.want)
			}
		})
	}
	if u := (undecodable{decodeErr}); decodeErr == nil || u.Error() != decodeErr.Error() {
		t.Fatalf("undecodable must read as the decoder's error: %v", decodeErr)
	}
}

// TestSyncFault: protocol breaches and invalid blocks are faults, a
// message kind we do not know and our own failures are not.
func TestSyncFault(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", protocol.ErrBadMessage):  true,
		fmt.Errorf("x: %w", protocol.ErrUnknownBody): false,
		chain.ErrMalformed:                           true,
		chain.ErrUnknownParent:                       false,
		errNoProgress:                                false,
		errors.New("stream reset"):                   false,
	} {
		if got := isFault(err); got != want {
			t.Errorf("isFault(%v) = %v, want %v", err, got, want)
		}
	}
	if !isRequestFault(fmt.Errorf("x: %w", protocol.ErrBadMessage)) || isRequestFault(errors.New("write: reset")) {
		t.Error("isRequestFault: only a bad message is the requester's fault")
	}
}
