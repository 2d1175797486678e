package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// startNode runs a regtest node on loopback with mDNS off, bootstrapped
// from the given nodes.
func startNode(t *testing.T, name string, bootstrap ...*node.Node) *node.Node {
	t.Helper()
	n, _ := startTraced(t, name, bootstrap...)
	return n
}

// startTraced is startNode with a tracer of the node's GossipSub mesh.
func startTraced(t *testing.T, name string, bootstrap ...*node.Node) (*node.Node, *p2p.MeshTracer) {
	t.Helper()
	mesh := p2p.NewMeshTracer()
	var boot []string
	for _, b := range bootstrap {
		boot = append(boot, b.Host().FullAddrs()[0].String())
	}
	n, err := node.New(node.Config{
		Params:        chain.RegTest(),
		DataDir:       t.TempDir(),
		Listen:        []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap:     boot,
		Logger:        testLogger(t, name),
		GossipOptions: []p2p.GossipOption{p2p.WithPubSubOptions(pubsub.WithRawTracer(mesh))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, mesh
}

// testLogger writes a node's log through t.Log until the test's
// cleanups reach it: a goroutine that outlives the test must not log into
// it (testutil.Logger).
func testLogger(t *testing.T, name string) *slog.Logger {
	return testutil.LoggerAt(t, slog.LevelInfo).With("node", name)
}

func mine(t *testing.T, n *node.Node, k int) {
	t.Helper()
	for i := 0; i < k; i++ {
		if _, err := n.MineOne(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func sameTip(nodes ...*node.Node) bool {
	for _, n := range nodes[1:] {
		if n.Chain().Tip().Hash != nodes[0].Chain().Tip().Hash {
			return false
		}
	}
	return true
}

// line starts k nodes, each bootstrapped from the one before.
//
// It returns once each node has the next in its GossipSub meshes: a
// message that reaches a node before its mesh forms goes no further
// (docs/architecture.md, pitfalls), and blocks would still arrive by
// sync while a transaction would wait for the next rebroadcast.
func line(t *testing.T, k int) []*node.Node {
	n0, m0 := startTraced(t, "n0")
	nodes, meshes := []*node.Node{n0}, []*p2p.MeshTracer{m0}
	for i := 1; i < k; i++ {
		n, m := startTraced(t, fmt.Sprintf("n%d", i), nodes[i-1])
		nodes, meshes = append(nodes, n), append(meshes, m)
	}
	id := chain.RegTest().NetworkID()
	for i := 1; i < k; i++ {
		for _, topic := range []string{protocol.TxTopic(id), protocol.BlockTopic(id)} {
			a, b := nodes[i-1].Host().ID(), nodes[i].Host().ID()
			testutil.Eventually(t, 30*time.Second, fmt.Sprintf("n%d and n%d in each other's %s mesh", i-1, i, topic), func() bool {
				return meshes[i-1].Has(topic, b) && meshes[i].Has(topic, a)
			})
		}
	}
	return nodes
}

// TestLineOfFive: five nodes in a line, joined by bootstrap only, agree on
// one tip after blocks are mined at both ends, and a transaction sent at
// one end reaches the mempool at the other.
func TestLineOfFive(t *testing.T) {
	nodes := line(t, 5)
	first, last := nodes[0], nodes[4]
	mine(t, first, 3)
	testutil.Eventually(t, 30*time.Second, "all nodes on the first end's tip", func() bool { return sameTip(nodes...) })
	mine(t, last, 3)
	testutil.Eventually(t, 30*time.Second, "all nodes on the last end's tip", func() bool { return sameTip(nodes...) })
	if h := first.Chain().Tip().Height(); h != 6 {
		t.Fatalf("tip height %d, want 6", h)
	}
	tx, err := first.Send(context.Background(), last.WalletAddress(), 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "transaction in the far end's mempool", func() bool { return last.Mempool().Has(tx.ID()) })
	mine(t, last, 1)
	testutil.Eventually(t, 30*time.Second, "the far end's block with the transaction everywhere", func() bool {
		a, _ := first.Chain().Account(last.WalletAddress())
		return sameTip(nodes...) && first.Mempool().Len() == 0 && a.Balance == 4*int64(chain.RegTest().Reward)+7+1
	})
}

// TestPartitionHeal: four nodes share two blocks, split into two groups
// that mine apart (10 blocks against 11), and join again; everyone ends
// on the heavier branch, and the losing side's transaction, still valid
// there because its sender was funded before the split, is back in the
// losing side's mempools.
func TestPartitionHeal(t *testing.T) {
	a0 := startNode(t, "a0")
	a1 := startNode(t, "a1", a0)
	b0 := startNode(t, "b0")
	b1 := startNode(t, "b1", b0)
	link := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a1.Host().Dial(ctx, b1.Host().Peerstore().PeerInfo(b1.Host().ID()), "register"); err != nil {
			t.Fatal(err)
		}
	}
	link()
	mine(t, a0, 2)
	testutil.Eventually(t, 30*time.Second, "all four share the first blocks", func() bool { return sameTip(a0, a1, b0, b1) })

	// Split: the only link between the groups goes.
	if err := a1.Host().Network().ClosePeer(b1.Host().ID()); err != nil {
		t.Fatal(err)
	}
	tx, err := a0.Send(context.Background(), b0.WalletAddress(), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine(t, a0, 10)
	mine(t, b0, 11)
	testutil.Eventually(t, 30*time.Second, "each group agrees", func() bool { return sameTip(a0, a1) && sameTip(b0, b1) })
	if a0.Mempool().Has(tx.ID()) || a0.Chain().Tip().Hash == b0.Chain().Tip().Hash {
		t.Fatal("setup: the groups should have mined apart, the transaction on a's side")
	}

	events := a0.Subscribe(1024)
	defer events.Close()
	link()
	testutil.Eventually(t, 60*time.Second, "all four on the heavier branch", func() bool { return sameTip(a0, a1, b0, b1) })
	if h := a0.Chain().Tip().Height(); h != 13 {
		t.Fatalf("tip height %d, want b's 13", h)
	}
	ev := waitEvent(t, events, 10*time.Second, "reorg event", func(e node.Event) bool { return e.Kind == node.EventReorg })
	if d := ev.Data.(node.ReorgEventData); d.Depth != 10 || d.Height < 12 {
		t.Errorf("reorg event %+v, want 10 blocks disconnected", d)
	}
	for _, n := range []*node.Node{a0, a1} {
		testutil.Eventually(t, 10*time.Second, "the losing branch's transaction back in the mempool", func() bool { return n.Mempool().Has(tx.ID()) })
	}
}

// TestRebroadcast: a transaction submitted while the node had no peers
// reaches a peer that connects later, when the node gossips its own
// unconfirmed transactions again. The node's GossipSub forgets a message
// only at the sweep of its seen cache, once a minute: the test takes a
// minute, run in parallel with the rest.
func TestRebroadcast(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a minute for GossipSub's seen cache")
	}
	t.Parallel()
	// Both nodes forget a message within a second: a republishes its
	// transaction once its own cache forgets it, and a copy b dropped
	// (its validator throttled or timed out under load, its tip behind)
	// keeps the next rebroadcasts out only that long, not for GossipSub's
	// default two minutes, this test's own bound.
	start := func(name string, cfg node.Config) *node.Node {
		cfg.Params, cfg.DataDir, cfg.Listen, cfg.Logger = chain.RegTest(), t.TempDir(), []string{"/ip4/127.0.0.1/tcp/0"}, testLogger(t, name)
		cfg.GossipOptions = []p2p.GossipOption{p2p.WithPubSubOptions(pubsub.WithSeenMessagesTTL(time.Second))}
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a", node.Config{Rebroadcast: 2 * time.Second})
	mine(t, a, 1)
	tx, err := a.Send(context.Background(), a.WalletAddress(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := start("b", node.Config{Bootstrap: []string{a.Host().FullAddrs()[0].String()}})
	testutil.Eventually(t, 10*time.Second, "b on a's tip", func() bool { return sameTip(a, b) })
	testutil.Eventually(t, 2*time.Minute, "the transaction in b's mempool", func() bool { return b.Mempool().Has(tx.ID()) })
}

// TestConcurrentSend: sends from the node's wallet on many goroutines at
// once all succeed, with consecutive nonces: the wallet holds its nonce
// from choosing it until the mempool has the transaction, so no two
// sends take the same nonce and none is refused as a conflict.
func TestConcurrentSend(t *testing.T) {
	n := startNode(t, "n")
	mine(t, n, 1)
	const k = 32 // under the mempool's cap on one sender's pending transactions
	txs := make([]*chain.Transaction, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() { txs[i], errs[i] = n.Send(context.Background(), n.WalletAddress(), 1, 0) })
	}
	wg.Wait()
	nonces := make([]uint64, 0, k)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		nonces = append(nonces, txs[i].Nonce)
	}
	slices.Sort(nonces)
	for i, nonce := range nonces {
		if nonce != uint64(i) {
			t.Fatalf("nonces %v, want 0 to %d once each", nonces, k-1)
		}
	}
	if got := len(n.Mempool().Pending(n.WalletAddress())); got != k {
		t.Errorf("%d pending from the wallet, want %d", got, k)
	}
}
