package node

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
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
	miner := newMiningNode(t, alice.Addr)
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
	if r, err := gossip.ProcessBlock(ctx, b1, nil); err != nil || !r.Joined {
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
		r, err := gossip.ProcessBlock(ctx, b2, nil)
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

// TestAdmissionDuringCommit: once a block is validated, the mempool drops
// what it confirmed and admissions go on while its store commit is still
// under way, judged on the state the block leaves: the sender's next
// nonce is admitted at once, and the confirmed transaction is found in
// the block though the tip has not moved yet.
func TestAdmissionDuringCommit(t *testing.T) {
	n, st, tx0, tx1 := nodeWithTwoNonces(t)
	ctx := context.Background()
	b1 := n.chain.Tip()

	st.hold()
	b2 := mineInBackground(t, n)
	st.waitHeld(t)
	submitted := make(chan error, 1)
	go func() { submitted <- n.SubmitTx(ctx, tx1) }()
	select {
	case err := <-submitted:
		if err != nil {
			t.Fatalf("nonce 1 during the commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an admission waited 10 s for a block's commit")
	}
	if n.mempool.Has(tx0.ID()) || !n.mempool.Has(tx1.ID()) {
		t.Errorf("during the commit: pool holds nonce 0 %v, nonce 1 %v; want only nonce 1", n.mempool.Has(tx0.ID()), n.mempool.Has(tx1.ID()))
	}
	if tip := n.chain.Tip(); tip.Hash != b1.Hash {
		t.Errorf("during the commit: tip at height %d, want b1's", tip.Height())
	}
	loc, err := n.chain.TxLocation(tx0.ID())
	if err != nil {
		t.Errorf("nonce 0 during the commit: %v, want it found in the block", err)
	}

	st.let()
	b := <-b2
	if b == nil {
		t.FailNow()
	}
	if loc != b.Hash() || len(b.Transactions) != 2 || b.Transactions[1].ID() != tx0.ID() {
		t.Fatalf("b2 holds %d transactions, nonce 0 located in %s; want nonce 0 in b2 %s", len(b.Transactions), loc.Short(), b.Hash().Short())
	}
	if tip := n.chain.Tip(); tip.Hash != b.Hash() {
		t.Fatalf("after the commit: tip at height %d, want b2's", tip.Height())
	}
	b3, err := n.MineOne(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(b3.Transactions) != 2 || b3.Transactions[1].ID() != tx1.ID() {
		t.Fatalf("b3 holds %d transactions, want the coinbase and nonce 1", len(b3.Transactions))
	}
}

// TestMinedBlockPublishedBeforeCommit: a block this node mined is handed
// to gossip once the chain has validated it, while its commit is still
// under way, as a gossiped block is forwarded; and only once.
func TestMinedBlockPublishedBeforeCommit(t *testing.T) {
	st := newHoldStore()
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: t.TempDir()}, func(s chain.Store) chain.Store {
		st.Store = s
		return st
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.closeNode(n)
	published := make(chan chain.Hash, 4)
	n.relay.publish = func(_ context.Context, b *chain.Block) error {
		published <- b.Hash()
		return nil
	}
	st.hold()
	mined := mineInBackground(t, n)
	st.waitHeld(t)
	var first chain.Hash
	select {
	case first = <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("the mined block was not handed to gossip during its commit")
	}
	if tip := n.chain.Tip(); tip.Height() != 0 {
		t.Fatalf("tip at height %d while the commit is held, want 0", tip.Height())
	}
	st.let()
	b := <-mined
	if b == nil || b.Hash() != first {
		t.Fatalf("handed %s to gossip, mined %v", first.Short(), b)
	}
	if !n.relay.waitBlocks(10 * time.Second) {
		t.Fatal("publish did not end")
	}
	if len(published) != 0 {
		t.Fatalf("the block was handed to gossip %d more times", len(published))
	}
}

// TestMinedBlockPublishedAfterCommitWhenRelayFull: when the relay has no
// room as the block is validated (maxUnsentBlocks unsent), the hook,
// which must not wait under the chain's lock, leaves it, and the block
// is published after its commit, once, after the blocks before it.
func TestMinedBlockPublishedAfterCommitWhenRelayFull(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	g := newHeldGossip()
	defer n.Close()
	defer g.open()
	n.relay.publish = g.publish
	for h := range uint64(maxUnsentBlocks) {
		n.relay.publishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: h + 1}})
	}
	mined := mineInBackground(t, n)
	// Committed, then waiting for room: not handed over by the hook.
	testutil.Eventually(t, 10*time.Second, "the miner waiting for room after its commit", func() bool {
		return waitingOnSend("node.(*relay).queueBlock") == 1 && n.chain.Tip().Height() == 1
	})
	g.open()
	b := <-mined
	if b == nil {
		t.FailNow()
	}
	if !n.relay.waitBlocks(10 * time.Second) {
		t.Fatal("blocks not published")
	}
	got := g.heights()
	if len(got) != maxUnsentBlocks+1 || got[maxUnsentBlocks] != b.Header.Height {
		t.Fatalf("published heights %v, want the %d before it then the mined block once", got, maxUnsentBlocks)
	}
}

