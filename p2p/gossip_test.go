package p2p_test

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// gossipNode is a host with a chain and gossip, for gossip tests.
type gossipNode struct {
	h      host.Host
	c      *testChain
	g      *p2p.Gossip
	mesh   *meshTracer
	scores chan map[peer.ID]float64
}

func newGossipNode(t *testing.T) *gossipNode {
	t.Helper()
	return startGossipNode(t, newHost(t), newTestChain(t), nopSync{})
}

// startGossipNode starts gossip on h for c, telling sync of what blocks
// reveal, with opts after the tests' own.
func startGossipNode(t testing.TB, h host.Host, c *testChain, sync p2p.SyncTrigger, opts ...p2p.GossipOption) *gossipNode {
	t.Helper()
	return startGossipNodeOn(t, h, c, c, sync, opts...)
}

// startGossipNodeOn is startGossipNode with view the chain gossip sees (a
// test's wrapper of c).
func startGossipNodeOn(t testing.TB, h host.Host, c *testChain, view p2p.Chain, sync p2p.SyncTrigger, opts ...p2p.GossipOption) *gossipNode {
	t.Helper()
	n := &gossipNode{h: h, c: c, mesh: newMeshTracer(), scores: make(chan map[peer.ID]float64, 1)}
	inspect := func(m map[peer.ID]float64) {
		select {
		case <-n.scores:
		default:
		}
		n.scores <- m
	}
	g, err := p2p.NewGossip(context.Background(), n.h, view, sync, append([]p2p.GossipOption{
		p2p.WithScoreObserver(inspect, 20*time.Millisecond),
		p2p.WithPubSubOptions(fastGossip(), pubsub.WithRawTracer(n.mesh))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	n.g = g
	return n
}

// waitMesh waits until a has grafted b on both topics.
func waitMesh(t *testing.T, a, b *gossipNode) {
	t.Helper()
	net := a.c.Params().NetworkID()
	testutil.Eventually(t, 10*time.Second, "mesh between neighbours", func() bool {
		return a.mesh.inMesh(protocol.TxTopic(net), b.h.ID()) && a.mesh.inMesh(protocol.BlockTopic(net), b.h.ID())
	})
}

// line connects nodes in a line and waits for every link's mesh.
func line(t *testing.T, nodes ...*gossipNode) {
	for i := 1; i < len(nodes); i++ {
		connect(t, nodes[i-1].h, nodes[i].h)
	}
	for i := 1; i < len(nodes); i++ {
		waitMesh(t, nodes[i-1], nodes[i])
		waitMesh(t, nodes[i], nodes[i-1])
	}
}

// attacker is a host running plain GossipSub, with no validators, on the
// block topic, connected to honest and seeing it on the topic. It floods
// what it publishes, so nothing waits for a mesh.
func attacker(t *testing.T, honest *gossipNode) (host.Host, *pubsub.Topic) {
	t.Helper()
	evil := newHost(t)
	return evil, publisher(t, evil, honest)
}

// publisher is attacker on a host of the caller's.
func publisher(t *testing.T, evil host.Host, honest *gossipNode) *pubsub.Topic {
	t.Helper()
	return joinBlockTopic(t, evil, honest, unsignedGossip()...)
}

// joinBlockTopic starts GossipSub on h with opts, joins honest's block
// topic, connects and waits until h sees honest on it.
func joinBlockTopic(t *testing.T, h host.Host, honest *gossipNode, opts ...pubsub.Option) *pubsub.Topic {
	t.Helper()
	ps, err := pubsub.NewGossipSub(context.Background(), h, append(opts, fastGossip(), pubsub.WithFloodPublish(true))...)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(protocol.BlockTopic(honest.c.Params().NetworkID()))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Cancel)
	connect(t, h, honest.h)
	testutil.Eventually(t, 10*time.Second, "the publisher sees the honest node on the topic", func() bool { return len(topic.ListPeers()) > 0 })
	return topic
}

// TestGossipBlocksAndTxs: a block mined at one end of a line of three and
// a transaction accepted there reach the other end through the middle
// node's validators. The nodes relay both topics without subscribing to
// them: nothing reads a message the validators already handled.
func TestGossipBlocksAndTxs(t *testing.T) {
	a, b, c := newGossipNode(t), newGossipNode(t), newGossipNode(t)
	line(t, a, b, c)
	alice := testwallet.New("alice")
	ctx := context.Background()

	blk := a.c.mine(t, alice.Addr)
	if err := a.g.PublishBlock(ctx, blk); err != nil {
		t.Fatal(err)
	}
	// Every node's tip, the middle one's too: a node forwards a block
	// before its own commit ends (protocol.md §16.8), so the far end
	// can hold the block while the middle node's state, against which
	// its validator judges Alice's transfer, has not caught up yet.
	testutil.Eventually(t, 10*time.Second, "block committed on every node", func() bool {
		return b.c.Tip().Hash == blk.Hash() && c.c.Tip().Hash == blk.Hash()
	})

	// Alice got the coinbase: her transfer travels the same way.
	tx := alice.Tx(a.c.Params(), testwallet.New("bob").Addr, 10, 1, 0)
	if err := a.c.AddTx(tx); err != nil {
		t.Fatal(err)
	}
	if err := a.g.PublishTx(ctx, tx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "transaction reaches the far end's mempool", func() bool { return c.c.mp.Has(tx.ID()) })
	for i, n := range []*gossipNode{a, b, c} {
		if topics := n.g.PubSub().GetTopics(); len(topics) != 0 {
			t.Errorf("node %d subscribed to %v", i, topics)
		}
	}
}

// TestGossipInvalidBlockRejected: a peer that gossips a block with a bad
// proof of work is rejected by its neighbour, loses score there, and the
// block reaches no one else.
func TestGossipInvalidBlockRejected(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)

	// The attacker runs plain GossipSub with no validators.
	evil, topic := attacker(t, honest)

	bad, err := honest.c.NewTemplate(nil, testwallet.New("evil").Addr)
	if err != nil {
		t.Fatal(err)
	}
	for { // a nonce whose hash misses the (easy) regtest target
		if chain.CheckHeaderSanity(honest.c.Params(), &bad.Header) != nil {
			break
		}
		bad.Header.Nonce++
	}
	if err := topic.Publish(context.Background(), wire(bad)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "attacker's score drops below zero at the honest node", func() bool {
		select {
		case s := <-honest.scores:
			return s[evil.ID()] < 0
		default:
			return false
		}
	})
	// A valid block published after the bad one reaches the far node,
	// so the bad one had its chance to travel and did not.
	good := honest.c.mine(t, testwallet.New("miner").Addr)
	if err := honest.g.PublishBlock(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "valid block reaches the far node", func() bool { return far.c.Tip().Hash == good.Hash() })
	if far.mesh.saw(wire(bad)) {
		t.Fatal("the honest node forwarded the invalid block")
	}
	if !honest.mesh.saw(wire(bad)) || honest.c.Tip().Hash != good.Hash() {
		t.Fatal("the honest node never saw the invalid block, or it moved the tip")
	}
}

// TestGossipSideBranchBlockNotForwarded: a block on a lighter side branch
// is never connected (its transactions are not applied), so a coinbase
// that pays far too much goes unnoticed there. Such a block must not be
// forwarded: a neighbour still at its parent would connect it, reject it,
// and penalise us for relaying it. Nor is it stored: its branch cannot
// beat the tip (protocol.md §9.5).
func TestGossipSideBranchBlockNotForwarded(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)
	miner := testwallet.New("miner").Addr
	for range 2 {
		b := honest.c.mine(t, miner)
		if err := honest.g.PublishBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "both at height 2", func() bool { return far.c.Tip().Hash == honest.c.Tip().Hash })

	p := honest.c.Params()
	g := p.Genesis()
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: "0", Recipient: miner, Amount: p.Reward * 1000, Nonce: 1}
	side := &chain.Block{Header: chain.Header{Version: chain.HeaderVersion, Height: 1, PrevHash: g.Hash(),
		Timestamp: g.Header.Timestamp + 1, Bits: p.PowLimitBits()}, Transactions: []*chain.Transaction{cb}}
	side.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(side.Transactions))
	hdr, err := chain.Solve(context.Background(), side.Header, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	side.Header = hdr

	_, topic := attacker(t, honest)
	if err := topic.Publish(context.Background(), wire(side)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "honest node judges the side block", func() bool { return honest.mesh.saw(wire(side)) })
	if honest.c.Stored(side.Hash()) {
		t.Fatal("a gossiped block whose branch cannot win was stored")
	}
	// A valid block after it reaches the far node; the side block did not.
	next := honest.c.mine(t, miner)
	if err := honest.g.PublishBlock(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the next valid block reaches the far node", func() bool { return far.c.Tip().Hash == next.Hash() })
	if far.mesh.saw(wire(side)) {
		t.Fatal("the honest node forwarded a side-branch block whose transactions it never checked")
	}
}

// TestGossipOrphansAnnounced: a block gossiped ahead of its parent makes
// gossip ask its sender's chain; when the parent comes, both connect, and
// gossip, which forwards only the parent, has the syncer announce the new
// tip, so a peer without gossip syncs it at once rather than at its next
// status refresh, made an hour long here.
func TestGossipOrphansAnnounced(t *testing.T) {
	slow := p2p.WithStatusInterval(time.Hour)
	// b gossips and syncs; c only syncs, from b.
	h, bc := newHost(t), newTestChain(t)
	bs := p2p.NewSyncer(context.Background(), h, bc, p2p.NewGater(), slow, p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(bs.Close)
	b := startGossipNode(t, h, bc, bs)
	c := newSyncNode(t, slow)
	connect(t, c.h, b.h)
	testutil.Eventually(t, 10*time.Second, "status exchanged between b and c", func() bool {
		return bs.Stats().Served > 0 || c.s.Stats().Served > 0
	})

	// The two blocks come from a chain nobody is connected to, through a
	// publisher that also speaks sync (at genesis), so b's request for
	// the missing parent finds a gossipchain peer and keeps it.
	src := newTestChain(t)
	miner := testwallet.New("miner").Addr
	b1, b2 := src.mine(t, miner), src.mine(t, miner)
	evil := newHost(t)
	es := p2p.NewSyncer(context.Background(), evil, newTestChain(t), p2p.NewGater(), slow)
	t.Cleanup(es.Close)
	topic := publisher(t, evil, b)

	if err := topic.Publish(context.Background(), wire(b2)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b2 waits for its parent", func() bool { return b.c.OrphanRoot(b2.Hash()) == b1.Hash() })
	if err := topic.Publish(context.Background(), wire(b1)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b2 connects after its parent", func() bool { return b.c.Tip().Hash == b2.Hash() })
	testutil.Eventually(t, 30*time.Second, "b's new tip announced to c", func() bool { return c.c.Tip().Hash == b2.Hash() })
}
