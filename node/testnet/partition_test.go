package testnet_test

import (
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// healBound is what TestPartitionTen holds the healed network to: all
// ten nodes on the heavier branch, the losing side reorganised. Measured
// with -race on 2 cores: 0.08 – 0.26 s (docs/benchmarks.md). It is under
// the syncer's 10 s status refresh, so the test fails if nodes converge
// only through the refresh and not through the status exchange that a
// new connection starts.
const healBound = 5 * time.Second

// TestPartitionTen: ten nodes share a funded chain, split 6 / 4, and
// both sides mine (the six more) and take transactions: some only one
// side sees, and one sender spending the same nonce to a different
// recipient on each side. After the heal every node is on the heavier
// branch within healBound; every transaction of the losing side that is
// still valid there is back in the losing side's mempools and is mined
// by the next block; the losing half of the double spend, and a spend of
// a coinbase only the losing branch paid, are dropped; and an
// independent replay of the final chain finds every balance and nonce
// as the nodes' ledgers have them, and no transaction twice.
func TestPartitionTen(t *testing.T) {
	nt := newNet(t, 10)
	p := nt.Params()
	ctx := t.Context()
	win, lose := []int{0, 1, 2, 3, 4, 5}, []int{6, 7, 8, 9}

	// Before the split: n0 mines, then funds four wallets from its own.
	var (
		onlyLoser = testnet.NewWallet("only the losing side")
		chained   = testnet.NewWallet("three in a row on the losing side")
		onlyWin   = testnet.NewWallet("only the winning side")
		double    = testnet.NewWallet("double spender")
		sink      = testnet.NewWallet("recipient").Addr
	)
	const funds = 30
	mineRound(nt, []int{0}, 4)
	var expected []*chain.Transaction // must end on the main chain, once
	for _, w := range []*testnet.Wallet{onlyLoser, chained, onlyWin, double} {
		tx, err := nt.Node(0).Send(ctx, w.Addr, funds, 1)
		if err != nil {
			t.Fatal(err)
		}
		expected = append(expected, tx)
	}
	mineRound(nt, []int{0}, 1)
	base := nt.Node(0).Chain().Tip().Height()
	for _, w := range []*testnet.Wallet{onlyLoser, chained, onlyWin, double} {
		if a, _ := nt.Node(9).Chain().Account(w.Addr); a.Balance != funds {
			t.Fatalf("setup: %s has %d, want %d", w.Addr, a.Balance, funds)
		}
	}

	nt.Partition(win, lose)

	// The losing side: four transactions that stay valid after the
	// heal, one half of the double spend, mined in three blocks; then a
	// spend of n6's coinbase from that branch, and one more transaction
	// that is only pending when the partition heals.
	submit := func(i int, tx *chain.Transaction) *chain.Transaction {
		t.Helper()
		if err := nt.Node(i).SubmitTx(ctx, tx); err != nil {
			t.Fatalf("n%d: submit %s: %v", i, tx.ID().Short(), err)
		}
		return tx
	}
	survivors := []*chain.Transaction{submit(6, onlyLoser.Transfer(p, sink, 5, 1, 0))}
	for nonce := range uint64(3) {
		// One at a time: peers validate gossip concurrently, and one that
		// checks nonce 1 before nonce 0 ignores it as a gap for good.
		tx := submit(7+int(nonce), chained.Transfer(p, sink, 2+nonce, 1, nonce))
		nt.WaitInMempool(stepTimeout, ids(tx), lose...)
		survivors = append(survivors, tx)
	}
	loserHalf := submit(9, double.Transfer(p, testnet.NewWallet("loser's recipient").Addr, 10, 1, 0))
	nt.WaitInMempool(stepTimeout, ids(append(survivors, loserHalf)...), lose...)
	mineRound(nt, lose, 1)
	coinbaseSpend, err := nt.Node(6).Send(ctx, sink, 20, 1) // n6's reward exists on this branch only
	if err != nil {
		t.Fatal(err)
	}
	nt.WaitInMempool(stepTimeout, ids(coinbaseSpend), lose...)
	mineRound(nt, lose, 2)
	for _, tx := range append(survivors, loserHalf, coinbaseSpend) {
		if _, err := nt.Node(9).Chain().TxLocation(tx.ID()); err != nil {
			t.Fatalf("setup: %s not mined on the losing side: %v", tx.ID().Short(), err)
		}
	}
	pending := submit(9, onlyLoser.Transfer(p, sink, 4, 1, 1))
	survivors = append(survivors, pending)
	nt.WaitInMempool(stepTimeout, ids(pending), lose...)

	// The winning side: one transaction of its own and the other half of
	// the double spend, in six blocks.
	winnerOwn := submit(1, onlyWin.Transfer(p, sink, 7, 1, 0))
	winnerHalf := submit(2, double.Transfer(p, testnet.NewWallet("winner's recipient").Addr, 12, 1, 0))
	nt.WaitInMempool(stepTimeout, ids(winnerOwn, winnerHalf), win...)
	mineRound(nt, win, 6)
	expected = append(expected, winnerOwn, winnerHalf)

	winTip, loseTip := nt.Node(0).Chain().Tip(), nt.Node(6).Chain().Tip()
	if winTip.Height() != base+6 || loseTip.Height() != base+3 || winTip.Work.Cmp(loseTip.Work) <= 0 {
		t.Fatalf("setup: sides at %d and %d, want %d and %d with more work on the first",
			winTip.Height(), loseTip.Height(), base+6, base+3)
	}

	start := time.Now()
	nt.Heal()
	nt.WaitConverged(healBound)
	took := time.Since(start)
	t.Logf("healed: all 10 nodes on the heavier branch %s after the heal (bound %s)", took.Round(time.Millisecond), healBound)
	if tip := nt.Node(6).Chain().Tip().Hash; tip != winTip.Hash {
		t.Fatalf("converged on %s, want the winning side's tip %s", tip.Short(), winTip.Hash.Short())
	}

	// The losing side's mempools: every survivor is back, the loser's
	// half of the double spend and the orphaned coinbase's spend are not.
	nt.WaitInMempool(stepTimeout, ids(survivors...), lose...)
	for _, i := range nt.Running() {
		for _, tx := range []*chain.Transaction{loserHalf, coinbaseSpend} {
			if nt.Node(i).Mempool().Has(tx.ID()) {
				t.Errorf("n%d: %s is still in the mempool; it conflicts with the heavier branch", i, tx.ID().Short())
			}
		}
	}

	// One more block from the losing side mines the survivors; every node
	// takes it.
	nt.WaitMesh(stepTimeout)
	nt.Mine(6, 1)
	nt.WaitTxIncluded(stepTimeout, ids(survivors...)...)
	nt.WaitConverged(stepTimeout)
	nt.Wait(stepTimeout, "every mempool empty", func() bool {
		for _, n := range nt.Nodes() {
			if n.Mempool().Len() != 0 {
				return false
			}
		}
		return true
	})
	expected = append(expected, survivors...)

	audit, err := testnet.AuditChain(nt.Node(0).Chain())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nt.Nodes() {
		if err := audit.Check(n.Chain()); err != nil {
			t.Errorf("%s: %v", n.Host().ID(), err)
		}
	}
	for _, tx := range expected {
		if _, ok := audit.Included[tx.ID()]; !ok {
			t.Errorf("transaction %s (%s → %s, %d) lost", tx.ID().Short(), tx.Sender, tx.Recipient, tx.Amount)
		}
	}
	for _, tx := range []*chain.Transaction{loserHalf, coinbaseSpend} {
		if h, ok := audit.Included[tx.ID()]; ok {
			t.Errorf("transaction %s on the main chain at height %d; it conflicts with the heavier branch", tx.ID().Short(), h)
		}
	}
	// And by hand, for the senders of the fork: each nonce used once.
	for _, c := range []struct {
		w       *testnet.Wallet
		balance int64
		nonce   uint64
	}{
		{double, funds - 13, 1},
		{onlyLoser, funds - 6 - 5, 2},
		{chained, funds - 3 - 4 - 5, 3},
		{onlyWin, funds - 8, 1},
	} {
		if a := audit.Accounts[c.w.Addr]; a.Balance != c.balance || a.Nonce != c.nonce {
			t.Errorf("%s: %+v, want balance %d nonce %d", c.w.Addr, a, c.balance, c.nonce)
		}
	}
}