// mineInBackground mines one block on n on a goroutine of its own: the
// channel gets the block, or nil once MineOne's error has failed t.
func mineInBackground(t *testing.T, n *Node) <-chan *chain.Block {
	mined := make(chan *chain.Block, 1)
	go func() {
		b, err := n.MineOne(context.Background())
		if err != nil {
			t.Error(err)
		}
		mined <- b
	}()
	return mined
}

// TestEventsFollowCommitOrder: a transaction admitted during a block's
// commit, on the state the block leaves, is announced after the block,
// though its admission ended first.
func TestEventsFollowCommitOrder(t *testing.T) {
	n, st, _, tx1 := nodeWithTwoNonces(t)
	ctx := context.Background()
	sub := n.Subscribe(16)
	defer sub.Close()

	st.hold()
	b2 := mineInBackground(t, n)
	st.waitHeld(t)
	if err := n.SubmitTx(ctx, tx1); err != nil {
		t.Fatalf("nonce 1 during the commit: %v", err)
	}
	if len(sub.C) != 0 {
		t.Fatalf("%d events published during the commit, want the admission's to wait for the block's", len(sub.C))
	}
	st.let()
	b := <-b2
	if b == nil {
		t.FailNow()
	}
	got := chainEvents(t, sub, 2)
	if want := []string{"block " + b.Hash().String(), "tx " + tx1.ID().String()}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// nodeWithTwoNonces returns a node on a holdStore (closed when t ends)
// whose miner, alice, has mined one block, with two transfers of hers:
// nonce 0, submitted, and nonce 1, not.
func nodeWithTwoNonces(t *testing.T) (*Node, *holdStore, *chain.Transaction, *chain.Transaction) {
	t.Helper()
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	st := newHoldStore()
	n, err := newNode(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: alice.Addr}, func(s chain.Store) chain.Store {
		st.Store = s
		return st
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.closeNode(n) })
	ctx := context.Background()
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	p := n.chain.Params()
	fee := n.mempool.MinFee(300)
	tx0, tx1 := alice.Tx(p, bob.Addr, 1, fee, 0), alice.Tx(p, bob.Addr, 1, fee, 1)
	if err := n.SubmitTx(ctx, tx0); err != nil {
		t.Fatal(err)
	}
	return n, st, tx0, tx1
}

// TestEventsOrderAroundAdmission: a block that includes a transaction is
// announced after it, when the block comes while the admission holds
// intake's mutex (it waits for it) and when it comes between the
// admission's unlock and the sending of its event.
func TestEventsOrderAroundAdmission(t *testing.T) {
	for _, tc := range []struct {
		name    string
		underMu bool
	}{
		{"a block waiting for the admission's mutex", true},
		{"a block between the admission's unlock and its event", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice, bob := testwallet.New("alice"), testwallet.New("bob")
			n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: alice.Addr})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			ctx := context.Background()
			if _, err := n.MineOne(ctx); err != nil {
				t.Fatal(err)
			}
			tx := alice.Tx(n.chain.Params(), bob.Addr, 1, n.mempool.MinFee(300), 0)
			sub := n.Subscribe(16)
			defer sub.Close()
			var mined <-chan *chain.Block
			n.intake.testAdmitHook = func(underMu bool) {
				switch {
				case underMu != tc.underMu:
				case underMu:
					// The miner's block, with tx, waits for the mutex
					// this admission holds.
					mined = mineInBackground(t, n)
					testutil.Eventually(t, 10*time.Second, "the block waiting for intake's mutex", func() bool {
						n.intake.turn.Lock()
						defer n.intake.turn.Unlock()
						return n.intake.blocks == 1
					})
				default:
					c := make(chan *chain.Block, 1)
					b, err := n.MineOne(ctx)
					if err != nil {
						t.Error(err)
					}
					c <- b
					mined = c
				}
			}
			if err := n.SubmitTx(ctx, tx); err != nil {
				t.Fatal(err)
			}
			b := <-mined
			if b == nil {
				t.FailNow()
			}
			if len(b.Transactions) != 2 || b.Transactions[1].ID() != tx.ID() {
				t.Fatalf("the block holds %d transactions, want the coinbase and tx", len(b.Transactions))
			}
			got := chainEvents(t, sub, 2)
			if want := []string{"tx " + tx.ID().String(), "block " + b.Hash().String()}; !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
}

// chainEvents reads sub until it has n transaction or block events, and
// returns them as "tx <id>" and "block <hash>", in order; 10 s at most.
func chainEvents(t *testing.T, sub *Subscription, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev := <-sub.C:
			switch d := ev.Data.(type) {
			case BlockEventData:
				got = append(got, "block "+d.Hash)
			case TxEventData:
				got = append(got, "tx "+d.ID)
			}
		case <-deadline:
			t.Fatalf("%d transaction or block events within 10 s, want %d: %v", len(got), n, got)
		}
	}
	return got
}
