package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestOrphansAnnounced: blocks that connect out of the orphan pool when
// their parent arrives by gossip are not forwarded by gossip (only the
// parent is); the node announces its new tip, so a peer syncs them at
// once rather than at its next status refresh, made an hour long here.
func TestOrphansAnnounced(t *testing.T) {
	start := func(bootstrap ...string) *Node {
		n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: bootstrap, SyncOptions: []p2p.SyncOption{p2p.WithStatusInterval(time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
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

	b := start()
	c := start(b.Host().FullAddrs()[0].String())
	sub := c.Subscribe(16)
	defer sub.Close()
	// c has exchanged status with b (both at genesis) once its
	// connection is logged and the first exchange is done.
	deadline := time.Now().Add(10 * time.Second)
	for c.syncer.Stats().Served == 0 && b.syncer.Stats().Served == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no status exchange between b and c")
		}
		time.Sleep(10 * time.Millisecond)
	}

	gossip := chainAdapter{b}
	if _, err := gossip.ProcessBlock(context.Background(), b2); !errors.Is(err, chain.ErrUnknownParent) {
		t.Fatalf("b2 before b1: %v, want an orphan", err)
	}
	if ok, err := gossip.ProcessBlock(context.Background(), b1); !ok || err != nil {
		t.Fatalf("b1: joined %v, %v", ok, err)
	}
	if b.Chain().Tip().Hash != b2.Hash() {
		t.Fatal("b2 did not connect after its parent")
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for c.Chain().Tip().Hash != b2.Hash() {
		select {
		case <-sub.C:
		case <-timer.C:
			t.Fatalf("c at height %d: b's new tip was never announced", c.Chain().Tip().Height())
		}
	}
}
