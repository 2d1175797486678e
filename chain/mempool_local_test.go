package chain_test

import (
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestMempoolReorgOverLimitKeepsLocal is the loss that 5-node testnet
// runs at full load showed: a reorganisation returned a block's
// transactions to full pools, each pool evicted its newest transactions,
// and a transaction its node had answered 201 for, refused by the other
// full pools, was evicted there too and existed nowhere. Peers'
// transactions go first now.
func TestMempoolReorgOverLimitKeepsLocal(t *testing.T) {
	f := newMPStale(t)
	p, bob, carol, sink, base, a0, blk, tip := f.p, f.bob, f.carol, f.sink, f.base, f.a0, f.blk, f.tip

	c0 := carol.tx(p, sink, 1, 1, 0) // from a peer
	b0, b1 := bob.tx(p, sink, 1, 1, 0), bob.tx(p, sink, 1, 1, 1)
	names := map[*chain.Transaction]string{a0: "a0", c0: "c0", b0: "b0", b1: "b1"}

	for _, c := range []struct {
		name  string
		local bool
		// b1First: b1 waits in the queue until b0 comes, then is
		// promoted; local still.
		b1First bool
		want    []*chain.Transaction
	}{
		// Equal fees: the newest chain end goes, bob's b1.
		{"all from peers", false, false, []*chain.Transaction{a0, c0, b0}},
		// bob's are local: carol's c0, a peer's, goes instead.
		{"bob's local", true, false, []*chain.Transaction{a0, b0, b1}},
		{"bob's local, b1 queued first", true, true, []*chain.Transaction{a0, b0, b1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := chain.NewMempool(p, chain.WithMaxTxs(3))
			mpMustAdd(t, m, tip, c0)
			order := []*chain.Transaction{b0, b1}
			if c.b1First {
				order = []*chain.Transaction{b1, b0}
			}
			for _, tx := range order {
				add := m.AddVerified
				if c.local {
					add = m.AddLocal
				}
				if err := add(tx, tip); err != nil && !(c.b1First && tx == b1 && errors.Is(err, chain.ErrTxQueued)) {
					t.Fatalf("add %s: %v", names[tx], err)
				}
			}
			mpSame(t, "Txs before", m.Txs(), []*chain.Transaction{c0, b0, b1}, names)
			// The block is abandoned: a0 comes back, four for three places.
			m.Reorg([]*chain.Block{blk}, nil, base)
			mpSame(t, "Txs", m.Txs(), c.want, names)
		})
	}
}

// TestMempoolReorgReturnsOwnAsLocal is the loss the 5-node testnet at
// 250 ms blocks showed once its load kept every sender busy: a node's
// own transaction left its pool in a block, the block went stale, and
// the transaction came back as a peer's into pools full of their own
// clients' transactions, so every node evicted it. The node whose client
// submitted it keeps it now, before its peers' transactions.
func TestMempoolReorgReturnsOwnAsLocal(t *testing.T) {
	f := newMPStale(t)
	p, bob, carol, sink, base, a0, blk, tip := f.p, f.bob, f.carol, f.sink, f.base, f.a0, f.blk, f.tip
	// Peers' transactions pay more: a0, a peer's, is the cheapest.
	c0 := carol.tx(p, sink, 1, 2, 0)
	b0, b1 := bob.tx(p, sink, 1, 2, 0), bob.tx(p, sink, 1, 2, 1)
	names := map[*chain.Transaction]string{a0: "a0", c0: "c0", b0: "b0", b1: "b1"}

	for _, c := range []struct {
		name  string
		local bool
		want  []*chain.Transaction
	}{
		{"a0 a peer's", false, []*chain.Transaction{c0, b0, b1}},
		// a0 was this node's own: a peer's goes instead (the newest chain end).
		{"a0 this node's own", true, []*chain.Transaction{c0, b0, a0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := chain.NewMempool(p, chain.WithMaxTxs(3))
			add := m.AddVerified
			if c.local {
				add = m.AddLocal
			}
			if err := add(a0, base); err != nil {
				t.Fatalf("add a0: %v", err)
			}
			m.Reorg(nil, []*chain.Block{blk}, tip) // a0 leaves in the block
			mpMustAdd(t, m, tip, c0, b0, b1)
			// The block goes stale: a0 comes back, four for three places.
			m.Reorg([]*chain.Block{blk}, nil, base)
			mpSame(t, "Txs", m.Txs(), c.want, names)
		})
	}
}

// TestMempoolFullKeepsLocal: a peer's transaction never evicts a local
// one, whatever its fee; a local one evicts as any transaction does.
func TestMempoolFullKeepsLocal(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol, dave := newMPKey(1), newMPKey(2), newMPKey(3), newMPKey(4)
	sink := newMPKey(9).addr
	state := mpFunded(alice, bob, carol, dave)
	la, lb := alice.tx(p, sink, 1, 1, 0), bob.tx(p, sink, 1, 1, 0)

	m := chain.NewMempool(p, chain.WithMaxTxs(2))
	for _, tx := range []*chain.Transaction{la, lb} {
		if err := m.AddLocal(tx, state); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Add(carol.tx(p, sink, 1, 50, 0), state); !errors.Is(err, chain.ErrMempoolFull) {
		t.Fatalf("a peer's fee-50 transaction into a pool of local fee-1 ones: %v, want ErrMempoolFull", err)
	}
	if !m.Has(la.ID()) || !m.Has(lb.ID()) {
		t.Fatal("a local transaction was evicted for a peer's")
	}
	ld := dave.tx(p, sink, 1, 50, 0)
	if err := m.AddLocal(ld, state); err != nil {
		t.Fatalf("a local fee-50 transaction: %v, want it to evict a local fee-1 one", err)
	}
	if m.Len() != 2 || !m.Has(ld.ID()) || m.Has(lb.ID()) {
		t.Fatalf("after the local fee-50 one: Len %d, has it %v, has bob's (newest fee-1) %v", m.Len(), m.Has(ld.ID()), m.Has(lb.ID()))
	}
}

// mpFunded is a ledger where each key holds 100 coins.
func mpFunded(keys ...mpKey) mpState {
	s := mpState{}
	for _, k := range keys {
		s[k.addr] = chain.Account{Balance: 100}
	}
	return s
}

// mpOneBlock is block 1 holding txs on base, and the ledger after it.
func mpOneBlock(t testing.TB, p *chain.Params, base chain.AccountReader, txs ...*chain.Transaction) (*chain.Block, chain.AccountReader) {
	t.Helper()
	blk := mpBlock(p, 1, newMPKey(9).addr, txs...)
	return blk, mpConnect(t, p, base, blk)
}

// mpStale is a block 1 holding alice's a0 on a ledger funding alice, bob
// and carol, for the tests of a block that goes stale.
type mpStale struct {
	p          *chain.Params
	bob, carol mpKey
	sink       string
	base       mpState
	a0         *chain.Transaction
	blk        *chain.Block
	tip        chain.AccountReader
}

func newMPStale(t testing.TB) mpStale {
	t.Helper()
	f := mpStale{p: chain.RegTest(), bob: newMPKey(2), carol: newMPKey(3), sink: newMPKey(9).addr}
	alice := newMPKey(1)
	f.base = mpFunded(alice, f.bob, f.carol)
	f.a0 = alice.tx(f.p, f.sink, 1, 1, 0)
	f.blk, f.tip = mpOneBlock(t, f.p, f.base, f.a0)
	return f
}
