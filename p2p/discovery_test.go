package p2p

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// These call the mDNS notifee directly, as go-libp2p's mDNS service would
// on a discovery; real multicast runs only in netns_test.go.

// TestMDNSSmallerIDDials: of two peers that found each other, the one with
// the smaller ID dials at once.
func TestMDNSSmallerIDDials(t *testing.T) {
	a, b := mdnsPair(t)
	if a.ID() > b.ID() {
		a, b = b, a
	}
	loopbackNotifee(a).HandlePeerFound(addrInfo(b))
	testutil.Eventually(t, 5*time.Second, "the smaller ID to dial", connected(a, b.ID()))
	if got := a.PeerSource(b.ID()); got != SourceMDNS {
		t.Errorf("source = %q, want %q", got, SourceMDNS)
	}
	// A second announcement of the same peer starts no second dial loop.
	if a.dialer.keep(addrInfo(b), SourceMDNS, keepPolicy{}) {
		t.Error("second dial loop started for one peer")
	}
}

// TestMDNSLargerIDWaits: the peer with the larger ID does not dial on
// discovery (the two dials could collide and both fail); it waits to be
// dialled and dials only as a fallback after the yield time.
func TestMDNSLargerIDWaits(t *testing.T) {
	const yield = 600 * time.Millisecond
	a, b := mdnsPair(t)
	if a.ID() < b.ID() {
		a, b = b, a
	}
	a.cfg.mdnsYieldWait = yield
	start := time.Now()
	loopbackNotifee(a).HandlePeerFound(addrInfo(b))
	testutil.Eventually(t, 5*time.Second, "the fallback dial", connected(a, b.ID()))
	if took := time.Since(start); took < yield/2 {
		t.Errorf("larger ID dialled after %v, before its yield of at least %v", took, yield/2)
	}
	if got := a.PeerSource(b.ID()); got != SourceMDNS {
		t.Errorf("source = %q, want %q", got, SourceMDNS)
	}
}

// TestMDNSBacksOffAndGivesUp: a found peer that never answers is dialled
// a bounded number of times with growing waits, then dropped.
func TestMDNSBacksOffAndGivesUp(t *testing.T) {
	a, b := mdnsPair(t)
	ai := addrInfo(b)
	// TCP only: a refused TCP dial fails at once, where a QUIC dial to a
	// dead port waits out its handshake timeout (5 s).
	ai.Addrs = slices.DeleteFunc(ai.Addrs, func(a multiaddr.Multiaddr) bool {
		_, err := a.ValueForProtocol(multiaddr.P_TCP)
		return err != nil
	})
	b.Close()
	a.cfg.mdnsYieldWait = time.Millisecond
	loopbackNotifee(a).HandlePeerFound(ai)
	testutil.Eventually(t, 20*time.Second, "the dial loop to give up", func() bool {
		a.dialer.mu.Lock()
		defer a.dialer.mu.Unlock()
		_, ok := a.dialer.keepers[ai.ID]
		return !ok
	})
	if connected(a, ai.ID)() {
		t.Error("connected to a closed host")
	}
}

// loopbackNotifee is h's mDNS notifee as if mDNS ran on loopback (as in a
// network namespace whose loopback has MULTICAST set): the root
// namespace's loopback has no MULTICAST flag, so its addresses would be
// refused.
func loopbackNotifee(h *Host) *mdnsNotifee {
	n := newMDNSNotifee(h)
	n.networks = func() []*net.IPNet { return []*net.IPNet{mustCIDR("127.0.0.0/8")} }
	return n
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// holdingListener accepts TCP connections and never speaks: a dial to it
// waits out its handshake, so the dial loops the test starts stay alive
// while it counts them.
func holdingListener(t testing.TB) multiaddr.Multiaddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return multiaddr.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port))
}

// TestMDNSFloodBounded: one LAN host announces many peer IDs. The notifee
// starts at most mdnsNewPerMinute dial loops a minute and mdnsMaxLoops in
// all, and announcements whose addresses are off the networks mDNS runs
// on start none. The per-minute bound runs on the notifee's clock, moved
// by the test: counts decide, not timings.
func TestMDNSFloodBounded(t *testing.T) {
	hold := holdingListener(t)
	tests := []struct {
		name  string
		addrs []multiaddr.Multiaddr
		// loops after each minute of the flood
		want []int
	}{
		{"on the network", []multiaddr.Multiaddr{hold}, []int{mdnsNewPerMinute, 2 * mdnsNewPerMinute, mdnsMaxLoops, mdnsMaxLoops}},
		{"off the network", []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/198.51.100.7/tcp/9310")}, []int{0, 0}},
		{"loopback where mDNS is not on it", nil, []int{0}},
		{"off and on", []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/10.9.9.9/tcp/9310"), hold}, []int{mdnsNewPerMinute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := startHost(t, testConfig(t, ""))
			n := loopbackNotifee(a)
			addrs := tc.addrs
			if addrs == nil {
				// The host's own networks, without loopback's MULTICAST.
				n.networks = func() []*net.IPNet { return []*net.IPNet{mustCIDR("192.0.2.0/24")} }
				addrs = []multiaddr.Multiaddr{hold}
			}
			at := time.Now()
			n.now = func() time.Time { return at }
			for minute, want := range tc.want {
				for range 3 * mdnsNewPerMinute {
					n.HandlePeerFound(peer.AddrInfo{ID: newID(t), Addrs: addrs})
				}
				if got := a.dialer.loops(SourceMDNS); got != want {
					t.Fatalf("minute %d: %d mDNS dial loops, want %d", minute, got, want)
				}
				at = at.Add(time.Minute)
			}
		})
	}
}

func mdnsPair(t *testing.T) (*Host, *Host) {
	return startHost(t, testConfig(t, "")), startHost(t, testConfig(t, ""))
}
