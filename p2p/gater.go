package p2p

import (
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Gater is the host's connection gater and the node's one store of
// bans: the syncer bans through it (via Host.Ban). It refuses to dial, or
// to finish accepting, a peer banned for misbehaviour until its ban ends,
// and a blocked peer until it is unblocked. Refusing at the gate, not
// closing after the fact, is what keeps the bootstrap and discovery dial
// loops from reconnecting a refused peer at once: their dials fail and
// back off.
//
// A Gater of its own serves a syncer on a host built without one (tests):
// the syncer then refuses a banned peer itself, on connect and on each
// stream.
//
// Bans and blocks are kept apart: a ban is a verdict on a peer's conduct
// and ends by itself; a block is the operator's (or a test's) decision
// and lasts until it is undone. Lifting one never lifts the other.
//
// A ban also counts against the IP addresses the peer was connected
// from (protocol.md §14.4): an IP from which maxBansPerIP peers are
// banned at once is refused at accept, before the handshake, so a fresh
// identity from the same IP costs us a TCP accept, not a handshake and
// the messages it takes to be banned again.
type Gater struct {
	mu      sync.Mutex
	banned  map[peer.ID]time.Time
	blocked map[peer.ID]struct{}
	// ipBans holds, for each IP a banned peer was connected from, the
	// end of each such peer's latest ban (at most maxBansPerIP peers,
	// the latest): one identity counts once however often it is banned.
	ipBans map[string]map[peer.ID]time.Time
	// ipExempt tells the IPs whose bans are not counted: loopback, where
	// a local reverse proxy, a Tor daemon or a local test network puts
	// every inbound peer behind one address.
	ipExempt func(net.IP) bool
}

// NewGater returns a gater that refuses no one yet.
func NewGater() *Gater {
	return &Gater{banned: make(map[peer.ID]time.Time), blocked: make(map[peer.ID]struct{}),
		ipBans: make(map[string]map[peer.ID]time.Time), ipExempt: net.IP.IsLoopback}
}

// banIPs counts p's ban, lasting until until, against each of ips.
func (g *Gater) banIPs(p peer.ID, ips []net.IP, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if len(g.ipBans) >= maxBannedIPs {
		for ip, ends := range g.ipBans {
			if live(ends, now) == 0 {
				delete(g.ipBans, ip)
			}
		}
	}
	for _, ip := range ips {
		if g.ipExempt != nil && g.ipExempt(ip) {
			continue
		}
		key := ip.String()
		ends, ok := g.ipBans[key]
		if !ok {
			if len(g.ipBans) >= maxBannedIPs {
				continue // full of live entries: the peer's own ban still holds
			}
			ends = make(map[peer.ID]time.Time)
			g.ipBans[key] = ends
		}
		ends[p] = until
		for len(ends) > maxBansPerIP { // keep the latest: drop the first to end
			var first peer.ID
			for q, e := range ends {
				if first == "" || e.Before(ends[first]) {
					first = q
				}
			}
			delete(ends, first)
		}
	}
}

// live counts the ban ends in ends that are after now.
func live(ends map[peer.ID]time.Time, now time.Time) int {
	n := 0
	for _, e := range ends {
		if e.After(now) {
			n++
		}
	}
	return n
}

// refusesIP reports whether maxBansPerIP peers connected from ip are
// banned now.
func (g *Gater) refusesIP(ip net.IP) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ends, ok := g.ipBans[ip.String()]
	return ok && live(ends, time.Now()) >= maxBansPerIP
}

func (g *Gater) block(p peer.ID, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.blocked[p] = struct{}{}
	} else {
		delete(g.blocked, p)
	}
}

// refuses reports whether p is banned or blocked.
func (g *Gater) refuses(p peer.ID) bool {
	if g.Banned(p) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.blocked[p]
	return ok
}

// Ban refuses p for d. It does not close p's connections: see Host.Ban.
func (g *Gater) Ban(p peer.ID, d time.Duration) {
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

// Banned reports whether p is banned now; a ban that has run out is
// forgotten.
func (g *Gater) Banned(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.banned[p]
	if ok && time.Now().After(until) {
		delete(g.banned, p)
		return false
	}
	return ok
}

func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.refuses(p) }

func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept refuses an inbound connection from an IP too many of
// whose peers are banned (see Gater), before any handshake.
func (g *Gater) InterceptAccept(addrs network.ConnMultiaddrs) bool {
	ip, err := manet.ToIP(addrs.RemoteMultiaddr())
	return err != nil || !g.refusesIP(ip)
}

func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.refuses(p)
}

// InterceptUpgraded checks again: a connection whose handshake passed
// InterceptSecured just before a Ban or Block would otherwise be added
// after the ClosePeer that was meant to end it.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.refuses(c.RemotePeer()), 0
}

// Ban refuses p for d and closes its connections: the syncer calls it
// for a peer that sent invalid data (gossip leaves such peers to GossipSub's
// scoring).
func (h *Host) Ban(p peer.ID, d time.Duration) {
	var ips []net.IP
	for _, c := range h.Network().ConnsToPeer(p) {
		// A relayed connection's address is the relay's: the relay did
		// nothing, and its other clients must not pay for this peer.
		if c.Stat().Limited || isRelayed(c.RemoteMultiaddr()) {
			continue
		}
		if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
			ips = append(ips, ip)
		}
	}
	h.gater.Ban(p, d)
	h.gater.banIPs(p, ips, time.Now().Add(d))
	_ = h.Network().ClosePeer(p)
}

// Banned reports whether p is banned; with Ban it makes the host the
// syncer's Bans.
func (h *Host) Banned(p peer.ID) bool { return h.gater.Banned(p) }

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
