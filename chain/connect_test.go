package chain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestConnectReadsAccountsInOneView: connecting a block, or a sync
// batch of blocks, reads the accounts it touches in one store view, not
// one read transaction per address, and the ledger comes out the same. A
// batch whose first block failed its checks before the lock reads none:
// the blocks after it will not connect.
func TestConnectReadsAccountsInOneView(t *testing.T) {
	tests := []struct {
		name      string
		blocks    int // each of perBlock transfers from senders of its own
		perBlock  int
		requested bool
		badFirst  bool // the batch's first block fails its sanity check
	}{
		{"a gossiped block", 1, 40, false, false},
		{"a sync batch of three blocks", 3, 15, true, false},
		{"a sync batch whose first block is bad", 3, 15, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			n := tc.blocks * tc.perBlock
			senders := make([]*testwallet.Wallet, n)
			for i := range senders {
				senders[i] = testwallet.New(fmt.Sprintf("sender %d", i))
			}
			h.extend(h.tipHash(), 3*n/int(h.p.Reward)+2)
			a, _ := h.c.Account(h.miner.Addr)
			var funding []*chain.Transaction
			for _, s := range senders {
				funding = append(funding, h.miner.Tx(h.p, s.Addr, 3, 0, a.Nonce))
				a.Nonce++
			}
			if _, err := h.process(h.build(h.tipHash(), funding, nil)); err != nil {
				t.Fatal(err)
			}
			// The chain the blocks connect to, before they are built
			// (build reads each parent from the chain).
			h.close()
			snap := t.TempDir()
			copyFile(t, filepath.Join(h.dir, store.FileName), filepath.Join(snap, store.FileName))
			h.open()
			to := testwallet.New("recipient").Addr
			var blocks []*chain.Block
			parent := h.tipHash()
			for i := range tc.blocks {
				var txs []*chain.Transaction
				for _, s := range senders[i*tc.perBlock : (i+1)*tc.perBlock] {
					txs = append(txs, s.Tx(h.p, to, 1, 1, 0))
				}
				b := h.build(parent, txs, nil)
				if _, err := h.sync(b); err != nil {
					t.Fatal(err)
				}
				blocks = append(blocks, b)
				parent = b.Hash()
			}
			if tc.badFirst {
				blocks[0].Transactions[1].Amount++ // the merkle root no longer matches
			}
			c, cs := openCounting(t, h.p, snap)
			cs.accounts, cs.views = 0, 0
			var ch *chain.Change
			var err error
			if tc.badFirst {
				if ch, _, err = c.ProcessBlocks(context.Background(), blocks); err == nil || ch != nil {
					t.Fatalf("a batch starting with a bad block: change %v, error %v", ch, err)
				}
				if cs.accounts != 0 || cs.views != 0 {
					t.Errorf("read %d accounts one by one and took %d views for blocks that cannot connect", cs.accounts, cs.views)
				}
				return
			}
			if tc.requested {
				ch, _, err = c.ProcessBlocks(context.Background(), blocks)
			} else {
				ch, err = c.ProcessBlock(context.Background(), blocks[0])
			}
			if err != nil || ch == nil || ch.NewTip.Hash != blocks[len(blocks)-1].Hash() {
				t.Fatalf("the blocks did not connect: %v", err)
			}
			if cs.accounts != 0 || cs.views != 1 {
				t.Errorf("connecting %d block(s) read %d accounts one by one and took %d views, want 0 and 1",
					len(blocks), cs.accounts, cs.views)
			}
			for i, s := range senders {
				got, err := c.Account(s.Addr)
				if err != nil || got != (chain.Account{Balance: 1, Nonce: 1}) {
					t.Fatalf("sender %d: %+v, %v; want balance 1, nonce 1", i, got, err)
				}
			}
			if got, err := c.Account(to); err != nil || got.Balance != int64(n) {
				t.Fatalf("recipient: %+v, %v; want balance %d", got, err, n)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
