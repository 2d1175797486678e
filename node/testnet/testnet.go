package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
)

// setupTimeout bounds each of the Net's own steps: starting a node,
// dialling its links, a mesh forming. On loopback each takes
// milliseconds to a second; the margin is for -race on two cores.
const setupTimeout = 30 * time.Second

// Option configures a Net.
type Option func(*config)

type config struct {
	params   *chain.Params
	topology Topology
	seed     uint64
	seeded   bool
	logLevel slog.Level
}

// WithTopology sets how nodes bootstrap from each other (default
// Random(2)).
func WithTopology(t Topology) Option { return func(c *config) { c.topology = t } }

// WithSeed fixes the random choices (topology, added links); by default
// they are random, and the seed is logged so a failure can be replayed.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithLogLevel sets the level of the nodes' logs, which go to the test
// log (default Info).
func WithLogLevel(l slog.Level) Option { return func(c *config) { c.logLevel = l } }

// TB is what a Net needs of its driver: a *testing.T or *testing.B, or
// the testnet command's runner. Fatal and Fatalf must not return (the
// testing package ends the goroutine; the runner panics and recovers at
// its top), and Context must end before the Cleanup functions run.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Log(args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Cleanup(func())
	Context() context.Context
}

// Net is a network of in-process nodes; see the package comment. New
// starts it and the test's cleanup closes it.
//
// mu guards the members' running state (node, mesh), which Node reads
// from any goroutine; everything else is touched by the test's goroutine
// only.
type Net struct {
	t     TB
	cfg   config
	rng   *rand.Rand
	log   *logWriter
	links []link
	// group is each node's side of the partition, nil when there is none.
	group []int

	mu      sync.Mutex
	members []*member
}

// member is one node of the Net, running or stopped.
type member struct {
	name string
	dir  string
	boot []int // the earlier nodes it bootstraps from
	// Known once started, kept while stopped: Restart reuses them.
	id   peer.ID
	port int
	addr multiaddr.Multiaddr // TCP listen address with /p2p/<id>

	node *node.Node // nil while stopped
	mesh *p2p.MeshTracer
}

// New starts n nodes, joins them by bootstrap as the topology says, and
// waits until every node is connected to its bootstrap peers and the
// GossipSub meshes join all nodes up, so what a test publishes first
// reaches everyone. It fails the test if any of that fails.
func New(t TB, n int, opts ...Option) *Net {
	t.Helper()
	cfg := config{params: chain.RegTest(), topology: Random(2), logLevel: slog.LevelInfo}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.seeded {
		cfg.seed = rand.Uint64()
	}
	if n < 1 {
		t.Fatalf("testnet: %d nodes", n)
	}
	nt := &Net{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0x7e57)), log: &logWriter{t: t}}
	boots := cfg.topology.boots(n, nt.rng)
	for i := range n {
		// Every directory first: TempDir's removal is a cleanup too,
		// and it must run after close, so it is registered before it.
		m := &member{name: fmt.Sprintf("n%d", i), dir: t.TempDir()}
		for _, b := range boots[i] {
			if b < 0 || b >= i || slices.Contains(m.boot, b) {
				t.Fatalf("testnet: topology %s: node %d bootstraps from %d", cfg.topology, i, b)
			}
			m.boot = append(m.boot, b)
			nt.links = append(nt.links, link{from: i, to: b})
		}
		nt.members = append(nt.members, m)
	}
	t.Cleanup(nt.log.stop) // last: nodes may log while closing
	t.Cleanup(nt.close)
	t.Logf("testnet: %d nodes, topology %s, seed %d", n, cfg.topology, cfg.seed)

	for i := range n {
		if err := nt.start(i, 0); err != nil {
			t.Fatalf("testnet: %v", err)
		}
	}
	nt.rewire()
	nt.WaitMesh(setupTimeout)
	return nt
}

// Params returns the network's parameters.
func (nt *Net) Params() *chain.Params { return nt.cfg.params }

// Len returns the number of nodes, running or not.
func (nt *Net) Len() int { return len(nt.members) }

// Node returns node i, nil while it is stopped.
func (nt *Net) Node(i int) *node.Node {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.members[i].node
}

// Nodes returns the running nodes.
func (nt *Net) Nodes() []*node.Node {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	var out []*node.Node
	for _, m := range nt.members {
		if m.node != nil {
			out = append(out, m.node)
		}
	}
	return out
}

// Running returns the indexes of the running nodes.
func (nt *Net) Running() []int {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.runningLocked()
}

