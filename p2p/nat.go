package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// This file is getting through NATs with go-libp2p's own parts: AutoNAT
// (v2 for addresses, v1 for the reachability the relay parts and the
// DHT's auto mode act on), a circuit relay v2 service with tight limits,
// AutoRelay with our known peers as candidates, DCUtR hole punching,
// announced addresses, optional UPnP/NAT-PMP port mapping, and the
// process-wide list of ranges a lab may declare public.

// Connection kinds, as PeerInfo and the logs give them.
const (
	ConnDirect  = "direct"
	ConnRelayed = "relayed" // through a circuit relay: limited in time and bytes
)

// Reachabilities, as Host.Reachability reports them and
// HostConfig.Reachability takes them.
const (
	ReachPublic  = "public"
	ReachPrivate = "private"
	ReachUnknown = "unknown"
)

// relayHop is circuit relay v2's hop protocol: what a peer that serves
// as a relay speaks.
const relayHop = "/libp2p/circuit/relay/0.2.0/hop"

// natOptions are the libp2p options of NAT traversal for cfg. relays is
// AutoRelay's source of candidates, called only once the host exists.
func natOptions(cfg *HostConfig, relays autorelay.PeerSource) ([]libp2p.Option, error) {
	opts := []libp2p.Option{
		// AutoNAT v2 tests each address on its own; v1's service and
		// client give the host-wide reachability that the relay service,
		// AutoRelay and the DHT's auto mode act on.
		libp2p.EnableAutoNATv2(),
		libp2p.EnableNATService(),
		libp2p.EnableRelay(),
		// Served only while AutoNAT finds this node public.
		libp2p.EnableRelayService(relayv2.WithResources(relayResources())),
		libp2p.EnableAutoRelayWithPeerSource(relays,
			autorelay.WithMinCandidates(1),
			autorelay.WithNumRelays(autoRelays),
			autorelay.WithBootDelay(autoRelayBootDelay)),
		libp2p.EnableHolePunching(),
	}
	if len(cfg.Announce) > 0 {
		announce := make([]multiaddr.Multiaddr, 0, len(cfg.Announce))
		for _, s := range cfg.Announce {
			a, err := multiaddr.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("announce address %q: %w", s, err)
			}
			announce = append(announce, a)
		}
		opts = append(opts, libp2p.AddrsFactory(announceFactory(announce)))
	}
	if cfg.PortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	switch cfg.Reachability {
	case "":
	case ReachPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	default:
		return nil, fmt.Errorf("reachability %q: want public, private or empty", cfg.Reachability)
	}
	return opts, nil
}

// relayResources are the relay service's limits: far below go-libp2p's
// defaults, since a relay here only has to carry a hole punch's
// coordination and a block or two until the peers connect directly.
func relayResources() relayv2.Resources {
	r := relayv2.DefaultResources()
	r.Limit = &relayv2.RelayLimit{Duration: relayCircuitDuration, Data: relayCircuitData}
	r.MaxReservations = relayMaxReservations
	r.MaxCircuits = relayMaxCircuits
	r.MaxReservationsPerIP = relayMaxReservationsPerIP
	r.MaxReservationsPerASN = relayMaxReservationsPerIP * 2
	return r
}

// announceFactory replaces the host's direct addresses with the announced
// ones, as kubo's Addresses.Announce does, and keeps its relay addresses:
// the operator knows the public address, AutoRelay knows the circuits.
func announceFactory(announce []multiaddr.Multiaddr) func([]multiaddr.Multiaddr) []multiaddr.Multiaddr {
	return func(addrs []multiaddr.Multiaddr) []multiaddr.Multiaddr {
		out := slices.Clone(announce)
		for _, a := range addrs {
			if isRelayed(a) {
				out = append(out, a)
			}
		}
		return out
	}
}

// relayCandidates is AutoRelay's peer source: the connected peers that
// speak the relay hop protocol, bootstrap peers first. AutoRelay asks
// only while the node is private.
func (h *Host) relayCandidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, num)
	defer close(ch)
	peers := h.Network().Peers()
	slices.SortStableFunc(peers, func(a, b peer.ID) int {
		switch {
		case h.bootstrapIDs[a] == h.bootstrapIDs[b]:
			return 0
		case h.bootstrapIDs[a]:
			return -1
		}
		return 1
	})
	for _, p := range peers {
		if len(ch) == num || ctx.Err() != nil {
			break
		}
		if ok, _ := h.Peerstore().SupportsProtocols(p, relayHop); len(ok) == 0 {
			continue
		}
		ch <- peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
	}
	return ch
}

