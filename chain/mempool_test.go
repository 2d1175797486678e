package chain_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// mpState is a map-backed ledger: an address not in it is the zero account.
type mpState = testwallet.Ledger

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

	// Many, each a chain of its own: Select keeps its rule under every
	// kind of limit.
	rng := rand.New(rand.NewPCG(3, 4))
	m = chain.NewMempool(p)
	for i := range 60 {
		name := strings.Repeat("s", 1+rng.IntN(40))
		mpMustAdd(t, m, empty, mpOpenTx(name, "r", uint64(1+i), uint64(rng.IntN(5)), uint64(i)))
	}
	for range 50 {
		n, room := rng.IntN(m.Len()+2), rng.IntN(m.Bytes()+2)
		if err := chain.SelectMatches(m, n, room); err != nil {
			t.Fatalf("Select(%d, %d): %v", n, room, err)
		}
	}
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

	t.Run("a chain's cheap stretch goes whole", func(t *testing.T) {
		// Seven of alice's transfers pay 1 and her eighth 1,000: the
		// eighth alone kept the seven before it against any newcomer
		// paying less than 1,000. Her chain's mean, 1,007/8, is what a
		// newcomer must beat now, and it evicts the whole chain.
		m := chain.NewMempool(p, chain.WithMaxTxs(8))
		rich := mpState{alice.addr: {Balance: 10_000}, bob.addr: {Balance: 10_000}, carol.addr: {Balance: 10_000}}
		var chainTxs []*chain.Transaction
		for n := range uint64(8) {
			fee := uint64(1)
			if n == 7 {
				fee = 1000
			}
			chainTxs = append(chainTxs, alice.tx(p, carol.addr, 1, fee, n))
		}
		mpMustAdd(t, m, rich, chainTxs...)
		if err := m.Add(bob.tx(p, carol.addr, 1, 125, 0), rich); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("fee 125 against a chain whose mean is 125.875: %v, want ErrMempoolFull", err)
		}
		b0 := bob.tx(p, carol.addr, 1, 126, 0)
		mpMustAdd(t, m, rich, b0)
		if m.Len() != 1 || !m.Has(b0.ID()) {
			t.Fatalf("fee 126: Len %d, has the newcomer %v; want alice's chain of 8 gone", m.Len(), m.Has(b0.ID()))
		}

		// The cheapest stretch of a chain is its package, not always the
		// whole: alice pays 50, then 1 and 1. A newcomer paying 2 takes
		// the place of her last (the shortest stretch at the lowest mean).
		m = chain.NewMempool(p, chain.WithMaxTxs(3))
		a0, a1, a2 := alice.tx(p, carol.addr, 1, 50, 0), alice.tx(p, carol.addr, 1, 1, 1), alice.tx(p, carol.addr, 1, 1, 2)
		mpMustAdd(t, m, rich, a0, a1, a2)
		mpMustAdd(t, m, rich, bob.tx(p, carol.addr, 1, 2, 0))
		mpSame(t, "Pending(alice)", m.Pending(alice.addr), []*chain.Transaction{a0, a1}, nil)

		// A peer's transaction the node's client submits too becomes
		// local and ends what of its sender's chain may go: alice's 1
		// and 5 went as one package (mean 3); once her 1 is local, her
		// 5 alone may go, for a newcomer paying 6.
		m = chain.NewMempool(p, chain.WithMaxTxs(2))
		a0, a1 = alice.tx(p, carol.addr, 1, 1, 0), alice.tx(p, carol.addr, 1, 5, 1)
		mpMustAdd(t, m, rich, a0, a1)
		if err := m.Add(bob.tx(p, carol.addr, 1, 3, 0), rich); !errors.Is(err, chain.ErrMempoolFull) {
			t.Fatalf("fee 3 against alice's package of mean 3: %v, want ErrMempoolFull", err)
		}
		if err := m.AddLocal(a0, rich); !errors.Is(err, chain.ErrTxInPool) {
			t.Fatalf("AddLocal of a held transaction: %v, want ErrTxInPool", err)
		}
		mpMustAdd(t, m, rich, bob.tx(p, carol.addr, 1, 6, 0))
		mpSame(t, "Pending(alice)", m.Pending(alice.addr), []*chain.Transaction{a0}, nil)
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
		// Chunks: bob's b1 (7) lifts b0 (5), a mean of 6; alice's a1 (9)
		// pays for a0 (1), a mean of 5; carol's are 5 each, apart. Alice's
		// pair and carol's c0 tie at 5: a0 came first.
		{"everything", 100, chain.MaxBlockSize, []*chain.Transaction{b0, b1, a0, a1, c0, c1}},
		// Alice's pair does not fit the one place left: skipped whole,
		// carol's c0 takes it.
		{"count limit", 3, chain.MaxBlockSize, []*chain.Transaction{b0, b1, c0}},
		{"byte limit", 100, 3*size - 1, []*chain.Transaction{b0, b1}},
		{"exact bytes", 100, 4 * size, []*chain.Transaction{b0, b1, a0, a1}},
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

// Range visits every transaction the pool holds once, pending and queued,
// under its id, and stops when told to.
func TestMempoolRange(t *testing.T) {
	p := chain.RegTest()
	alice := newMPKey(1)
	state := mpState{alice.addr: {Balance: 100}}
	m := chain.NewMempool(p)
	want := make(map[chain.Hash]bool)
	for _, nonce := range []uint64{0, 1, 2, 5} {
		tx := alice.tx(p, newMPKey(2).addr, 1, 1, nonce)
		err := m.Add(tx, state)
		if nonce == 5 && !errors.Is(err, chain.ErrTxQueued) {
			t.Fatalf("a nonce ahead: %v, want queued", err)
		} else if nonce < 5 && err != nil {
			t.Fatal(err)
		}
		want[tx.ID()] = true
	}
	got := make(map[chain.Hash]bool)
	m.Range(func(id chain.Hash, tx *chain.Transaction) bool {
		if id != tx.ID() || got[id] {
			t.Fatalf("visited %s as %s, or twice", tx.ID().Short(), id.Short())
		}
		got[id] = true
		return true
	})
	if len(got) != len(want) {
		t.Fatalf("visited %d, want the %d held", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("missed %s", id.Short())
		}
	}
	n := 0
	m.Range(func(chain.Hash, *chain.Transaction) bool { n++; return false })
	if n != 1 {
		t.Fatalf("visited %d after the first said stop", n)
	}
}
