package p2p

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/protocol"
)

func dhtConfig(t *testing.T, mode DHTMode, bootstrap ...*Host) HostConfig {
	cfg := testConfig(t, "")
	cfg.NetworkID = chain.RegTest().NetworkID()
	cfg.DHT = mode
	for _, b := range bootstrap {
		for _, a := range b.FullAddrs() {
			cfg.Bootstrap = append(cfg.Bootstrap, a.String())
		}
	}
	return cfg
}

// TestDHTDiscovery: two clients that know only a DHT server find each
// other through the rendezvous key and connect, the connection credited
// to the DHT.
func TestDHTDiscovery(t *testing.T) {
	boot := startHost(t, dhtConfig(t, DHTServer))
	a := startHost(t, dhtConfig(t, DHTClient, boot))
	b := startHost(t, dhtConfig(t, DHTClient, boot))
	testutil.Eventually(t, 30*time.Second, "a and b connected", func() bool {
		return connected(a, b.ID())() && connected(b, a.ID())()
	})
	// Whichever dialled first credits the DHT; the other saw it inbound.
	srcs := []string{a.PeerSource(b.ID()), b.PeerSource(a.ID())}
	if !slices.Contains(srcs, SourceDHT) {
		t.Errorf("sources of the a-b connection = %v, want one %q", srcs, SourceDHT)
	}
}

// TestDHTProtocolPrefix: the DHT speaks the network's own protocol, never
// the IPFS DHT's, and a host with the DHT off speaks neither.
func TestDHTProtocolPrefix(t *testing.T) {
	want := protocol.DHTPrefix(chain.RegTest().NetworkID()) + "/kad/1.0.0"
	for _, tc := range []struct {
		mode DHTMode
		want bool
	}{{DHTServer, true}, {DHTOff, false}} {
		h := startHost(t, dhtConfig(t, tc.mode))
		var protos []string
		for _, p := range h.Mux().Protocols() {
			protos = append(protos, string(p))
		}
		if got := slices.Contains(protos, want); got != tc.want {
			t.Errorf("mode %s: serves %s = %v, want %v (%v)", tc.mode, want, got, tc.want, protos)
		}
		if slices.Contains(protos, "/ipfs/kad/1.0.0") {
			t.Errorf("mode %s serves the IPFS DHT", tc.mode)
		}
	}
}

// TestDHTAdmitBounds: a lookup's records start dial loops only within
// the bounds, and records without an address worth dialling start none.
func TestDHTAdmitBounds(t *testing.T) {
	cfg := dhtConfig(t, DHTClient)
	// Every dial fails; a minute between attempts keeps each loop running
	// while admit is counted, however slow the machine (the tests' usual
	// 50 ms backoff let a loop give up mid-count under load).
	cfg.backoff = backoffPolicy{min: time.Minute, max: time.Minute}
	h := startHost(t, cfg)
	d := h.dht
	d.loopback = false // as on a real network
	dead := multiaddr.StringCast("/ip4/10.255.255.1/tcp/1")
	local := multiaddr.StringCast("/ip4/127.0.0.1/tcp/1")
	if ok, err := d.admit(peer.AddrInfo{ID: newID(t), Addrs: []multiaddr.Multiaddr{local}}); ok || !errors.Is(err, errDHTNoAddrs) {
		t.Errorf("loopback-only record: admitted %v, err %v; want errDHTNoAddrs", ok, err)
	}
	if ok, _ := d.admit(peer.AddrInfo{ID: h.ID(), Addrs: []multiaddr.Multiaddr{dead}}); ok {
		t.Error("own record admitted")
	}
	refused := 0
	for range dhtMaxLoops + 5 {
		// The dial loops dial through a gate that refuses them first,
		// so no packet leaves for 10.255.255.1.
		id := newID(t)
		h.Block(id)
		ok, err := d.admit(peer.AddrInfo{ID: id, Addrs: []multiaddr.Multiaddr{dead}})
		if errors.Is(err, errDHTLoops) {
			refused++
		} else if !ok {
			t.Fatalf("admit: %v, %v", ok, err)
		}
	}
	if refused != 5 {
		t.Errorf("refused %d records past the bound of %d loops, want 5", refused, dhtMaxLoops)
	}
}

func TestDHTAddrs(t *testing.T) {
	ma := multiaddr.StringCast
	var many []multiaddr.Multiaddr
	for range maxRememberedAddrs + 3 {
		many = append(many, ma("/ip4/10.0.0.1/tcp/9310"))
	}
	for _, tc := range []struct {
		name     string
		in       []multiaddr.Multiaddr
		loopback bool
		want     int
	}{
		{"lan", []multiaddr.Multiaddr{ma("/ip4/10.0.0.1/tcp/9310")}, false, 1},
		{"loopback dropped", []multiaddr.Multiaddr{ma("/ip4/127.0.0.1/tcp/9310")}, false, 0},
		{"loopback kept", []multiaddr.Multiaddr{ma("/ip4/127.0.0.1/tcp/9310")}, true, 1},
		{"unspecified", []multiaddr.Multiaddr{ma("/ip4/0.0.0.0/tcp/9310")}, true, 0},
		{"capped", many, false, maxRememberedAddrs},
	} {
		if got := dhtAddrs(tc.in, tc.loopback); len(got) != tc.want {
			t.Errorf("%s: kept %v, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseDHTMode(t *testing.T) {
	for in, want := range map[string]DHTMode{"auto": DHTAuto, "server": DHTServer, "client": DHTClient, "off": DHTOff, "": DHTOff} {
		if got, err := ParseDHTMode(in); err != nil || got != want {
			t.Errorf("ParseDHTMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseDHTMode("public"); err == nil {
		t.Error("ParseDHTMode(public): no error")
	}
}
