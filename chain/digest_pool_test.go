package chain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestMempoolKeysAreIDs: every transaction the pool holds, whatever
// brought it there (an admission with its id hashed by the pool, one with
// the caller's id, a local one, a queued one promoted to pending, one
// returned from a block a reorg took off the main chain), is held under
// its own id. A rebuilt compact block's digest takes these keys for the
// transactions' ids (Mempool.DigestTxs), so its digest of every held
// transaction must be the one hashed from them.
func TestMempoolKeysAreIDs(t *testing.T) {
	f := newMPReorgFixture(t)
	m := f.pool
	m.Reorg([]*chain.Block{f.d1Block}, []*chain.Block{f.n1Block, f.n2Block}, f.newTip) // d0 comes back
	erin := newMPKey(5)
	state := withAccounts{f.newTip, mpState{erin.addr: {Balance: 100}}}
	gap := erin.tx(f.p, f.bob.addr, 1, 1, 1)
	if err := m.Add(gap, state); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatalf("erin's nonce 1 first: %v, want queued", err)
	}
	first := erin.tx(f.p, f.bob.addr, 1, 1, 0)
	if err := m.AddIDSince(first, first.ID(), state, time.Now(), false); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.Pending(erin.addr), gap) {
		t.Fatal("erin's nonce 1 was not promoted to pending by her nonce 0")
	}
	local := f.alice.tx(f.p, f.bob.addr, 1, 1, 1)
	if err := m.AddLocal(local, state); err != nil {
		t.Fatal(err)
	}

	var txs []*chain.Transaction
	var ids []chain.Hash
	m.Range(func(id chain.Hash, tx *chain.Transaction) bool {
		if id != tx.ID() {
			t.Errorf("a transaction held under %s, its id is %s", id.Short(), tx.ID().Short())
		}
		txs, ids = append(txs, tx), append(ids, id)
		return true
	})
	for _, tx := range []*chain.Transaction{f.d0, gap, first, local} {
		if !slices.Contains(txs, tx) {
			t.Fatalf("%s is not held", tx.ID().Short())
		}
	}
	if got, want := m.DigestTxs(txs, ids).IDs(), chain.TxIDs(txs); !slices.Equal(got, want) {
		t.Fatalf("the pool's digest of what it holds: ids %x, want %x", got, want)
	}
}

// withAccounts is an account reader with some accounts set over another.
type withAccounts struct {
	chain.AccountReader
	set mpState
}

func (w withAccounts) Account(addr string) (chain.Account, error) {
	if a, ok := w.set[addr]; ok {
		return a, nil
	}
	return w.AccountReader.Account(addr)
}
