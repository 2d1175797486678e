package chain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestOrphanSignaturesNotRemembered: an orphan's body is checked before
// its parent is known, so its transactions may be signed by any keys,
// made up by its sender and never funded. Its signatures are verified
// (the pool takes only checked bodies) but neither they nor their keys
// are remembered, so such orphans cannot push the mempool's signatures
// and senders' keys out of the caches. A block whose parent is stored is
// remembered as before, even one that then fails on the ledger.
func TestOrphanSignaturesNotRemembered(t *testing.T) {
	const n = 40 // enough to be verified in a batch, on every core
	tests := []struct {
		name     string
		orphan   bool
		wantErr  error
		remember bool
	}{
		{name: "orphan", orphan: true, wantErr: chain.ErrUnknownParent},
		{name: "parent stored, senders unfunded", wantErr: chain.ErrInsufficientFunds, remember: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.extend(h.tipHash(), 2)
			to := testwallet.New("orphan payee").Addr
			txs := make([]*chain.Transaction, n)
			for i := range txs {
				txs[i] = testwallet.New(fmt.Sprint("made-up signer ", i)).Tx(h.p, to, 1, 0, 0)
			}
			var b *chain.Block
			if tt.orphan {
				b = childOf(h, h.build(h.tipHash(), nil, nil)) // its parent never processed
				b.Transactions = append(b.Transactions, txs...)
				b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
				b = h.solve(b)
			} else {
				b = h.build(h.tipHash(), txs, nil)
			}
			sc := h.c.SigCache()
			before := sc.Stats()
			if _, err := h.process(b); !errors.Is(err, tt.wantErr) {
				t.Fatalf("processing the block: %v, want %v", err, tt.wantErr)
			}
			if got := sc.Stats(); got.Verifies-before.Verifies != n {
				t.Fatalf("%d signatures verified, want %d", got.Verifies-before.Verifies, n)
			}
			wantKeys := 0
			if tt.remember {
				wantKeys = n
			}
			if got := chain.KeysNoted(sc); got != wantKeys {
				t.Errorf("%d keys noted, want %d", got, wantKeys)
			}
			hits := sc.Stats().Hits
			if err := h.c.CheckTxSanity(txs[0]); err != nil {
				t.Fatal(err)
			}
			if got := sc.Stats().Hits - hits; (got == 1) != tt.remember {
				t.Errorf("a transaction of the block checked again: %d hits; remembered %v, want %v", got, got == 1, tt.remember)
			}
		})
	}
}
