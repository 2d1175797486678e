package p2p

import (
	"slices"
	"testing"
	"time"

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
	mdnsNotifee{a}.HandlePeerFound(addrInfo(b))
	waitFor(t, 5*time.Second, "the smaller ID to dial", connected(a, b.ID()))
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
	mdnsNotifee{a}.HandlePeerFound(addrInfo(b))
	waitFor(t, 5*time.Second, "the fallback dial", connected(a, b.ID()))
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
	mdnsNotifee{a}.HandlePeerFound(ai)
	waitFor(t, 20*time.Second, "the dial loop to give up", func() bool {
		a.dialer.mu.Lock()
		defer a.dialer.mu.Unlock()
		_, ok := a.dialer.keepers[ai.ID]
		return !ok
	})
	if connected(a, ai.ID)() {
		t.Error("connected to a closed host")
	}
}

func mdnsPair(t *testing.T) (*Host, *Host) {
	return startHost(t, testConfig(t, "")), startHost(t, testConfig(t, ""))
}
