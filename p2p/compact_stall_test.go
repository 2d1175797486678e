package p2p_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/protocol"
)

// stallingPeer is a peer of n that reads every request for missing
// transactions and never answers while the test runs; asked counts the
// requests.
func stallingPeer(t *testing.T, n *gossipNode) (e *evilPeer, asked *atomic.Int64) {
	t.Helper()
	asked = new(atomic.Int64)
	done := make(chan struct{})
	e = evilPublisher(t, n, func([]byte) []byte {
		asked.Add(1)
		<-done
		return nil
	})
	t.Cleanup(func() { close(done) }) // before the host closes
	return e, asked
}

// TestCompactStalledSendersHoldFewValidators: peers send compact blocks
// of a sound block whose transactions the node lacks (each copy its own
// message: its own nonce) and never answer the request for them. Two
// blocks at most wait on their senders, one per sender: a third
// stalling peer's copy, and every further copy of the first, are ignored
// without a request, so validators stay free, and the block sent whole by
// another peer meanwhile connects. Without the bound, each copy asked and
// held a validator for as long as its sender stalled; four held all of
// them, and GossipSub dropped whatever came meanwhile as throttled, the
// honest message with them, for good. Requests are counted, not timed.
func TestCompactStalledSendersHoldFewValidators(t *testing.T) {
	n := newGossipNode(t)
	p := n.c.Params()
	alice := testwallet.New("alice")
	n.c.mine(t, alice.Addr)
	payments := make([]*chain.Transaction, 3)
	for i := range payments {
		payments[i] = alice.Tx(p, testwallet.New("bob").Addr, 1, 1, uint64(i))
	}
	blk := buildBlock(t, p, &n.c.Tip().Header, testwallet.New("miner").Addr, payments...)
	first, askedFirst := stallingPeer(t, n)
	second, askedSecond := stallingPeer(t, n)
	third, askedThird := stallingPeer(t, n)
	honest := newEvilPeer(t, n) // sends the block whole

	nonce := uint64(0)
	send := func(e *evilPeer) {
		nonce++
		e.publish(t, e.block, protocol.NewCompactBlock(blk, nonce, nil).Encode())
	}
	before := n.g.Stats().Block
	ignored := uint64(0)
	// One at a time, each judged (or asking) before the next, so that
	// none meets GossipSub's throttle, which drops what finds every
	// validator busy.
	for k, step := range []struct {
		from *evilPeer
		asks bool
	}{
		{first, true},   // waits on first
		{first, false},  // one wait per sender
		{second, true},  // waits on second
		{third, false},  // two waits at most
		{first, false},  // and still one per sender
		{second, false}, // the same for the second
	} {
		send(step.from)
		if step.asks {
			testutil.Eventually(t, 10*time.Second, fmt.Sprintf("copy %d asks its sender", k+1), func() bool {
				return askedFirst.Load()+askedSecond.Load()+askedThird.Load() == int64(k+1)-int64(ignored)
			})
			continue
		}
		ignored++
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("copy %d ignored", k+1), func() bool {
			return n.g.Stats().Block.Ignored == before.Ignored+ignored
		})
	}
	if a, b, c := askedFirst.Load(), askedSecond.Load(), askedThird.Load(); a != 1 || b != 1 || c != 0 {
		t.Fatalf("requests to the stalling senders: %d, %d, %d; want 1, 1 and none", a, b, c)
	}
	all := func(int) bool { return true }
	honest.publish(t, honest.block, protocol.NewCompactBlock(blk, nonce+1, all).Encode())
	waitTipIs(t, n.c, blk, "the block sent whole connects while two senders stall")
}
