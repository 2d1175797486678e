package p2p_test

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// TestCompactNoRoomNotFetchedWhole: a receiver whose resource manager
// has no room for a blocktxn answer (its service's memory limit below
// the largest answer) does not fall back to fetching the block whole,
// which is larger and would be read without a reservation: the request
// fails, nothing is fetched, and the block comes by the sync. Before,
// every such failure fetched the whole block.
func TestCompactNoRoomNotFetchedWhole(t *testing.T) {
	a, b := newCompactNode(t, true, nil), newCompactNode(t, true, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b)
	err := b.h.Network().ResourceManager().ViewService(p2p.BlockTxnService, func(s network.ServiceScope) error {
		l, ok := s.(rcmgr.ResourceScopeLimiter)
		if !ok {
			t.Fatalf("the resource manager's service scope %T sets no limit", s)
		}
		base, ok := l.Limit().(*rcmgr.BaseLimit)
		if !ok {
			t.Fatalf("the blocktxn service's limit is a %T", l.Limit())
		}
		small := *base
		small.Memory = protocol.MaxBlockTxnResponseSize / 2
		l.SetLimit(&small)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	link(t, a, b)
	transfers(t, p, alice, 5, a.c) // b has none of them
	blk := publishMined(t, a)
	waitTipIs(t, b.c, blk, "b connects the block by the sync")
	waitBlocksJudged(t, b.g, 1)
	if got := b.g.Stats().Compact; got.Requested != 1 || got.Fetched != 0 {
		t.Fatalf("b: %+v; want one request refused for want of room, and no block fetched whole", got)
	}
}