// isRelayed reports whether a is a circuit address.
func isRelayed(a multiaddr.Multiaddr) bool {
	_, err := a.ValueForProtocol(multiaddr.P_CIRCUIT)
	return err == nil
}

// connKind is ConnDirect if any of the connections is direct.
func connKind(conns []network.Conn) string {
	for _, c := range conns {
		if !c.Stat().Limited && !isRelayed(c.RemoteMultiaddr()) {
			return ConnDirect
		}
	}
	return ConnRelayed
}

// linked reports whether c is a connection of either kind.
func linked(c network.Connectedness) bool {
	return c == network.Connected || c == network.Limited
}

// Reachability is what AutoNAT last said of the node: "public",
// "private" or "unknown".
func (h *Host) Reachability() string {
	r, _ := h.reach.Load().(network.Reachability)
	switch r {
	case network.ReachabilityPublic:
		return ReachPublic
	case network.ReachabilityPrivate:
		return ReachPrivate
	}
	return ReachUnknown
}

var publicMu sync.Mutex

// TreatAsPublic makes every libp2p part of this process count addresses
// in the given ranges as public: AutoNAT's dial-backs, relay selection,
// the DHT's address filters, hole punching's addresses. go-libp2p and
// go-multiaddr decide "public" by manet.IsPublicAddr against the
// process-wide lists manet.Private4/Private6 and Unroutable4/6, with no
// per-host option, so this carves the ranges out of those lists: once,
// at startup, before any host exists (it is not safe against hosts
// running). It is for labs and test networks built in 100.64.0.0/10 or
// the documentation ranges; on the internet it only makes a node dial
// and announce addresses that cannot work.
func TreatAsPublic(cidrs []netip.Prefix) {
	publicMu.Lock()
	defer publicMu.Unlock()
	for _, p := range cidrs {
		p = p.Masked()
		manet.Private4 = carve(manet.Private4, p)
		manet.Unroutable4 = carve(manet.Unroutable4, p)
		manet.Private6 = carve(manet.Private6, p)
		manet.Unroutable6 = carve(manet.Unroutable6, p)
	}
}

// carve returns nets without the addresses of p.
func carve(nets []*net.IPNet, p netip.Prefix) []*net.IPNet {
	var out []*net.IPNet
	for _, n := range nets {
		np, ok := prefixOf(n)
		if !ok {
			out = append(out, n)
			continue
		}
		for _, q := range subtractPrefix(np, p) {
			out = append(out, &net.IPNet{IP: q.Addr().AsSlice(), Mask: net.CIDRMask(q.Bits(), q.Addr().BitLen())})
		}
	}
	return out
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	if a.Is4In6() {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, ones).Masked(), true
}

// subtractPrefix returns the prefixes covering p's addresses outside q.
func subtractPrefix(p, q netip.Prefix) []netip.Prefix {
	if p.Addr().BitLen() != q.Addr().BitLen() || !p.Overlaps(q) {
		return []netip.Prefix{p}
	}
	if q.Bits() <= p.Bits() {
		return nil // q covers p
	}
	lo, hi := halves(p)
	return append(subtractPrefix(lo, q), subtractPrefix(hi, q)...)
}

// halves splits p into its two prefixes one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	b := p.Addr().AsSlice()
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	b[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	a, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(a, p.Bits()+1)
}

// checkPortsFree refuses TCP listen addresses whose port something else
// holds. With SO_REUSEPORT on (what lets outgoing TCP leave from the
// listening port, so NATs map it as they map the listener and hole
// punching can work), a second node given the same --listen would start
// without error and the kernel would split connections between the two;
// a plain bind, without the option, still fails against a listener that
// has it.
func checkPortsFree(listen []string) error {
	for _, s := range listen {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", s, err)
		}
		network, host, err := manet.DialArgs(a)
		if err != nil || (network != "tcp4" && network != "tcp6") {
			continue
		}
		if _, port, _ := net.SplitHostPort(host); port == "0" {
			continue
		}
		l, err := net.Listen(network, host)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("listen %s: address already in use", s)
			}
			return fmt.Errorf("listen %s: %w", s, err)
		}
		l.Close()
	}
	return nil
}
