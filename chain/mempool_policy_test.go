package chain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

func TestFeeRateFee(t *testing.T) {
	tests := []struct {
		rate chain.FeeRate
		size int
		want uint64
	}{
		{0, 225, 0},
		{1, 0, 0},
		{1, 1, 1}, // rounded up: no transaction is free at a nonzero rate
		{1, 225, 1},
		{1, 1000, 1},
		{1, 1001, 2},
		{4, 225, 1},
		{5, 225, 2},
		{1000, 225, 225},
		{chain.FeeRate(^uint64(0)), 2, ^uint64(0)}, // overflows: no fee pays it
	}
	for _, tc := range tests {
		if got := tc.rate.Fee(tc.size); got != tc.want {
			t.Errorf("FeeRate(%d).Fee(%d) = %d, want %d", tc.rate, tc.size, got, tc.want)
		}
	}
}

// TestMempoolFeeUnminable: a fee with which the coinbase would pay more
// than MaxAmount is refused on every network, before anything else is
// spent on it; MaxFee itself is fine.
func TestMempoolFeeUnminable(t *testing.T) {
	alice := newMPKey(1)
	tests := []struct {
		name string
		p    *chain.Params
		tx   func(p *chain.Params, fee uint64) *chain.Transaction
	}{
		{"open", chain.OpenNet(), func(_ *chain.Params, fee uint64) *chain.Transaction {
			return mpOpenTx("mallory", "bob", 1, fee, 0)
		}},
		{"regtest", chain.RegTest(), func(p *chain.Params, fee uint64) *chain.Transaction {
			return alice.tx(p, alice.addr, 1, fee, 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := mpState{alice.addr: {Balance: chain.MaxAmount}}
			max := chain.MaxFee(tc.p)
			if max != chain.MaxAmount-tc.p.Reward {
				t.Fatalf("MaxFee = %d, want MaxAmount - reward", max)
			}
			for _, fee := range []uint64{chain.MaxAmount - 1, max + 1} {
				m := chain.NewMempool(tc.p)
				err := m.Add(tc.tx(tc.p, fee), state)
				if !errors.Is(err, chain.ErrFeeUnminable) || m.Len() != 0 {
					t.Fatalf("fee %d: %v, pool %d; want ErrFeeUnminable and an empty pool", fee, err, m.Len())
				}
			}
			m := chain.NewMempool(tc.p)
			mpMustAdd(t, m, state, tc.tx(tc.p, max-1))
		})
	}
}

// TestMempoolFeeJam: the open network's fees cost nothing, so a flood of
// transactions paying huge fees must not fill the pool and starve the
// classic client's zero-fee ones: the pending fees together stay within
// what one block can carry, so all of them can be mined at once.
func TestMempoolFeeJam(t *testing.T) {
	p := chain.OpenNet()
	m := chain.NewMempool(p, chain.WithMaxTxs(8))
	empty := mpState{}
	max := chain.MaxFee(p)
	mpMustAdd(t, m, empty, mpOpenTx("mallory", "bob", 1, max/2, 0), mpOpenTx("mallory", "bob", 1, max/2, 1))
	for i := range 100 {
		fee := max - uint64(i)
		if i%2 == 1 {
			fee = chain.MaxAmount - uint64(i) // never minable
		}
		err := m.Add(mpOpenTx("mallory", "bob", 1, fee, uint64(2+i)), empty)
		if !errors.Is(err, chain.ErrMempoolFull) && !errors.Is(err, chain.ErrFeeUnminable) {
			t.Fatalf("jam transaction %d, fee %d: %v, want ErrMempoolFull or ErrFeeUnminable", i, fee, err)
		}
	}
	if m.Len() != 2 {
		t.Fatalf("pool holds %d, want the 2 that fit one block's fees", m.Len())
	}
	honest := make([]*chain.Transaction, 6)
	for i := range honest {
		honest[i] = mpOpenTx("Alice", "Bob", 5, 0, uint64(i))
	}
	mpMustAdd(t, m, empty, honest...)

	// Everything pending fits one block: the template drops nothing for
	// its fees.
	var fees uint64
	for _, tx := range m.Select(chain.MaxBlockTxs-1, chain.MaxBlockSize) {
		if tx.Fee > chain.MaxAmount-p.Reward-fees {
			t.Fatalf("pending fees pass %d", chain.MaxAmount-p.Reward)
		}
		fees += tx.Fee
	}
}

// TestMempoolMinRelayFee: on signed networks a fee below the minimum for
// the transaction's size is refused with ErrFeeTooLow; the open network
// keeps fee 0 whatever the option says.
func TestMempoolMinRelayFee(t *testing.T) {
	alice := newMPKey(1)
	signedSize := alice.tx(chain.RegTest(), alice.addr, 1, 0, 0).EncodedSize()
	tests := []struct {
		name   string
		p      *chain.Params
		rate   chain.FeeRate
		fee    uint64
		wantOK bool
	}{
		{"devnet zero fee", chain.DevNet(), chain.DefaultMinRelayFee, 0, false},
		{"devnet minimum", chain.DevNet(), chain.DefaultMinRelayFee, 1, true},
		{"regtest zero fee", chain.RegTest(), chain.DefaultMinRelayFee, 0, false},
		{"rate 5: one coin short", chain.RegTest(), 5, 1, false},
		{"rate 5: rounded up", chain.RegTest(), 5, 2, true},
		{"no minimum", chain.RegTest(), 0, 0, true},
		{"open network zero fee", chain.OpenNet(), chain.DefaultMinRelayFee, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := chain.NewMempool(tc.p, chain.WithMinRelayFee(tc.rate))
			tx := alice.tx(tc.p, alice.addr, 1, tc.fee, 0)
			if !tc.p.Signed {
				tx = mpOpenTx("Alice", "Bob", 1, tc.fee, 0)
			}
			err := m.Add(tx, mpState{alice.addr: {Balance: 100}})
			if tc.wantOK {
				if err != nil {
					t.Fatalf("fee %d at rate %d: %v, want admitted", tc.fee, tc.rate, err)
				}
				return
			}
			if !errors.Is(err, chain.ErrFeeTooLow) || m.Len() != 0 {
				t.Fatalf("fee %d at rate %d: %v, pool %d; want ErrFeeTooLow", tc.fee, tc.rate, err, m.Len())
			}
			if want := tc.rate.Fee(signedSize); m.MinFee(signedSize) != want || want <= tc.fee {
				t.Fatalf("MinFee(%d) = %d, want %d above fee %d", signedSize, m.MinFee(signedSize), want, tc.fee)
			}
		})
	}
	if got := chain.NewMempool(chain.OpenNet(), chain.WithMinRelayFee(7)).MinRelayFee(); got != 0 {
		t.Fatalf("open network MinRelayFee = %d, want 0", got)
	}
}

