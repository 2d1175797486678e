package p2p_test

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// heldChain holds the first processing of one block until released: a
// block still connecting on this node while the next one arrives. Another
// copy of the block is processed at once.
type heldChain struct {
	*testChain
	mu      sync.Mutex
	target  chain.Hash
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	// ended reports that the held processing went on (released, or its
	// validator's time ran out).
	ended atomic.Bool
}

func (c *heldChain) hold(h chain.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = h
}

func (c *heldChain) let() { c.once.Do(func() { close(c.release) }) }

func (c *heldChain) ProcessBlock(ctx context.Context, b *chain.Block, d *chain.TxDigest) (p2p.BlockResult, error) {
	c.mu.Lock()
	held := b.Hash() == c.target
	if held {
		c.target = chain.Hash{}
	}
	c.mu.Unlock()
	if held {
		select {
		case c.entered <- struct{}{}:
		case <-ctx.Done():
		}
		select {
		case <-c.release:
		case <-ctx.Done():
		}
		c.ended.Store(true)
	}
	return c.testChain.ProcessBlock(ctx, b, d)
}

func (c *heldChain) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-c.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for the held block's processing")
	}
}

// newHeldNode is a gossip node whose chain holds a block at will; the
// hold ends at the test's end, before gossip closes.
func newHeldNode(t *testing.T, sync p2p.SyncTrigger, opts ...p2p.GossipOption) (*gossipNode, *heldChain) {
	t.Helper()
	c := newTestChain(t)
	hc := &heldChain{testChain: c, entered: make(chan struct{}, 1), release: make(chan struct{})}
	n := startGossipNodeOn(t, newHost(t), c, hc, sync, append([]p2p.GossipOption{p2p.WithGossipLogger(testLogger(t))}, opts...)...)
	t.Cleanup(hc.let)
	return n, hc
}

// countingSync counts the syncs gossip asks for.
type countingSync struct {
	nopSync
	requests atomic.Int32
}

func (s *countingSync) RequestSync(peer.ID) { s.requests.Add(1) }

// seenFrom reports whether n's propagation view lists b as first seen
// from p.
func seenFrom(n *gossipNode, b *chain.Block, p peer.ID) bool {
	for _, s := range n.g.Seen() {
		if s.Hash == b.Hash() && s.From == p {
			return true
		}
	}
	return false
}

// TestGossipChildOfBlockInFlight: on a line a–b–c, a mines two blocks
// back to back, and the second reaches b while the first is still
// connecting there. b waits for the parent and then takes the child
// through gossip like any block: accepted, listed in its propagation
// view as first seen from a, forwarded to c (which has no syncer), and
// no sync asked of a.
func TestGossipChildOfBlockInFlight(t *testing.T) {
	trig := &countingSync{}
	a := newGossipNode(t)
	b, held := newHeldNode(t, trig)
	c := newGossipNode(t)
	line(t, a, b, c)
	miner := testwallet.New("miner").Addr
	ctx := context.Background()

	parent := a.c.mine(t, miner)
	held.hold(parent.Hash())
	if err := a.g.PublishBlock(ctx, parent); err != nil {
		t.Fatal(err)
	}
	held.waitEntered(t)
	child := a.c.mine(t, miner)
	if err := a.g.PublishBlock(ctx, child); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "b deals with the child as far as it can while the parent connects", func() bool {
		now, _, _ := b.g.ParentWaits()
		return now == 1 || b.g.Stats().Block.Ignored > 0
	})
	held.let()
	waitTipIs(t, b.c, child, "b connects both blocks")
	waitBlocksJudged(t, b.g, 2)
	if s := b.g.Stats().Block; s.Accepted != 2 || s.Ignored != 0 {
		t.Fatalf("b's verdicts %+v; want both blocks accepted", s)
	}
	if !seenFrom(b, child, a.h.ID()) {
		t.Fatalf("b's propagation view %+v lacks the child first seen from a", b.g.Seen())
	}
	if n := trig.requests.Load(); n != 0 {
		t.Fatalf("b asked a for its chain %d times", n)
	}
	waitTipIs(t, c.c, child, "c connects the child b forwarded")
}

