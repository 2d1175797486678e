package chain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestReorgWithMempool reorganises 1 and 100 blocks deep and checks the
// ledger and the mempool afterwards:
//
//   - the ledger equals that of a chain that only ever saw the winning
//     branch (undo records restored every touched account exactly);
//   - transactions of abandoned blocks are back in the mempool when still
//     valid, in nonce order behind what was pending;
//   - transactions the winning branch included are not in the mempool;
//   - a double spend across the fork (the same nonce spent differently on
//     each branch) does not come back.
func TestReorgWithMempool(t *testing.T) {
	for _, depth := range []int{1, 100} {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			testReorgWithMempool(t, depth)
		})
	}
}

func testReorgWithMempool(t *testing.T, depth int) {
	ctx := context.Background()
	h := newHarness(t, nil)
	alice, bob, carol, dave, eve := testwallet.New("alice"), testwallet.New("bob"), testwallet.New("carol"), testwallet.New("dave"), testwallet.New("eve")
	for _, w := range []*testwallet.Wallet{alice, carol, dave, eve} {
		h.fund(w, 500)
	}
	fork := h.tipHash()
	mp := chain.NewMempool(h.p)
	follow := func(ch *chain.Change) {
		if ch != nil {
			mp.Reorg(ch.Disconnected, ch.Connected, h.c)
		}
	}

	// Branch A, the first main chain.
	a0 := alice.Tx(h.p, bob.Addr, 10, 2, 0) // also mined on branch B
	a1 := alice.Tx(h.p, bob.Addr, 11, 1, 1) // only on A: must come back
	e0 := eve.Tx(h.p, bob.Addr, 500, 0, 0)  // eve's whole balance, on A
	var carolTxs []*chain.Transaction
	parent := fork
	for i := 0; i < depth; i++ {
		var txs []*chain.Transaction
		if i == 0 {
			txs = []*chain.Transaction{a0, a1, e0}
		}
		if i < 5 {
			c := carol.Tx(h.p, bob.Addr, uint64(20+i), 0, uint64(i))
			carolTxs = append(carolTxs, c)
			txs = append(txs, c)
		}
		b := h.build(parent, txs, nil)
		ch, err := h.process(b)
		if err != nil {
			t.Fatalf("A block %d: %v", i, err)
		}
		follow(ch)
		parent = b.Hash()
	}
	aTip := parent
	// Pending when the reorg comes: alice's next, and a transfer of dave's.
	a2 := alice.Tx(h.p, bob.Addr, 12, 5, 2)
	d0 := dave.Tx(h.p, bob.Addr, 30, 1, 0) // also mined on branch B
	for _, tx := range []*chain.Transaction{a2, d0} {
		if err := mp.Add(tx, h.c); err != nil {
			t.Fatalf("pending %s: %v", tx.ID().Short(), err)
		}
	}

	// Branch B, one block longer, built by another miner.
	other := testwallet.New("other miner")
	h.miner, other = other, h.miner
	e0b := eve.Tx(h.p, carol.Addr, 400, 0, 0) // the double spend of eve's nonce 0
	parent = fork
	var bBlocks []*chain.Block
	var last *chain.Change
	for i := 0; i <= depth; i++ {
		var txs []*chain.Transaction
		if i == 0 {
			txs = []*chain.Transaction{a0, d0, e0b}
		}
		b := h.build(parent, txs, nil)
		ch, err := h.sync(b)
		if err != nil {
			t.Fatalf("B block %d: %v", i, err)
		}
		if i < depth && ch != nil {
			t.Fatalf("B block %d moved the tip before B had more work", i)
		}
		last = ch
		bBlocks = append(bBlocks, b)
		parent = b.Hash()
	}
	h.miner = other
	if !last.Reorg() || len(last.Disconnected) != depth || len(last.Connected) != depth+1 {
		t.Fatalf("reorg: %d disconnected, %d connected; want %d and %d",
			len(last.Disconnected), len(last.Connected), depth, depth+1)
	}
	if last.OldTip.Hash != aTip || h.tipHash() != parent {
		t.Fatal("tips of the change are wrong")
	}
	follow(last)

	// The ledger is that of a chain that never saw branch A.
	fresh := newHarness(t, nil)
	var mainBlocks []*chain.Block
	for height := uint64(1); height <= h.c.Tip().Height(); height++ {
		b, err := h.c.BlockAt(height)
		if err != nil {
			t.Fatal(err)
		}
		mainBlocks = append(mainBlocks, b)
	}
	if _, n, err := fresh.c.ProcessBlocks(ctx, mainBlocks); err != nil || n != len(mainBlocks) {
		t.Fatalf("replaying the main chain: %d of %d, %v", n, len(mainBlocks), err)
	}
	for _, addr := range []string{alice.Addr, bob.Addr, carol.Addr, dave.Addr, eve.Addr, h.miner.Addr, other.Addr} {
		got, _ := h.c.Account(addr)
		want, _ := fresh.c.Account(addr)
		if got != want {
			t.Fatalf("account %s after reorg %+v, a chain without branch A has %+v", addr[:10], got, want)
		}
	}
	for _, tx := range carolTxs {
		if _, err := h.c.TxLocation(tx.ID()); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("tx index still points at an abandoned block for %s", tx.ID().Short())
		}
	}
	if loc, err := h.c.TxLocation(a0.ID()); err != nil || loc != bBlocks[0].Hash() {
		t.Fatalf("tx index for a0: %s, %v; want the B block", loc.Short(), err)
	}

	// The mempool: a1 back before a2, carol's transfers back, a0 and d0
	// gone (mined on B), e0 gone (its nonce went to the double spend).
	wantIn := append([]*chain.Transaction{a1, a2}, carolTxs...)
	for _, tx := range wantIn {
		if !mp.Has(tx.ID()) {
			t.Errorf("mempool lost valid tx %s (%s nonce %d)", tx.ID().Short(), tx.Sender[:8], tx.Nonce)
		}
	}
	for name, tx := range map[string]*chain.Transaction{"a0": a0, "d0": d0, "e0": e0, "e0b": e0b} {
		if mp.Has(tx.ID()) {
			t.Errorf("mempool still holds %s, which is mined or double-spent", name)
		}
	}
	if mp.Len() != len(wantIn) {
		t.Errorf("mempool holds %d, want %d", mp.Len(), len(wantIn))
	}
	if got := mp.Pending(alice.Addr); len(got) != 2 || got[0].ID() != a1.ID() || got[1].ID() != a2.ID() {
		t.Errorf("alice's pending transactions out of nonce order")
	}
	// Everything that came back can be mined on the new tip.
	b, err := h.c.Mine(ctx, mp, h.miner.Addr, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(b.Transactions) - 1; got != len(wantIn) {
		t.Fatalf("template took %d of %d pending transactions", got, len(wantIn))
	}
	ch, err := h.process(b)
	if err != nil {
		t.Fatalf("block with the returned transactions: %v", err)
	}
	follow(ch)
	if mp.Len() != 0 {
		t.Fatalf("mempool holds %d after they were mined", mp.Len())
	}
}
