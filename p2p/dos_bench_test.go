package p2p

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	"github.com/multiformats/go-multiaddr"
)

// The cost of the two address attacks of issue 12 to the victim against
// the attacker's. Each reports counts as metrics; run once:
//
//	go test ./p2p -run '^$' -bench 'EclipseCost|MDNSFloodCost' -benchtime 1x

// BenchmarkEclipseCost: a node has dialled 8 honest peers (8 /16s); then
// an attacker's identities, all in one /16, connect to it in turn. Metrics:
// how many of a restart's dials are the attacker's and how many honest,
// against the identities the attacker spent.
func BenchmarkEclipseCost(b *testing.B) {
	for _, n := range []int{64, 1000} {
		b.Run(fmt.Sprintf("identities=%d", n), func(b *testing.B) {
			var evil, honest int
			for b.Loop() {
				evil, honest = eclipseRestartDials(b, n)
			}
			b.ReportMetric(float64(evil), "attacker-dials")
			b.ReportMetric(float64(honest), "honest-dials")
		})
	}
}

func eclipseRestartDials(b *testing.B, n int) (evil, honest int) {
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	m := newPeerMemory(b.TempDir(), ps, testLogger(b))
	good := make(map[peer.ID]bool)
	for i := range 8 {
		id := newID(b)
		good[id] = true
		a := multiaddr.StringCast(fmt.Sprintf("/ip4/%d.1.1.1/tcp/9310", 20+i))
		ps.AddAddr(id, a, peerstore.PermanentAddrTTL)
		m.connected(id, a, true)
	}
	for i := range n {
		id := newID(b)
		a := multiaddr.StringCast(fmt.Sprintf("/ip4/66.6.%d.%d/tcp/9310", i/250, i%250))
		ps.AddAddr(id, a, peerstore.PermanentAddrTTL)
		m.connected(id, a, false)
	}
	for _, ai := range m.addrInfos() {
		if good[ai.ID] {
			honest++
		} else {
			evil++
		}
	}
	return evil, honest
}

// BenchmarkMDNSFloodCost: one LAN host announces 1,000 peer IDs over
// mDNS within a minute, each at an address on the LAN that holds a dial
// open. Metrics: dial loops the victim starts, and its goroutines after
// the flood, against the 1,000 announcements (one multicast answer each).
func BenchmarkMDNSFloodCost(b *testing.B) {
	const n = 1000
	var loops, goroutines int
	for b.Loop() {
		h := startHost(b, testConfig(b, ""))
		hold := holdingListener(b)
		notify := mdnsFloodNotifee(h)
		before := runtime.NumGoroutine()
		for range n {
			notify.HandlePeerFound(peer.AddrInfo{ID: newID(b), Addrs: []multiaddr.Multiaddr{hold}})
		}
		loops = h.dialer.loops(SourceMDNS)
		goroutines = runtime.NumGoroutine() - before
		h.Close()
	}
	b.ReportMetric(n, "announcements")
	b.ReportMetric(float64(loops), "dial-loops")
	b.ReportMetric(float64(goroutines), "goroutines")
}

func mdnsFloodNotifee(h *Host) interface{ HandlePeerFound(peer.AddrInfo) } {
	return loopbackNotifee(h)
}
