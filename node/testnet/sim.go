package testnet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multiaddr"
)

// Latency is a distribution of one-way link latencies, one drawn per
// link of a simulated network: "fixed:50ms", "uniform:20ms-200ms" or
// "lognormal:20ms-200ms". The log-normal one puts Min and Max at its 5th
// and 95th percentiles (the median at their geometric mean, 63 ms for
// 20–200 ms: most links short, a long tail, as between hosts spread over
// continents) and clamps what falls outside to them.
type Latency struct {
	Kind     string // "fixed", "uniform" or "lognormal"
	Min, Max time.Duration
}

// z95 is the standard normal's 95th percentile.
const z95 = 1.6449

// ParseLatency reads a Latency as the --latency flag gives it.
func ParseLatency(s string) (Latency, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Latency{}, fmt.Errorf("latency %q: want KIND:RANGE, such as lognormal:20ms-200ms", s)
	}
	lo, hi, ranged := strings.Cut(rest, "-")
	if !ranged {
		hi = lo
	}
	min, err1 := time.ParseDuration(lo)
	max, err2 := time.ParseDuration(hi)
	if err := errors.Join(err1, err2); err != nil {
		return Latency{}, fmt.Errorf("latency %q: %w", s, err)
	}
	l := Latency{Kind: kind, Min: min, Max: max}
	switch {
	case kind != "fixed" && kind != "uniform" && kind != "lognormal":
		return Latency{}, fmt.Errorf("latency %q: kind %q: want fixed, uniform or lognormal", s, kind)
	case kind == "fixed" && ranged:
		return Latency{}, fmt.Errorf("latency %q: fixed takes one duration", s)
	case kind != "fixed" && !ranged:
		return Latency{}, fmt.Errorf("latency %q: %s takes a range, MIN-MAX", s, kind)
	case min < 0 || max < min || max > time.Minute:
		return Latency{}, fmt.Errorf("latency %q: want 0 <= min <= max <= 1m", s)
	case kind == "lognormal" && min == 0:
		return Latency{}, fmt.Errorf("latency %q: lognormal needs min > 0", s)
	}
	return l, nil
}

func (l Latency) String() string {
	if l.Kind == "fixed" {
		return fmt.Sprintf("fixed:%s", l.Min)
	}
	return fmt.Sprintf("%s:%s-%s", l.Kind, l.Min, l.Max)
}

// Draw returns one link's latency.
func (l Latency) Draw(rng *rand.Rand) time.Duration {
	switch l.Kind {
	case "uniform":
		return l.Min + time.Duration(rng.Int64N(int64(l.Max-l.Min)+1))
	case "lognormal":
		lo, hi := math.Log(float64(l.Min)), math.Log(float64(l.Max))
		mu, sigma := (lo+hi)/2, (hi-lo)/(2*z95)
		d := time.Duration(math.Exp(mu + sigma*rng.NormFloat64()))
		return min(max(d, l.Min), l.Max)
	}
	return l.Min
}

// sim is a Net's simulated network: go-libp2p's mocknet, whose links
// carry a latency and a bandwidth. It has no transport, security or
// muxer and no connection gater, so a partition unlinks the peers
// across the cut; the nodes themselves are the real ones.
type sim struct {
	mn        mocknet.Mocknet
	latency   Latency
	bandwidth float64                // bytes per second per link, 0: unlimited
	delay     map[link]time.Duration // each linked pair's latency, drawn once
}

// WithMocknet runs the nodes on go-libp2p's mocknet in place of TCP on
// loopback: each link gets a latency drawn from lat and bandwidth bytes
// per second each way (0: unlimited), and the stores run without fsync
// on tmpfs when the machine has /dev/shm. It is what lets one process
// hold 1,000 nodes with WAN latencies. Restart is not supported: a
// mocknet peer cannot rejoin under its old ID.
func WithMocknet(lat Latency, bandwidth float64) Option {
	return func(c *config) { c.mocknet, c.latency, c.bandwidth = true, lat, bandwidth }
}

// simBase is where a simulation keeps its data directories: tmpfs when
// there is one, so 1,000 stores cost memory, not disk writes.
func simBase() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// libp2p returns the function that makes node i's mocknet host.
func (s *sim) libp2p(i int) func(crypto.PrivKey) (host.Host, error) {
	return func(key crypto.PrivKey) (host.Host, error) {
		addr, err := multiaddr.NewMultiaddr(fmt.Sprintf("/ip4/10.%d.%d.%d/tcp/9310", i>>16&0xff, i>>8&0xff, i&0xff))
		if err != nil {
			return nil, err
		}
		if key == nil {
			return nil, errors.New("a simulated node needs a data directory for its key")
		}
		return s.mn.AddPeer(key, addr)
	}
}

// pair is the link between a and b in a canonical order.
func pair(a, b int) link {
	if a > b {
		a, b = b, a
	}
	return link{from: a, to: b}
}

// connect makes sure nodes a and b are linked, drawing the link's
// latency the first time.
func (nt *Net) simLink(a, b int) error {
	s := nt.sim
	pa, pb := nt.members[a].id, nt.members[b].id
	if len(s.mn.LinksBetweenPeers(pa, pb)) > 0 {
		return nil
	}
	d, ok := s.delay[pair(a, b)]
	if !ok {
		d = s.latency.Draw(nt.rng)
		s.delay[pair(a, b)] = d
	}
	l, err := s.mn.LinkPeers(pa, pb)
	if err != nil {
		return fmt.Errorf("link n%d – n%d: %w", a, b, err)
	}
	l.SetOptions(mocknet.LinkOptions{Latency: d, Bandwidth: s.bandwidth})
	return nil
}

// cutLatency is what a link across a partition is set to before it is
// removed: longer than any run, so nothing written on it arrives.
const cutLatency = 24 * time.Hour

// simCut unlinks every linked pair across the partition, so that no
// dial crosses it: mocknet has no gater to refuse one. First it sets the
// link's latency beyond any run: a mocknet stream opened while its
// connection is being closed can outlive the connection (measured: a
// block crossed the cut half a second after both hosts reported the
// peer gone), and a stream's writes take the latency of its link.
func (nt *Net) simCut() error {
	var errs []error
	for p := range nt.sim.delay {
		if !nt.sameSide(p.from, p.to) {
			pa, pb := nt.members[p.from].id, nt.members[p.to].id
			links := nt.sim.mn.LinksBetweenPeers(pa, pb)
			for _, l := range links {
				l.SetOptions(mocknet.LinkOptions{Latency: cutLatency})
			}
			if len(links) > 0 {
				errs = append(errs, nt.sim.mn.UnlinkPeers(pa, pb))
			}
		}
	}
	return errors.Join(errs...)
}

// LinkLatencies returns the latency of every link the simulation has
// made, nil outside one.
func (nt *Net) LinkLatencies() []time.Duration {
	if nt.sim == nil {
		return nil
	}
	out := make([]time.Duration, 0, len(nt.sim.delay))
	for _, d := range nt.sim.delay {
		out = append(out, d)
	}
	return out
}

// Simulated reports whether the Net runs on mocknet.
func (nt *Net) Simulated() bool { return nt.sim != nil }
