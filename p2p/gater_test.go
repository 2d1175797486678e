package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestHostBlockUnblock: a blocked peer is disconnected and refused both
// ways, however it is dialled, until Unblock; the peer's own bootstrap
// loop then reconnects it without help.
func TestHostBlockUnblock(t *testing.T) {
	a := startHost(t, testConfig(t, t.TempDir()))
	cfg := testConfig(t, t.TempDir())
	for _, ma := range a.FullAddrs() {
		cfg.Bootstrap = append(cfg.Bootstrap, ma.String())
	}
	b := startHost(t, cfg)
	testutil.Eventually(t, 10*time.Second, "bootstrap connection", connected(b, a.ID()))

	a.Block(b.ID())
	testutil.Eventually(t, 10*time.Second, "the blocked peer disconnected", func() bool {
		return !connected(a, b.ID())() && !connected(b, a.ID())()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// b's dial may look complete on b's side for a moment (QUIC finishes
	// the handshake before a's gate closes it), but a never adds the
	// connection, and b loses it.
	_ = b.Dial(ctx, addrInfo(a), SourceRegister)
	if connected(a, b.ID())() {
		t.Fatal("the blocked peer dialled in")
	}
	testutil.Eventually(t, 10*time.Second, "the refused dial closed", func() bool { return !connected(b, a.ID())() })
	if err := a.Dial(ctx, addrInfo(b), SourceRegister); err == nil {
		t.Fatal("dialled a blocked peer")
	}

	a.Unblock(b.ID())
	// No dial from the test: b's bootstrap loop, backing off 50-500 ms
	// here, must find a on its own.
	testutil.Eventually(t, 10*time.Second, "the bootstrap loop to reconnect", func() bool {
		return connected(a, b.ID())() && connected(b, a.ID())()
	})
}

// TestHostBlockKeepsBan: Unblock lifts a block, never a ban, and a ban
// running out leaves a block in force.
func TestHostBlockKeepsBan(t *testing.T) {
	a := startHost(t, testConfig(t, t.TempDir()))
	b := startHost(t, testConfig(t, t.TempDir()))
	dial := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return a.Dial(ctx, addrInfo(b), SourceRegister)
	}

	a.Ban(b.ID(), time.Hour)
	a.Block(b.ID())
	a.Unblock(b.ID())
	if err := dial(); err == nil {
		t.Fatal("Unblock lifted a ban")
	}

	a.gater.Ban(b.ID(), -time.Second) // the ban has run out
	a.Block(b.ID())
	if err := dial(); err == nil {
		t.Fatal("an expired ban lifted a block")
	}
	a.Unblock(b.ID())
	if err := dial(); err != nil {
		t.Fatalf("neither banned nor blocked, dial: %v", err)
	}
}

// TestBansCountPerIP: once maxBansPerIP peers connected from one IP are
// banned, a fresh identity from that IP is refused at accept; one ban
// fewer, and it is let in.
func TestBansCountPerIP(t *testing.T) {
	tests := []struct {
		name         string
		countLoopbck bool // count bans against 127.0.0.1, as against any other IP
		wantRefused  bool
	}{
		// Loopback is exempt by default: a local proxy or test network
		// puts every honest peer behind it.
		{name: "loopback exempt", countLoopbck: false, wantRefused: false},
		{name: "counted", countLoopbck: true, wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startHost(t, testConfig(t, t.TempDir()))
			if tt.countLoopbck {
				a.gater.mu.Lock()
				a.gater.ipExempt = nil
				a.gater.mu.Unlock()
			}
			dialIn := func() (*Host, error) {
				b := startHost(t, testConfig(t, t.TempDir()))
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				if err := b.Dial(ctx, addrInfo(a), SourceRegister); err != nil {
					return b, err
				}
				// The dialler may see the handshake finish before a's gate
				// closes the connection (see TestHostBlockUnblock): ask a.
				testutil.Eventually(t, 5*time.Second, "a settles on the connection", func() bool {
					return connected(a, b.ID())() || !connected(b, a.ID())()
				})
				if !connected(a, b.ID())() {
					return b, errRefused
				}
				return b, nil
			}
			for i := range maxBansPerIP {
				b, err := dialIn()
				if err != nil {
					t.Fatalf("identity %d, with %d of its IP's peers banned, was refused: %v", i, i, err)
				}
				a.Ban(b.ID(), time.Hour)
			}
			_, err := dialIn()
			if refused := err != nil; refused != tt.wantRefused {
				t.Fatalf("a fresh identity from an IP with %d peers banned: refused %v (%v), want %v",
					maxBansPerIP, refused, err, tt.wantRefused)
			}
		})
	}
}

// TestBanIPsCountsIdentities: an IP is refused once maxBansPerIP
// distinct identities connected from it are banned; one identity banned
// again and again counts once.
func TestBanIPsCountsIdentities(t *testing.T) {
	ip := net.ParseIP("192.0.2.7")
	until := time.Now().Add(time.Hour)
	g := NewGater()
	for range maxBansPerIP + 2 {
		g.banIPs("same", []net.IP{ip}, until)
	}
	if g.refusesIP(ip) {
		t.Fatal("one identity banned repeatedly got its IP refused")
	}
	for i := range maxBansPerIP - 1 {
		g.banIPs(peer.ID(fmt.Sprint("other", i)), []net.IP{ip}, until)
	}
	if !g.refusesIP(ip) {
		t.Fatalf("%d identities banned from one IP, and the IP is not refused", maxBansPerIP)
	}
	if g.refusesIP(net.ParseIP("192.0.2.8")) {
		t.Fatal("a neighbouring IP was refused")
	}
}

var errRefused = errors.New("refused")
