package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/protocol"
)

// This file is how peers come and go: mDNS discovery, and the event loop
// that logs every connect and disconnect and wakes the dial loops.

// mdnsNotifee receives mDNS discoveries; go-libp2p calls it on a fresh
// goroutine per entry, once per announcement of a peer.
type mdnsNotifee struct{ h *Host }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := n.h
	if ai.ID == h.ID() {
		return
	}
	pol := keepPolicy{maxFailures: mdnsMaxFailures}
	if h.ID() > ai.ID {
		pol.yield = h.cfg.mdnsYieldWait // we are the larger: wait to be dialled
	}
	// A peer is announced again and again; only news is worth a line.
	level := slog.LevelDebug
	if h.dialer.keep(ai, SourceMDNS, pol) {
		level = slog.LevelInfo
	}
	h.log.Log(h.ctx, level, "peer found", "peer", ai.ID, "addr", addrString(firstAddr(ai)), "addrs", len(ai.Addrs), "source", SourceMDNS)
}

// startMDNS advertises this host under the network's service name and
// starts browsing for others. It must only run where multicast may go:
// it multicasts on every interface of the machine.
func (h *Host) startMDNS() error {
	svc := mdns.NewMdnsService(h.Host, protocol.MDNSService(h.cfg.NetworkID), mdnsNotifee{h})
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
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(eventBuffer))
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
				ev := e.(event.EvtPeerConnectednessChanged)
				switch ev.Connectedness {
				case network.Connected:
					h.peerConnected(ev.Peer)
				case network.NotConnected:
					h.peerDisconnected(ev.Peer)
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
	if conns := h.Network().ConnsToPeer(p); len(conns) > 0 {
		addr, dir = conns[0].RemoteMultiaddr(), conns[0].Stat().Direction
	}
	source, ok := h.table.connected(p, addr, dir, h.bootstrapIDs[p])
	if !ok {
		return
	}

	h.log.Info("peer connected", "peer", p, "addr", addrString(addr), "source", source)
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
	if h.Network().Connectedness(p) == network.Connected {
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
