package p2p

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

func TestSubtractPrefix(t *testing.T) {
	pp := netip.MustParsePrefix
	for _, tc := range []struct {
		p, q string
		want []string
	}{
		{"100.64.0.0/10", "100.64.0.0/10", nil},
		{"100.64.0.0/10", "10.0.0.0/8", []string{"100.64.0.0/10"}},
		{"100.64.0.0/24", "100.64.0.0/10", nil},
		{"100.64.0.0/10", "100.64.0.0/11", []string{"100.96.0.0/11"}},
		{"10.0.0.0/8", "10.1.0.0/16", []string{"10.0.0.0/16", "10.2.0.0/15", "10.4.0.0/14", "10.8.0.0/13", "10.16.0.0/12",
			"10.32.0.0/11", "10.64.0.0/10", "10.128.0.0/9"}},
		{"fc00::/7", "10.0.0.0/8", []string{"fc00::/7"}},
	} {
		var got []string
		for _, r := range subtractPrefix(pp(tc.p), pp(tc.q)) {
			got = append(got, r.String())
		}
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s - %s = %v, want %v", tc.p, tc.q, got, want)
		}
	}
}

// TestTreatAsPublic: a range carved out of go-multiaddr's lists counts
// as public to every libp2p part, and the rest of the private ranges stay
// private. It restores the process-wide lists it changes.
func TestTreatAsPublic(t *testing.T) {
	saved := [][]*net.IPNet{manet.Private4, manet.Unroutable4, manet.Private6, manet.Unroutable6}
	t.Cleanup(func() {
		manet.Private4, manet.Unroutable4, manet.Private6, manet.Unroutable6 = saved[0], saved[1], saved[2], saved[3]
	})
	ma := multiaddr.StringCast
	lab, doc := ma("/ip4/100.64.1.2/tcp/9310"), ma("/ip4/198.51.100.7/tcp/9310")
	if manet.IsPublicAddr(lab) || manet.IsPublicAddr(doc) {
		t.Fatal("lab ranges public before TreatAsPublic")
	}
	TreatAsPublic([]netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("198.51.100.0/24")})
	for _, a := range []multiaddr.Multiaddr{lab, doc} {
		if !manet.IsPublicAddr(a) {
			t.Errorf("%s not public after TreatAsPublic", a)
		}
	}
	for _, s := range []string{"/ip4/10.1.2.3/tcp/1", "/ip4/192.168.1.1/tcp/1", "/ip4/127.0.0.1/tcp/1", "/ip4/203.0.113.1/tcp/1"} {
		if manet.IsPublicAddr(ma(s)) {
			t.Errorf("%s public after TreatAsPublic of other ranges", s)
		}
	}
}

// TestListenPortTaken: with SO_REUSEPORT on, a second host on a port a
// first one listens on is refused at start, as it was before reuse was
// turned on, rather than sharing the port with it.
func TestListenPortTaken(t *testing.T) {
	first := startHost(t, testConfig(t, ""))
	var tcpAddr string
	for _, a := range first.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(multiaddr.P_TCP); err == nil {
			tcpAddr = a.String()
		}
	}
	cfg := testConfig(t, "")
	cfg.Listen = []string{tcpAddr}
	h, err := NewHost(t.Context(), cfg)
	if err == nil {
		h.Close()
		t.Fatalf("second host on %s started", tcpAddr)
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error %v, want address already in use", err)
	}
}

// TestAnnounce: --announce replaces the direct addresses a host tells
// its peers.
func TestAnnounce(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Announce = []string{"/ip4/198.51.100.7/tcp/9310"}
	h := startHost(t, cfg)
	got := h.Addrs()
	if len(got) != 1 || got[0].String() != cfg.Announce[0] {
		t.Errorf("addrs = %v, want only %s", got, cfg.Announce[0])
	}
	// A peer learns them by identify.
	b := startHost(t, testConfig(t, ""))
	if err := b.Dial(t.Context(), peer.AddrInfo{ID: h.ID(), Addrs: h.Network().ListenAddresses()}, SourceRegister); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "announced address in the peer's peerstore", func() bool {
		return slices.ContainsFunc(b.Peerstore().Addrs(h.ID()), func(a multiaddr.Multiaddr) bool { return a.String() == cfg.Announce[0] })
	})
}

// TestRelayedConnection: a peer reachable only through a circuit relay
// is dialled through it, and listed and logged as relayed.
func TestRelayedConnection(t *testing.T) {
	relayHost, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relayHost.Close() })
	r, err := relayv2.New(relayHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	relayInfo := peer.AddrInfo{ID: relayHost.ID(), Addrs: relayHost.Addrs()}

	hidden := startHost(t, testConfig(t, ""))
	if err := hidden.Dial(t.Context(), relayInfo, SourceRegister); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(t.Context(), hidden.Host, relayInfo); err != nil {
		t.Fatalf("reserve: %v", err)
	}
	circuit := relayHost.Addrs()[0].Encapsulate(multiaddr.StringCast("/p2p/" + relayHost.ID().String() + "/p2p-circuit"))

	dialer := startHost(t, testConfig(t, ""))
	if err := dialer.Dial(t.Context(), peer.AddrInfo{ID: hidden.ID(), Addrs: []multiaddr.Multiaddr{circuit}}, SourceDHT); err != nil {
		t.Fatalf("dial through the relay: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the relayed peer listed", func() bool {
		i := slices.IndexFunc(dialer.Peers(), func(p PeerInfo) bool { return p.ID == hidden.ID() })
		return i >= 0 && dialer.Peers()[i].Conn == ConnRelayed && dialer.Peers()[i].Source == SourceDHT
	})
	if !isRelayed(circuit) || isRelayed(relayInfo.Addrs[0]) {
		t.Error("isRelayed does not tell circuit addresses apart")
	}
}
