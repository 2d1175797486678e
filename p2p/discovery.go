package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/gossipchain/gossipchain/protocol"
)

// This file is how peers come and go: mDNS discovery, and the event loop
// that logs every connect and disconnect and wakes the dial loops.

// mdnsNotifee receives mDNS discoveries; go-libp2p calls it on a fresh
// goroutine per entry, once per announcement of a peer.
//
// Anyone on the LAN can answer mDNS, with any number of peer IDs and any
// addresses, so an announcement is checked before it costs a dial loop
// (protocol.md §15.1): only addresses on the networks of the interfaces
// mDNS runs on are kept (a peer with none is ignored), and new dial loops
// are bounded, mdnsNewPerMinute a minute and mdnsMaxLoops at once.
// go-libp2p does not say which interface an answer came in on, so an
// address may be on any of those interfaces' networks, not necessarily
// the one it arrived on. Loopback counts only where mDNS runs on it (its
// MULTICAST flag is set, as in network-namespace tests): elsewhere a LAN
// peer's 127.0.0.1 would be a dial to ourselves or to whatever else
// listens there.
type mdnsNotifee struct {
	h *Host
	// networks returns the networks announced addresses must be on
	// (mdnsNetworks); now is the clock of the per-minute bound. Tests
	// give their own.
	networks func() []*net.IPNet
	now      func() time.Time

	mu          sync.Mutex
	windowStart time.Time
	started     int // dial loops started since windowStart
}

func newMDNSNotifee(h *Host) *mdnsNotifee {
	return &mdnsNotifee{h: h, networks: mdnsNetworks, now: time.Now}
}

func (n *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := n.h
	if ai.ID == h.ID() {
		return
	}
	announced := len(ai.Addrs)
	ai.Addrs = onNetworks(ai.Addrs, n.networks())
	if len(ai.Addrs) == 0 {
		h.log.Debug("mDNS peer ignored", "peer", ai.ID, "addrs", announced, "reason", errOffNetwork)
		return
	}
	pol := keepPolicy{maxFailures: mdnsMaxFailures}
	if h.ID() > ai.ID {
		pol.yield = h.cfg.mdnsYieldWait // we are the larger: wait to be dialled
	}
	started, err := n.admit(ai, pol)
	if err != nil {
		h.log.Debug("mDNS peer ignored", "peer", ai.ID, "addrs", announced, "reason", err)
		return
	}
	// A peer is announced again and again; only news is worth a line.
	level := slog.LevelDebug
	if started {
		level = slog.LevelInfo
	}
	h.log.Log(h.ctx, level, "peer found", "peer", ai.ID, "addr", addrString(firstAddr(ai)), "addrs", len(ai.Addrs), "source", SourceMDNS)
}

var (
	errOffNetwork   = errors.New("no address on the networks mDNS runs on")
	errMDNSLoops    = errors.New("too many mDNS peers being dialled")
	errMDNSNewPeers = errors.New("too many new mDNS peers this minute")
)

// admit starts a dial loop for ai unless one runs already or a bound
// forbids it. It reports whether it started one.
func (n *mdnsNotifee) admit(ai peer.AddrInfo, pol keepPolicy) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.h.dialer
	if d.keeping(ai.ID) {
		return false, nil // an announcement of a peer we have: free
	}
	if now := n.now(); now.Sub(n.windowStart) >= time.Minute {
		n.windowStart, n.started = now, 0
	}
	switch {
	case d.loops(SourceMDNS) >= mdnsMaxLoops:
		return false, errMDNSLoops
	case n.started >= mdnsNewPerMinute:
		return false, errMDNSNewPeers
	}
	started := d.keep(ai, SourceMDNS, pol)
	if started {
		n.started++
	}
	return started, nil
}

// mdnsNetworks returns the networks of the interfaces go-libp2p's mDNS
// multicasts on: those that are up and have the MULTICAST flag. Read at
// each announcement, so an interface that comes up later counts.
func mdnsNetworks() []*net.IPNet {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []*net.IPNet
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				out = append(out, ipn)
			}
		}
	}
	return out
}

// onNetworks keeps the addresses whose IP is on one of nets.
func onNetworks(addrs []multiaddr.Multiaddr, nets []*net.IPNet) []multiaddr.Multiaddr {
	var out []multiaddr.Multiaddr
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(nets, func(n *net.IPNet) bool { return n.Contains(ip) }) {
			out = append(out, a)
		}
	}
	return out
}

// keeping reports whether p has a dial loop.
func (d *dialer) keeping(p peer.ID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.keepers[p]
	return ok
}

// loops counts the dial loops of one source.
func (d *dialer) loops(source string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.keepers {
		if s == source {
			n++
		}
	}
	return n
}

