package p2p

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/libp2p/go-libp2p/core/network"
)

func TestBootstrapBackoffDelay(t *testing.T) {
	b := backoffPolicy{min: 100 * time.Millisecond, max: 2 * time.Second}.factory()
	// delay is the wait after the n-th failure, as a dial loop gets it:
	// failures counted one by one.
	delay := func(n int) time.Duration {
		r := retryDelays{b()}
		d := r.after(0)
		for i := 1; i <= n; i++ {
			d = r.after(i)
		}
		return d
	}
	for n, base := range map[int]time.Duration{
		0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 1000: 2 * time.Second,
		1100: 2 * time.Second, // past float64's range: the cap, not the floor
	} {
		for range 50 {
			if d := delay(n); d < base/2 || d > base {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", n, d, base/2, base)
			}
		}
	}
	// After a stable connection the count starts again at the minimum.
	r := retryDelays{b()}
	for i := 1; i <= 5; i++ {
		r.after(i)
	}
	for _, n := range []int{0, 1, 2} {
		base := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}[n]
		if d := r.after(n); d < base/2 || d > base {
			t.Fatalf("after reset, after(%d) = %v, want within [%v, %v]", n, d, base/2, base)
		}
	}
	if d := (backoffPolicy{}).withDefaults(); d.min != defaultBackoffMin || d.max != defaultBackoffMax {
		t.Errorf("defaults = %+v", d)
	}
}

func TestBootstrapParse(t *testing.T) {
	const id = "12D3KooWGzh5HHrGq8bGkXoXGiBCRuk4iW8ShnuzjHp1hnGCQK4C"
	infos, err := parseBootstrap([]string{
		"/ip4/127.0.0.1/tcp/9310/p2p/" + id,
		"/ip4/127.0.0.1/udp/9310/quic-v1/p2p/" + id,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || len(infos[0].Addrs) != 2 {
		t.Errorf("two addresses of one peer = %v, want one AddrInfo with both", infos)
	}
	// A TCP address alone brings QUIC on the same IP and port with it.
	infos, err = parseBootstrap([]string{"/ip4/127.0.0.1/tcp/9310/p2p/" + id, "/dns4/boot.example/tcp/9310/p2p/" + id})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range infos[0].Addrs {
		got = append(got, a.String())
	}
	want := []string{"/ip4/127.0.0.1/tcp/9310", "/dns4/boot.example/tcp/9310", "/ip4/127.0.0.1/udp/9310/quic-v1"}
	if !slices.Equal(got, want) {
		t.Errorf("TCP bootstrap addresses = %v, want %v", got, want)
	}
	for _, bad := range []string{"/ip4/127.0.0.1/tcp/9310", "not a multiaddr", "/p2p/nonsense"} {
		if _, err := parseBootstrap([]string{bad}); err == nil {
			t.Errorf("parseBootstrap(%q): no error", bad)
		}
	}
}

// TestBootstrapReconnects: a node given a bootstrap address connects to it
// and, after that peer stops and comes back on the same port with the
// same key, connects again on its own.
func TestBootstrapReconnects(t *testing.T) {
	bootDir := t.TempDir()
	boot := startHost(t, testConfig(t, bootDir))
	var bootAddrs []string
	for _, a := range boot.FullAddrs() {
		bootAddrs = append(bootAddrs, a.String())
	}
	bootID := boot.ID()

	cfg := testConfig(t, t.TempDir())
	cfg.Bootstrap = bootAddrs
	h := startHost(t, cfg)
	testutil.Eventually(t, 10*time.Second, "first bootstrap connection", func() bool {
		return connected(h, bootID)() && h.PeerSource(bootID) == SourceBootstrap
	})
	// Both sides: a connection the bootstrap node has not finished
	// accepting is not closed by its Close, and h would only notice at
	// the QUIC idle timeout.
	testutil.Eventually(t, 10*time.Second, "the bootstrap node to see h", connected(boot, h.ID()))

	// Restart the bootstrap node on the very same addresses.
	var listen []string
	for _, a := range boot.Network().ListenAddresses() {
		listen = append(listen, a.String())
	}
	if err := boot.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the disconnect", func() bool { return !connected(h, bootID)() })

	// Without its peer memory the bootstrap node will not dial h itself:
	// the reconnect below must be h's bootstrap dialer's doing.
	if err := os.Remove(filepath.Join(bootDir, PeersFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	cfg2 := testConfig(t, bootDir)
	cfg2.Listen = listen
	boot2 := startHost(t, cfg2)
	if boot2.ID() != bootID {
		t.Fatalf("restarted bootstrap node has ID %s, want %s", boot2.ID(), bootID)
	}
	testutil.Eventually(t, 20*time.Second, "the bootstrap dialer to reconnect", connected(h, bootID))
	if got := h.PeerSource(bootID); got != SourceBootstrap {
		t.Errorf("source after reconnect = %q, want %q", got, SourceBootstrap)
	}
	for _, c := range h.Network().ConnsToPeer(bootID) {
		if c.Stat().Direction != network.DirOutbound {
			t.Errorf("connection to the bootstrap node is %v, want outbound", c.Stat().Direction)
		}
	}
	// The bootstrap peer is pinned against trimming.
	if !h.connMgr.IsProtected(bootID, SourceBootstrap) {
		t.Error("bootstrap peer not protected in the connection manager")
	}
}
