package chain_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestCheckBlockDigest: the chain's check of a block takes the ids and
// merkle root of a digest computed from the very transactions of the
// block, so that a relay hop hashes them once, and never a digest of
// other transactions: a body changed after its transactions were hashed
// is judged by its own hashes.
func TestCheckBlockDigest(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	h.fund(alice, 100)
	forged := chain.Hash{1} // a root no transactions have
	for _, tc := range []struct {
		name string
		// digest returns the digest handed to the chain with b, whose
		// transactions are the coinbase and tx.
		digest func(b *chain.Block, tx *chain.Transaction) *chain.TxDigest
		// swap puts another signed transfer in b's place 1 after the
		// digest was taken: the header commits to tx, the body does not.
		swap    bool
		wantErr error
	}{
		{"no digest", func(*chain.Block, *chain.Transaction) *chain.TxDigest { return nil }, false, nil},
		{"the block's own digest",
			func(b *chain.Block, _ *chain.Transaction) *chain.TxDigest { return chain.DigestTxs(b.Transactions) }, false, nil},
		{"the block's own digest is taken, not hashed again",
			func(b *chain.Block, _ *chain.Transaction) *chain.TxDigest {
				return chain.ForgedDigest(b.Transactions, forged)
			}, false, chain.ErrBadMerkleRoot},
		{"a transaction replaced in the block's slice after the digest",
			func(b *chain.Block, _ *chain.Transaction) *chain.TxDigest { return chain.DigestTxs(b.Transactions) },
			true, chain.ErrBadMerkleRoot},
		{"a digest of the transactions the header commits to, not the body's",
			func(b *chain.Block, tx *chain.Transaction) *chain.TxDigest {
				return chain.DigestTxs([]*chain.Transaction{b.Transactions[0], tx})
			}, true, chain.ErrBadMerkleRoot},
		{"a digest of equal transactions that are other values is not taken",
			func(b *chain.Block, tx *chain.Transaction) *chain.TxDigest {
				cp := *tx
				return chain.ForgedDigest([]*chain.Transaction{b.Transactions[0], &cp}, forged)
			}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := h.c.Account(alice.Addr)
			if err != nil {
				t.Fatal(err)
			}
			tx := alice.Tx(h.p, bob.Addr, 1, 0, a.Nonce)
			b := h.build(h.tipHash(), []*chain.Transaction{tx}, nil)
			d := tc.digest(b, tx)
			if tc.swap {
				b.Transactions[1] = alice.Tx(h.p, bob.Addr, 2, 0, a.Nonce)
			}
			cb, err := h.c.CheckBlockDigest(b, d)
			var ch *chain.Change
			if err == nil {
				ch, err = h.c.ProcessChecked(context.Background(), cb)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("checked and processed: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if h.tipHash() != b.Hash() {
				t.Fatalf("tip %s, want the block %s", h.tipHash().Short(), b.Hash().Short())
			}
			// The change hands the mempool the ids the check used.
			if got := chain.ChangeIDs(ch, b); !slices.Equal(got, chain.TxIDs(b.Transactions)) {
				t.Fatalf("the change's ids of the block: %v, want its transactions'", got)
			}
		})
	}
}

// TestMempoolReorgChangeTakesIDs: the mempool takes a connected block's
// transaction ids from the change, as the chain hashed them to check
// the block, rather than hash the transactions again; ids that are not
// one per transaction are not taken. The change is forged, and the pool
// judged against a state in which b0 is still valid, so that only the
// ids decide whether b0 leaves as included.
func TestMempoolReorgChangeTakesIDs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ids    func(b *chain.Block) []chain.Hash
		wantB0 bool
	}{
		{"the block's ids: b0 leaves", func(b *chain.Block) []chain.Hash { return chain.TxIDs(b.Transactions) }, false},
		{"ids taken as given: b0 stays", func(b *chain.Block) []chain.Hash { return make([]chain.Hash, len(b.Transactions)) }, true},
		{"too few ids are hashed again: b0 leaves", func(*chain.Block) []chain.Hash { return []chain.Hash{{}} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newMPReorgFixture(t)
			f.pool.ReorgChange(chain.ForgedChange(f.n2Block, tc.ids(f.n2Block)), f.oldTip)
			if got := f.pool.Has(f.b0.ID()); got != tc.wantB0 {
				t.Fatalf("b0 in the pool: %v, want %v", got, tc.wantB0)
			}
		})
	}
}