// TestMempoolZeroFeeBloat: a key holding one coin cannot fill the pool
// (and so the blocks) with zero-fee self-transfers; at the minimum fee
// each transfer costs a coin, and the coin runs out after one.
func TestMempoolZeroFeeBloat(t *testing.T) {
	p := chain.DevNet()
	alice := newMPKey(1)
	m := chain.NewMempool(p, chain.WithMinRelayFee(chain.DefaultMinRelayFee))
	state := mpState{alice.addr: {Balance: 2}}
	for n := range uint64(10) {
		err := m.Add(alice.tx(p, alice.addr, 1, 0, n), state)
		if !errors.Is(err, chain.ErrFeeTooLow) {
			t.Fatalf("zero-fee self-transfer %d: %v, want ErrFeeTooLow", n, err)
		}
	}
	mpMustAdd(t, m, state, alice.tx(p, alice.addr, 1, 1, 0))
	if err := m.Add(alice.tx(p, alice.addr, 1, 1, 1), state); !errors.Is(err, chain.ErrInsufficientFunds) {
		t.Fatalf("second paid self-transfer from 2 coins: %v, want ErrInsufficientFunds", err)
	}
}

// TestMempoolExpiry: a pending transaction leaves once it has waited the
// TTL, with its sender's later transactions and the child that claimed
// its credit; others stay. The clock is a fake one.
func TestMempoolExpiry(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol, dave := newMPKey(1), newMPKey(2), newMPKey(3), newMPKey(4)
	state := mpState{alice.addr: {Balance: 100}, carol.addr: {Balance: 100}, dave.addr: {Balance: 100}}
	clock := &mpClock{t: time.Unix(1_000_000, 0)}
	const ttl = 24 * time.Hour
	m := chain.NewMempool(p, chain.WithMempoolClock(clock.now), chain.WithPendingTTL(ttl))

	a0 := alice.tx(p, bob.addr, 50, 1, 0)
	mpMustAdd(t, m, state, a0)
	clock.advance(time.Hour)
	a1 := alice.tx(p, carol.addr, 5, 1, 1)
	b0 := bob.tx(p, carol.addr, 20, 1, 0) // bob has nothing: claims a0's credit
	c0 := carol.tx(p, dave.addr, 5, 1, 0)
	mpMustAdd(t, m, state, a1, b0, c0)
	if at, ok := m.AdmittedAt(a1.ID()); !ok || !at.Equal(clock.t) {
		t.Fatalf("AdmittedAt(a1) = %v, %v; want %v", at, ok, clock.t)
	}

	clock.advance(ttl - time.Hour - time.Millisecond)
	d0 := dave.tx(p, carol.addr, 1, 1, 0)
	mpMustAdd(t, m, state, d0)
	if m.Len() != 5 {
		t.Fatalf("a millisecond before a0 expires the pool holds %d, want 5", m.Len())
	}

	clock.advance(time.Millisecond)
	d1 := dave.tx(p, carol.addr, 1, 1, 1)
	mpMustAdd(t, m, state, d1)
	mpSame(t, "pending after a0 expired", m.Txs(), []*chain.Transaction{c0, d0, d1},
		map[*chain.Transaction]string{c0: "c0", d0: "d0", d1: "d1"})
	if m.Bytes() != 3*a0.EncodedSize() {
		t.Fatalf("Bytes = %d after expiry, want 3 transactions' worth", m.Bytes())
	}

	// A reorg expires too: c0 was admitted an hour after a0.
	clock.advance(time.Hour)
	m.Reorg(nil, nil, state)
	mpSame(t, "pending after the reorg", m.Txs(), []*chain.Transaction{d0, d1},
		map[*chain.Transaction]string{d0: "d0", d1: "d1"})
}

