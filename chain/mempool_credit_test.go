package chain_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestMempoolCredits: a transaction may spend coins a pending transaction
// of another sender pays it (a credit). It then depends on that parent:
// Select never takes it first, eviction never takes the parent first, and
// a tip change that invalidates the parent drops the child.
func TestMempoolCredits(t *testing.T) {
	p := chain.RegTest()
	alice, xavier, yvonne, zed := newMPKey(1), newMPKey(2), newMPKey(3), newMPKey(4)
	miner := newMPKey(9).addr
	base := mpState{alice.addr: {Balance: 1000}, zed.addr: {Balance: 1000}}
	// A pays xavier, who has nothing confirmed; B spends it, with a
	// higher fee than A, so fee order alone would take B first.
	a := alice.tx(p, xavier.addr, 100, 1, 0)
	b := xavier.tx(p, yvonne.addr, 60, 5, 0)
	c := yvonne.tx(p, zed.addr, 50, 9, 0) // spends B's credit in turn
	names := map[*chain.Transaction]string{a: "A", b: "B", c: "C"}

	t.Run("child needs its parent", func(t *testing.T) {
		m := chain.NewMempool(p)
		if err := m.Add(b, base); !errors.Is(err, chain.ErrInsufficientFunds) {
			t.Fatalf("B before A: %v, want ErrInsufficientFunds", err)
		}
		mpMustAdd(t, m, base, a, b, c)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{a, b, c}, names)
		mpApplies(t, p, base, m.Txs())
		mpSame(t, "Select(1)", m.Select(1, chain.MaxBlockSize), []*chain.Transaction{a}, names)
		mpSame(t, "Select(2)", m.Select(2, chain.MaxBlockSize), []*chain.Transaction{a, b}, names)
		// A too big for the room: nothing that depends on it goes either.
		if got := m.Select(10, a.EncodedSize()-1); len(got) != 0 {
			t.Fatalf("Select without room for A took %d", len(got))
		}
	})

	t.Run("a credit is claimed once", func(t *testing.T) {
		m := chain.NewMempool(p)
		mpMustAdd(t, m, base, a, b) // B takes 65 of A's 100
		// 35 left of A's credit: xavier's next may spend 34 (+1 fee).
		if err := m.Add(xavier.tx(p, yvonne.addr, 35, 1, 1), base); !errors.Is(err, chain.ErrInsufficientFunds) {
			t.Fatalf("overspending a claimed credit: %v", err)
		}
		mpMustAdd(t, m, base, xavier.tx(p, yvonne.addr, 34, 1, 1))
		mpApplies(t, p, base, m.Txs())
	})

	t.Run("a parent is not evicted before its child", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxTxs(3))
		mpMustAdd(t, m, base, a, b, c)
		// A pays least, but B depends on it, and C on B: only C ends a
		// chain with nobody depending on it.
		z0 := zed.tx(p, alice.addr, 1, 10, 0)
		mpMustAdd(t, m, base, z0)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{z0, a, b}, names)
		z1 := zed.tx(p, alice.addr, 1, 10, 1)
		mpMustAdd(t, m, base, z1) // B (5) goes, then A is evictable
		z2 := zed.tx(p, alice.addr, 1, 10, 2)
		mpMustAdd(t, m, base, z2) // A (1) goes
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{z0, z1, z2}, names)
	})

	t.Run("a new transaction does not evict its own parent", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxTxs(2))
		z0 := zed.tx(p, alice.addr, 1, 3, 0)
		mpMustAdd(t, m, base, z0, a)
		// B pays more than A, the cheapest, but needs it: z0 goes.
		mpMustAdd(t, m, base, b)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{a, b}, names)
	})

	t.Run("invalidating the parent drops the child", func(t *testing.T) {
		m := chain.NewMempool(p)
		b1 := xavier.tx(p, yvonne.addr, 10, 1, 1)
		mpMustAdd(t, m, base, a, b, b1, c)
		// The new tip spends alice's nonce 0 elsewhere: A is gone, so
		// B, whose coins A paid, is invalid, and so is C; b1 waits for
		// another nonce 0 of xavier's, which it could not pay anyway.
		ax := alice.tx(p, zed.addr, 100, 1, 0)
		blk := mpBlock(p, 1, miner, ax)
		tip := mpConnect(t, p, base, blk)
		m.Reorg(nil, []*chain.Block{blk}, tip)
		if m.Len() != 0 {
			t.Fatalf("Len %d after the parent was invalidated; Txs %d", m.Len(), len(m.Txs()))
		}
	})

	t.Run("another credit keeps the child", func(t *testing.T) {
		m := chain.NewMempool(p)
		mpMustAdd(t, m, base, a, b)
		// zed pays xavier too, later; when A is invalidated, B claims
		// zed's credit instead.
		z := zed.tx(p, xavier.addr, 80, 1, 0)
		mpMustAdd(t, m, base, z)
		ax := alice.tx(p, yvonne.addr, 100, 1, 0)
		blk := mpBlock(p, 1, miner, ax)
		tip := mpConnect(t, p, base, blk)
		m.Reorg(nil, []*chain.Block{blk}, tip)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{z, b}, names)
		mpApplies(t, p, tip, m.Txs())
	})
}

