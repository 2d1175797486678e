package p2p_test

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestPeerExchange: leaves that know only a hub learn of each other from
// the PRUNEs of the hub's overflowing mesh (signed peer records, checked
// by GossipSub) and connect, where they trust the hub, as nodes trust
// their bootstrap peers; a leaf that does not trust it learns nothing.
func TestPeerExchange(t *testing.T) {
	params := pubsub.DefaultGossipSubParams()
	params.D, params.Dlo, params.Dhi, params.Dscore, params.Dout = 2, 1, 2, 1, 0
	params.HeartbeatInterval = 100 * time.Millisecond
	params.PruneBackoff = time.Second
	fast := p2p.WithPubSubOptions(pubsub.WithGossipSubParams(params))
	join := func(h host.Host, opts ...p2p.GossipOption) {
		g, err := p2p.NewGossip(context.Background(), h, newTestChain(t), nopSync{}, append(opts, fast)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
	}
	hub := newHost(t)
	join(hub, p2p.WithPeerExchange())
	var leaves []host.Host
	for range 6 {
		l := newHost(t)
		join(l, p2p.WithTrustedPeers([]peer.ID{hub.ID()}))
		connect(t, l, hub)
		leaves = append(leaves, l)
	}
	loner := newHost(t)
	join(loner)
	connect(t, loner, hub)

	testutil.Eventually(t, 30*time.Second, "a leaf connected to another leaf", func() bool {
		for _, a := range leaves {
			for _, b := range leaves {
				if a != b && a.Network().Connectedness(b.ID()) == network.Connected {
					return true
				}
			}
		}
		return false
	})
	// The loner was pruned like the others (the hub keeps two of eight),
	// but it took no PX: its only connections are the hub and leaves that
	// dialled it on the hub's word.
	for _, p := range loner.Network().Peers() {
		if c := loner.Network().ConnsToPeer(p); p != hub.ID() && len(c) > 0 && c[0].Stat().Direction == network.DirOutbound {
			t.Errorf("the loner dialled %s: it took PX from a hub it does not trust", p)
		}
	}
}
