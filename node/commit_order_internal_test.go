package node

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// holdStore holds the first commit after hold is called until the test
// releases it: a commit that takes long (a large block, a slow disk).
type holdStore struct {
	chain.Store
	armed   atomic.Bool
	held    chan struct{} // closed once the held commit has begun
	release chan struct{}
	once    sync.Once
}

func newHoldStore() *holdStore {
	return &holdStore{held: make(chan struct{}), release: make(chan struct{})}
}

func (s *holdStore) hold() { s.armed.Store(true) }

func (s *holdStore) let() { s.once.Do(func() { close(s.release) }) }

// closeNode lets the held commit go before it closes n, which waits for
// it: a test that fails while a commit is held must not hang.
func (s *holdStore) closeNode(n *Node) {
	s.let()
	n.Close()
}

func (s *holdStore) Apply(b *chain.Batch) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.held)
		<-s.release
	}
	return s.Store.Apply(b)
}

// waitHeld waits for the held commit to begin.
func (s *holdStore) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-s.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no commit began within 10 s")
	}
}

// TestGossipedBlockCheckedDuringCommit: a gossiped block's checks before
// the chain's lock (its signatures here) run while the block before it is
// still being committed, rather than after that commit and the mempool
// update that follows it. The second block spends the first's coinbase,
// in a transaction the node never saw, so checking it verifies one
// signature.
func TestGossipedBlockCheckedDuringCommit(t *testing.T) {
	alice := testwallet.New("alice")
	miner, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: alice.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer miner.Close()
	ctx := context.Background()
	b1, err := miner.MineOne(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := miner.chain.Params()
	if err := miner.SubmitTx(ctx, alice.Tx(p, testwallet.New("bob").Addr, 1, miner.mempool.MinFee(300), 0)); err != nil {
		t.Fatal(err)
	}
	b2, err := miner.MineOne(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Transactions) != 2 {
		t.Fatalf("b2 has %d transactions, want the coinbase and the transfer", len(b2.Transactions))
	}

	st := newHoldStore()
	n, err := newNode(Config{Params: p, DataDir: t.TempDir()}, func(s chain.Store) chain.Store {
		st.Store = s
		return st
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.closeNode(n)
	gossip := chainAdapter{n}
	st.hold()
	if r, err := gossip.ProcessBlock(ctx, b1); err != nil || !r.Joined {
		t.Fatalf("b1: %+v, %v", r, err)
	}
	st.waitHeld(t)

	verified := n.chain.SigCache().Stats().Verifies
	type result struct {
		r   p2p.BlockResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := gossip.ProcessBlock(ctx, b2)
		done <- result{r, err}
	}()
	testutil.Eventually(t, 10*time.Second, "b2's signature checked while b1's commit is held", func() bool {
		return n.chain.SigCache().Stats().Verifies > verified
	})
	st.let()
	if res := <-done; res.err != nil || !res.r.Joined {
		t.Fatalf("b2: %+v, %v", res.r, res.err)
	}
	n.intake.wait()
	if tip := n.chain.Tip(); tip.Hash != b2.Hash() {
		t.Fatalf("tip at height %d, want b2", tip.Height())
	}
}

// TestMinedBlockPublishedBeforeCommit: a block the node mines reaches its
// peer, over GossipSub on loopback, while the miner's own commit of it is
// still held; the miner's MineOne returns once that commit ends. The
// peer cannot have it by sync meanwhile: the miner's status carries its
// committed tip, still the genesis block.
func TestMinedBlockPublishedBeforeCommit(t *testing.T) {
	p := chain.RegTest()
	meshes := []*p2p.MeshTracer{p2p.NewMeshTracer(), p2p.NewMeshTracer()}
	st := newHoldStore()
	start := func(i int, boot []string, wrap func(chain.Store) chain.Store) *Node {
		n, err := newNode(Config{Params: p, DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: boot, Logger: testutil.Logger(t),
			GossipOptions: []p2p.GossipOption{p2p.WithPubSubOptions(pubsub.WithRawTracer(meshes[i]))}}, wrap)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.closeNode(n) })
		return n
	}
	miner := start(0, nil, func(s chain.Store) chain.Store {
		st.Store = s
		return st
	})
	peer := start(1, []string{miner.Host().FullAddrs()[0].String()}, nil)
	topic := protocol.BlockTopic(p.NetworkID())
	testutil.Eventually(t, 30*time.Second, "miner and peer in each other's block mesh", func() bool {
		return meshes[0].Has(topic, peer.Host().ID()) && meshes[1].Has(topic, miner.Host().ID())
	})

	st.hold()
	type result struct {
		b   *chain.Block
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := miner.MineOne(context.Background())
		done <- result{b, err}
	}()
	st.waitHeld(t)
	testutil.Eventually(t, 10*time.Second, "the peer has the block while the miner's commit is held", func() bool {
		return peer.chain.Tip().Height() == 1
	})
	select {
	case res := <-done:
		t.Fatalf("MineOne returned (%v) before its commit ended", res.err)
	default:
	}
	if miner.chain.Committed(peer.chain.Tip().Hash) {
		t.Fatal("the miner's commit ended while it was held")
	}
	st.let()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.b.Hash() != peer.chain.Tip().Hash || miner.chain.Tip().Hash != res.b.Hash() {
		t.Fatalf("mined %s; miner's tip %s, peer's %s", res.b.Hash().Short(), miner.chain.Tip().Hash.Short(),
			peer.chain.Tip().Hash.Short())
	}
}