// TestReorgDependentTxs: the abandoned branch holds A (alice pays
// xavier), B (xavier, who had nothing before A, pays yvonne) and C
// (yvonne pays on what B gave her). All three are valid on the winning
// branch in that order, so all three come back, and the template mined
// from the pool holds them in dependency order and connects. Before, B
// and C were checked against confirmed balances only and lost.
func TestReorgDependentTxs(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	alice, xavier, yvonne, zed := testwallet.New("alice"), testwallet.New("xavier"), testwallet.New("yvonne"), testwallet.New("zed")
	h.fund(alice, 500)
	fork := h.tipHash()
	mp := chain.NewMempool(h.p)
	follow := func(ch *chain.Change) {
		if ch != nil {
			mp.Reorg(ch.Disconnected, ch.Connected, h.c)
		}
	}
	a := alice.Tx(h.p, xavier.Addr, 300, 1, 0)
	b := xavier.Tx(h.p, yvonne.Addr, 200, 7, 0)
	c := yvonne.Tx(h.p, zed.Addr, 150, 9, 0)
	// Losing branch: A and B in one block, C in the next.
	b1 := h.build(fork, []*chain.Transaction{a, b}, nil)
	ch, err := h.process(b1)
	if err != nil {
		t.Fatal(err)
	}
	follow(ch)
	b2 := h.build(b1.Hash(), []*chain.Transaction{c}, nil)
	if ch, err = h.process(b2); err != nil {
		t.Fatal(err)
	}
	follow(ch)

	// Winning branch: three empty blocks from another miner.
	other := testwallet.New("other miner")
	h.miner, other = other, h.miner
	parent := fork
	var last *chain.Change
	for i := range 3 {
		blk := h.build(parent, nil, nil)
		ch, err := h.sync(blk)
		if err != nil {
			t.Fatalf("winning block %d: %v", i, err)
		}
		if ch != nil {
			last = ch
		}
		parent = blk.Hash()
	}
	if last == nil || !last.Reorg() || len(last.Disconnected) != 2 {
		t.Fatal("no reorg of the two blocks")
	}
	follow(last)

	// Compared by id: the pool holds the copies the store gave back.
	sameIDs := func(what string, got []*chain.Transaction) {
		t.Helper()
		want := []*chain.Transaction{a, b, c}
		if len(got) != len(want) {
			t.Fatalf("%s: %d transactions, want A B C", what, len(got))
		}
		for i := range want {
			if got[i].ID() != want[i].ID() {
				t.Fatalf("%s: transaction %d is %s/%d, want %c", what, i, got[i].Sender[:6], got[i].Nonce, "ABC"[i])
			}
		}
	}
	sameIDs("Txs", mp.Txs())
	blk, err := h.c.Mine(ctx, mp, h.miner.Addr, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs("template", blk.Transactions[1:])
	if ch, err = h.process(blk); err != nil || ch == nil {
		t.Fatalf("the template's block does not connect: %v", err)
	}
	follow(ch)
	if mp.Len() != 0 {
		t.Fatalf("Len %d after mining everything", mp.Len())
	}
	if got := h.balance(zed.Addr); got != 150 {
		t.Fatalf("zed has %d, want 150", got)
	}
	_ = other
}

// TestMempoolReorgCreditChain: a chain of credits running against the
// order in which the senders first came (each sender's first transaction
// is independent; its second spends what the next sender's second paid
// it) survives a Reorg whole. Rebuilding the pool takes a sender again
// only when a credit to it got in, so this costs linear work, not a
// round over every sender per link.
func TestMempoolReorgCreditChain(t *testing.T) {
	p := chain.RegTest()
	const n = 100
	keys := make([]mpKey, n)
	state := mpState{}
	sink := newMPKey(250).addr
	for i := range keys {
		keys[i] = newMPKey(byte(100 + i))
		state[keys[i].addr] = chain.Account{Balance: 10}
	}
	state[keys[n-1].addr] = chain.Account{Balance: 1000}
	m := chain.NewMempool(p)
	for _, k := range keys {
		mpMustAdd(t, m, state, k.tx(p, sink, 5, 0, 0))
	}
	for i := n - 1; i > 0; i-- {
		mpMustAdd(t, m, state, keys[i].tx(p, keys[i-1].addr, 100, 1, 1))
	}
	before := m.Txs()
	mpApplies(t, p, state, before)
	m.Reorg(nil, nil, state)
	if m.Len() != len(before) || m.Len() != 2*n-1 {
		t.Fatalf("Len %d after Reorg, want %d", m.Len(), 2*n-1)
	}
	mpApplies(t, p, state, m.Txs())
}
