package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// banGater is the host's connection gater: it refuses to dial, or to
// finish accepting, a peer banned for misbehaviour until its ban ends.
// Refusing at the gate, not closing after the fact, is what keeps the
// bootstrap and discovery dial loops from reconnecting a banned peer
// at once: their dials fail and back off.
type banGater struct {
	mu     sync.Mutex
	banned map[peer.ID]time.Time
}

func newBanGater() *banGater { return &banGater{banned: make(map[peer.ID]time.Time)} }

func (g *banGater) ban(p peer.ID, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	for q, until := range g.banned { // expired bans leave, so the map stays bounded
		if now.After(until) {
			delete(g.banned, q)
		}
	}
	g.banned[p] = now.Add(d)
}

func (g *banGater) isBanned(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.banned[p]
	if ok && time.Now().After(until) {
		delete(g.banned, p)
		return false
	}
	return ok
}

func (g *banGater) InterceptPeerDial(p peer.ID) bool { return !g.isBanned(p) }

func (g *banGater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *banGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *banGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.isBanned(p)
}

func (g *banGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// Ban refuses p for d and closes its connections: the syncer calls it
// for a peer that sent invalid data (gossip leaves such peers to GossipSub's
// scoring).
func (h *Host) Ban(p peer.ID, d time.Duration) {
	h.gater.ban(p, d)
	_ = h.Network().ClosePeer(p)
}
