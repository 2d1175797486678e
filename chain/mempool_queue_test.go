package chain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// mpClock is a fake clock for the queue's expiry.
type mpClock struct{ t time.Time }

func (c *mpClock) now() time.Time          { return c.t }
func (c *mpClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestMempoolQueueOutOfOrder: GossipSub validates concurrently, so a
// sender's nonces may come in any order. Whatever the order, all end up
// pending in nonce order, nothing stays queued, and Select takes them in
// nonce order. Before the queue, a nonce that came early was refused as a
// gap, ignored by gossip, and never offered again: lost to that peer.
func TestMempoolQueueOutOfOrder(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	state := mpState{alice.addr: {Balance: 1000, Nonce: 5}}
	for _, order := range [][]uint64{
		{1, 0},
		{2, 1, 0},
		{2, 0, 1},
		{1, 3, 2, 0},
		{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			m := chain.NewMempool(p)
			txs := make([]*chain.Transaction, len(order))
			for i := range txs {
				// Fees rising with the nonce: fee order alone would take
				// the last nonce first.
				txs[i] = alice.tx(p, bob.addr, 10, uint64(i), 5+uint64(i))
			}
			for k, n := range order {
				err := m.Add(txs[n], state)
				switch {
				case n == 0 || k == len(order)-1 && err == nil:
				case errors.Is(err, chain.ErrTxQueued):
					if !errors.Is(err, chain.ErrBadNonce) {
						t.Fatalf("queued error %v does not match ErrBadNonce", err)
					}
				default:
					if err != nil {
						t.Fatalf("Add nonce +%d: %v", n, err)
					}
				}
				if !m.Has(txs[n].ID()) {
					t.Fatalf("nonce +%d not held after Add", n)
				}
				if err := m.Add(txs[n], state); !errors.Is(err, chain.ErrTxInPool) {
					t.Fatalf("nonce +%d again: %v, want ErrTxInPool", n, err)
				}
			}
			if m.Queued() != 0 || m.Len() != len(txs) {
				t.Fatalf("Queued %d Len %d, want 0 and %d", m.Queued(), m.Len(), len(txs))
			}
			mpSame(t, "Pending", m.Pending(alice.addr), txs, nil)
			mpSame(t, "Select", m.Select(100, chain.MaxBlockSize), txs, nil)
		})
	}
}

