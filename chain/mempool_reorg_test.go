package chain_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// mpReorgFixture is a fork at height 0. The old branch D1 holds a0, c0, d0
// and the pool at its tip holds a1, b0, c1, d1. The new branch N1, N2
// holds a double spend of alice's nonce 0 that leaves her 9 coins, c0
// again, and b0.
type mpReorgFixture struct {
	p                               *chain.Params
	alice, bob, carol, dave         mpKey
	base, oldTip, newTip            chain.AccountReader
	a0, a0x, c0, d0, a1, b0, c1, d1 *chain.Transaction
	d1Block, n1Block, n2Block       *chain.Block
	names                           map[*chain.Transaction]string
	pool                            *chain.Mempool
}

func newMPReorgFixture(t *testing.T, opts ...chain.MempoolOption) *mpReorgFixture {
	p := chain.RegTest()
	f := &mpReorgFixture{p: p, alice: newMPKey(1), bob: newMPKey(2), carol: newMPKey(3), dave: newMPKey(4)}
	miner := newMPKey(9).addr
	f.base = mpState{f.alice.addr: {Balance: 1000}, f.bob.addr: {Balance: 1000}, f.carol.addr: {Balance: 1000}, f.dave.addr: {Balance: 1000}}
	f.a0 = f.alice.tx(p, f.bob.addr, 10, 1, 0)
	f.a0x = f.alice.tx(p, f.carol.addr, 990, 1, 0)
	f.c0 = f.carol.tx(p, f.bob.addr, 10, 1, 0)
	f.d0 = f.dave.tx(p, f.bob.addr, 10, 1, 0)
	f.a1 = f.alice.tx(p, f.bob.addr, 10, 1, 1)
	f.b0 = f.bob.tx(p, f.carol.addr, 10, 1, 0)
	f.c1 = f.carol.tx(p, f.bob.addr, 10, 1, 1)
	f.d1 = f.dave.tx(p, f.bob.addr, 10, 1, 1)
	f.names = map[*chain.Transaction]string{f.a0: "a0", f.a0x: "a0x", f.c0: "c0", f.d0: "d0", f.a1: "a1", f.b0: "b0", f.c1: "c1", f.d1: "d1"}

	f.d1Block = mpBlock(p, 1, miner, f.a0, f.c0, f.d0)
	f.n1Block = mpBlock(p, 1, miner, f.a0x, f.c0)
	f.n2Block = mpBlock(p, 2, miner, f.b0)
	f.oldTip = mpConnect(t, p, f.base, f.d1Block)
	f.newTip = mpConnect(t, p, f.base, f.n1Block, f.n2Block)

	f.pool = chain.NewMempool(p, opts...)
	mpMustAdd(t, f.pool, f.oldTip, f.a1, f.b0, f.c1, f.d1)
	return f
}

func TestMempoolReorg(t *testing.T) {
	f := newMPReorgFixture(t)
	m := f.pool
	m.Reorg([]*chain.Block{f.d1Block}, []*chain.Block{f.n1Block, f.n2Block}, f.newTip)

	for _, c := range []struct {
		what string
		tx   *chain.Transaction
		want bool
	}{
		{"b0, included in N2, leaves", f.b0, false},
		{"d0, only in the abandoned D1, comes back", f.d0, true},
		{"c0, in D1 and again in N1, does not come back", f.c0, false},
		{"a0, its nonce spent by a0x in N1, does not come back", f.a0, false},
		{"a1, no longer covered by alice's balance, drops", f.a1, false},
		{"c1 stays", f.c1, true},
		{"d1 stays", f.d1, true},
	} {
		if m.Has(c.tx.ID()) != c.want {
			t.Errorf("%s: Has = %v", c.what, !c.want)
		}
	}
	// Equal fees: arrival order, with d0 from the abandoned block first.
	mpSame(t, "Txs", m.Txs(), []*chain.Transaction{f.d0, f.c1, f.d1}, f.names)
	mpSame(t, "Pending(dave)", m.Pending(f.dave.addr), []*chain.Transaction{f.d0, f.d1}, f.names)
	if m.Len() != 3 || m.Bytes() != 3*f.d0.EncodedSize() {
		t.Fatalf("Len %d Bytes %d after reorg", m.Len(), m.Bytes())
	}
	mpApplies(t, f.p, f.newTip, m.Txs())

	// The pool now follows the new tip: alice may spend what she has left.
	mpMustAdd(t, m, f.newTip, f.alice.tx(f.p, f.bob.addr, 8, 1, 1), f.dave.tx(f.p, f.bob.addr, 1, 1, 2))
}

