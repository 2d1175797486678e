package chain_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestMineStopsWhenTipChanges: a miner working on an impossible target
// gives up with ErrStaleTip as soon as another branch takes the tip.
//
// The parameters make that deterministic: one block per retarget and a
// target spacing of 1,000 hours, so a block 1 ms after genesis makes the
// next target about 2^33 hashes hard (minutes of work), while a block
// 84 days after genesis keeps the next target at the limit.
func TestMineStopsWhenTipChanges(t *testing.T) {
	q := *chain.RegTest()
	q.NoRetarget = false
	q.RetargetInterval = 1
	q.TargetSpacing = 1000 * time.Hour
	q.MaxRetargetFactor = 1 << 40
	p := chain.NewParams(q)
	g := p.Genesis().Header
	h := newHarness(t, p)
	clock := g.Time().Add(100 * 24 * time.Hour)
	st := h.st
	c, err := chain.New(p, st, chain.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	fast := h.build(h.tipHash(), nil, func(b *chain.Block) { b.Header.Timestamp = g.Timestamp + 1 })
	if _, err := h.process(fast); err != nil {
		t.Fatal(err)
	}
	slow := h.build(p.NetworkID(), nil, func(b *chain.Block) { b.Header.Timestamp = g.Timestamp + int64(84*24*time.Hour/time.Millisecond) })
	if _, err := h.sync(slow); err != nil {
		t.Fatal(err)
	}
	if h.tipHash() != fast.Hash() {
		t.Fatal("equal work must keep the first block")
	}
	mined := make(chan error, 1)
	var hashes atomic.Uint64
	go func() {
		_, err := c.Mine(context.Background(), nil, h.miner.Addr, 2, &hashes)
		mined <- err
	}()
	// Wait until the miner is hashing the hard template, then take the
	// tip away.
	for deadline := time.Now().Add(10 * time.Second); hashes.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("miner did not start within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	tmpl, err := c.NewTemplate(nil, h.miner.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Header.Bits == p.PowLimitBits() {
		t.Fatal("test setup: the template after the fast block should be hard")
	}
	select {
	case err := <-mined:
		t.Fatalf("miner returned before the tip changed: %v", err)
	default:
	}
	next := h.build(slow.Hash(), nil, nil)
	if _, err := h.process(next); err != nil {
		t.Fatal(err)
	}
	if h.tipHash() != next.Hash() {
		t.Fatal("heavier branch did not take the tip")
	}
	select {
	case err := <-mined:
		if !errors.Is(err, chain.ErrStaleTip) {
			t.Fatalf("miner returned %v, want ErrStaleTip", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("miner still running 10 s after the tip changed")
	}
}

// TestMineCancelled: cancelling the context stops the miner.
func TestMineCancelled(t *testing.T) {
	h := newHarness(t, nil)
	// An impossible template: solve it by hand with bits for target 1.
	b, err := h.c.NewTemplate(nil, h.miner.Addr)
	if err != nil {
		t.Fatal(err)
	}
	b.Header.Bits = 0x01010000
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := chain.Solve(ctx, b.Header, 2, nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("solve ignored cancellation")
	}
}

// TestTemplate: the template pays reward plus fees to the miner, takes
// pending transactions in mempool order, leaves out what no longer
// applies to the tip, and its block is accepted.
func TestTemplate(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	h.fund(alice, 100)
	mp := chain.NewMempool(h.p)
	t0 := alice.Tx(h.p, bob.Addr, 10, 3, 0)
	t1 := alice.Tx(h.p, bob.Addr, 10, 9, 1)
	for _, tx := range []*chain.Transaction{t0, t1} {
		if err := mp.Add(tx, h.c); err != nil {
			t.Fatal(err)
		}
	}
	b, err := h.c.NewTemplate(mp, h.miner.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 3 || b.Transactions[1].ID() != t0.ID() || b.Transactions[2].ID() != t1.ID() {
		t.Fatal("template must hold both transactions in nonce order")
	}
	if cb := b.Transactions[0]; cb.Amount != h.p.Reward+12 || cb.Recipient != h.miner.Addr || cb.Nonce != b.Header.Height {
		t.Fatalf("coinbase %+v", cb)
	}
	if b.Header.Height != h.c.Tip().Height()+1 || b.Header.PrevHash != h.tipHash() {
		t.Fatal("template not on the tip")
	}
	h.solve(b)
	if _, err := h.process(b); err != nil {
		t.Fatalf("template block refused: %v", err)
	}
	// The mempool was not told: the next template must leave out what is
	// now mined rather than build an invalid block.
	b2, err := h.c.NewTemplate(mp, h.miner.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Transactions) != 1 {
		t.Fatalf("stale mempool: template took %d mined transactions", len(b2.Transactions)-1)
	}
	if _, err := h.c.NewTemplate(mp, "not an address"); !errors.Is(err, chain.ErrBadAddress) {
		t.Fatalf("bad miner address: got %v", err)
	}
}