// TestMempoolQueueBounds: the queue is bounded by the nonce window, per
// sender, and in count and bytes, and refuses what its sender could not
// pay even alone.
func TestMempoolQueueBounds(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol, dave := newMPKey(1), newMPKey(2), newMPKey(3), newMPKey(4)
	state := mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: 1000}, carol.addr: {Balance: 1000}, dave.addr: {Balance: 5}}
	size := alice.tx(p, bob.addr, 1, 0, 1).EncodedSize()
	type add struct {
		tx   *chain.Transaction
		want error // chain.ErrTxQueued when it is held
	}
	a := func(n uint64) *chain.Transaction { return alice.tx(p, bob.addr, 1, 0, n) }
	tests := []struct {
		name   string
		opts   []chain.MempoolOption
		adds   []add
		queued []*chain.Transaction // held at the end
	}{
		{name: "window edge", opts: []chain.MempoolOption{chain.WithQueueWindow(4)},
			adds:   []add{{a(4), chain.ErrTxQueued}, {a(5), chain.ErrBadNonce}},
			queued: []*chain.Transaction{a(4)}},
		{name: "queue off", opts: []chain.MempoolOption{chain.WithQueueWindow(0)},
			adds: []add{{a(1), chain.ErrBadNonce}}},
		{name: "per sender keeps the nearest", opts: []chain.MempoolOption{chain.WithMaxQueuedPerSender(2)},
			adds: []add{{a(3), chain.ErrTxQueued}, {a(2), chain.ErrTxQueued}, {a(4), chain.ErrSenderLimit},
				{a(1), chain.ErrTxQueued}, {bob.tx(p, alice.addr, 1, 0, 1), chain.ErrTxQueued}},
			queued: []*chain.Transaction{a(1), a(2), bob.tx(p, alice.addr, 1, 0, 1)}},
		{name: "count: the oldest far end goes", opts: []chain.MempoolOption{chain.WithMaxQueued(3)},
			adds: []add{{a(1), chain.ErrTxQueued}, {bob.tx(p, alice.addr, 1, 0, 2), chain.ErrTxQueued},
				{a(2), chain.ErrTxQueued}, {carol.tx(p, alice.addr, 1, 0, 1), chain.ErrTxQueued}},
			// alice's far end a2 is newer than bob's b2: b2 goes.
			queued: []*chain.Transaction{a(1), a(2), carol.tx(p, alice.addr, 1, 0, 1)}},
		{name: "bytes", opts: []chain.MempoolOption{chain.WithMaxQueuedBytes(2*size + size/2)},
			adds: []add{{a(1), chain.ErrTxQueued}, {bob.tx(p, alice.addr, 1, 0, 1), chain.ErrTxQueued},
				{carol.tx(p, alice.addr, 1, 0, 1), chain.ErrTxQueued}},
			queued: []*chain.Transaction{bob.tx(p, alice.addr, 1, 0, 1), carol.tx(p, alice.addr, 1, 0, 1)}},
		{name: "unaffordable alone", adds: []add{{dave.tx(p, alice.addr, 5, 1, 1), chain.ErrInsufficientFunds}}},
		{name: "another transaction for a queued nonce", adds: []add{{a(1), chain.ErrTxQueued},
			{alice.tx(p, carol.addr, 1, 9, 1), chain.ErrBadNonce}}, queued: []*chain.Transaction{a(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := chain.NewMempool(p, tc.opts...)
			for i, ad := range tc.adds {
				err := m.Add(ad.tx, state)
				if !errors.Is(err, ad.want) {
					t.Fatalf("add %d (%s/%d): %v, want %v", i, ad.tx.Sender[:6], ad.tx.Nonce, err, ad.want)
				}
				if ad.want != chain.ErrTxQueued && errors.Is(err, chain.ErrTxQueued) {
					t.Fatalf("add %d: queued, want refused with %v", i, ad.want)
				}
			}
			if m.Len() != 0 {
				t.Fatalf("Len %d: nothing may be pending", m.Len())
			}
			if m.Queued() != len(tc.queued) || m.QueuedBytes() != len(tc.queued)*size {
				t.Fatalf("Queued %d (%d bytes), want %d", m.Queued(), m.QueuedBytes(), len(tc.queued))
			}
			for _, tx := range tc.queued {
				if !m.Has(tx.ID()) {
					t.Fatalf("%s/%d not queued", tx.Sender[:6], tx.Nonce)
				}
				if _, ok := m.Get(tx.ID()); ok {
					t.Fatal("Get returns a queued transaction: it is not pending")
				}
			}
			if len(m.Txs()) != 0 || len(m.Select(100, chain.MaxBlockSize)) != 0 {
				t.Fatal("queued transactions are selected")
			}
		})
	}
}

// queueTTLPool returns a pool whose queue keeps transactions 10 minutes
// by a fake clock, and two funded senders with no pending transactions.
func queueTTLPool() (*chain.Params, *chain.Mempool, *mpClock, mpState, mpKey, mpKey) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	clock := &mpClock{t: time.Unix(1_000_000, 0)}
	m := chain.NewMempool(p, chain.WithMempoolClock(clock.now), chain.WithQueueTTL(10*time.Minute))
	return p, m, clock, mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: 1000}}, alice, bob
}

