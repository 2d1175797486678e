package chain_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// mpState is a map-backed ledger: an address not in it is the zero account.
type mpState map[string]chain.Account

func (s mpState) Account(addr string) (chain.Account, error) { return s[addr], nil }

// mpBrokenState fails every read, as a store that went away.
type mpBrokenState struct{}

func (mpBrokenState) Account(string) (chain.Account, error) {
	return chain.Account{}, errors.New("store closed")
}

// mpKey is an ed25519 key from a fixed seed, with its address.
type mpKey struct {
	key  ed25519.PrivateKey
	addr string
}

func newMPKey(seed byte) mpKey {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	k := ed25519.NewKeyFromSeed(s[:])
	return mpKey{key: k, addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
}

// tx returns a transfer signed for p.
func (k mpKey) tx(p *chain.Params, to string, amount, fee, nonce uint64) *chain.Transaction {
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: k.addr, Recipient: to, Amount: amount, Fee: fee, Nonce: nonce}
	tx.Sign(p.NetworkID(), k.key)
	return tx
}

// mpOpenTx returns an unsigned transfer for the open network.
func mpOpenTx(from, to string, amount, fee, nonce uint64) *chain.Transaction {
	return &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: amount, Fee: fee, Nonce: nonce}
}

// mpBlock builds a block by hand: a coinbase paying the reward plus fees to
// miner, then txs. The mempool never checks proof of work.
func mpBlock(p *chain.Params, height uint64, miner string, txs ...*chain.Transaction) *chain.Block {
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	cb := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: miner, Amount: p.Reward + fees, Nonce: height}
	all := append([]*chain.Transaction{cb}, txs...)
	return &chain.Block{
		Header:       chain.Header{Version: chain.HeaderVersion, Height: height, MerkleRoot: chain.MerkleRoot(chain.TxIDs(all))},
		Transactions: all,
	}
}

// mpConnect returns the ledger after blocks on base, checked by the
// ledger's own rules.
func mpConnect(t testing.TB, p *chain.Params, base chain.AccountReader, blocks ...*chain.Block) chain.AccountReader {
	t.Helper()
	v := chain.NewStateView(p, base)
	for _, b := range blocks {
		if err := v.ConnectBlock(b); err != nil {
			t.Fatalf("connect block %d: %v", b.Header.Height, err)
		}
	}
	return v
}

// mpApplies fails the test unless txs apply in order to state.
func mpApplies(t testing.TB, p *chain.Params, state chain.AccountReader, txs []*chain.Transaction) {
	t.Helper()
	v := chain.NewStateView(p, state)
	for i, tx := range txs {
		if err := v.ApplyTx(tx); err != nil {
			t.Fatalf("selected transaction %d (%s nonce %d) does not apply: %v", i, tx.Sender, tx.Nonce, err)
		}
	}
}

// mpMustAdd adds txs, failing the test on any error.
func mpMustAdd(t testing.TB, m *chain.Mempool, state chain.AccountReader, txs ...*chain.Transaction) {
	t.Helper()
	for _, tx := range txs {
		if err := m.Add(tx, state); err != nil {
			t.Fatalf("add %s nonce %d fee %d: %v", tx.Sender, tx.Nonce, tx.Fee, err)
		}
	}
}

