package chain_test

import (
	"errors"
	"fmt"
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

// TestMempoolKeepsLocal is the rule that ends the loss of the 5-node
// testnet offered more than it carries (docs/benchmarks.md, "None lost
// when the five nodes are offered more than they carry"): a transaction
// the node answered its client for (AddLocal) leaves only in a block,
// whatever pays more and whatever a reorganisation returns; what does
// not fit beside it is refused at entry. Peers' transactions stay
// evictable by anything paying more.
func TestMempoolKeepsLocal(t *testing.T) {
	f := newMPStale(t)
	p, alice, bob, carol, dave, sink := f.p, newMPKey(1), f.bob, f.carol, newMPKey(4), f.sink
	state := mpFunded(alice, bob, carol, dave)
	local := func(m *chain.Mempool, s chain.AccountReader, txs ...*chain.Transaction) error {
		for _, tx := range txs {
			if err := m.AddLocal(tx, s); err != nil && !errors.Is(err, chain.ErrTxQueued) {
				return err
			}
		}
		return nil
	}
	peer := func(m *chain.Mempool, s chain.AccountReader, txs ...*chain.Transaction) error {
		for _, tx := range txs {
			if err := m.Add(tx, s); err != nil && !errors.Is(err, chain.ErrTxQueued) {
				return err
			}
		}
		return nil
	}
	la, lb := alice.tx(p, sink, 1, 1, 0), bob.tx(p, sink, 1, 1, 0)
	pc1, pc50 := carol.tx(p, sink, 1, 1, 0), carol.tx(p, sink, 1, 50, 0)
	ld1, ld2, ld50 := dave.tx(p, sink, 1, 1, 0), dave.tx(p, sink, 1, 2, 0), dave.tx(p, sink, 1, 50, 0)
	// Nonce 1 of each, with nonce 0 nowhere: they wait in the queue.
	qa, qb, qc := alice.tx(p, sink, 1, 1, 1), bob.tx(p, sink, 1, 1, 1), carol.tx(p, sink, 1, 1, 1)
	b0, b1, c0 := bob.tx(p, sink, 1, 1, 0), bob.tx(p, sink, 1, 1, 1), carol.tx(p, sink, 1, 1, 0)
	dq0, dq1, dq2 := dave.tx(p, sink, 1, 1, 0), dave.tx(p, sink, 1, 1, 1), dave.tx(p, sink, 1, 1, 2)

	for _, c := range []struct {
		name  string
		opts  []chain.MempoolOption
		setup func(*chain.Mempool) error
		act   func(*chain.Mempool) error
		want  error // of act
		keep  []*chain.Transaction
		gone  []*chain.Transaction
		len   int // pending after act
	}{
		{"a peer's never evicts a local one", nil,
			func(m *chain.Mempool) error { return local(m, state, la, lb) },
			func(m *chain.Mempool) error { return peer(m, state, pc50) },
			chain.ErrMempoolFull, []*chain.Transaction{la, lb}, []*chain.Transaction{pc50}, 2},
		{"a local one never evicts a local one, whatever it pays", nil,
			func(m *chain.Mempool) error { return local(m, state, la, lb) },
			func(m *chain.Mempool) error { return local(m, state, ld50) },
			chain.ErrMempoolFull, []*chain.Transaction{la, lb}, []*chain.Transaction{ld50}, 2},
		{"a local one evicts a peer's paying less", nil,
			func(m *chain.Mempool) error { return errors.Join(local(m, state, la), peer(m, state, pc1)) },
			func(m *chain.Mempool) error { return local(m, state, ld2) },
			nil, []*chain.Transaction{la, ld2}, []*chain.Transaction{pc1}, 2},
		{"a peer's evicts a peer's paying less", nil,
			func(m *chain.Mempool) error { return errors.Join(local(m, state, la), peer(m, state, pc1)) },
			func(m *chain.Mempool) error { return peer(m, state, ld2) },
			nil, []*chain.Transaction{la, ld2}, []*chain.Transaction{pc1}, 2},
		{"a local one does not evict a peer's paying as much", nil,
			func(m *chain.Mempool) error { return errors.Join(local(m, state, la), peer(m, state, pc1)) },
			func(m *chain.Mempool) error { return local(m, state, ld1) },
			chain.ErrMempoolFull, []*chain.Transaction{la, pc1}, []*chain.Transaction{ld1}, 2},
		{"a reorganisation keeps its node's own over the limit", nil,
			func(m *chain.Mempool) error {
				err := local(m, f.base, f.a0)
				m.Reorg(nil, []*chain.Block{f.blk}, f.tip) // a0 leaves in the block
				return errors.Join(err, local(m, f.tip, b0, c0))
			},
			func(m *chain.Mempool) error {
				m.Reorg([]*chain.Block{f.blk}, nil, f.base) // a0 comes back: three for two places
				return local(m, f.base, b1)                 // and the pool refuses more
			},
			chain.ErrMempoolFull, []*chain.Transaction{f.a0, b0, c0}, []*chain.Transaction{b1}, 3},
		{"the queue drops a peer's, not a local one, for a peer's", []chain.MempoolOption{chain.WithMaxQueued(2)},
			func(m *chain.Mempool) error { return errors.Join(local(m, state, qa), peer(m, state, qb)) },
			func(m *chain.Mempool) error { return peer(m, state, qc) },
			nil, []*chain.Transaction{qa, qc}, []*chain.Transaction{qb}, 0},
		{"the queue drops a peer's for a local one", []chain.MempoolOption{chain.WithMaxQueued(2)},
			func(m *chain.Mempool) error { return errors.Join(peer(m, state, qa), peer(m, state, qb)) },
			func(m *chain.Mempool) error { return local(m, state, qc) },
			nil, []*chain.Transaction{qb, qc}, []*chain.Transaction{qa}, 0},
		{"the node's own take at most half the queue", []chain.MempoolOption{chain.WithMaxQueued(2)},
			func(m *chain.Mempool) error { return local(m, state, qa) },
			func(m *chain.Mempool) error { return local(m, state, qb) },
			chain.ErrMempoolFull, []*chain.Transaction{qa}, []*chain.Transaction{qb}, 0},
		{"the node's own take at most three quarters of the pool", []chain.MempoolOption{chain.WithMaxTxs(4)},
			func(m *chain.Mempool) error { return local(m, state, la, lb, ld1) },
			func(m *chain.Mempool) error { return local(m, state, pc1) },
			chain.ErrMempoolFull, []*chain.Transaction{la, lb, ld1}, []*chain.Transaction{pc1}, 3},
		{"a peer's finds the quarter left", []chain.MempoolOption{chain.WithMaxTxs(4)},
			func(m *chain.Mempool) error { return local(m, state, la, lb, ld1) },
			func(m *chain.Mempool) error { return peer(m, state, pc1) },
			nil, []*chain.Transaction{la, lb, ld1, pc1}, nil, 4},
		{"a peer's copy the client submits becomes the node's own", nil,
			func(m *chain.Mempool) error { return peer(m, state, pc1, la) },
			func(m *chain.Mempool) error {
				if err := m.AddLocal(la, state); !errors.Is(err, chain.ErrTxInPool) {
					return fmt.Errorf("AddLocal of a held copy: %w", err)
				}
				// Without the adoption la, the newest at the same fee,
				// would go.
				return peer(m, state, ld50)
			},
			nil, []*chain.Transaction{la, ld50}, []*chain.Transaction{pc1}, 2},
		{"a queued peer's copy the client submits becomes the node's own", []chain.MempoolOption{chain.WithMaxQueued(2)},
			func(m *chain.Mempool) error { return peer(m, state, qa, qb) },
			func(m *chain.Mempool) error {
				if err := m.AddLocal(qa, state); !errors.Is(err, chain.ErrTxInPool) {
					return fmt.Errorf("AddLocal of a held copy: %w", err)
				}
				return peer(m, state, qc) // the oldest peer's was qa; now qb goes
			},
			nil, []*chain.Transaction{qa, qc}, []*chain.Transaction{qb}, 0},
		// Four places, three the node's own at most: d1 and d2 wait for
		// d0; once it comes the node's own fill their share, and they
		// stay queued rather than take the place left to peers.
		{"a queued local one is promoted only within the share", []chain.MempoolOption{chain.WithMaxTxs(4), chain.WithMaxQueued(4)},
			func(m *chain.Mempool) error { return local(m, state, la, lb, dq1, dq2) },
			func(m *chain.Mempool) error { return errors.Join(local(m, state, dq0), peer(m, state, pc1)) },
			nil, []*chain.Transaction{la, lb, dq0, pc1, dq1, dq2}, nil, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := chain.NewMempool(p, append([]chain.MempoolOption{chain.WithMaxTxs(2)}, c.opts...)...)
			if err := c.setup(m); err != nil {
				t.Fatalf("setup: %v", err)
			}
			if err := c.act(m); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, tx := range c.keep {
				if !m.Has(tx.ID()) {
					t.Errorf("%s nonce %d fee %d was dropped", tx.Sender, tx.Nonce, tx.Fee)
				}
			}
			for _, tx := range c.gone {
				if m.Has(tx.ID()) {
					t.Errorf("%s nonce %d fee %d is held", tx.Sender, tx.Nonce, tx.Fee)
				}
			}
			if m.Len() != c.len {
				t.Errorf("Len %d, want %d", m.Len(), c.len)
			}
		})
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
