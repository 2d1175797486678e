package node

import (
	"context"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestAdapterReportsOrphansConnected: blocks that connect out of the
// orphan pool when their parent arrives by gossip are counted in what the
// adapter reports, so gossip knows to announce the tip it did not
// forward (p2p's TestGossipOrphansAnnounced covers the announcement).
func TestAdapterReportsOrphansConnected(t *testing.T) {
	// The two blocks come from a miner nobody is connected to.
	miner, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer miner.Close()
	b1, err := miner.MineOne(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b2, err := miner.MineOne(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	gossip := chainAdapter{b}
	r, err := gossip.ProcessBlock(context.Background(), b2, nil)
	if !errors.Is(err, chain.ErrUnknownParent) || r.Connected != 0 || r.Joined {
		t.Fatalf("b2 before b1: %+v, %v, want an orphan", r, err)
	}
	r, err = gossip.ProcessBlock(context.Background(), b1, nil)
	if err != nil || !r.Joined || r.Connected != 2 || r.Tip == nil || r.Tip.Hash != b2.Hash() {
		t.Fatalf("b1: %+v, %v; want b1 joined, two blocks connected, tip b2", r, err)
	}
	b.intake.wait() // gossip was answered before the commit ended
	if b.Chain().Tip().Hash != b2.Hash() {
		t.Fatal("b2 did not connect after its parent")
	}
}
