package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/node"
)

// TestCloseHandsOffLastMinedBlock: a node mining on its own loop, with a
// peer listening, is closed. Every block it committed was handed to
// GossipSub while gossip still ran: Close stops the miner before it waits
// for the unsent blocks, so the last block committed is among them, and
// none is published after the network stopped (a publish that fails is
// not counted). Delivery itself is not asserted: the host may close
// under a message, and then the block reaches peers by sync.
func TestCloseHandsOffLastMinedBlock(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			miner, err := node.New(node.Config{
				Params:  chain.RegTest(),
				DataDir: t.TempDir(),
				Listen:  []string{"/ip4/127.0.0.1/tcp/0"},
				Logger:  testLogger(t, "miner"),
				Mine:    true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := miner.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { miner.Close() })
			peer := startNode(t, "peer", miner)
			// Not the miner's tip at one instant: a peer that checks each
			// block slower than the miner mines them stays a few behind.
			testutil.Eventually(t, 30*time.Second, "the peer hears the miner's blocks", func() bool {
				return peer.Chain().Tip().Height() >= 5 // the peer does not mine
			})
			if err := miner.Close(); err != nil {
				t.Fatal(err)
			}
			// Every block on the miner's chain is its own: the peer does
			// not mine.
			mined := miner.Chain().Tip().Height()
			if got := miner.Stats().Gossip.Block.Published; got != mined {
				t.Fatalf("%d blocks published of the %d mined", got, mined)
			}
		})
	}
}