// mpSame fails the test unless got holds exactly want, in order.
func mpSame(t testing.TB, what string, got, want []*chain.Transaction, names map[*chain.Transaction]string) {
	t.Helper()
	name := func(txs []*chain.Transaction) string {
		s := make([]string, len(txs))
		for i, tx := range txs {
			if n, ok := names[tx]; ok {
				s[i] = n
			} else {
				s[i] = fmt.Sprintf("%s/%d", tx.Sender, tx.Nonce)
			}
		}
		return strings.Join(s, " ")
	}
	if name(got) != name(want) {
		t.Fatalf("%s: got [%s], want [%s]", what, name(got), name(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: entry %d is not the transaction added", what, i)
		}
	}
}

func TestMempoolAdd(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	state := mpState{alice.addr: {Balance: 100, Nonce: 3}}
	first := alice.tx(p, bob.addr, 10, 1, 3)

	badSig := alice.tx(p, bob.addr, 10, 1, 3)
	badSig.Signature[5] ^= 1
	otherNet := &chain.Transaction{Version: chain.TxVersion, Sender: alice.addr, Recipient: bob.addr, Amount: 10, Fee: 1, Nonce: 3}
	otherNet.Sign(chain.DevNet().NetworkID(), alice.key)
	unsigned := &chain.Transaction{Version: chain.TxVersion, Sender: alice.addr, Recipient: bob.addr, Amount: 10, Fee: 1, Nonce: 3}
	coinbase := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender, Recipient: bob.addr, Amount: p.Reward, Nonce: 1}

	tests := []struct {
		name    string
		pending []*chain.Transaction
		tx      *chain.Transaction
		want    error  // nil: accepted
		msg     string // in the error text
	}{
		{name: "next nonce", tx: first},
		{name: "chain of pending nonces", pending: []*chain.Transaction{first, alice.tx(p, bob.addr, 10, 1, 4), alice.tx(p, bob.addr, 10, 1, 5)},
			tx: alice.tx(p, bob.addr, 10, 1, 6)},
		{name: "duplicate", pending: []*chain.Transaction{first}, tx: first, want: chain.ErrTxInPool},
		{name: "coinbase", tx: coinbase, want: chain.ErrMultipleCoinbases},
		{name: "bad signature", tx: badSig, want: chain.ErrBadSignature},
		{name: "signed for another network", tx: otherNet, want: chain.ErrBadSignature},
		{name: "unsigned on a signed network", tx: unsigned, want: chain.ErrBadPublicKey},
		{name: "zero amount", tx: alice.tx(p, bob.addr, 0, 1, 3), want: chain.ErrBadAmount},
		{name: "nonce used at the tip", tx: alice.tx(p, bob.addr, 10, 1, 2), want: chain.ErrBadNonce, msg: "already used, expected 3"},
		{name: "nonce used by a pending tx", pending: []*chain.Transaction{first}, tx: alice.tx(p, bob.addr, 11, 1, 3),
			want: chain.ErrBadNonce, msg: "already used, expected 4"},
		{name: "nonce gap: queued", tx: alice.tx(p, bob.addr, 10, 1, 5), want: chain.ErrTxQueued, msg: "gap, expected 3"},
		{name: "nonce gap after pending: queued", pending: []*chain.Transaction{first}, tx: alice.tx(p, bob.addr, 10, 1, 5),
			want: chain.ErrTxQueued, msg: "gap, expected 4"},
		{name: "nonce gap beyond the queue window", tx: alice.tx(p, bob.addr, 10, 1, 20), want: chain.ErrBadNonce,
			msg: "more than the 16 ahead"},
		{name: "overspend", tx: alice.tx(p, bob.addr, 100, 1, 3), want: chain.ErrInsufficientFunds, msg: "overspend"},
		{name: "whole balance", tx: alice.tx(p, bob.addr, 99, 1, 3)},
		{name: "overspend across pending", pending: []*chain.Transaction{alice.tx(p, bob.addr, 60, 1, 3)},
			tx: alice.tx(p, bob.addr, 39, 1, 4), want: chain.ErrInsufficientFunds, msg: "overspend"},
		{name: "rest of the balance after pending", pending: []*chain.Transaction{alice.tx(p, bob.addr, 60, 1, 3)},
			tx: alice.tx(p, bob.addr, 38, 1, 4)},
		{name: "sender never seen", tx: bob.tx(p, alice.addr, 1, 0, 0), want: chain.ErrInsufficientFunds, msg: "overspend"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := chain.NewMempool(p)
			mpMustAdd(t, m, state, tc.pending...)
			err := m.Add(tc.tx, state)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				if !m.Has(tc.tx.ID()) || m.Len() != len(tc.pending)+1 {
					t.Fatalf("accepted but not held: Has %v, Len %d", m.Has(tc.tx.ID()), m.Len())
				}
				mpSame(t, "Pending", m.Pending(tc.tx.Sender), append(tc.pending, tc.tx), nil)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add: %v, want %v", err, tc.want)
			}
			if !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("Add: %q does not say %q", err, tc.msg)
			}
			if m.Len() != len(tc.pending) {
				t.Fatalf("refused transaction changed the pool: Len %d, want %d", m.Len(), len(tc.pending))
			}
		})
	}
}

