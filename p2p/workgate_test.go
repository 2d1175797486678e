package p2p_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// Work before bytes (protocol.md §9.5, issue 12): a gossiped block whose
// branch cannot beat the tip is neither stored nor has its body checked.

// junkTransfers returns n unfunded self-signed transfers: valid on their
// own, never connectable, and reusable under any number of headers.
func junkTransfers(p *chain.Params, n int) []*chain.Transaction {
	out := make([]*chain.Transaction, n)
	for i := range out {
		w := testwallet.New(fmt.Sprintf("junk %d", i))
		out[i] = w.Tx(p, w.Addr, 1, 0, 0)
	}
	return out
}

// TestGossipLowWorkSiblingFlood: a peer floods siblings of block 1, each
// with a large body, while the honest tip is several blocks further. None
// is stored, and the flood costs the sender its score (Reject).
func TestGossipLowWorkSiblingFlood(t *testing.T) {
	honest := newGossipNode(t)
	p := honest.c.Params()
	mineBlocks(t, honest.c, testwallet.New("miner").Addr, 4)
	evil := newEvilPeer(t, honest)
	body := junkTransfers(p, 200)
	genesis := p.Genesis().Header
	var flood []*chain.Block
	for i := range 8 {
		flood = append(flood, buildBlock(t, p, &genesis, fmt.Sprintf("flooder %d", i), body...))
	}
	before := honest.g.Stats().Block
	for _, b := range flood {
		evil.publish(t, evil.block, wire(b))
	}
	// Each Reject costs 100·n² points, so after a few the router
	// graylists the flooder and drops the rest of its flood unread.
	testutil.Eventually(t, 10*time.Second, "the flooder's score falls below zero", func() bool {
		return honest.freshScore(t, evil.h.ID()) < 0
	})
	after := honest.g.Stats().Block
	if after.Rejected == before.Rejected || after.Accepted != before.Accepted || after.Ignored != before.Ignored {
		t.Fatalf("block verdicts during the flood: %+v, before %+v; want only rejects", after, before)
	}
	for i, b := range flood {
		if honest.c.HasBlock(b.Hash()) {
			t.Fatalf("flooded block %d was kept", i)
		}
	}
}

// TestGossipLaggingMinerNotPenalised: a miner that was behind publishes
// the block it built on a tip three blocks below ours, mined moments ago
// (protocol.md §9.5 rule 3: a parent within staleMinerWindow, at the
// tip's target). It is not stored, and it costs the miner nothing: the
// five-node testnet graylisted such miners, whose next blocks then
// reached their peers only by sync.
func TestGossipLaggingMinerNotPenalised(t *testing.T) {
	honest := newGossipNode(t)
	p := honest.c.Params()
	mined := mineBlocks(t, honest.c, testwallet.New("miner").Addr, 4)
	laggard := newEvilPeer(t, honest)
	var late []*chain.Block
	for i := range 3 {
		late = append(late, buildBlock(t, p, &mined[0].Header, fmt.Sprintf("laggard %d", i)))
	}
	before := honest.g.Stats().Block
	for _, b := range late {
		laggard.publish(t, laggard.block, wire(b))
	}
	testutil.Eventually(t, 10*time.Second, "the three late blocks judged", func() bool {
		return honest.g.Stats().Block.Ignored >= before.Ignored+3
	})
	if r := honest.g.Stats().Block.Rejected; r != before.Rejected {
		t.Fatalf("%d late blocks rejected, want none", r-before.Rejected)
	}
	if s := honest.freshScore(t, laggard.h.ID()); s < 0 {
		t.Fatalf("the lagging miner scores %v", s)
	}
	for i, b := range late {
		if honest.c.HasBlock(b.Hash()) {
			t.Fatalf("late block %d was kept", i)
		}
	}
}

// TestGossipEqualWorkRaceNotPenalised: two honest neighbours mine rival
// blocks at the same height and gossip them. Each ignores the other's
// (a race lost is no fault), stores nothing of it, and keeps the other's
// score out of the negative.
func TestGossipEqualWorkRaceNotPenalised(t *testing.T) {
	a, b := newGossipNode(t), newGossipNode(t)
	line(t, a, b)
	shared := a.c.mine(t, testwallet.New("a").Addr)
	if err := a.g.PublishBlock(context.Background(), shared); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b has the shared block", func() bool { return b.c.Tip().Hash == shared.Hash() })
	before := [2]p2p.TopicStats{a.g.Stats().Block, b.g.Stats().Block}
	x, y := a.c.mine(t, testwallet.New("a").Addr), b.c.mine(t, testwallet.New("b").Addr)
	for _, pub := range []struct {
		n *gossipNode
		b *chain.Block
	}{{a, x}, {b, y}} {
		if err := pub.n.g.PublishBlock(context.Background(), pub.b); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "each judged the rival block", func() bool {
		return a.g.Stats().Block.Ignored > before[0].Ignored && b.g.Stats().Block.Ignored > before[1].Ignored
	})
	for i, n := range []*gossipNode{a, b} {
		if r := n.g.Stats().Block.Rejected; r != before[i].Rejected {
			t.Fatalf("node %d rejected %d blocks in an honest race", i, r-before[i].Rejected)
		}
	}
	if a.c.Stored(y.Hash()) || b.c.Stored(x.Hash()) {
		t.Fatal("a rival of equal work was stored from gossip")
	}
	if s := a.freshScore(t, b.h.ID()); s < 0 {
		t.Fatalf("a scores its honest rival %v", s)
	}
	if s := b.freshScore(t, a.h.ID()); s < 0 {
		t.Fatalf("b scores its honest rival %v", s)
	}
}

// TestHeavierSideBranchWinsBySync: a node and a miner mined apart to
// equal work and then connect; the miner's next block comes by gossip
// ahead of its unstored parents, and the node fetches them by sync
// (requested: stored whatever their own work) and reorganises onto the
// heavier branch.
func TestHeavierSideBranchWinsBySync(t *testing.T) {
	full := func() (*gossipNode, *p2p.Syncer) {
		h, c := newHost(t), newTestChain(t)
		s := p2p.NewSyncer(context.Background(), h, c, p2p.NewGater(), p2p.WithSyncLogger(testLogger(t)))
		t.Cleanup(s.Close)
		return startGossipNode(t, h, c, s), s
	}
	node, _ := full()
	miner, _ := full()
	mineBlocks(t, node.c, testwallet.New("node").Addr, 3)
	mineBlocks(t, miner.c, testwallet.New("miner").Addr, 3)
	line(t, node, miner)
	next := miner.c.mine(t, testwallet.New("miner").Addr)
	if err := miner.g.PublishBlock(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the node reorganises onto the heavier branch", func() bool {
		return node.c.Tip().Hash == next.Hash()
	})
}
