package p2p_test

import (
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestSyncShortLastBatchNoLie: a peer whose last answer of blocks ends
// early (its allowance ran out, its stream reset: it only leaves the
// download, protocol.md 17.10.1 rule 5) is the only one to fetch from.
// What it delivered connects, and the download fails without a fault
// (rule 6: "no progress", a cool-down); the node then takes the last
// block from an honest peer, and the short peer stays connected. Before,
// the cut batch counted as the end of the download, the node asked the
// peer for headers after a block it never stored, found its claim above
// what it had, and banned it as a liar.
func TestSyncShortLastBatchNoLie(t *testing.T) {
	src := newTestChain(t)
	blocks := mineBlocks(t, src, testwallet.New("miner").Addr, 100)
	tip := src.Tip().Hash
	short := &hostileSyncPeer{
		status:  serveStatus(src),
		headers: serveHeaders(src),
		blocks: func(w io.Writer, hashes []chain.Hash) {
			pw := protocol.NewWriter(w)
			for _, h := range hashes {
				if h == tip {
					return // the last block is not served
				}
				b, err := src.Block(h)
				if err != nil || pw.WriteResponse(protocol.BlockResponse(b)) != nil {
					return
				}
			}
		},
	}
	short.start(t, src.Params().NetworkID())
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
	h := node.h
	connect(t, h, short.h)
	events.waitFailed(t, short.h, 20*time.Second)
	if got := node.c.Tip().Height(); got != 99 {
		t.Fatalf("after the short download the tip is at %d, want 99", got)
	}
	honest := newSyncNode(t)
	processAll(t, honest.c, blocks, 64)
	connect(t, h, honest.h)
	testutil.Eventually(t, 20*time.Second, "the node takes the last block from the honest peer", func() bool {
		return node.c.Tip().Hash == tip
	})
	if h.Network().Connectedness(short.h.ID()) != network.Connected {
		t.Fatal("the peer that only answered short was dropped")
	}
}