// inFlightParent starts a gossip node with opts whose chain holds the
// block an evil peer then sends it on its tip, and returns the three.
func inFlightParent(t *testing.T, opts ...p2p.GossipOption) (*gossipNode, *heldChain, *evilPeer, *chain.Block) {
	t.Helper()
	n, held := newHeldNode(t, nopSync{}, opts...)
	evil := newEvilPeer(t, n)
	return n, held, evil, sendHeld(t, n, held, evil)
}

// sendHeld has from send n a block on its tip, which n's chain holds.
func sendHeld(t *testing.T, n *gossipNode, held *heldChain, from *evilPeer) *chain.Block {
	t.Helper()
	parent := buildBlock(t, n.c.Params(), &n.c.Tip().Header, testwallet.New("parent").Addr)
	held.hold(parent.Hash())
	from.publish(t, from.block, wire(parent))
	held.waitEntered(t)
	return parent
}

// TestGossipChildrenOfBlockInFlightBounded: a peer sends children of a
// block that is being validated. One whose header fails against the
// parent's (its target) is rejected at once; of those whose headers
// pass, the first waits, and every other (another copy of it, then twice
// as many children as there are block validators, each lacking a
// transaction so it cannot be rebuilt) is judged at once while the
// parent is still held: waiting children do not take the validators.
// The copy, rebuilt, is kept aside as an orphan and connects with the
// parent; the waiting message then finds its block connected and is
// ignored.
func TestGossipChildrenOfBlockInFlightBounded(t *testing.T) {
	n, held, evil, parent := inFlightParent(t, p2p.WithParentWait(time.Minute))
	p := n.c.Params()
	before := n.g.Stats().Block

	bad := buildBlock(t, p, &parent.Header, testwallet.New("bad").Addr)
	bad.Header.Bits = chain.BigToCompact(new(big.Int).Rsh(p.PowLimit, 1))
	hdr, err := chain.Solve(context.Background(), bad.Header, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad.Header = hdr
	evil.publish(t, evil.block, wire(bad))
	testutil.Eventually(t, 10*time.Second, "the child with a wrong target is rejected", func() bool {
		return n.g.Stats().Block.Rejected == before.Rejected+1
	})

	waiter := buildBlock(t, p, &parent.Header, testwallet.New("first").Addr)
	evil.publish(t, evil.block, wire(waiter))
	testutil.Eventually(t, 10*time.Second, "the first sound child waits for its parent", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 1
	})
	// Another message of the waiting child (its own nonce) does not wait:
	// it is an orphan, ignored and kept aside.
	evil.publish(t, evil.block, protocol.NewCompactBlock(waiter, 1, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "the waiting child's copy is taken for an orphan", func() bool {
		return n.g.Stats().Block.Ignored == before.Ignored+1
	})
	junk := junkTransfers(p, 1)
	for i := 1; i <= 2*p2p.BlockValidators; i++ {
		fake := buildBlock(t, p, &parent.Header, testwallet.New(fmt.Sprintf("fake %d", i)).Addr, junk...)
		evil.publish(t, evil.block, protocol.NewCompactBlock(fake, uint64(i), nil).Encode())
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("child %d judged while the parent is held", i), func() bool {
			return n.g.Stats().Block.Ignored == before.Ignored+1+uint64(i)
		})
	}
	if now, total, _ := n.g.ParentWaits(); now != 1 || total != 1 || held.ended.Load() {
		t.Fatalf("%d waiting, %d waited, parent held: %v; want the one child waiting on the held parent",
			now, total, !held.ended.Load())
	}

	held.let()
	waitTipIs(t, n.c, waiter, "the child's copy kept aside connects with its parent")
	testutil.Eventually(t, 10*time.Second, "the waiting message finds its block connected", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 0 && n.g.Stats().Block.Ignored == before.Ignored+2+2*p2p.BlockValidators
	})
	// The wrong target, the waiter, its copy, the fakes and the parent.
	waitBlocksJudged(t, n.g, before.In+4+2*p2p.BlockValidators)
	if s := n.g.Stats().Block; s.Accepted != before.Accepted+1 {
		t.Fatalf("verdicts %+v, before the children %+v; want the parent accepted", s, before)
	}
}

