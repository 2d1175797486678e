package p2p_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// fundedLine starts nodes in a line (window: each node's batch window),
// mines a block paying each of payees at the first and waits until every
// node has them, so their transfers are valid everywhere.
func fundedLine(t *testing.T, n int, window time.Duration, payees ...*testwallet.Wallet) []*gossipNode {
	t.Helper()
	nodes := make([]*gossipNode, n)
	for i := range nodes {
		nodes[i] = startGossipNode(t, newHost(t), newTestChain(t), nopSync{}, p2p.WithTxBatchWindow(window))
	}
	line(t, nodes...)
	for _, w := range payees {
		blk := nodes[0].c.mine(t, w.Addr)
		if err := nodes[0].g.PublishBlock(context.Background(), blk); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the funding block committed on every node", func() bool {
			for _, x := range nodes {
				if x.c.Tip().Hash != blk.Hash() {
					return false
				}
			}
			return true
		})
	}
	return nodes
}

// walletTransfers returns n transfers of w's from nonce first on.
func walletTransfers(p *chain.Params, w *testwallet.Wallet, first, n int) []*chain.Transaction {
	to := testwallet.New("bob").Addr
	txs := make([]*chain.Transaction, n)
	for i := range txs {
		txs[i] = w.Tx(p, to, 1, 1, uint64(first+i))
	}
	return txs
}

// holdsAll reports whether n's mempool holds every one of txs.
func holdsAll(n *gossipNode, txs []*chain.Transaction) bool {
	for _, tx := range txs {
		if !n.c.mp.Has(tx.ID()) {
			return false
		}
	}
	return true
}