// TestMempoolStaleStateIsNotARuleError: when the tip moved and Reorg has not
// run yet, a sender's pending transactions no longer apply to the state
// given. The pool cannot judge the new transaction, and must not blame its
// sender with a rule error: gossip would penalise an honest peer for this
// node's lag.
func TestMempoolStaleStateIsNotARuleError(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	old := mpState{alice.addr: {Balance: 100}}
	m := chain.NewMempool(p)
	a0 := alice.tx(p, bob.addr, 10, 1, 0)
	mpMustAdd(t, m, old, a0)

	tip := mpConnect(t, p, old, mpBlock(p, 1, bob.addr, a0))
	err := m.Add(alice.tx(p, bob.addr, 10, 1, 1), tip)
	if err == nil || chain.CodeOf(err) != 0 {
		t.Fatalf("Add on a state ahead of the pool: %v, want an error that is no rule error", err)
	}
	if m.Add(alice.tx(p, bob.addr, 10, 1, 1), mpBrokenState{}) == nil {
		t.Fatal("Add with an unreadable state succeeded")
	}
}

func TestMempoolUnsigned(t *testing.T) {
	p := chain.OpenNet()
	m := chain.NewMempool(p)
	empty := mpState{}
	// Any sender, no balance, nonces repeated and out of order.
	txs := []*chain.Transaction{
		mpOpenTx("alice", "bob", 5, 0, 0),
		mpOpenTx("alice", "bob", 6, 0, 0),
		mpOpenTx("alice", "carol", 1_000_000, 0, 99),
		mpOpenTx("someone else entirely", "alice", 1, 0, 7),
	}
	mpMustAdd(t, m, empty, txs...)
	if err := m.Add(mpOpenTx("alice", "bob", 5, 0, 0), empty); !errors.Is(err, chain.ErrTxInPool) {
		t.Fatalf("same transaction again: %v, want ErrTxInPool", err)
	}
	signed := newMPKey(1).tx(p, "bob", 1, 0, 0)
	if err := m.Add(signed, empty); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("signed transaction on the open network: %v, want ErrBadSignature", err)
	}
	mpSame(t, "Pending(alice)", m.Pending("alice"), txs[:3], nil)

	// No nonce order binds a sender: the highest fee goes first even
	// behind an earlier transaction of the same sender.
	late := mpOpenTx("alice", "bob", 1, 10, 0)
	mpMustAdd(t, m, empty, late)
	got := m.Select(2, chain.MaxBlockSize)
	mpSame(t, "Select", got, []*chain.Transaction{late, txs[0]}, nil)
}

