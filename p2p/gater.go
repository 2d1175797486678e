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
// finish accepting, a peer banned for misbehaviour until its ban ends,
// and a blocked peer until it is unblocked. Refusing at the gate, not
// closing after the fact, is what keeps the bootstrap and discovery dial
// loops from reconnecting a refused peer at once: their dials fail and
// back off.
//
// Bans and blocks are kept apart: a ban is a verdict on a peer's conduct
// and ends by itself; a block is the operator's (or a test's) decision
// and lasts until it is undone. Lifting one never lifts the other.
type banGater struct {
	mu      sync.Mutex
	banned  map[peer.ID]time.Time
	blocked map[peer.ID]struct{}
}

func newBanGater() *banGater {
	return &banGater{banned: make(map[peer.ID]time.Time), blocked: make(map[peer.ID]struct{})}
}

func (g *banGater) block(p peer.ID, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.blocked[p] = struct{}{}
	} else {
		delete(g.blocked, p)
	}
}

// refuses reports whether p is banned or blocked.
func (g *banGater) refuses(p peer.ID) bool {
	if g.isBanned(p) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.blocked[p]
	return ok
}

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

func (g *banGater) InterceptPeerDial(p peer.ID) bool { return !g.refuses(p) }

func (g *banGater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *banGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *banGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.refuses(p)
}

// InterceptUpgraded checks again: a connection whose handshake passed
// InterceptSecured just before a Ban or Block would otherwise be added
// after the ClosePeer that was meant to end it.
func (g *banGater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.refuses(c.RemotePeer()), 0
}

// Ban refuses p for d and closes its connections: the syncer calls it
// for a peer that sent invalid data (gossip leaves such peers to GossipSub's
// scoring).
func (h *Host) Ban(p peer.ID, d time.Duration) {
	h.gater.ban(p, d)
	_ = h.Network().ClosePeer(p)
}

// Block refuses p, in both directions, and closes its connections, until
// Unblock. Unlike Ban it has no end and says nothing about p's conduct:
// it is for cutting a link on purpose, as the testnet harness does to
// partition a network. Dial loops that keep p (bootstrap, added peers)
// go on trying with backoff and fail at the gate.
func (h *Host) Block(p peer.ID) {
	h.gater.block(p, true)
	_ = h.Network().ClosePeer(p)
}

// Unblock lets p connect again; a ban on p stays in force. Nothing is
// dialled at once: a dial loop that keeps p retries at its next backoff,
// and a caller that wants the link back now dials it.
func (h *Host) Unblock(p peer.ID) { h.gater.block(p, false) }