// TestGossipParentWaitBounded: a child waits for a parent whose
// validation does not end at most the node's bound, gives up at the
// bound, then takes the orphan's path (ignored, kept aside) while the
// parent is still held, and connects once the parent does.
func TestGossipParentWaitBounded(t *testing.T) {
	n, held, evil, parent := inFlightParent(t, p2p.WithParentWait(100*time.Millisecond))
	before := n.g.Stats().Block
	child := buildBlock(t, n.c.Params(), &parent.Header, testwallet.New("child").Addr)
	evil.publish(t, evil.block, wire(child))
	testutil.Eventually(t, 10*time.Second, "the child waited, gave up, then was ignored", func() bool {
		now, total, gaveUp := n.g.ParentWaits()
		return total == 1 && now == 0 && gaveUp == 1 && n.g.Stats().Block.Ignored == before.Ignored+1
	})
	if held.ended.Load() {
		t.Fatal("the parent's validation ended before the child's wait: the bound was not what ended it")
	}
	held.let()
	waitTipIs(t, n.c, child, "the child, kept aside, connects after its parent")
}

// TestGossipWaitingChildCopyNotShadowed: a peer x re-encodes the child of
// a block in flight with a transaction the node lacks, so that its copy
// can be rebuilt only by asking x, and sends it first: it waits. An
// honest copy sent whole after it does not stand behind x's: it is kept
// aside as an orphan and connects with its parent, and x's copy, its wait
// over, finds the block connected and asks x for nothing.
func TestGossipWaitingChildCopyNotShadowed(t *testing.T) {
	n, held := newHeldNode(t, nopSync{}, p2p.WithParentWait(time.Minute))
	p, alice := n.c.Params(), testwallet.New("alice")
	n.c.mine(t, alice.Addr)
	var asked atomic.Int32
	x := evilPublisher(t, n, func([]byte) []byte { asked.Add(1); return nil })
	honest := newEvilPeer(t, n)
	parent := sendHeld(t, n, held, honest)
	before := n.g.Stats().Block

	child := buildBlock(t, p, &parent.Header, testwallet.New("miner").Addr, alice.Tx(p, testwallet.New("bob").Addr, 1, 1, 0))
	x.publish(t, x.block, protocol.NewCompactBlock(child, 1, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "x's copy of the child waits for its parent", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 1
	})
	honest.publish(t, honest.block, wire(child))
	testutil.Eventually(t, 10*time.Second, "the honest copy is judged while the parent is held", func() bool {
		return n.g.Stats().Block.Ignored == before.Ignored+1
	})
	held.let()
	waitTipIs(t, n.c, child, "the honest copy, kept aside, connects with its parent")
	testutil.Eventually(t, 10*time.Second, "x's copy ends its wait and is ignored", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 0 && n.g.Stats().Block.Ignored == before.Ignored+2
	})
	if k := asked.Load(); k != 0 {
		t.Fatalf("x was asked %d times for the transactions of a block already connected", k)
	}
}

// TestGossipParentWaitEndsWithFastCopy: a child waits for a parent whose
// first copy is held (a slow sender's); another copy of the parent is
// validated at once, and the child's wait ends with it while the first
// copy is still held.
func TestGossipParentWaitEndsWithFastCopy(t *testing.T) {
	n, held, evil, parent := inFlightParent(t, p2p.WithParentWait(time.Minute))
	before := n.g.Stats().Block
	child := buildBlock(t, n.c.Params(), &parent.Header, testwallet.New("child").Addr)
	evil.publish(t, evil.block, wire(child))
	testutil.Eventually(t, 10*time.Second, "the child waits for its parent", func() bool {
		now, _, _ := n.g.ParentWaits()
		return now == 1
	})
	evil.publish(t, evil.block, protocol.NewCompactBlock(parent, 1, nil).Encode())
	waitTipIs(t, n.c, child, "the child connects once the fast copy of its parent is validated")
	if held.ended.Load() {
		t.Fatal("the slow copy of the parent was let go: its end, not the fast copy's, may have ended the wait")
	}
	if now, total, gaveUp := n.g.ParentWaits(); now != 0 || total != 1 || gaveUp != 0 {
		t.Fatalf("%d waiting, %d waited, %d gave up; want one wait, ended by its parent", now, total, gaveUp)
	}
	waitBlocksJudged(t, n.g, before.In+2)
	if s := n.g.Stats().Block; s.Accepted != before.Accepted+2 {
		t.Fatalf("verdicts %+v, before %+v; want the fast parent and the child accepted", s, before)
	}
}
