package p2p

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/backoff"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// dialer keeps peers connected. Every peer the host wants connected,
// whatever found it (bootstrap, remembered, mDNS, an operator), gets one
// dial loop: keep. It dials, waits on the peer's disconnect event while
// connected, and after a failed dial sleeps an exponential, jittered,
// capped backoff. It never polls. Bootstrap and added peers are kept for
// the life of the host; the others are candidates and are dropped after a
// run of failed dials (a LAN node that left, a peer remembered from last
// week).
//
// The loops are the host's goroutines (Host.spawn), under the discovery
// context start gives; mu guards the loops' table.
type dialer struct {
	h       *Host
	backoff backoff.BackoffFactory

	mu      sync.Mutex
	ctx     context.Context    // discovery's; nil before start
	keepers map[peer.ID]string // peers with a dial loop, by source
}

func newDialer(h *Host, b backoffPolicy) *dialer {
	return &dialer{h: h, backoff: b.factory(), keepers: make(map[peer.ID]string)}
}

// start lets keep start loops, under ctx: none runs before the host's
// Start.
func (d *dialer) start(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
}

// backoffPolicy bounds the delay between dials of one peer (HostConfig's
// test knob; zero means the defaults in limits.go).
type backoffPolicy struct {
	min, max time.Duration
}

func (b backoffPolicy) withDefaults() backoffPolicy {
	if b.min <= 0 {
		b.min = defaultBackoffMin
	}
	if b.max < b.min {
		b.max = max(defaultBackoffMax, b.min)
	}
	return b
}

// factory returns go-libp2p's exponential backoff for the policy: the
// n-th consecutive failure waits min·2^(n-1), capped at max, with equal
// jitter. One random source serves every loop of the host; the factory
// locks it.
func (b backoffPolicy) factory() backoff.BackoffFactory {
	return backoff.NewExponentialBackoff(b.min, b.max, equalJitter, b.min, 2, 0,
		mrand.NewSource(time.Now().UnixNano()))
}

// equalJitter keeps half of the capped delay and draws the other half at
// random, so peers that lost the same node do not redial in lockstep, yet
// none redials much sooner than the backoff says. (go-libp2p's FullJitter
// could draw anything down to min, far below a long delay.) A duration
// below min can only be one that overflowed, after some 30 doublings: it
// is the cap, not the floor.
func equalJitter(d, minD, maxD time.Duration, rng *mrand.Rand) time.Duration {
	if d < minD || d > maxD {
		d = maxD
	}
	return d/2 + time.Duration(rng.Int63n(int64(d/2)+1))
}

// retryDelays is one dial loop's backoff.
type retryDelays struct{ s backoff.BackoffStrategy }

// after returns the wait after the n-th consecutive failure. The loop
// counts failures one by one, and resets to zero after a stable
// connection, so the strategy only needs starting over at the first
// failure (n of 0 or 1): the wait after a stable connection ends is the
// first step too.
func (r retryDelays) after(n int) time.Duration {
	if n <= 1 {
		r.s.Reset()
	}
	return r.s.Delay()
}

// keepPolicy says how hard keep tries.
type keepPolicy struct {
	// persistent peers are redialled forever; the others give up after
	// maxFailures consecutive failed dials, and are not redialled after a
	// disconnect while the host has ConnLow peers or more.
	persistent  bool
	maxFailures int
	// yield is a wait before each dial (the first and after every
	// disconnect) to let the other side dial first; see discovery.go.
	yield time.Duration
}

// keep starts a dial loop for ai unless one is running for that peer. It
// reports whether it started one.
func (d *dialer) keep(ai peer.AddrInfo, source string, pol keepPolicy) bool {
	if ai.ID == d.h.ID() {
		return false
	}
	d.mu.Lock()
	ctx := d.ctx
	if _, ok := d.keepers[ai.ID]; ok || ctx == nil {
		d.mu.Unlock()
		return false
	}
	d.keepers[ai.ID] = source
	d.mu.Unlock()

	started := d.h.spawn(func() {
		defer d.forget(ai.ID)
		d.loop(ctx, ai, source, pol)
	})
	if !started {
		d.forget(ai.ID)
	}
	return started
}