func TestMempoolFull(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol, dave := newMPKey(1), newMPKey(2), newMPKey(3), newMPKey(4)
	state := mpState{alice.addr: {Balance: 1000}, bob.addr: {Balance: 1000}, carol.addr: {Balance: 1000}, dave.addr: {Balance: 1000}}
	size := alice.tx(p, bob.addr, 1, 1, 0).EncodedSize() // signed transfers all have this size

	t.Run("evicts the cheapest end of a chain", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxTxs(3))
		a0, a1, b0 := alice.tx(p, bob.addr, 1, 5, 0), alice.tx(p, bob.addr, 1, 1, 1), bob.tx(p, alice.addr, 1, 2, 0)
		mpMustAdd(t, m, state, a0, a1, b0)

		if err := m.Add(carol.tx(p, bob.addr, 1, 1, 0), state); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("fee equal to the cheapest: %v, want ErrMempoolFull", err)
		}
		c0 := carol.tx(p, bob.addr, 1, 2, 0)
		mpMustAdd(t, m, state, c0)
		if m.Has(a1.ID()) || !m.Has(a0.ID()) || m.Len() != 3 {
			t.Fatalf("want a1 (fee 1, alice's last) evicted: has a0 %v a1 %v, Len %d", m.Has(a0.ID()), m.Has(a1.ID()), m.Len())
		}
		// b0 and c0 both pay 2: the newer one goes.
		mpMustAdd(t, m, state, dave.tx(p, bob.addr, 1, 3, 0))
		if m.Has(c0.ID()) || !m.Has(b0.ID()) {
			t.Fatalf("among equal fees want the newest evicted: has b0 %v c0 %v", m.Has(b0.ID()), m.Has(c0.ID()))
		}
	})

	t.Run("never breaks a nonce chain", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxTxs(3))
		a0, a1, b0 := alice.tx(p, bob.addr, 1, 1, 0), alice.tx(p, bob.addr, 1, 10, 1), bob.tx(p, alice.addr, 1, 5, 0)
		mpMustAdd(t, m, state, a0, a1, b0)
		// a0 pays least but a1 needs it: b0 goes.
		mpMustAdd(t, m, state, carol.tx(p, bob.addr, 1, 6, 0))
		if !m.Has(a0.ID()) || m.Has(b0.ID()) {
			t.Fatalf("has a0 %v b0 %v, want a0 kept and b0 evicted", m.Has(a0.ID()), m.Has(b0.ID()))
		}
	})

	t.Run("spares the sender's own chain", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxTxs(1))
		mpMustAdd(t, m, state, alice.tx(p, bob.addr, 1, 1, 0))
		if err := m.Add(alice.tx(p, bob.addr, 1, 50, 1), state); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("evicting its own predecessor: %v, want ErrMempoolFull", err)
		}

		m = chain.NewMempool(p, chain.WithMaxTxs(2))
		// a0 pays least, but a1 follows it: b0 goes instead.
		a0, b0, a1 := alice.tx(p, bob.addr, 1, 1, 0), bob.tx(p, alice.addr, 1, 2, 0), alice.tx(p, bob.addr, 1, 5, 1)
		mpMustAdd(t, m, state, a0, b0, a1)
		mpSame(t, "Txs", m.Txs(), []*chain.Transaction{a0, a1}, nil)
	})

	t.Run("byte limit", func(t *testing.T) {
		m := chain.NewMempool(p, chain.WithMaxBytes(2*size+size/2))
		a0, b0 := alice.tx(p, bob.addr, 1, 1, 0), bob.tx(p, alice.addr, 1, 2, 0)
		mpMustAdd(t, m, state, a0, b0)
		if err := m.Add(carol.tx(p, bob.addr, 1, 1, 0), state); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("over the byte limit: %v, want ErrMempoolFull", err)
		}
		mpMustAdd(t, m, state, carol.tx(p, bob.addr, 1, 3, 0))
		if m.Has(a0.ID()) || m.Len() != 2 || m.Bytes() != 2*size {
			t.Fatalf("want a0 evicted: Len %d Bytes %d", m.Len(), m.Bytes())
		}
	})

	t.Run("refusal after partial eviction changes nothing", func(t *testing.T) {
		// On the open network sizes vary: a big newcomer needs two
		// evictions, the second one pays more than it, so neither happens.
		open := chain.OpenNet()
		small1, small2 := mpOpenTx("a", "b", 1, 1, 0), mpOpenTx("a", "c", 1, 5, 0)
		big := mpOpenTx(strings.Repeat("x", 100), strings.Repeat("y", 100), 1, 3, 0)
		m := chain.NewMempool(open, chain.WithMaxBytes(small1.EncodedSize()+small2.EncodedSize()+10))
		mpMustAdd(t, m, mpState{}, small1, small2)
		bytes := m.Bytes()
		if err := m.Add(big, mpState{}); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("big transaction: %v, want ErrMempoolFull", err)
		}
		if m.Len() != 2 || m.Bytes() != bytes {
			t.Fatalf("after refusal Len %d Bytes %d, want 2 and %d", m.Len(), m.Bytes(), bytes)
		}
		mpSame(t, "Pending(a)", m.Pending("a"), []*chain.Transaction{small1, small2}, nil)
		// The eviction order survived the rollback: the cheapest still goes first.
		mpMustAdd(t, m, mpState{}, mpOpenTx("a", "d", 1, 2, 0))
		if m.Has(small1.ID()) || !m.Has(small2.ID()) {
			t.Fatalf("want small1 (fee 1) evicted after the rollback")
		}
	})
}

