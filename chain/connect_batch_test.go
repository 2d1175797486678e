package chain_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestSyncBatchReorgMatchesOneByOne: a sync batch that reorganises over a
// committed block, with one sender spending in consecutive blocks of the
// batch (chained nonces) and an account created and spent from within
// it, leaves the same balances, nonces, undo records and block records as
// the same blocks connected one at a time; a second batch that
// reorganises back deletes the account the first created. The accounts
// of a batch are read ahead of its blocks, so each block must see the
// writes of the blocks before it, not the store's older values.
func TestSyncBatchReorgMatchesOneByOne(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, carol := testwallet.New("alice"), testwallet.New("bob"), testwallet.New("carol")
	h.fund(alice, 100)
	fork := h.tipHash()
	a1 := h.build(fork, []*chain.Transaction{alice.Tx(h.p, bob.Addr, 10, 1, 0)}, nil)
	if _, err := h.process(a1); err != nil {
		t.Fatal(err)
	}
	h.close()
	snap := t.TempDir()
	copyFile(t, filepath.Join(h.dir, store.FileName), filepath.Join(snap, store.FileName))
	h.open()
	b1 := h.build(fork, []*chain.Transaction{alice.Tx(h.p, carol.Addr, 5, 1, 0)}, nil)
	if _, err := h.sync(b1); err != nil {
		t.Fatal(err)
	}
	b2 := h.build(b1.Hash(), []*chain.Transaction{alice.Tx(h.p, carol.Addr, 7, 1, 1), alice.Tx(h.p, bob.Addr, 1, 1, 2)}, nil)
	if _, err := h.sync(b2); err != nil {
		t.Fatal(err)
	}
	b3 := h.build(b2.Hash(), []*chain.Transaction{carol.Tx(h.p, bob.Addr, 3, 1, 0), alice.Tx(h.p, carol.Addr, 2, 0, 3), carol.Tx(h.p, alice.Addr, 1, 1, 1)}, nil)
	if _, err := h.sync(b3); err != nil {
		t.Fatal(err)
	}
	if h.tipHash() != b3.Hash() {
		t.Fatalf("one by one: tip %s, want b3 %s", h.tipHash().Short(), b3.Hash().Short())
	}
	addrs := []string{alice.Addr, bob.Addr, carol.Addr, h.miner.Addr}
	want := map[string]chain.Account{}
	for _, a := range addrs {
		want[a], _ = h.c.Account(a)
	}
	st, err := store.OpenDir(snap, store.WithNoSync(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := chain.New(h.p, st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	ch, n, err := c.ProcessBlocks(context.Background(), []*chain.Block{b1, b2, b3})
	if err != nil || n != 3 || ch == nil || ch.NewTip.Hash != b3.Hash() {
		t.Fatalf("the batch b1..b3: %d connected, change %v, error %v", n, ch, err)
	}
	for _, a := range addrs {
		got, _ := c.Account(a)
		if got != want[a] {
			t.Errorf("%s after the batch: %+v, one by one %+v", a[:8], got, want[a])
		}
	}
	for _, b := range []*chain.Block{b1, b2, b3} {
		u1, e1 := h.st.Undo(b.Hash())
		u2, e2 := st.Undo(b.Hash())
		if e1 != nil || e2 != nil || !reflect.DeepEqual(u1, u2) {
			t.Errorf("undo %s: %+v %v / %+v %v", b.Hash().Short(), u1, e1, u2, e2)
		}
		got, err := st.Block(b.Hash())
		if err != nil || !reflect.DeepEqual(got.Encode(), b.Encode()) {
			t.Errorf("block %s: the stored record differs from the block (%v)", b.Hash().Short(), err)
		}
	}
	// Back to a heavier branch from a1, in one batch, on the chain the
	// batch built.
	var as []*chain.Block
	par := a1.Hash()
	for i := 0; i < 3; i++ {
		var txs []*chain.Transaction
		if i == 2 {
			txs = []*chain.Transaction{alice.Tx(h.p, bob.Addr, 1, 1, 1)}
		}
		b := h.build(par, txs, nil)
		if _, err := h.sync(b); err != nil {
			t.Fatal(err)
		}
		as = append(as, b)
		par = b.Hash()
	}
	a2, a3, a4 := as[0], as[1], as[2]
	for _, a := range addrs {
		want[a], _ = h.c.Account(a)
	}
	ch, n, err = c.ProcessBlocks(context.Background(), []*chain.Block{a2, a3, a4})
	if err != nil || n != 3 || ch.NewTip.Hash != a4.Hash() {
		t.Fatalf("the batch back to a4: %d connected, error %v", n, err)
	}
	for _, a := range addrs {
		got, _ := c.Account(a)
		if got != want[a] {
			t.Errorf("%s after the batch back: %+v, one by one %+v", a[:8], got, want[a])
		}
	}
	if got, _ := c.Account(carol.Addr); got != (chain.Account{}) {
		t.Errorf("carol, created on the abandoned branch: %+v, want no account", got)
	}
}
