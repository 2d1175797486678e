package p2p_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
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
	// The stalled requests outlast the test, however slow the machine.
	n := startGossipNode(t, newHost(t), newTestChain(t), nopSync{}, p2p.WithTxnWait(time.Minute))
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

// TestGossipWaitsShareOneBound: children waiting for a parent and blocks
// waiting on their senders share one bound, half the block validators.
// With a parent held in its validator, one child waiting for it and one
// block asking a stalling sender, a block needing another stalling
// sender is ignored without a request, and a child of the asking block
// does not wait: it takes the orphan's path at once. Each bound alone
// let both wait, and with the held parent the four held every
// validator.
func TestGossipWaitsShareOneBound(t *testing.T) {
	// The parent's hold and the stalled request outlast the test.
	n, held := newHeldNode(t, nopSync{}, p2p.WithParentWait(time.Minute), p2p.WithTxnWait(time.Minute))
	p := n.c.Params()
	evil := newEvilPeer(t, n)
	first, askedFirst := stallingPeer(t, n)
	second, askedSecond := stallingPeer(t, n)
	tip := n.c.Tip().Header
	parent := sendHeld(t, n, held, evil)
	before := n.g.Stats().Block

	child := buildBlock(t, p, &parent.Header, testwallet.New("child").Addr)
	evil.publish(t, evil.block, wire(child))
	testutil.Eventually(t, 10*time.Second, "the child waits for its held parent", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 1
	})
	// Siblings of the held parent whose transactions the node lacks.
	asking := buildBlock(t, p, &tip, testwallet.New("asking").Addr, junkTransfers(p, 1)...)
	first.publish(t, first.block, protocol.NewCompactBlock(asking, 1, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "a sibling asks its sender", func() bool { return askedFirst.Load() == 1 })
	other := buildBlock(t, p, &tip, testwallet.New("other").Addr, junkTransfers(p, 2)...)
	second.publish(t, second.block, protocol.NewCompactBlock(other, 2, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "a second sibling ignored", func() bool {
		return n.g.Stats().Block.Ignored == before.Ignored+1
	})
	grandchild := buildBlock(t, p, &asking.Header, testwallet.New("grandchild").Addr)
	evil.publish(t, evil.block, wire(grandchild))
	testutil.Eventually(t, 10*time.Second, "the asking block's child taken for an orphan", func() bool {
		return n.g.Stats().Block.Ignored == before.Ignored+2
	})
	if now, total, _ := n.g.ParentWaits(); now != 1 || total != 1 || askedSecond.Load() != 0 || held.ended.Load() {
		t.Fatalf("%d waiting for a parent, %d waited, %d requests to the second sender, parent held: %v; "+
			"want the one child waiting and no request", now, total, askedSecond.Load(), !held.ended.Load())
	}
	held.let()
	waitTipIs(t, n.c, child, "the waiting child connects with its parent")
}

// TestCompactStalledCopiesFreeTheirWaits: two peers send copies of a
// block (their own nonces, every transaction a short id the node lacks)
// and never answer for the transactions; the block sent whole by a third
// connects. The stalled copies end their waits then, so the next block,
// whose sender answers, is asked for and connects. Before, they held
// both waits until their requests timed out (3 s, then a whole fetch),
// and every block needing a request meanwhile was left to sync: two
// identities resending each block kept gossip from carrying any.
func TestCompactStalledCopiesFreeTheirWaits(t *testing.T) {
	n := startGossipNode(t, newHost(t), newTestChain(t), nopSync{}, p2p.WithTxnWait(time.Minute))
	p := n.c.Params()
	alice := testwallet.New("alice")
	n.c.mine(t, alice.Addr)
	pay := func(nonce uint64) *chain.Transaction { return alice.Tx(p, testwallet.New("bob").Addr, 1, 1, nonce) }
	blk := buildBlock(t, p, &n.c.Tip().Header, testwallet.New("miner").Addr, pay(0))
	first, askedFirst := stallingPeer(t, n)
	second, askedSecond := stallingPeer(t, n)
	first.publish(t, first.block, protocol.NewCompactBlock(blk, 1, nil).Encode())
	second.publish(t, second.block, protocol.NewCompactBlock(blk, 2, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "both copies wait on their senders", func() bool {
		return askedFirst.Load() == 1 && askedSecond.Load() == 1
	})
	whole := newEvilPeer(t, n)
	whole.publish(t, whole.block, protocol.NewCompactBlock(blk, 3, func(int) bool { return true }).Encode())
	waitTipIs(t, n.c, blk, "the block connects from the copy sent whole")

	child := buildBlock(t, p, &blk.Header, testwallet.New("miner").Addr, pay(1))
	var asked atomic.Int64
	sender := evilPublisher(t, n, func([]byte) []byte {
		asked.Add(1)
		return (&protocol.BlockTxnResponse{Block: child.Hash(), Txs: child.Transactions[1:]}).Encode()
	})
	sender.publish(t, sender.block, protocol.NewCompactBlock(child, 4, nil).Encode())
	waitTipIs(t, n.c, child, "the next block, asked of its sender, connects")
	if asked.Load() != 1 {
		t.Fatalf("the next block's sender was asked %d times, want 1", asked.Load())
	}
}
