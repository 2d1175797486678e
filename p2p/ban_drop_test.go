package p2p_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/p2p"
)

// holdTracer stalls GossipSub's event loop on the first RPC from one peer
// once armed, as a flood does: what the peer sends meanwhile is read and
// queued, not yet handled.
type holdTracer struct {
	p2p.NopRawTracer
	mu      sync.Mutex
	from    peer.ID
	held    chan struct{} // closed when the RPC is held
	release chan struct{}
}

func (h *holdTracer) arm(from peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.from, h.held, h.release = from, make(chan struct{}), make(chan struct{})
}

func (h *holdTracer) RecvRPC(rpc *pubsub.RPC) {
	h.mu.Lock()
	armed := h.from != "" && rpc.From() == h.from
	held, release := h.held, h.release
	if armed {
		h.from = ""
	}
	h.mu.Unlock()
	if armed {
		close(held)
		<-release
	}
}

// TestGossipBannedPeerDroppedUnread: messages a peer sent before its ban
// that the node had read but not yet handled cost nothing once it is
// banned: none reaches admission, and the peer is disconnected. A real
// libp2p attacker writes fee-jam transactions straight onto its GossipSub
// stream; the node's event loop is held on one of them (as under a
// flood) while the peer is banned, the way gossip bans it for rejected
// transactions (Host.Ban).
func TestGossipBannedPeerDroppedUnread(t *testing.T) {
	c := &timedChain{testChain: newTestChainFor(t, chain.OpenNet())}
	vh, s := startBanningHost(t, c)
	hold := &holdTracer{}
	g, err := p2p.NewGossip(context.Background(), vh.Host, c, s, p2p.WithGossipLogger(testLogger(t)),
		p2p.WithPubSubOptions(fastGossip(), pubsub.WithRawTracer(hold)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })

	a, err := newDosAttacker(t, c.testChain, peer.AddrInfo{ID: vh.ID(), Addrs: vh.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	const queued = 40
	msgs := make([][]byte, 1+queued)
	for i := range msgs {
		msgs[i] = txsMsg(feeJamTx(i))
	}
	if a.flood(msgs[:1]) != 1 {
		t.Fatal("the first message was not written")
	}
	testutil.Eventually(t, 10*time.Second, "the first message rejected", func() bool { return g.Stats().Tx.Rejected == 1 })

	hold.arm(a.h.ID())
	if n := a.flood(msgs[1:]); n != queued {
		t.Fatalf("wrote %d of %d", n, queued)
	}
	select {
	case <-hold.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the node never read the next message")
	}
	vh.Ban(a.h.ID(), time.Minute)
	close(hold.release)

	testutil.Eventually(t, 10*time.Second, "the banned peer's messages dropped", func() bool { return g.Stats().FromBanned >= 1 })
	testutil.Eventually(t, 10*time.Second, "the banned peer disconnected", func() bool {
		return vh.Network().Connectedness(a.h.ID()) != network.Connected
	})
	testutil.Eventually(t, 10*time.Second, "no validation under way", func() bool {
		st := g.Stats().Tx
		return st.In == st.Accepted+st.Rejected+st.Ignored
	})
	if calls, st := c.calls.Load(), g.Stats(); calls != 1 || st.Tx.In != 1 {
		t.Fatalf("after the ban %d messages reached admission and %d validation (dropped unread %d); want none",
			calls-1, st.Tx.In-1, st.FromBanned)
	}
}