// TestMempoolQueueExpiry: a held transaction whose predecessor never comes
// is dropped after the TTL, whether anyone looks or not; one whose
// predecessor comes in time is promoted.
func TestMempoolQueueExpiry(t *testing.T) {
	p, m, clock, state, alice, bob := queueTTLPool()
	a1, b1 := alice.tx(p, bob.addr, 1, 0, 1), bob.tx(p, alice.addr, 1, 0, 1)
	if err := m.Add(a1, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatal(err)
	}
	clock.advance(6 * time.Minute)
	if err := m.Add(b1, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatal(err)
	}
	clock.advance(4*time.Minute - time.Millisecond)
	if m.Queued() != 2 {
		t.Fatalf("Queued %d before the TTL, want 2", m.Queued())
	}
	clock.advance(time.Millisecond)
	if m.Queued() != 1 || m.Has(a1.ID()) {
		t.Fatalf("a1 not dropped at the TTL: Queued %d", m.Queued())
	}
	// b1's predecessor comes in time: b1 is promoted.
	b0 := bob.tx(p, alice.addr, 1, 0, 0)
	mpMustAdd(t, m, state, b0)
	mpSame(t, "Pending(bob)", m.Pending(bob.addr), []*chain.Transaction{b0, b1}, nil)
	// a1's comes too late: a1 is gone for good.
	mpMustAdd(t, m, state, alice.tx(p, bob.addr, 1, 0, 0))
	if m.Has(a1.ID()) || m.Queued() != 0 || m.Len() != 3 {
		t.Fatalf("after the TTL: has a1 %v, Queued %d, Len %d", m.Has(a1.ID()), m.Queued(), m.Len())
	}

	// Expiry also runs at every tip change, with nobody adding anything.
	m.Reorg(nil, nil, state)
	c2 := bob.tx(p, alice.addr, 1, 0, 3)
	if err := m.Add(c2, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatal(err)
	}
	clock.advance(11 * time.Minute)
	m.Reorg(nil, nil, state)
	if m.Has(c2.ID()) {
		t.Fatal("expired transaction survived a Reorg")
	}
}

// TestMempoolQueueExpiryOlderLater: a transaction queued after another
// but admitted before it (read back from mempool.dat, or held again by
// a reorg, with its first admission time) expires at its own TTL, not at
// the first one's.
func TestMempoolQueueExpiryOlderLater(t *testing.T) {
	p, m, clock, state, alice, bob := queueTTLPool()
	a1, b1 := alice.tx(p, bob.addr, 1, 0, 1), bob.tx(p, alice.addr, 1, 0, 1)
	if err := m.Add(a1, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatal(err)
	}
	if err := m.AddVerifiedSince(b1, state, clock.now().Add(-9*time.Minute)); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	if n := m.Queued(); n != 1 || m.Has(b1.ID()) || !m.Has(a1.ID()) {
		t.Fatalf("a minute on: %d queued, has b1 %v (admitted 10 minutes ago), has a1 %v (1 minute ago)", n, m.Has(b1.ID()), m.Has(a1.ID()))
	}
}

