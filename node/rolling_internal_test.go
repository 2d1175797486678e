package node

import (
	"context"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestRollingMinimumAtTheNode: once a newcomer to a full pool evicted,
// a gossiped transfer paying the minimum relay fee but under the rolling
// minimum is refused before its signature is checked, with ErrFeeTooLow
// alone (no rule code, not the network's floor: gossip ignores it);
// gossip's check before decoding (the adapter's MinFee) stays at the
// minimum relay fee, so such transfers are still decoded and kept for
// compact blocks; and a transfer the node's wallet signs without a fee
// pays the rolling minimum.
func TestRollingMinimumAtTheNode(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(),
		MempoolOptions: []chain.MempoolOption{chain.WithMaxTxs(2)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, p, in := context.Background(), n.chain.Params(), n.intake
	mine := func() {
		t.Helper()
		if _, err := n.miner.mineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		mine()
	}
	alice, carol, bob := testwallet.New("alice"), testwallet.New("carol"), testwallet.New("bob")
	for _, to := range []string{alice.Addr, carol.Addr} {
		if _, err := n.Send(ctx, to, 40, 0); err != nil {
			t.Fatal(err)
		}
	}
	mine()
	size := chain.SignedSize(p, alice.Tx(p, bob.Addr, 1, 1, 0))
	fee := n.mempool.MinFee(size)
	gossip := func(txs ...*chain.Transaction) []error {
		return in.addTxs(txs, chain.TxIDs(txs), OriginGossip)
	}
	for i, err := range gossip(alice.Tx(p, bob.Addr, 1, fee, 0), alice.Tx(p, bob.Addr, 1, fee, 1)) {
		if err != nil {
			t.Fatalf("alice's transfer %d: %v", i, err)
		}
	}
	// Alice's cheapest stretch is her last alone (the shortest at the
	// lowest mean).
	if err := gossip(carol.Tx(p, bob.Addr, 1, fee+10, 0))[0]; err != nil {
		t.Fatalf("carol's transfer, evicting alice's last: %v", err)
	}
	rolling := n.mempool.RollingMinFee()
	if rolling != fee+1 || len(n.mempool.Pending(alice.Addr)) != 1 {
		t.Fatalf("rolling minimum %d, alice's pending %d; want %d, her last (fee %d) evicted", rolling, len(n.mempool.Pending(alice.Addr)), fee+1, fee)
	}

	checks := func() uint64 { s := n.chain.SigCache().Stats(); return s.Verifies + s.Hits }
	before := checks()
	err = gossip(carol.Tx(p, bob.Addr, 1, fee, 1))[0]
	if !errors.Is(err, chain.ErrFeeTooLow) || errors.Is(err, chain.ErrFeeBelowFloor) || chain.CodeOf(err) != 0 {
		t.Fatalf("a gossiped fee of %d under a rolling minimum of %d: %v; want ErrFeeTooLow alone", fee, rolling, err)
	}
	if got := checks(); got != before {
		t.Fatalf("%d signature checks for a transfer refused by its fee", got-before)
	}
	if got := (chainAdapter{n}).MinFee(size); got != fee {
		t.Fatalf("gossip's fee check before decoding asks %d, want the minimum relay fee %d", got, fee)
	}
	tx, err := n.Send(ctx, bob.Addr, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Fee != rolling {
		t.Fatalf("the wallet paid %d with no fee named, want the rolling minimum %d", tx.Fee, rolling)
	}
}
