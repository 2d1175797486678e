package testnet_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestFullPoolsLoseNothingAccepted offers three real nodes with pools
// of 24 transactions more than they hold: first x's transfers at the
// minimum fee through node 0, which fill every pool (node 0's as its own,
// the others' as a peer's), then y's at three times the fee through the
// same node. A transfer node 0 accepted stays with it until a block
// takes it, so y's are refused there at entry (mempool full) rather than
// accepted at the cost of x's: before, y's evicted x's from node 0, and
// the other pools dropped their copies of x's for y's, so accepted
// transfers were in no pool and no block. Every accepted transfer must be
// mined; refusals must say mempool full.
func TestFullPoolsLoseNothingAccepted(t *testing.T) {
	const pool = 24
	nt := newNet(t, 3, testnet.WithSeed(13), testnet.WithMempoolOptions(chain.WithMaxTxs(pool)))
	ctx := t.Context()
	p := nt.Params()
	for i := range 3 {
		nt.Mine(i, 1)
		nt.WaitConverged(stepTimeout)
	}
	nt.Mine(0, 5) // node 0's wallet funds x and y
	nt.WaitConverged(stepTimeout)
	n0 := nt.Node(0)
	sink := nt.Node(1).WalletAddress()
	x, y := testnet.NewWallet("fullpool x"), testnet.NewWallet("fullpool y")
	probe := x.Transfer(p, sink, 1, 1<<20, 0) // a fee at least as long as the ones sent
	fee := n0.Mempool().MinFee(probe.EncodedSize())
	for _, w := range []*testnet.Wallet{x, y} {
		if _, err := n0.Send(ctx, w.Addr, pool*(1+3*fee), 0); err != nil {
			t.Fatal(err)
		}
	}
	nt.Mine(0, 1)
	nt.WaitConverged(stepTimeout)

	var accepted []chain.Hash
	refused := map[string]int{}
	// spread waits for each accepted transfer to reach every pool before
	// the next is offered: gossip validates concurrently, and a batch
	// more than the queue's window ahead of an earlier one still in
	// flight would be refused for its nonce gap.
	offer := func(w *testnet.Wallet, fee uint64, count int, spread bool) {
		for nonce := range uint64(count) {
			tx := w.Transfer(p, sink, 1, fee, nonce)
			switch err := n0.SubmitTx(ctx, tx); {
			case err == nil:
				accepted = append(accepted, tx.ID())
				if spread {
					nt.Wait(stepTimeout, "a transfer in every pool", func() bool {
						for _, n := range nt.Nodes() {
							if !n.Mempool().Has(tx.ID()) {
								return false
							}
						}
						return true
					})
				}
			case errors.Is(err, chain.ErrMempoolFull):
				refused["mempool full"]++
				return // its later nonces would only queue behind the gap
			default:
				t.Fatalf("%s nonce %d: %v", w.Addr, nonce, err)
			}
		}
	}
	offer(x, fee, pool, true)
	offer(y, 3*fee, pool, false)
	if refused["mempool full"] == 0 {
		t.Errorf("a pool full of its node's own transfers accepted %d more", len(accepted)-pool)
	}
	t.Logf("accepted %d, refused %v", len(accepted), refused)

	onChain := func() error {
		for _, id := range accepted {
			if _, err := n0.Chain().TxLocation(id); err != nil {
				return fmt.Errorf("accepted %s not mined", id.Short())
			}
		}
		return nil
	}
	var missing error
	nt.Wait(stepTimeout, "every accepted transfer mined", func() bool {
		if missing = onChain(); missing == nil {
			return true
		}
		for i, n := range nt.Nodes() {
			if n.Mempool().Len() > 0 {
				nt.Mine(i, 1)
				nt.WaitConverged(stepTimeout)
				return false
			}
		}
		// Nothing left to mine and still missing: lost.
		t.Fatalf("%v, and no pool holds anything to mine", missing)
		return false
	})
}