func TestMempoolSelect(t *testing.T) {
	p := chain.RegTest()
	alice, bob, carol := newMPKey(1), newMPKey(2), newMPKey(3)
	state := mpState{alice.addr: {Balance: 100}, bob.addr: {Balance: 100}, carol.addr: {Balance: 100}}
	a0, a1 := alice.tx(p, bob.addr, 10, 1, 0), alice.tx(p, bob.addr, 10, 9, 1)
	b0, b1 := bob.tx(p, carol.addr, 10, 5, 0), bob.tx(p, carol.addr, 10, 7, 1)
	c0, c1 := carol.tx(p, alice.addr, 10, 5, 0), carol.tx(p, alice.addr, 10, 5, 1)
	names := map[*chain.Transaction]string{a0: "a0", a1: "a1", b0: "b0", b1: "b1", c0: "c0", c1: "c1"}
	m := chain.NewMempool(p)
	mpMustAdd(t, m, state, a0, a1, b0, c0, c1, b1)
	size := a0.EncodedSize()

	tests := []struct {
		name             string
		maxTxs, maxBytes int
		want             []*chain.Transaction
	}{
		// b0 and c0 tie on fee: b0 came first. b1 (7) then beats c0, and
		// a1 (9) waits for a0 (1).
		{"everything", 100, chain.MaxBlockSize, []*chain.Transaction{b0, b1, c0, c1, a0, a1}},
		{"count limit", 3, chain.MaxBlockSize, []*chain.Transaction{b0, b1, c0}},
		{"byte limit", 100, 3*size - 1, []*chain.Transaction{b0, b1}},
		{"exact bytes", 100, 4 * size, []*chain.Transaction{b0, b1, c0, c1}},
		{"no room", 0, chain.MaxBlockSize, nil},
		{"no bytes", 100, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Select(tc.maxTxs, tc.maxBytes)
			mpSame(t, "Select", got, tc.want, names)
			mpApplies(t, p, state, got)
		})
	}
	mpSame(t, "Txs", m.Txs(), m.Select(100, chain.MaxBlockSize), names)
	mpSame(t, "Pending(alice)", m.Pending(alice.addr), []*chain.Transaction{a0, a1}, names)
	if got := m.Pending(newMPKey(9).addr); len(got) != 0 {
		t.Fatalf("Pending of an unknown sender: %d transactions", len(got))
	}

	t.Run("too big skips the rest of the chain", func(t *testing.T) {
		open := chain.OpenNet()
		big := mpOpenTx(strings.Repeat("x", 100), "y", 1, 10, 0)
		small := mpOpenTx("a", "b", 1, 1, 0)
		m := chain.NewMempool(open)
		mpMustAdd(t, m, mpState{}, big, small)
		mpSame(t, "Select", m.Select(10, big.EncodedSize()-1), []*chain.Transaction{small}, nil)
	})
}

