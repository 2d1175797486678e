package node

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestMinedOnPrunedParentIsStale: a block mined on a tip that a
// reorganisation then left far enough below the new tip to be pruned
// (a node far behind its peers, mining while it syncs) has no parent
// when it is connected. That is a stale tip, which /mine retries and the
// mining loop mines past, not a failure of the node's own block (a 409
// from /mine); and mining on the new tip goes on.
func TestMinedOnPrunedParentIsStale(t *testing.T) {
	ctx := context.Background()
	alice, bob := testwallet.New("alice"), testwallet.New("bob")
	rival, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: bob.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer rival.Close()
	// 102 blocks: the node's one block then lies 101 blocks' work below
	// the rival's tip, past sideBranchPruneDepth (100).
	branch := make([]*chain.Block, 102)
	for i := range branch {
		if branch[i], err = rival.MineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}

	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinerAddress: alice.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a1, err := n.MineOne(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hashes atomic.Uint64
	b, err := n.chain.Mine(ctx, n.mempool, alice.Addr, 1, &hashes) // on a1
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.intake.processBlocks(ctx, branch, true, OriginSync, nil); err != nil {
		t.Fatalf("the rival branch: %v", err)
	}
	if tip := n.chain.Tip(); tip.Hash != branch[len(branch)-1].Hash() {
		t.Fatalf("tip at height %d %s, want the rival branch's", tip.Height(), tip.Hash.Short())
	}
	if _, err := n.chain.Meta(a1.Hash()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("the node's own block after the reorganisation: %v, want it pruned", err)
	}

	got, err := n.miner.connect(ctx, b)
	if !errors.Is(err, chain.ErrStaleTip) || chain.CodeOf(err) != chain.ErrUnknownParent || got != nil {
		t.Fatalf("a block on the pruned branch: %v, %v; want ErrStaleTip with the rule's UnknownParent", got, err)
	}
	next, err := n.MineOne(ctx)
	if err != nil {
		t.Fatalf("mining on the new tip: %v", err)
	}
	if next.Header.PrevHash != branch[len(branch)-1].Hash() {
		t.Fatalf("mined on %s, want the rival branch's tip", next.Header.PrevHash.Short())
	}
}