func (d *dialer) forget(p peer.ID) {
	d.mu.Lock()
	delete(d.keepers, p)
	d.mu.Unlock()
}

// loop is one peer's dial loop; see dialer.
func (d *dialer) loop(ctx context.Context, ai peer.AddrInfo, source string, pol keepPolicy) {
	h := d.h
	failures := 0
	delays := retryDelays{d.backoff()}
	for {
		if h.isConnected(ai.ID) {
			since := time.Now()
			if !h.waitDisconnected(ctx, ai.ID) {
				return
			}
			if time.Since(since) >= stableAfter {
				failures = 0
			} else {
				failures++ // a peer that drops us at once backs off too
			}
			// A candidate is chased again only while we are short of
			// peers; otherwise a busy peer whose connection manager
			// trims us would be redialled, and trim us, forever.
			if !pol.persistent && len(h.Network().Peers()) >= h.cfg.ConnLow {
				return
			}
			// Even after a long connection, do not redial in the same
			// instant: the peer is most likely restarting.
			if !sleep(ctx, delays.after(failures)) {
				return
			}
			continue
		}
		if pol.yield > 0 {
			if !sleep(ctx, pol.yield/2+rand.N(pol.yield/2+1)) {
				return
			}
			if h.isConnected(ai.ID) {
				continue
			}
		}
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		err := h.Dial(dctx, ai, source)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			continue
		}
		failures++
		wait := delays.after(failures)
		if !pol.persistent && failures >= pol.maxFailures {
			h.log.Info("giving up on peer", "peer", ai.ID, "source", source, "attempts", failures, "reason", err)
			return
		}
		// An unreachable bootstrap peer is worth an operator's attention;
		// a LAN or remembered peer that left is not.
		level := slog.LevelDebug
		if pol.persistent {
			level = slog.LevelInfo
		}
		h.log.Log(ctx, level, "dial failed", "peer", ai.ID, "source", source, "attempt", failures,
			"retry_in", wait.Round(time.Millisecond), "reason", err)
		if !sleep(ctx, wait) {
			return
		}
	}
}

// isConnected reports whether p is connected, directly or through a
// relay: a dial loop waits on a relayed connection as on a direct one,
// while hole punching tries to make it direct.
func (h *Host) isConnected(p peer.ID) bool {
	return linked(h.Network().Connectedness(p))
}

// sleep waits d or until ctx ends, reporting whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// parseBootstrap turns --bootstrap strings into one AddrInfo per peer. A
// malformed address is an error, not a warning: an operator's typo would
// otherwise leave the node silently alone.
func parseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var mas []multiaddr.Multiaddr
	for _, s := range addrs {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap address %q: %w", s, err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			return nil, fmt.Errorf("bootstrap address %q: want a full multiaddr ending in /p2p/<id>: %w", s, err)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("bootstrap addresses: %w", err)
	}
	for i := range infos {
		infos[i].Addrs = withQUIC(infos[i].Addrs)
	}
	return infos, nil
}

// withQUIC adds, for each TCP address of an IP with no UDP address
// given, QUIC on the same IP and port: a node listens on both at one
// port by default, QUIC shares its socket with outgoing dials (so NATs
// map it as they map the listener), and an operator who copied the TCP
// line would otherwise never try it. A peer that has no QUIC costs one
// failed dial, which libp2p runs alongside the TCP one.
func withQUIC(addrs []multiaddr.Multiaddr) []multiaddr.Multiaddr {
	hasUDP := map[string]bool{}
	for _, a := range addrs {
		if ip, err := manet.ToIP(a); err == nil {
			if _, err := a.ValueForProtocol(multiaddr.P_UDP); err == nil {
				hasUDP[ip.String()] = true
			}
		}
	}
	out := addrs
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil || hasUDP[ip.String()] || len(a) != 2 {
			continue // DNS names, circuits, /ws and the like are left as given
		}
		port, err := a.ValueForProtocol(multiaddr.P_TCP)
		if err != nil {
			continue
		}
		q, err := multiaddr.NewMultiaddr(fmt.Sprintf("%s/udp/%s/quic-v1", a[0].String(), port))
		if err != nil {
			continue
		}
		out = append(out, q)
		hasUDP[ip.String()] = true
	}
	return out
}