func (nt *Net) runningLocked() []int {
	var out []int
	for i, m := range nt.members {
		if m.node != nil {
			out = append(out, i)
		}
	}
	return out
}

// PeerID returns node i's peer ID, which survives restarts.
func (nt *Net) PeerID(i int) peer.ID { return nt.members[i].id }

// Addr returns node i's listen address with /p2p/<id>, as of its last
// start.
func (nt *Net) Addr(i int) multiaddr.Multiaddr {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.members[i].addr
}

// Dir returns node i's data directory.
func (nt *Net) Dir(i int) string { return nt.members[i].dir }

// Links returns the links the Net keeps, as [dialler, dialled] pairs:
// the topology's bootstrap links and those it added.
func (nt *Net) Links() [][2]int {
	out := make([][2]int, 0, len(nt.links))
	for _, l := range nt.links {
		out = append(out, [2]int{l.from, l.to})
	}
	return out
}

// Mine mines k blocks on node i, each on its tip at the time, and
// returns them. A block that lost the race to one arriving meanwhile is
// mined again.
func (nt *Net) Mine(i, k int) []*chain.Block {
	nt.t.Helper()
	n := nt.running(i)
	out := make([]*chain.Block, 0, k)
	for len(out) < k {
		b, err := n.MineOne(nt.t.Context())
		if errors.Is(err, chain.ErrStaleTip) {
			continue
		}
		if err != nil {
			nt.t.Fatalf("testnet: mine on n%d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

// Stop closes node i cleanly. Its peers keep trying to reach it, and the
// Net adds links if the others fell apart without it. It returns once
// the meshes join up the remaining nodes (WaitMesh).
func (nt *Net) Stop(i int) {
	nt.t.Helper()
	n := nt.running(i)
	nt.mu.Lock()
	nt.members[i].node, nt.members[i].mesh = nil, nil
	nt.mu.Unlock()
	if err := n.Close(); err != nil {
		nt.t.Fatalf("testnet: stop n%d: %v", i, err)
	}
	nt.t.Logf("testnet: n%d stopped at height %d", i, n.Chain().Tip().Height())
	nt.rewire()
	nt.WaitMesh(setupTimeout)
}

// Restart opens node i again on its data directory, so with the same
// store, keys and peer ID, listening on its old port if that is free
// (on a new one otherwise), and dials its links. It returns once the
// node runs and its links are up; it does not wait for the node to catch
// up (WaitConverged) nor for it to join the meshes (WaitMesh), so the
// time to catch up can be measured from there. In a partition, the node
// stays on its side.
func (nt *Net) Restart(i int) {
	nt.t.Helper()
	m := nt.members[i]
	if nt.Node(i) != nil {
		nt.t.Fatalf("testnet: restart n%d: it is running", i)
	}
	if err := nt.start(i, m.port); err != nil {
		nt.t.Logf("testnet: n%d cannot listen on port %d again, taking a new one: %v", i, m.port, err)
		if err := nt.start(i, 0); err != nil {
			nt.t.Fatalf("testnet: restart: %v", err)
		}
	}
	if nt.group != nil {
		nt.blockAcross(i)
	}
	nt.t.Logf("testnet: n%d restarted at height %d", i, nt.Node(i).Chain().Tip().Height())
	nt.rewire()
}

// running returns node i or fails the test if it is stopped.
func (nt *Net) running(i int) *node.Node {
	nt.t.Helper()
	if i < 0 || i >= len(nt.members) {
		nt.t.Fatalf("testnet: no node %d of %d", i, len(nt.members))
	}
	n := nt.Node(i)
	if n == nil {
		nt.t.Fatalf("testnet: n%d is stopped", i)
	}
	return n
}

// start opens and starts node i listening on port (0: any).
func (nt *Net) start(i, port int) error {
	m := nt.members[i]
	var boot []string
	for _, b := range m.boot {
		boot = append(boot, nt.members[b].addr.String())
	}
	mesh := p2p.NewMeshTracer()
	// TCP on loopback, no mDNS, which would multicast on every interface
	// of the machine, and the tracer that WaitMesh reads.
	n, err := node.New(node.Config{
		Params:        nt.cfg.params,
		DataDir:       m.dir,
		Listen:        []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)},
		Bootstrap:     boot,
		MDNS:          false,
		MinerThreads:  1,
		Logger:        nt.log.logger(m.name, nt.cfg.logLevel),
		GossipOptions: []p2p.GossipOption{p2p.WithPubSubOptions(pubsub.WithRawTracer(mesh))},
	})
	if err != nil {
		return fmt.Errorf("open n%d: %w", i, err)
	}
	// The node lives until Stop or the test's end, not a step's deadline.
	if err := n.Start(nt.t.Context()); err != nil {
		return errors.Join(fmt.Errorf("start n%d: %w", i, err), n.Close())
	}
	addr, p, err := tcpAddr(n.Host())
	if err != nil {
		return errors.Join(fmt.Errorf("n%d: %w", i, err), n.Close())
	}
	nt.mu.Lock()
	m.id, m.port, m.addr = n.Host().ID(), p, addr
	m.node, m.mesh = n, mesh
	nt.mu.Unlock()
	return nil
}

// tcpAddr returns the host's loopback TCP address with /p2p/<id>, and
// its port.
func tcpAddr(h *p2p.Host) (multiaddr.Multiaddr, int, error) {
	for _, a := range h.FullAddrs() {
		if v, err := a.ValueForProtocol(multiaddr.P_TCP); err == nil {
			var port int
			if _, err := fmt.Sscan(v, &port); err != nil {
				return nil, 0, fmt.Errorf("port of %s: %w", a, err)
			}
			return a, port, nil
		}
	}
	return nil, 0, fmt.Errorf("no TCP listen address among %v", h.FullAddrs())
}

// sameSide reports whether nodes a and b may be connected now.
func (nt *Net) sameSide(a, b int) bool { return nt.group == nil || nt.group[a] == nt.group[b] }

// rewire keeps every side of the network connected and every kept link
// up: it adds a link between the pieces of a side that fell apart (by a
// stop or a cut), then dials every link between running nodes on the
// same side that is down, and waits for them. It fails the test if a
// dial fails.
func (nt *Net) rewire() {
	nt.t.Helper()
	for _, side := range nt.sidesOf(nt.Running()) {
		comps := components(side, nt.links)
		for k := 1; k < len(comps); k++ {
			// Join piece k to a random node of the pieces before it,
			// which are one piece by now.
			var before []int
			for _, c := range comps[:k] {
				before = append(before, c...)
			}
			l := link{from: comps[k][nt.rng.IntN(len(comps[k]))], to: before[nt.rng.IntN(len(before))]}
			nt.links = append(nt.links, l)
			nt.t.Logf("testnet: link n%d → n%d added to keep %v connected", l.from, l.to, side)
		}
	}

	ctx, cancel := context.WithTimeout(nt.t.Context(), setupTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(nt.links))
	for k, l := range nt.links {
		from, to := nt.Node(l.from), nt.Node(l.to)
		if from == nil || to == nil || !nt.sameSide(l.from, l.to) {
			continue
		}
		ai := peer.AddrInfo{ID: to.Host().ID(), Addrs: to.Host().Addrs()}
		boot := slices.Contains(nt.members[l.from].boot, l.to)
		wg.Go(func() {
			var err error
			if boot {
				// The bootstrap loop keeps this link; dial now rather
				// than wait out its backoff.
				err = from.Host().Dial(ctx, ai, p2p.SourceBootstrap)
			} else {
				// AddPeer, even when connected: a restarted node has
				// lost the dial loop that keeps an added link.
				err = from.Host().AddPeer(ctx, ai, p2p.SourceRegister)
			}
			if err != nil {
				errs[k] = fmt.Errorf("link n%d → n%d: %w", l.from, l.to, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		nt.t.Fatalf("testnet: %v", err)
	}
}

// connected reports whether node a has a connection to node b.
func (nt *Net) connected(a, b int) bool {
	n := nt.Node(a)
	return n != nil && n.Host().Network().Connectedness(nt.members[b].id) == network.Connected
}

// close closes every running node at once, at the test's end.
func (nt *Net) close() {
	var wg sync.WaitGroup
	nt.mu.Lock()
	for _, m := range nt.members {
		if n := m.node; n != nil {
			m.node, m.mesh = nil, nil
			wg.Go(func() {
				if err := n.Close(); err != nil {
					nt.t.Errorf("testnet: close %s: %v", m.name, err)
				}
			})
		}
	}
	nt.mu.Unlock()
	wg.Wait()
}

// logWriter sends the nodes' logs to the test log until the test ends;
// a line logged after that would make the testing package panic.
type logWriter struct {
	t    TB
	mu   sync.Mutex
	done bool
}

func (w *logWriter) logger(name string, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("node", name)
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
