package p2p

import (
	"context"
	"errors"
	"testing"
	"time"

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
	a := startHost(t, testConfig(t, t.TempDir()))
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
	if _, err := dialIn(); err == nil {
		t.Fatalf("a fresh identity was let in from an IP with %d peers banned", maxBansPerIP)
	}
}

var errRefused = errors.New("refused")