// TestMempoolQueuePromotion: queued transactions are promoted when a
// block confirms the missing nonces, with their balance checked then; a
// block that spends their nonce drops them.
func TestMempoolQueuePromotion(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	miner := newMPKey(9).addr
	base := mpState{alice.addr: {Balance: 100}}
	a0 := alice.tx(p, bob.addr, 10, 1, 0)
	a1 := alice.tx(p, bob.addr, 10, 1, 1)
	a2 := alice.tx(p, bob.addr, 70, 1, 2)

	t.Run("confirmed by a block", func(t *testing.T) {
		m := chain.NewMempool(p)
		for _, tx := range []*chain.Transaction{a2, a1} {
			if err := m.Add(tx, base); !errors.Is(err, chain.ErrTxQueued) {
				t.Fatalf("Add nonce %d: %v", tx.Nonce, err)
			}
		}
		// a0 never reached this node; a block mined elsewhere has it.
		blk := mpBlock(p, 1, miner, a0)
		tip := mpConnect(t, p, base, blk)
		m.Reorg(nil, []*chain.Block{blk}, tip)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{a1, a2}, nil)
		if m.Queued() != 0 {
			t.Fatalf("Queued %d after promotion", m.Queued())
		}
		mpApplies(t, p, tip, m.Txs())
	})

	t.Run("balance checked at promotion", func(t *testing.T) {
		m := chain.NewMempool(p)
		// Each is affordable alone, so each is queued; together with a0
		// and a1, a2 is not.
		for _, tx := range []*chain.Transaction{a2, a1} {
			if err := m.Add(tx, base); !errors.Is(err, chain.ErrTxQueued) {
				t.Fatalf("Add nonce %d: %v", tx.Nonce, err)
			}
		}
		mpMustAdd(t, m, base, alice.tx(p, bob.addr, 60, 1, 0))
		// a1 follows on and fits (61 + 11); a2 (71 more) does not: dropped.
		if !m.Has(a1.ID()) || m.Has(a2.ID()) || m.Len() != 2 || m.Queued() != 0 {
			t.Fatalf("has a1 %v a2 %v, Len %d, Queued %d", m.Has(a1.ID()), m.Has(a2.ID()), m.Len(), m.Queued())
		}
	})

	t.Run("nonce spent by the new tip", func(t *testing.T) {
		m := chain.NewMempool(p)
		if err := m.Add(a1, base); !errors.Is(err, chain.ErrTxQueued) {
			t.Fatal(err)
		}
		a1x := alice.tx(p, bob.addr, 11, 1, 1) // a double spend of nonce 1
		blk := mpBlock(p, 1, miner, a0, a1x)
		tip := mpConnect(t, p, base, blk)
		m.Reorg(nil, []*chain.Block{blk}, tip)
		if m.Has(a1.ID()) || m.Queued() != 0 || m.Len() != 0 {
			t.Fatalf("a1 outlived its nonce: Queued %d, Len %d", m.Queued(), m.Len())
		}
	})

	t.Run("gap left by a reorg waits in the queue", func(t *testing.T) {
		// a0, big1, a2' pending on the old tip; the new tip spends alice's
		// nonce 0 and most of her balance, so that big1 no longer fits:
		// it drops, and the nonce after it waits for another nonce 1.
		m := chain.NewMempool(p)
		big1, small2 := alice.tx(p, bob.addr, 30, 1, 1), alice.tx(p, bob.addr, 1, 1, 2)
		mpMustAdd(t, m, base, a0, big1, small2)
		spend := alice.tx(p, newMPKey(5).addr, 80, 0, 0)
		blk := mpBlock(p, 1, miner, spend)
		tip := mpConnect(t, p, base, blk)
		m.Reorg(nil, []*chain.Block{blk}, tip)
		if m.Len() != 0 || m.Queued() != 1 || !m.Has(small2.ID()) {
			t.Fatalf("Len %d Queued %d, has small2 %v; want only small2, queued", m.Len(), m.Queued(), m.Has(small2.ID()))
		}
		mpMustAdd(t, m, tip, a1)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{a1, small2}, nil)
		mpApplies(t, p, tip, m.Txs())
	})
}

// BenchmarkMempoolAddReversed adds each sender's 16 transactions last
// nonce first: fifteen wait in the queue, and the sixteenth promotes
// them all. Compare with BenchmarkMempoolAdd, the same in nonce order.
func BenchmarkMempoolAddReversed(b *testing.B) {
	p := chain.RegTest()
	const senders, perSender = 256, 16
	txs, state := mpSigned(p, senders, perSender)
	// mpSigned is nonce-major: txs[n*senders+i] is sender i's nonce n.
	order := make([]*chain.Transaction, 0, len(txs))
	for i := range senders {
		for n := perSender - 1; n >= 0; n-- {
			order = append(order, txs[n*senders+i])
		}
	}
	m := chain.NewMempool(p)
	i := 0
	for b.Loop() {
		if i == len(order) {
			b.StopTimer()
			if m.Len() != len(order) {
				b.Fatalf("Len %d, want %d", m.Len(), len(order))
			}
			m, i = chain.NewMempool(p), 0
			b.StartTimer()
		}
		if err := m.Add(order[i], state); err != nil && !errors.Is(err, chain.ErrTxQueued) {
			b.Fatal(err)
		}
		i++
	}
}