func TestMempoolReads(t *testing.T) {
	p := chain.RegTest()
	alice, bob := newMPKey(1), newMPKey(2)
	state := mpState{alice.addr: {Balance: 100}}
	m := chain.NewMempool(p)
	tx := alice.tx(p, bob.addr, 1, 1, 0)
	if _, ok := m.Get(tx.ID()); ok || m.Has(tx.ID()) || m.Len() != 0 || m.Bytes() != 0 || len(m.Txs()) != 0 {
		t.Fatal("empty pool is not empty")
	}
	mpMustAdd(t, m, state, tx)
	if got, ok := m.Get(tx.ID()); !ok || got != tx {
		t.Fatalf("Get: %v %v", got, ok)
	}
	if !m.Has(tx.ID()) || m.Len() != 1 || m.Bytes() != tx.EncodedSize() {
		t.Fatalf("Has %v Len %d Bytes %d", m.Has(tx.ID()), m.Len(), m.Bytes())
	}
}

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

// TestMempoolConcurrent runs Add, Select and the reads from several
// goroutines; run with -race.
func TestMempoolConcurrent(t *testing.T) {
	p := chain.RegTest()
	const senders, perSender = 8, 16
	state := mpState{}
	var keys []mpKey
	for i := range senders {
		k := newMPKey(byte(10 + i))
		keys = append(keys, k)
		state[k.addr] = chain.Account{Balance: 1000}
	}
	m := chain.NewMempool(p)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for _, k := range keys {
		wg.Go(func() {
			for n := range uint64(perSender) {
				if err := m.Add(k.tx(p, keys[0].addr, 1, n%3, n), state); err != nil {
					errs <- err
					return
				}
				m.Select(10, chain.MaxBlockSize)
				m.Pending(k.addr)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m.Len() != senders*perSender {
		t.Fatalf("Len %d, want %d", m.Len(), senders*perSender)
	}
	mpApplies(t, p, state, m.Txs())
}

// TestMempoolRandomOps adds random transactions, some invalid, to a small
// pool that must evict, mines blocks from it and takes them back, and
// checks after every step what the pool promises: Txs applies to the tip,
// each sender's nonces run on from the tip without a gap, the limits hold,
// Select is a prefix of Txs, a block leaves nothing behind it included and
// loses nothing else, and undoing the block restores the pool.
//
// Senders pay each other, so transactions spend pending credits, and some
// nonces come early and wait in the queue: several seeds.
func TestMempoolRandomOps(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { testMempoolRandomOps(t, seed) })
	}
}

func testMempoolRandomOps(t *testing.T, seed uint64) {
	p := chain.RegTest()
	rng := rand.New(rand.NewPCG(1+seed, 2))
	keys := make([]mpKey, 5)
	var tip chain.AccountReader
	genesis := mpState{}
	for i := range keys {
		keys[i] = newMPKey(byte(20 + i))
		genesis[keys[i].addr] = chain.Account{Balance: 200}
	}
	tip = genesis
	const maxTxs = 12
	m := chain.NewMempool(p, chain.WithMaxTxs(maxTxs))
	height := uint64(0)
	outcomes := map[string]int{}

	check := func(step int) {
		t.Helper()
		txs := m.Txs()
		mpApplies(t, p, tip, txs)
		bytes := 0
		for _, tx := range txs {
			bytes += tx.EncodedSize()
		}
		if len(txs) != m.Len() || m.Len() > maxTxs || bytes != m.Bytes() {
			t.Fatalf("step %d: Txs %d, Len %d, Bytes %d (sum %d)", step, len(txs), m.Len(), m.Bytes(), bytes)
		}
		for _, k := range keys {
			acct, _ := tip.Account(k.addr)
			for i, tx := range m.Pending(k.addr) {
				if tx.Nonce != acct.Nonce+uint64(i) {
					t.Fatalf("step %d: pending %d of %s has nonce %d, want %d", step, i, k.addr, tx.Nonce, acct.Nonce+uint64(i))
				}
			}
		}
		n := rng.IntN(len(txs) + 1)
		mpSame(t, fmt.Sprintf("step %d: Select(%d)", step, n), m.Select(n, chain.MaxBlockSize), txs[:n], nil)
	}

	for step := range 400 {
		switch r := rng.IntN(10); {
		case r < 8: // a transaction, valid or not
			k := keys[rng.IntN(len(keys))]
			acct, _ := tip.Account(k.addr)
			nonce := acct.Nonce + uint64(len(m.Pending(k.addr)))
			if rng.IntN(5) == 0 {
				nonce = uint64(rng.IntN(int(nonce) + 3))
			}
			tx := k.tx(p, keys[rng.IntN(len(keys))].addr, uint64(1+rng.IntN(60)), uint64(rng.IntN(10)), nonce)
			before := m.Len()
			err := m.Add(tx, tip)
			switch {
			case err == nil:
				outcomes["accepted"]++
				if !m.Has(tx.ID()) {
					t.Fatalf("step %d: accepted but not held", step)
				}
				if m.Len() == before {
					outcomes["accepted by eviction"]++
				}
			case errors.Is(err, chain.ErrMempoolFull), errors.Is(err, chain.ErrBadNonce), errors.Is(err, chain.ErrInsufficientFunds):
				if errors.Is(err, chain.ErrTxQueued) {
					outcomes["queued"]++
				} else if c := chain.CodeOf(err); c != 0 {
					outcomes[c.String()]++
				} else {
					outcomes["full"]++
				}
				if m.Len() != before {
					t.Fatalf("step %d: refused (%v) but Len went %d -> %d", step, err, before, m.Len())
				}
			default:
				t.Fatalf("step %d: unexpected error %v", step, err)
			}
		default: // mine a block from the pool, then maybe take it back
			beforeTxs, queuedBefore := m.Txs(), m.Queued()
			included := m.Select(1+rng.IntN(4), chain.MaxBlockSize)
			height++
			blk := mpBlock(p, height, keys[rng.IntN(len(keys))].addr, included...)
			parent := tip
			tip = mpConnect(t, p, parent, blk)
			m.Reorg(nil, []*chain.Block{blk}, tip)
			check(step)
			// The block frees room: queued transactions that follow on
			// may move in, and no more than left the queue.
			left, promoted := len(beforeTxs)-len(included), queuedBefore-m.Queued()
			if m.Len() < left || m.Len() > left+max(promoted, 0) {
				t.Fatalf("step %d: block of %d from %d left %d (%d queued before, %d after)", step, len(included), len(beforeTxs), m.Len(), queuedBefore, m.Queued())
			}
			movedIn := m.Len() > left
			for _, tx := range included {
				if m.Has(tx.ID()) {
					t.Fatalf("step %d: included transaction still pending", step)
				}
			}
			// Undoing the block gives the pool back as it was, unless
			// queued transactions moved into the room the block made:
			// then the pool's limit decides what stays.
			if rng.IntN(2) == 0 && !movedIn {
				tip, height = parent, height-1
				m.Reorg([]*chain.Block{blk}, nil, tip)
				after := m.Txs()
				if len(after) != len(beforeTxs) {
					t.Fatalf("step %d: undoing the block: %d pending, want %d", step, len(after), len(beforeTxs))
				}
				for _, tx := range beforeTxs {
					if !m.Has(tx.ID()) {
						t.Fatalf("step %d: undoing the block lost %s/%d", step, tx.Sender, tx.Nonce)
					}
				}
			}
		}
		check(step)
	}
	t.Logf("Add outcomes: %v; final height %d", outcomes, height)
}

// mpSigned returns senders*perSender signed transfers, nonce-major (every
// sender's nonce 0, then every nonce 1, ...), with spread fees, and a
// state that funds them all.
func mpSigned(p *chain.Params, senders, perSender int) ([]*chain.Transaction, mpState) {
	state := mpState{}
	keys := make([]mpKey, senders)
	for i := range keys {
		var seed [ed25519.SeedSize]byte
		seed[0], seed[1] = byte(i), byte(i>>8)
		k := ed25519.NewKeyFromSeed(seed[:])
		keys[i] = mpKey{key: k, addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
		state[keys[i].addr] = chain.Account{Balance: 1 << 40}
	}
	txs := make([]*chain.Transaction, 0, senders*perSender)
	for n := range perSender {
		for i, k := range keys {
			fee := uint64((i*7919+n*104729)%1000 + 1)
			txs = append(txs, k.tx(p, keys[(i+1)%senders].addr, 1000, fee, uint64(n)))
		}
	}
	return txs, state
}

// BenchmarkMempoolAdd adds signed transactions, signature check included,
// to a pool refilled from empty every 4,096.
func BenchmarkMempoolAdd(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 256, 16)
	m := chain.NewMempool(p)
	i := 0
	for b.Loop() {
		if i == len(txs) {
			b.StopTimer()
			m, i = chain.NewMempool(p), 0
			b.StartTimer()
		}
		if err := m.Add(txs[i], state); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSelect picks a block template from a full pool of 10,000
// transactions of 1,000 senders, and the whole pool in order.
func BenchmarkSelect(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 1000, 10)
	m := chain.NewMempool(p)
	mpMustAdd(b, m, state, txs...)
	b.Run("block", func(b *testing.B) {
		for b.Loop() {
			if got := m.Select(chain.MaxBlockTxs-1, chain.MaxBlockSize); len(got) == 0 {
				b.Fatal("empty template")
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if got := m.Txs(); len(got) != len(txs) {
				b.Fatalf("Txs: %d, want %d", len(got), len(txs))
			}
		}
	})
}

// BenchmarkMempoolReorg re-validates a pool of 10,000 against an unchanged
// tip: the work every new block costs besides removing what it includes.
func BenchmarkMempoolReorg(b *testing.B) {
	p := chain.RegTest()
	txs, state := mpSigned(p, 1000, 10)
	m := chain.NewMempool(p)
	mpMustAdd(b, m, state, txs...)
	for b.Loop() {
		m.Reorg(nil, nil, state)
	}
	if m.Len() != len(txs) {
		b.Fatalf("Len %d, want %d", m.Len(), len(txs))
	}
}

// TestMempoolSenderLimit: a funded sender cannot queue more than the
// per-sender cap, whose checks cost time in the pending count; other
// senders still get in.
func TestMempoolSenderLimit(t *testing.T) {
	p := chain.RegTest()
	a, b := newMPKey(1), newMPKey(2)
	state := mpState{a.addr: {Balance: 1000}, b.addr: {Balance: 1000}}
	m := chain.NewMempool(p, chain.WithMaxPerSender(3))
	for n := uint64(0); n < 3; n++ {
		mpMustAdd(t, m, state, a.tx(p, b.addr, 1, 0, n))
	}
	if err := m.Add(a.tx(p, b.addr, 1, 0, 3), state); !errors.Is(err, chain.ErrSenderLimit) {
		t.Fatalf("fourth pending from one sender: got %v, want ErrSenderLimit", err)
	}
	if chain.CodeOf(chain.ErrSenderLimit) != 0 {
		t.Fatal("the sender limit is this node's policy, not a rule the sender broke")
	}
	mpMustAdd(t, m, state, b.tx(p, a.addr, 1, 0, 0))
}

// TestMempoolMinedOnOpenNetwork: without nonces, the same transfer again
// has the same id; once mined it must not re-enter the pool, or the
// miner would build blocks the chain refuses.
func TestMempoolMinedOnOpenNetwork(t *testing.T) {
	p := chain.OpenNet()
	tx := mpOpenTx("Alice", "Bob", 5, 0, 0)
	mined := map[chain.Hash]bool{tx.ID(): true}
	m := chain.NewMempool(p, chain.WithMinedCheck(func(id chain.Hash) bool { return mined[id] }))
	if err := m.Add(tx, mpState{}); !errors.Is(err, chain.ErrTxMined) {
		t.Fatalf("mined transaction: got %v, want ErrTxMined", err)
	}
	mpMustAdd(t, m, mpState{}, mpOpenTx("Alice", "Bob", 5, 0, 1))
}