// TestMempoolExpiryUnsigned: on the open network each transaction expires
// alone; none depends on another.
func TestMempoolExpiryUnsigned(t *testing.T) {
	p := chain.OpenNet()
	clock := &mpClock{t: time.Unix(1_000_000, 0)}
	m := chain.NewMempool(p, chain.WithMempoolClock(clock.now), chain.WithPendingTTL(time.Hour))
	old := mpOpenTx("mallory", "bob", 1, 0, 0)
	mpMustAdd(t, m, mpState{}, old)
	clock.advance(30 * time.Minute)
	young := mpOpenTx("mallory", "bob", 1, 0, 1)
	mpMustAdd(t, m, mpState{}, young)
	clock.advance(30 * time.Minute)
	m.Reorg(nil, nil, mpState{})
	mpSame(t, "pending", m.Txs(), []*chain.Transaction{young}, nil)
}

// TestMempoolAddVerifiedSince: a transaction read back after a restart
// keeps its admission time, so it expires as if it had stayed; one past
// the TTL is refused.
func TestMempoolAddVerifiedSince(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	state := mpState{alice.addr: {Balance: 100}}
	clock := &mpClock{t: time.Unix(1_000_000, 0)}
	const ttl = 24 * time.Hour
	tests := []struct {
		name     string
		admitted time.Time
		want     error
		wantAt   time.Time
	}{
		{"an hour ago", clock.t.Add(-time.Hour), nil, clock.t.Add(-time.Hour)},
		{"zero: now", time.Time{}, nil, clock.t},
		{"in the future: now", clock.t.Add(time.Hour), nil, clock.t},
		{"a TTL ago", clock.t.Add(-ttl), chain.ErrTxExpired, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := chain.NewMempool(p, chain.WithMempoolClock(clock.now), chain.WithPendingTTL(ttl))
			tx := alice.tx(p, bob.addr, 1, 1, 0)
			err := m.AddVerifiedSince(tx, state, tc.admitted)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddVerifiedSince: %v, want %v", err, tc.want)
			}
			at, ok := m.AdmittedAt(tx.ID())
			if ok != (tc.want == nil) || !at.Equal(tc.wantAt) {
				t.Fatalf("AdmittedAt = %v, %v; want %v", at, ok, tc.wantAt)
			}
		})
	}

	// Restored an hour old, it leaves an hour before a TTL from now.
	m := chain.NewMempool(p, chain.WithMempoolClock(clock.now), chain.WithPendingTTL(ttl))
	if err := m.AddVerifiedSince(alice.tx(p, bob.addr, 1, 1, 0), state, clock.t.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.advance(ttl - time.Hour)
	m.Reorg(nil, nil, state)
	if m.Len() != 0 {
		t.Fatalf("restored transaction still pending a TTL after its first admission")
	}
}

// TestMempoolQueuedKeepsAdmission: a transaction queued for a nonce gap
// keeps its admission time when promoted, so waiting in the queue does
// not restart its clock.
func TestMempoolQueuedKeepsAdmission(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	state := mpState{alice.addr: {Balance: 100}}
	clock := &mpClock{t: time.Unix(1_000_000, 0)}
	m := chain.NewMempool(p, chain.WithMempoolClock(clock.now))
	early := alice.tx(p, bob.addr, 1, 1, 1)
	if err := m.Add(early, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatalf("nonce 1 first: %v, want ErrTxQueued", err)
	}
	queuedAt := clock.t
	clock.advance(time.Minute)
	mpMustAdd(t, m, state, alice.tx(p, bob.addr, 1, 1, 0))
	if at, ok := m.AdmittedAt(early.ID()); !ok || !at.Equal(queuedAt) || m.Len() != 2 {
		t.Fatalf("promoted: AdmittedAt = %v, %v, pool %d; want %v and 2 pending", at, ok, m.Len(), queuedAt)
	}
}

// TestMempoolFeeOutOfRange: an amount plus fee above MaxAmount is a
// broken rule (ErrBadAmount, which gossip holds against the sender), not
// a fee policy refusal.
func TestMempoolFeeOutOfRange(t *testing.T) {
	m := chain.NewMempool(chain.OpenNet())
	for _, tx := range []*chain.Transaction{
		mpOpenTx("mallory", "bob", 2, chain.MaxAmount-1, 0),
		mpOpenTx("mallory", "bob", 1, chain.MaxAmount+1, 0),
	} {
		if err := m.Add(tx, mpState{}); !errors.Is(err, chain.ErrBadAmount) {
			t.Fatalf("amount %d fee %d: %v, want ErrBadAmount", tx.Amount, tx.Fee, err)
		}
	}
}
