package p2p_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// gatedStore is a real store whose commits wait while it is held: a node
// that has validated a block and is still writing it.
type gatedStore struct {
	chain.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: commits go through
	entered chan struct{} // one send per commit that found the gate held
}

func newGatedStore(t *testing.T) *gatedStore {
	t.Helper()
	st, err := store.OpenDir(t.TempDir(), store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	return &gatedStore{Store: st, entered: make(chan struct{}, 16)}
}

func (s *gatedStore) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

func (s *gatedStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

func (s *gatedStore) Apply(b *chain.Batch) error {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		s.entered <- struct{}{}
		<-g
	}
	return s.Store.Apply(b)
}

// waitEntered waits until a commit is held at the gate.
func (s *gatedStore) waitEntered(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting: %s", what)
	}
}

// newGatedNode is a compact node whose store is held at will; the gate
// is released at the test's end, before the store closes.
func newGatedNode(t *testing.T) (*compactNode, *gatedStore) {
	t.Helper()
	st := newGatedStore(t)
	n := newCompactNodeOn(t, newTestChainOn(t, chain.RegTest(), st), false, nil)
	t.Cleanup(st.release) // runs before the chain's cleanup closes st
	return n, st
}

// TestCompactForwardedBeforeCommit: a node forwards a block once it has
// validated it, before its store commit ends, and answers for it
// meanwhile (protocol.md §16.8): c, behind b, lacks the block's
// transactions and asks b for them while b's commit is held, and
// connects the block before b has stored it.
func TestCompactForwardedBeforeCommit(t *testing.T) {
	a := newCompactNode(t, false, nil)
	b, gate := newGatedNode(t)
	c := newCompactNode(t, false, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b, c)
	link(t, a, b)
	link(t, b, c)
	transfers(t, p, alice, 5, a.c, b.c)

	gate.hold()
	blk := publishMined(t, a)
	gate.waitEntered(t, "b validates the block and starts its commit")
	waitTipIs(t, c.c, blk, "c connects the block b forwarded, with the transactions it asked b for")
	if b.c.Tip().Hash == blk.Hash() {
		t.Fatal("b's tip moved while its commit was held")
	}
	if got := c.g.Stats().Compact; got.Requested != 1 || got.TxsRequested != 5 || got.Fetched != 0 {
		t.Fatalf("c: %+v; want one request for 5 transactions, answered", got)
	}
	if got := b.g.Stats().Compact.Served; got != 1 {
		t.Fatalf("b served %d requests, want 1", got)
	}
	gate.release()
	waitTipIs(t, b.c, blk, "b connects the block once its commit ends")
}

// TestCompactChildOfUncommittedBlock: a block arriving while its parent's
// commit is still under way is not taken for an orphan: its header
// earns the request for the transactions the receiver lacks, and it
// connects after its parent.
func TestCompactChildOfUncommittedBlock(t *testing.T) {
	a := newCompactNode(t, false, nil)
	b, gate := newGatedNode(t)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b)
	link(t, a, b)
	transfers(t, p, alice, 3, a.c, b.c)

	gate.hold()
	b1 := publishMined(t, a)
	gate.waitEntered(t, "b validates b1 and starts its commit")
	// Only a has the child's transaction: b must ask for it.
	if err := a.c.AddTx(alice.Tx(p, testwallet.New("payee").Addr, 1, 1, 3)); err != nil {
		t.Fatal(err)
	}
	b2 := publishMined(t, a)
	testutil.Eventually(t, 15*time.Second, "b deals with b2 as far as it can while b1 commits", func() bool {
		st := b.g.Stats()
		return st.Compact.Requested > 0 || st.Block.Ignored > 0 || st.Block.Rejected > 0
	})
	if got := b.g.Stats(); got.Compact.Requested != 1 || got.Compact.TxsRequested != 1 || got.Block.Ignored != 0 {
		t.Fatalf("b: %+v; want b2's one missing transaction asked of a, nothing ignored", got)
	}
	if b.c.Tip().Hash == b1.Hash() {
		t.Fatal("b's tip moved while its commit was held")
	}
	gate.release()
	waitTipIs(t, b.c, b2, "b connects b2 after b1")
	waitBlocksJudged(t, b.g, 2)
	if got := b.g.Stats().Block; got.Accepted != 2 {
		t.Fatalf("b's verdicts %+v; want both blocks accepted", got)
	}
}

var _ chain.Store = (*gatedStore)(nil)
