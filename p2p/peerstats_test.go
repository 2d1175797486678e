package p2p_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestPeerGossipCounters: each peer's counters say what it did. A valid
// block from a neighbour is received and accepted from it and sent on to
// the next; a bad one from a plain GossipSub peer is rejected and costs
// it score; the same message sent again by that peer is a duplicate.
func TestPeerGossipCounters(t *testing.T) {
	a, b, c := newGossipNode(t), newGossipNode(t), newGossipNode(t)
	line(t, a, b, c)
	// The attacker names messages by a counter, so its own seen cache
	// never drops what it publishes: a block it already relayed goes out
	// again, a duplicate at b.
	var seq atomic.Uint64
	evil := newHost(t)
	topic := joinBlockTopic(t, evil, b, append(unsignedGossip(),
		pubsub.WithMessageIdFn(func(*pubsubpb.Message) string { return strconv.FormatUint(seq.Add(1), 10) }))...)
	ctx := context.Background()

	blk := a.c.mine(t, testwallet.New("miner").Addr)
	if err := a.g.PublishBlock(ctx, blk); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "block reaches c", func() bool { return c.c.Tip().Hash == blk.Hash() })
	if got := b.g.PeerGossip(a.h.ID()); got.Received != 1 || got.Accepted != 1 || got.Rejected != 0 {
		t.Errorf("b's counters of a after one valid block: %+v", got)
	}
	if got := a.g.PeerGossip(b.h.ID()); got.Sent < 1 {
		t.Errorf("a's counters of b: sent %d, want the block", got.Sent)
	}
	testutil.Eventually(t, 10*time.Second, "b forwarded the block to c", func() bool { return b.g.PeerGossip(c.h.ID()).Sent >= 1 })
	// The propagation view: a saw it first (it mined it), c from b.
	for _, tt := range []struct {
		at   *gossipNode
		from peer.ID
	}{{a, a.h.ID()}, {b, a.h.ID()}, {c, b.h.ID()}} {
		seen := tt.at.g.Seen()
		if len(seen) != 1 || seen[0].Hash != blk.Hash() || seen[0].From != tt.from || seen[0].Height != 1 {
			t.Errorf("%s saw %+v, want block 1 from %s", tt.at.h.ID(), seen, tt.from)
		}
	}

	bad, err := b.c.NewTemplate(nil, testwallet.New("evil").Addr)
	if err != nil {
		t.Fatal(err)
	}
	for chain.CheckHeaderSanity(b.c.Params(), &bad.Header) == nil {
		bad.Header.Nonce++ // a nonce that misses the target
	}
	if err := topic.Publish(ctx, wire(bad)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b rejects evil's block and scores evil below zero", func() bool {
		g := b.g.PeerGossip(evil.ID())
		return g.Rejected == 1 && g.HasScore && g.Score < 0
	})
	// a's compact block carries a nonce of a's, so evil cannot repeat
	// its bytes; it sends its own form of the block twice instead. The
	// first is a new message to b, about a block b has (ignored); the
	// second has the same bytes, so the same id: a duplicate.
	for range 2 {
		if err := topic.Publish(ctx, wire(blk)); err != nil {
			t.Fatal(err)
		}
	}
	// The second copy is a duplicate as soon as the first is seen, which
	// is before the first's verdict is counted: wait for both.
	testutil.Eventually(t, 10*time.Second, "b judges evil's first copy of a's block and counts the second as a duplicate", func() bool {
		g := b.g.PeerGossip(evil.ID())
		return g.Duplicates == 1 && g.Received == 2
	})
	if got := b.g.PeerGossip(evil.ID()); got.Received != 2 || got.Accepted != 0 || got.Rejected != 1 || got.Ignored != 1 {
		t.Errorf("b's counters of evil: %+v, want two messages received (the bad one rejected, the first copy ignored)", got)
	}
	if got := b.g.PeerGossip(a.h.ID()); !got.HasScore || got.Score < 0 {
		t.Errorf("b's score of honest a: %+v", got)
	}
}
