package chain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
	const n = 40 // enough to be verified in batches on two cores
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

// TestEvictedOrphanSignaturesNotRemembered: a block checked while it
// waited in the orphan pool has its body checked only under the lock
// (CheckBlock skips a waiting orphan's); evicted meanwhile, it is an
// orphan again there, and its signatures are verified then, still not
// remembered.
func TestEvictedOrphanSignaturesNotRemembered(t *testing.T) {
	const n = 40
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 2)
	c, err := chain.New(h.p, h.st, chain.WithOrphanLimits(1, 1<<20), chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	to := testwallet.New("orphan payee").Addr
	orphan := childOf(h, h.build(h.tipHash(), nil, nil))
	for i := range n {
		orphan.Transactions = append(orphan.Transactions, testwallet.New(fmt.Sprint("made-up signer ", i)).Tx(h.p, to, 1, 0, 0))
	}
	orphan.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(orphan.Transactions))
	orphan = h.solve(orphan)
	other := childOf(h, h.build(h.tipHash(), nil, nil))
	ctx := context.Background()
	if _, err := c.ProcessBlock(ctx, orphan); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("the orphan: %v", err)
	}
	cb, err := c.CheckBlock(orphan) // waiting: its body is left to the lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProcessBlock(ctx, other); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("the orphan that evicts it: %v", err)
	}
	sc := c.SigCache()
	before := sc.Stats()
	if _, err := c.ProcessChecked(ctx, cb); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("the evicted orphan again: %v", err)
	}
	if got := sc.Stats().Verifies - before.Verifies; got != n {
		t.Fatalf("%d signatures verified under the lock, want %d", got, n)
	}
	if got := chain.KeysNoted(sc); got != 0 {
		t.Errorf("%d keys noted, want 0", got)
	}
}