// startMDNS advertises this host under the network's service name and
// starts browsing for others. It must only run where multicast may go:
// it multicasts on every interface of the machine.
func (h *Host) startMDNS() error {
	svc := mdns.NewMdnsService(h.Host, protocol.MDNSService(h.cfg.NetworkID), newMDNSNotifee(h))
	if err := svc.Start(); err != nil {
		svc.Close()
		return fmt.Errorf("start mDNS: %w", err)
	}
	h.mu.Lock()
	closing := h.closing
	if !closing {
		h.mdns = svc
	}
	h.mu.Unlock()
	if closing {
		svc.Close()
		return nil
	}
	h.log.Info("mDNS discovery on", "service", protocol.MDNSService(h.cfg.NetworkID))
	return nil
}

// startEventLoop subscribes to connectedness changes before anyone can
// connect, so every peer gets exactly one "peer connected" and one "peer
// disconnected" line, and the dial loops learn of disconnects without
// polling.
func (h *Host) startEventLoop() error {
	sub, err := h.EventBus().Subscribe([]any{new(event.EvtPeerConnectednessChanged), new(event.EvtLocalReachabilityChanged)},
		eventbus.BufSize(eventBuffer))
	if err != nil {
		return fmt.Errorf("subscribe to connectedness events: %w", err)
	}
	h.spawn(func() {
		defer sub.Close()
		for {
			select {
			case <-h.ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				switch ev := e.(type) {
				case event.EvtLocalReachabilityChanged:
					h.reach.Store(ev.Reachability)
					h.log.Info("reachability", "reachability", h.Reachability())
				case event.EvtPeerConnectednessChanged:
					switch ev.Connectedness {
					case network.Connected, network.Limited:
						h.peerConnected(ev.Peer)
					case network.NotConnected:
						h.peerDisconnected(ev.Peer)
					}
				}
			}
		}
	})
	return nil
}

func (h *Host) peerConnected(p peer.ID) {
	if h.gater.refuses(p) {
		// Added in the instant between the gate's last check and a Ban
		// or Block closing the peer's connections: close it now.
		_ = h.Network().ClosePeer(p)
		return
	}
	var addr multiaddr.Multiaddr
	dir := network.DirUnknown
	conns := h.Network().ConnsToPeer(p)
	kind := connKind(conns)
	for _, c := range conns {
		// The direct connection's address when there is one.
		if addr == nil || (kind == ConnDirect && !c.Stat().Limited) {
			addr, dir = c.RemoteMultiaddr(), c.Stat().Direction
		}
	}
	source, ok := h.table.connected(p, addr, dir, h.bootstrapIDs[p], kind)
	if !ok {
		// A relayed peer that has now a direct connection too: hole
		// punching (DCUtR) or a direct dial worked.
		if h.table.upgraded(p, addr, kind) {
			h.log.Info("peer connection direct", "peer", p, "addr", addrString(addr), "source", h.table.source(p))
		}
		return
	}

	h.log.Info("peer connected", "peer", p, "addr", addrString(addr), "source", source, "conn", kind)
	if h.memory != nil {
		h.memory.connected(p, addr, dir == network.DirOutbound)
	}
	if h.cfg.OnPeer != nil {
		h.cfg.OnPeer(PeerEvent{Peer: p, Connected: true, Source: source, Addr: addr})
	}
}

// rememberConnected tells the peer memory of p's connection as it is now:
// whether we dialled it decides its table (peermemory.go).
func (h *Host) rememberConnected(p peer.ID) {
	if conns := h.Network().ConnsToPeer(p); len(conns) > 0 {
		h.memory.connected(p, conns[0].RemoteMultiaddr(), conns[0].Stat().Direction == network.DirOutbound)
	}
}

func (h *Host) peerDisconnected(p peer.ID) {
	// The event may be stale: the peer can have reconnected between the
	// swarm emitting it and us reading it. The swarm's view wins.
	if linked(h.Network().Connectedness(p)) {
		return
	}
	st, ok := h.table.disconnected(p)
	if !ok {
		return
	}
	h.log.Info("peer disconnected", "peer", p, "addr", addrString(st.addr), "source", st.source,
		"connected_for", time.Since(st.since).Round(time.Millisecond))
	if h.memory != nil {
		h.memory.seen(p)
	}
	if h.cfg.OnPeer != nil {
		h.cfg.OnPeer(PeerEvent{Peer: p, Source: st.source, Addr: st.addr})
	}
}

// waitDisconnected blocks while p is connected. It returns false if ctx
// ended first.
func (h *Host) waitDisconnected(ctx context.Context, p peer.ID) bool {
	w := h.table.waiter(p, h.Network())
	if w == nil {
		return ctx.Err() == nil
	}
	select {
	case <-w:
		return true
	case <-ctx.Done():
		return false
	}
}

func addrString(a multiaddr.Multiaddr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