func TestMempoolReorgBack(t *testing.T) {
	// Reorg to N2 and then back to D1: what N1 and N2 included returns,
	// what D1 includes does not, and the rest of the pool survives both.
	f := newMPReorgFixture(t)
	m := f.pool
	m.Reorg([]*chain.Block{f.d1Block}, []*chain.Block{f.n1Block, f.n2Block}, f.newTip)
	m.Reorg([]*chain.Block{f.n2Block, f.n1Block}, []*chain.Block{f.d1Block}, f.oldTip)
	// From N1 and N2 (oldest first) a0x and b0 return, c0 does not (D1
	// has it); a0x drops, alice's nonce 0 being spent by a0 in D1. d0
	// leaves, D1 including it; c1 and d1 keep their order after b0.
	mpSame(t, "Txs", m.Txs(), []*chain.Transaction{f.b0, f.c1, f.d1}, f.names)
	mpApplies(t, f.p, f.oldTip, m.Txs())
}

func TestMempoolReorgNewBlock(t *testing.T) {
	// A plain new block: no disconnection, only what it includes leaves,
	// and the rest keeps its order.
	f := newMPReorgFixture(t)
	m := f.pool
	blk := mpBlock(f.p, 2, newMPKey(9).addr, f.c1)
	tip := mpConnect(t, f.p, f.oldTip, blk)
	m.Reorg(nil, []*chain.Block{blk}, tip)
	mpSame(t, "Txs", m.Txs(), []*chain.Transaction{f.a1, f.b0, f.d1}, f.names)
}

func TestMempoolReorgOverLimit(t *testing.T) {
	// Returned transactions may take the pool over its limit: the cheapest
	// ends of chains are evicted, never a middle.
	f := newMPReorgFixture(t, chain.WithMaxTxs(4))
	m := f.pool
	m.Reorg([]*chain.Block{f.d1Block}, nil, f.base)
	if m.Len() != 4 {
		t.Fatalf("Len %d, want the limit 4", m.Len())
	}
	mpApplies(t, f.p, f.base, m.Txs())
	// Seven candidates apply to the base (a0 a1 c0 c1 d0 d1 b0); the three
	// newest chain ends go: d1, c1, b0.
	mpSame(t, "Txs", m.Txs(), []*chain.Transaction{f.a0, f.c0, f.d0, f.a1}, f.names)
}

func TestMempoolReorgKeepsOnReadError(t *testing.T) {
	// A state that cannot be read must not empty the pool.
	f := newMPReorgFixture(t)
	m := f.pool
	m.Reorg(nil, nil, mpBrokenState{})
	if m.Len() != 4 {
		t.Fatalf("Len %d after a reorg on an unreadable state, want 4", m.Len())
	}
}

func TestMempoolReorgUnsigned(t *testing.T) {
	p := chain.OpenNet()
	old := mpOpenTx("alice", "bob", 1, 0, 0)
	both := mpOpenTx("carol", "bob", 2, 0, 0)
	pending := mpOpenTx("dave", "bob", 3, 0, 0)
	included := mpOpenTx("erin", "bob", 4, 0, 0)
	m := chain.NewMempool(p)
	mpMustAdd(t, m, mpState{}, pending, included)
	m.Reorg([]*chain.Block{mpBlock(p, 1, "miner", old, both)}, []*chain.Block{mpBlock(p, 1, "miner", both, included)}, mpState{})
	mpSame(t, "Txs", m.Txs(), []*chain.Transaction{old, pending}, nil)
}
