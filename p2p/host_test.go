package p2p

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/multiformats/go-multiaddr"
)

// Every host in these tests listens on 127.0.0.1 with mDNS off: mDNS
// multicasts on every interface and only runs inside network namespaces
// (netns_test.go).

var loopbackListen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// testConfig is a loopback host with fast backoffs, so reconnect tests
// take a second and not a minute.
func testConfig(t testing.TB, dataDir string) HostConfig {
	return HostConfig{
		DataDir:     dataDir,
		Listen:      loopbackListen,
		Logger:      testLogger(t),
		backoff:     backoffPolicy{min: 50 * time.Millisecond, max: 500 * time.Millisecond},
		memoryDelay: 50 * time.Millisecond,
	}
}

// startHost builds and starts a host that is closed when the test ends.
func startHost(t testing.TB, cfg HostConfig) *Host {
	t.Helper()
	h, err := NewHost(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

func connected(a *Host, b peer.ID) func() bool {
	return func() bool { return a.Network().Connectedness(b) == network.Connected }
}

func addrInfo(h *Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}

// testLogger writes to t.Log until the test ends; libp2p goroutines that
// outlive Close cannot make the test panic by logging late.
func testLogger(t testing.TB) *slog.Logger {
	return testutil.Logger(t).With("host", hostSeq.Add(1))
}

// hostSeq tells the hosts of one test apart in its log.
var hostSeq atomic.Int64

func TestHostFullAddrs(t *testing.T) {
	h := startHost(t, testConfig(t, t.TempDir()))
	full := h.FullAddrs()
	if len(full) < 2 {
		t.Fatalf("FullAddrs = %v, want a TCP and a QUIC address", full)
	}
	var tcp, quic bool
	for _, a := range full {
		_, last := multiaddr.SplitLast(a)
		if last == nil || last.Protocol().Code != multiaddr.P_P2P || last.Value() != h.ID().String() {
			t.Errorf("%s does not end in /p2p/%s", a, h.ID())
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil || ai.ID != h.ID() {
			t.Errorf("%s: not a bootstrap address for %s: %v", a, h.ID(), err)
		}
		_, errTCP := a.ValueForProtocol(multiaddr.P_TCP)
		_, errQUIC := a.ValueForProtocol(multiaddr.P_QUIC_V1)
		tcp, quic = tcp || errTCP == nil, quic || errQUIC == nil
	}
	if !tcp || !quic {
		t.Errorf("FullAddrs = %v: tcp %v, quic %v; want both", full, tcp, quic)
	}
	// What FullAddrs prints must work as --bootstrap.
	strs := make([]string, len(full))
	for i, a := range full {
		strs[i] = a.String()
	}
	if _, err := parseBootstrap(strs); err != nil {
		t.Errorf("parseBootstrap(FullAddrs): %v", err)
	}
}

func TestHostDefaultListenAddrs(t *testing.T) {
	want := []string{"/ip4/0.0.0.0/tcp/9310", "/ip4/0.0.0.0/udp/9310/quic-v1"}
	got := DefaultListenAddrs()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DefaultListenAddrs = %v, want %v", got, want)
	}
	var c HostConfig
	c.applyDefaults()
	if strings.Join(c.Listen, " ") != strings.Join(want, " ") {
		t.Errorf("default Listen = %v, want %v", c.Listen, want)
	}
}

func TestHostConnectRecordsSource(t *testing.T) {
	a := startHost(t, testConfig(t, t.TempDir()))
	b := startHost(t, testConfig(t, ""))
	if err := a.Dial(t.Context(), addrInfo(b), SourceRegister); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "b to see a", connected(b, a.ID()))
	testutil.Eventually(t, 5*time.Second, "both sides to record a source", func() bool {
		return a.PeerSource(b.ID()) != "" && b.PeerSource(a.ID()) != ""
	})
	if got := a.PeerSource(b.ID()); got != SourceRegister {
		t.Errorf("a.PeerSource(b) = %q, want %q", got, SourceRegister)
	}
	if got := b.PeerSource(a.ID()); got != SourceInbound {
		t.Errorf("b.PeerSource(a) = %q, want %q", got, SourceInbound)
	}
	// Identify tells each side what the other runs, with a version.
	testutil.Eventually(t, 5*time.Second, "a's agent version at b", func() bool {
		v, err := b.Peerstore().Get(a.ID(), "AgentVersion")
		return err == nil && v == UserAgent()
	})
	if ua := UserAgent(); !strings.HasPrefix(ua, "gossipchain/") || strings.HasSuffix(ua, "/") || strings.HasSuffix(ua, "@") {
		t.Errorf("user agent %q: want gossipchain/<version>", ua)
	}
	if err := a.Dial(t.Context(), addrInfo(a), SourceRegister); err == nil {
		t.Error("Connect to self: no error")
	}

	b.Close()
	testutil.Eventually(t, 5*time.Second, "a to forget b", func() bool { return a.PeerSource(b.ID()) == "" })
}

// TestAddPeerReturnsListed: AddPeer returns once the host has logged the
// connection, so that /register-node, which lists the peers next, lists
// the one it added. The host logs a connection from the swarm's event,
// which can come after the dial returned (it did in CI, under -race): the
// test holds a's event loop in OnPeer for an earlier peer so that the
// added peer's event waits behind it.
func TestAddPeerReturnsListed(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	cfg := testConfig(t, "")
	cfg.OnPeer = func(e PeerEvent) {
		if e.Connected {
			holdOnce.Do(func() { close(held); <-release })
		}
	}
	a := startHost(t, cfg)
	// Before a's Close, which waits for its event loop.
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	x := startHost(t, testConfig(t, ""))
	y := startHost(t, testConfig(t, ""))
	if err := a.Dial(t.Context(), addrInfo(x), SourceRegister); err != nil {
		t.Fatalf("dial x: %v", err)
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("a's event loop never logged x")
	}

	type result struct {
		err    error
		listed bool
	}
	done := make(chan result, 1)
	go func() {
		err := a.AddPeer(t.Context(), addrInfo(y), SourceRegister)
		done <- result{err, slices.ContainsFunc(a.Peers(), func(p PeerInfo) bool { return p.ID == y.ID() })}
	}()
	// Released once AddPeer waits for y's connection to be logged; if it
	// returns first, y's event is still behind the held loop.
	var r result
	returned := false
	testutil.Eventually(t, 10*time.Second, "AddPeer to wait for y's log, or return", func() bool {
		select {
		case r = <-done:
			returned = true
			return true
		default:
		}
		a.table.mu.Lock()
		defer a.table.mu.Unlock()
		_, waiting := a.table.loggers[y.ID()]
		return waiting
	})
	releaseOnce.Do(func() { close(release) })
	if !returned {
		r = <-done
	}
	if r.err != nil {
		t.Fatalf("AddPeer: %v", r.err)
	}
	if !r.listed {
		t.Fatal("AddPeer returned before the host listed y")
	}
}

func TestHostConnManagerLimits(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		h := startHost(t, testConfig(t, ""))
		info := h.connMgr.GetInfo()
		if info.LowWater != DefaultConnLow || info.HighWater != DefaultConnHigh || info.GracePeriod != DefaultConnGrace {
			t.Errorf("connmgr = low %d high %d grace %v, want %d %d %v", info.LowWater, info.HighWater,
				info.GracePeriod, DefaultConnLow, DefaultConnHigh, DefaultConnGrace)
		}
	})
	t.Run("configured", func(t *testing.T) {
		cfg := testConfig(t, "")
		cfg.ConnLow, cfg.ConnHigh, cfg.ConnGrace = 3, 7, 5*time.Second
		h := startHost(t, cfg)
		// The libp2p host must use the same manager, not its default one.
		cm, ok := h.Host.ConnManager().(*connmgr.BasicConnMgr)
		if !ok || cm != h.connMgr {
			t.Fatalf("host's connection manager is %T, not ours", h.Host.ConnManager())
		}
		info := cm.GetInfo()
		if info.LowWater != 3 || info.HighWater != 7 || info.GracePeriod != 5*time.Second {
			t.Errorf("connmgr = low %d high %d grace %v, want 3 7 5s", info.LowWater, info.HighWater, info.GracePeriod)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		cfg := testConfig(t, "")
		cfg.ConnLow, cfg.ConnHigh = 10, 5
		if h, err := NewHost(t.Context(), cfg); err == nil {
			h.Close()
			t.Error("NewHost with low > high: no error")
		}
	})
	t.Run("trims but spares bootstrap", func(t *testing.T) {
		boot := startHost(t, testConfig(t, ""))
		var bootAddrs []string
		for _, a := range boot.FullAddrs() {
			bootAddrs = append(bootAddrs, a.String())
		}
		cfg := testConfig(t, "")
		cfg.ConnLow, cfg.ConnHigh, cfg.ConnGrace = 1, 2, time.Nanosecond
		cfg.Bootstrap = bootAddrs
		h := startHost(t, cfg)
		testutil.Eventually(t, 5*time.Second, "bootstrap connection", connected(h, boot.ID()))
		for range 3 {
			o := startHost(t, testConfig(t, ""))
			if err := h.Dial(t.Context(), addrInfo(o), SourceRegister); err != nil {
				t.Fatalf("Connect: %v", err)
			}
		}
		h.Host.ConnManager().TrimOpenConns(t.Context())
		// Unprotected peers go down to the low water mark; the protected
		// bootstrap peer does not count and stays.
		testutil.Eventually(t, 5*time.Second, "trim to low water plus the bootstrap peer", func() bool {
			return len(h.Network().Peers()) == cfg.ConnLow+1
		})
		if !connected(h, boot.ID())() {
			t.Error("trim closed the bootstrap peer")
		}
	})
}

func TestHostCloseIsIdempotent(t *testing.T) {
	h, err := NewHost(t.Context(), testConfig(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err == nil {
		t.Error("second Start: no error")
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestHostStartContextStopsDiscovery checks that cancelling Start's
// context stops the dial loops while the host itself stays usable.
func TestHostStartContextStopsDiscovery(t *testing.T) {
	cfg := testConfig(t, "")
	// A peer nobody listens for: the bootstrap loop retries forever.
	ghost := startHost(t, testConfig(t, ""))
	for _, a := range ghost.FullAddrs() {
		cfg.Bootstrap = append(cfg.Bootstrap, a.String())
	}
	ghost.Close()
	h, err := NewHost(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	keepers := func() int {
		h.dialer.mu.Lock()
		defer h.dialer.mu.Unlock()
		return len(h.dialer.keepers)
	}
	testutil.Eventually(t, 5*time.Second, "the bootstrap loop to start", func() bool { return keepers() == 1 })
	cancel()
	testutil.Eventually(t, 5*time.Second, "the bootstrap loop to stop", func() bool { return keepers() == 0 })
}
