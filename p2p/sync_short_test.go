package p2p_test

import (
	"io"
	"slices"
	"sync"
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

// TestSyncFirstHeadersFitTheClaim: a node a few blocks behind its peer
// asks for about as many headers as the peer claims above its tip (and
// headerSlack more), not for the 2,000 a server charges in full
// (protocol.md §17.9), and syncs; one far behind asks for 2,000. A full
// answer to the smaller request is not the peer's tip: a node on a
// branch of its own, whose fork point is below what the first answer
// reaches, asks for 2,000 next and takes the heavier branch, the peer
// not dropped as a liar. Before, a node following a fast chain paid
// 2,000 headers of its allowance for every few blocks and was refused.
func TestSyncFirstHeadersFitTheClaim(t *testing.T) {
	const max = protocol.MaxHeadersPerResponse
	for _, tc := range []struct {
		name string
		// have of the peer's blocks the node holds, and own blocks of
		// its own branch on them; the peer has ahead more than have.
		have, own, ahead int
		want             []int // the max of each GetHeaders
	}{
		{"three behind", 20, 0, 3, []int{3 + p2p.HeaderSlack}},
		{"from genesis, 30 behind", 0, 0, 30, []int{30 + p2p.HeaderSlack}},
		{"far behind", 0, 0, max - p2p.HeaderSlack, []int{max}},
		{"a branch of its own, 20 long", 0, 20, 23, []int{23 - 20 + p2p.HeaderSlack, max}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newTestChain(t)
			blocks := mineBlocks(t, src, testwallet.New("miner").Addr, tc.have+tc.ahead)
			var mu sync.Mutex
			var maxes []int
			peer := &hostileSyncPeer{
				status: serveStatus(src),
				headers: func(w io.Writer, req protocol.GetHeaders) {
					mu.Lock()
					maxes = append(maxes, req.Max)
					mu.Unlock()
					serveHeaders(src)(w, req)
				},
				blocks: trickle(src, 0),
			}
			peer.start(t, src.Params().NetworkID())
			node := newSyncNode(t)
			processAll(t, node.c, blocks[:tc.have], 64)
			mineBlocks(t, node.c, testwallet.New("another miner").Addr, tc.own)
			connect(t, node.h, peer.h)
			testutil.Eventually(t, 60*time.Second, "the node on the peer's tip", func() bool {
				return node.c.Tip().Hash == src.Tip().Hash
			})
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(maxes, tc.want) {
				t.Fatalf("the GetHeaders asked for %v headers, want %v", maxes, tc.want)
			}
			if node.h.Network().Connectedness(peer.h.ID()) != network.Connected {
				t.Fatal("the peer was dropped")
			}
		})
	}
}