// TestTxBatchPropagates: a full batch formed by the first node of a line
// of four from its own transactions leaves as one message (the window is
// an hour: only the count bound sends it), crosses the line, and every
// node admits all its transactions, verifying each signature once.
func TestTxBatchPropagates(t *testing.T) {
	// The per-sender cap keeps a sender's pending transactions few, so
	// several senders fill a batch.
	const perSender = 16
	var senders []*testwallet.Wallet
	for i := range protocol.MaxTxBatchTxs / perSender {
		senders = append(senders, testwallet.New("sender "+string(rune('a'+i))))
	}
	nodes := fundedLine(t, 4, time.Hour, senders...)
	a := nodes[0]
	p := a.c.Params()
	var txs []*chain.Transaction
	for _, w := range senders {
		txs = append(txs, walletTransfers(p, w, 0, perSender)...)
	}
	if len(txs) != protocol.MaxTxBatchTxs {
		t.Fatalf("%d transfers, want a full batch of %d", len(txs), protocol.MaxTxBatchTxs)
	}
	before := make([]chain.SigStats, len(nodes))
	published := a.g.Stats().Tx.Published
	for i, x := range nodes {
		before[i] = x.c.SigCache().Stats()
	}
	for _, tx := range txs {
		if err := a.c.AddTx(tx); err != nil {
			t.Fatal(err)
		}
		if err := a.g.PublishTx(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range nodes[1:] {
		testutil.Eventually(t, 20*time.Second, "every transfer admitted along the line", func() bool { return holdsAll(x, txs) })
	}
	if got := a.g.Stats().Tx.Published - published; got != 1 {
		t.Fatalf("published %d messages for a full batch, want 1", got)
	}
	for i, x := range nodes {
		want := uint64(len(txs))
		if got := x.c.SigCache().Stats().Verifies - before[i].Verifies; got != want {
			t.Errorf("node %d verified %d signatures for %d transfers", i, got, want)
		}
		if i > 0 {
			if s := x.g.Stats().Tx; s.Rejected != 0 || s.Ignored != 0 {
				t.Errorf("node %d: %+v, want every batch accepted", i, s)
			}
		}
	}
}

// TestTxBatchInvalidRejected: a batch with one forged signature among
// valid transfers is rejected by its first receiver, which penalises the
// sender and forwards nothing of the batch; the valid transfers before
// the forgery, which it admitted, still reach the far node in the
// receiver's own batch, and the one after it is left unchecked
// (protocol.md §16.9.2).
func TestTxBatchInvalidRejected(t *testing.T) {
	alice := testwallet.New("alice")
	nodes := fundedLine(t, 2, time.Millisecond, alice)
	honest, far := nodes[0], nodes[1]
	p := honest.c.Params()
	evil := newEvilPeer(t, honest)
	good := walletTransfers(p, alice, 0, 3)
	forged := alice.Tx(p, testwallet.New("carol").Addr, 5, 1, 3)
	forged.Signature[0] ^= 1
	msg := txsMsg(good[0], good[1], forged, good[2])
	before := honest.g.Stats().Tx
	evil.publish(t, evil.tx, msg)
	testutil.Eventually(t, 10*time.Second, "the batch rejected", func() bool { return honest.g.Stats().Tx.Rejected == before.Rejected+1 })
	testutil.Eventually(t, 10*time.Second, "the sender penalised", func() bool { return honest.freshScore(t, evil.h.ID()) < 0 })
	testutil.Eventually(t, 10*time.Second, "the valid transfers before the forgery reach the far node", func() bool { return holdsAll(far, good[:2]) })
	if honest.c.mp.Has(good[2].ID()) {
		t.Fatal("the transfer after the forgery was admitted unchecked")
	}
	if far.mesh.saw(msg) {
		t.Fatal("the rejected batch was forwarded")
	}
	if honest.c.mp.Has(forged.ID()) || far.c.mp.Has(forged.ID()) {
		t.Fatal("the forged transfer was admitted")
	}
}

// TestTxBatchPolicyRefused: a batch holding one transfer that the middle
// node of a line refuses by its own policy (a fee below its minimum,
// above the network's floor) is not forwarded by it, and costs its
// sender nothing; the transfers it admitted reach the far node in its
// own batch. The far node takes the cheap transfer, but has no path to
// it: a node forwards only what it admitted.
func TestTxBatchPolicyRefused(t *testing.T) {
	p := chain.RegTest()
	a := startGossipNode(t, newHost(t), newTestChainFor(t, p), nopSync{}, p2p.WithTxBatchWindow(time.Millisecond))
	picky := startGossipNode(t, newHost(t), newTestChainFor(t, p, chain.WithMinRelayFee(50*chain.NetworkMinRelayFee)),
		nopSync{}, p2p.WithTxBatchWindow(time.Millisecond))
	far := startGossipNode(t, newHost(t), newTestChainFor(t, p), nopSync{}, p2p.WithTxBatchWindow(time.Millisecond))
	line(t, a, picky, far)
	alice := testwallet.New("alice")
	blk := a.c.mine(t, alice.Addr)
	if err := a.g.PublishBlock(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the funding block on every node", func() bool {
		return picky.c.Tip().Hash == blk.Hash() && far.c.Tip().Hash == blk.Hash()
	})
	bob := testwallet.New("bob").Addr
	rich := picky.c.mp.MinFee(300)
	good := []*chain.Transaction{alice.Tx(p, bob, 1, rich, 0), alice.Tx(p, bob, 1, rich, 1)}
	cheap := testwallet.New("dave").Tx(p, bob, 1, p.RelayFeeFloor.Fee(300), 0) // unfunded too: never admitted anywhere
	batch := []*chain.Transaction{good[0], cheap, good[1]}
	for _, tx := range batch {
		if tx != cheap {
			if err := a.c.AddTx(tx); err != nil {
				t.Fatal(err)
			}
		}
	}
	msg := txsMsg(batch...)
	if err := a.g.PublishTxs(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the middle node ignores the batch", func() bool { return picky.g.Stats().Tx.Ignored == 1 })
	testutil.Eventually(t, 10*time.Second, "the admitted transfers reach the far node", func() bool { return holdsAll(far, good) })
	if far.mesh.saw(msg) {
		t.Fatal("the batch was forwarded by a node that refused part of it")
	}
	if s := picky.g.Stats().Tx; s.Rejected != 0 {
		t.Fatalf("a local policy refusal rejected the batch: %+v", s)
	}
	if picky.freshScore(t, a.h.ID()) < 0 {
		t.Fatal("the sender lost score for a local policy refusal")
	}
}

// TestMinedBlockCarriesUnsentTxs: a block mined within the batch window
// (here an hour long, so nothing but the block could send the batch)
// takes transactions no peer has seen. The block carries those whole
// and takes them out of the batch: the peer rebuilds it without asking
// its sender for any, and the batch's transaction that the block left
// out still waits for its window.
func TestMinedBlockCarriesUnsentTxs(t *testing.T) {
	alice := testwallet.New("alice")
	nodes := fundedLine(t, 2, time.Hour, alice)
	a, b := nodes[0], nodes[1]
	txs := walletTransfers(a.c.Params(), alice, 0, 4)
	offer := func(txs ...*chain.Transaction) {
		t.Helper()
		for _, tx := range txs {
			if err := a.c.AddTx(tx); err != nil {
				t.Fatal(err)
			}
			if err := a.g.PublishTx(context.Background(), tx); err != nil {
				t.Fatal(err)
			}
		}
	}
	offer(txs[:3]...)
	blk := a.c.mine(t, alice.Addr)
	if len(blk.Transactions) != 4 {
		t.Fatalf("the block holds %d transactions, want the coinbase and 3", len(blk.Transactions))
	}
	offer(txs[3])
	before := b.g.Stats().Compact
	if err := a.g.PublishBlock(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the block on the peer", func() bool { return b.c.Tip().Hash == blk.Hash() })
	if got := b.g.Stats().Compact; got.Requested != before.Requested || got.Rebuilt != before.Rebuilt+1 {
		t.Fatalf("compact blocks %+v, then %+v: want one rebuilt, none asked", before, got)
	}
	if holdsAll(b, txs[3:]) {
		t.Fatal("the transfer the block left out reached the peer before its batch's window ended")
	}
}

// TestCompactBlockPrefill: a block of the node's own carries whole the
// coinbase and exactly the transactions its peers cannot have yet.
func TestCompactBlockPrefill(t *testing.T) {
	alice := testwallet.New("alice")
	nodes := fundedLine(t, 1, time.Hour, alice)
	a := nodes[0]
	txs := walletTransfers(a.c.Params(), alice, 0, 4)
	for _, tx := range txs {
		if err := a.c.AddTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	blk := a.c.mine(t, alice.Addr)
	if len(blk.Transactions) != 5 {
		t.Fatalf("the block holds %d transactions, want the coinbase and 4", len(blk.Transactions))
	}
	for _, c := range []struct {
		name   string
		unsent []*chain.Transaction
		want   []int
	}{
		{"none unsent", nil, []int{0}},
		{"two unsent", []*chain.Transaction{blk.Transactions[3], blk.Transactions[1]}, []int{0, 1, 3}},
		{"all unsent", blk.Transactions[1:], []int{0, 1, 2, 3, 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cb, err := protocol.DecodeCompactBlock(p2p.CompactBlockOf(blk, c.unsent))
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, p := range cb.Prefilled {
				got = append(got, p.Index)
			}
			if !slices.Equal(got, c.want) || cb.TxCount() != len(blk.Transactions) {
				t.Fatalf("prefilled %v of %d, want %v of %d", got, cb.TxCount(), c.want, len(blk.Transactions))
			}
		})
	}
}
