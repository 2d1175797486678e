package p2p_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestDoSCostTrickler measures issue 12's second attack with the
// node's default deadlines, for docs/benchmarks.md: a node at genesis
// meets a trickler (an enormous claim, headers of a 5-block branch of
// its own, then one block every 12 s) and an honest peer with 100 blocks
// at once. It reports how long the node stays at a stale height, what the
// trickler had to write, and how the trickler's turn ended. A figure, not
// a check of timing: it runs only with GOSSIPCHAIN_DOS_FIGURES=1.
func TestDoSCostTrickler(t *testing.T) {
	if os.Getenv("GOSSIPCHAIN_DOS_FIGURES") == "" {
		t.Skip("set GOSSIPCHAIN_DOS_FIGURES=1 to measure")
	}
	events := &syncEvents{}
	node := &syncNode{h: newHost(t), c: newTestChain(t)}
	node.s = p2p.NewSyncer(context.Background(), node.h, node.c, p2p.NewGater(), p2p.WithSyncNotify(events.add))
	t.Cleanup(node.s.Close)
	honest := newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("honest").Addr, 100)
	cheap := newTestChain(t)
	mineBlocks(t, cheap, testwallet.New("trickler").Addr, 5)
	trickler := &hostileSyncPeer{
		headers: serveHeaders(cheap),
		blocks:  trickle(cheap, 12*time.Second),
	}
	trickler.start(t, node.c.Params().NetworkID())
	start := time.Now()
	connect(t, node.h, trickler.h)
	connect(t, node.h, honest.h)
	testutil.Eventually(t, 120*time.Second, "the node on the honest tip", func() bool { return node.c.Tip().Hash == honest.c.Tip().Hash })
	stale := time.Since(start)
	ev, _ := events.failed(trickler.h)
	t.Logf("stale for %.2f s; the trickler wrote %d bytes; its download ended after %.2f s: %v",
		stale.Seconds(), trickler.written.Load(), ev.Duration.Seconds(), ev.Err)
}
