package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multiaddr"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/logutil"
	"github.com/gossipchain/gossipchain/node"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// setupTimeout bounds each of the Net's own steps: starting a node,
// dialling its links, a mesh forming. On loopback each takes
// milliseconds to a second; the margin is for -race on two cores.
const setupTimeout = 30 * time.Second

// setupPerNode is what each node adds to setupTimeout: at 1,000 nodes on
// mocknet with WAN latencies, dialling the 4,000 links (each with its
// identify exchange) and forming the meshes took 191 s on two cores
// shared with other work, and ran past 130 s in another run.
const setupPerNode = 250 * time.Millisecond

// maxDials bounds the dials rewire runs at once, so that a setup of
// 4,000 links does not start 4,000 identify exchanges together.
const maxDials = 256

// stepTimeout is setupTimeout for a Net of this size.
func (nt *Net) stepTimeout() time.Duration {
	return setupTimeout + time.Duration(len(nt.members))*setupPerNode
}

// Option configures a Net.
type Option func(*config)

type config struct {
	params   *chain.Params
	topology Topology
	seed     uint64
	seeded   bool
	logLevel slog.Level
	log      *slog.Logger
	nodeLog  *slog.Logger
	mempool  []chain.MempoolOption
	// The simulation's, set by WithMocknet.
	mocknet   bool
	latency   Latency
	bandwidth float64
}

// WithTopology sets how nodes bootstrap from each other (default
// Random(2)).
func WithTopology(t Topology) Option { return func(c *config) { c.topology = t } }

// WithSeed fixes the random choices (topology, added links); by default
// they are random, and the seed is logged so a failure can be replayed.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithLogLevel sets the level of the nodes' logs (default Info); the
// Net's own notes are at Info whatever it is.
func WithLogLevel(l slog.Level) Option { return func(c *config) { c.logLevel = l } }

// WithLogger sets where the Net's notes and the nodes' logs go, each
// node's lines with a "node" attribute (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithMempoolOptions configures every node's mempool after its own
// options: small pools, to test what a full one does.
func WithMempoolOptions(opts ...chain.MempoolOption) Option {
	return func(c *config) { c.mempool = append(c.mempool, opts...) }
}

// WithNodeLogger sends the nodes' logs to l rather than to the Net's
// logger, so a driver can show the Net's notes without the nodes' lines.
func WithNodeLogger(l *slog.Logger) Option { return func(c *config) { c.nodeLog = l } }

// The errors a driver may branch on, where every other error is a
// failure: ErrStopped is wrapped by an operation's on a node that is
// stopped or does not exist, ErrRunning by Restart's on a running node,
// ErrClosed by those naming a node of a closed Net.
var (
	ErrStopped = errors.New("node stopped")
	ErrRunning = errors.New("node running")
	ErrClosed  = errors.New("testnet closed")
	// ErrSimRestart is Restart's error in a simulation (WithMocknet).
	ErrSimRestart = errors.New("a simulated node cannot restart")
)

// Net is a network of in-process nodes; see the package comment. New
// starts it and Close stops it and removes its data directories.
//
// mu guards the members' running state (node, mesh), which Node reads
// from any goroutine; everything else is touched by the driving
// goroutine only.
type Net struct {
	cfg   config
	log   *slog.Logger
	rng   *rand.Rand
	base  string // holds every node's data directory
	links []link
	// group is each node's side of the partition, nil when there is none.
	group []int
	sim   *sim // nil unless WithMocknet
	// life is what the nodes run under: a step's context ends with the
	// step, the nodes only with Close.
	life   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
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

	node  *node.Node // nil while stopped
	mesh  *p2p.MeshTracer
	stats *gossipStats // kept across restarts
}

// New starts n nodes, joins them by bootstrap as the topology says, and
// waits until every node is connected to its bootstrap peers and the
// GossipSub meshes join all nodes up, so what is published first
// reaches everyone. The nodes run until Close, or until ctx ends; ctx
// also bounds the setup. On error nothing is left running.
func New(ctx context.Context, n int, opts ...Option) (*Net, error) {
	cfg := config{params: chain.RegTest(), topology: Random(2), logLevel: slog.LevelInfo,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.seeded {
		cfg.seed = rand.Uint64()
	}
	if cfg.nodeLog == nil {
		cfg.nodeLog = cfg.log
	}
	if n < 1 {
		return nil, fmt.Errorf("testnet: %d nodes", n)
	}
	dir := ""
	if cfg.mocknet {
		dir = simBase()
	}
	base, err := os.MkdirTemp(dir, "gossipchain-testnet-")
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	nt := &Net{cfg: cfg, log: cfg.log, rng: rand.New(rand.NewPCG(cfg.seed, 0x7e57)), base: base}
	if cfg.mocknet {
		nt.sim = &sim{mn: mocknet.New(), latency: cfg.latency, bandwidth: cfg.bandwidth, delay: map[link]time.Duration{}}
	}
	nt.life, nt.cancel = context.WithCancel(ctx)
	boots := cfg.topology.boots(n, nt.rng)
	fail := func(err error) (*Net, error) { return nil, errors.Join(err, nt.Close()) }
	for i := range n {
		m := &member{name: fmt.Sprintf("n%d", i), dir: filepath.Join(base, fmt.Sprintf("n%d", i)),
			stats: newGossipStats(protocol.BlockTopic(cfg.params.NetworkID()))}
		if err := os.Mkdir(m.dir, 0o700); err != nil {
			return fail(fmt.Errorf("testnet: %w", err))
		}
		for _, b := range boots[i] {
			if b < 0 || b >= i || slices.Contains(m.boot, b) {
				return fail(fmt.Errorf("testnet: topology %s: node %d bootstraps from %d", cfg.topology, i, b))
			}
			m.boot = append(m.boot, b)
			nt.links = append(nt.links, link{from: i, to: b})
		}
		nt.members = append(nt.members, m)
	}
	nt.log.Info("testnet up", "nodes", n, "topology", cfg.topology.String(), "seed", cfg.seed, "mocknet", cfg.mocknet)

	for i := range n {
		if err := nt.start(i, 0); err != nil {
			return fail(fmt.Errorf("testnet: %w", err))
		}
	}
	if err := nt.rewire(ctx); err != nil {
		return fail(err)
	}
	if _, err := nt.WaitMesh(ctx, nt.stepTimeout()); err != nil {
		return fail(err)
	}
	return nt, nil
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
// returns those it mined, all k unless it fails. A block that lost the
// race to one arriving meanwhile is mined again.
func (nt *Net) Mine(ctx context.Context, i, k int) ([]*chain.Block, error) {
	n, err := nt.running(i)
	if err != nil {
		return nil, fmt.Errorf("testnet: mine: %w", err)
	}
	out := make([]*chain.Block, 0, k)
	for len(out) < k {
		b, err := n.MineOne(ctx)
		if errors.Is(err, chain.ErrStaleTip) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("testnet: mine on n%d: %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Stop closes node i cleanly. Its peers keep trying to reach it, and the
// Net adds links if the others fell apart without it. It returns once
// those links are up and gossip has settled (WaitGossipSettled); as after a partition (see Partition), the meshes
// are left to GossipSub's heartbeat and prune backoff, not waited on.
func (nt *Net) Stop(ctx context.Context, i int) error {
	n, err := nt.running(i)
	if err != nil {
		return fmt.Errorf("testnet: stop: %w", err)
	}
	nt.mu.Lock()
	nt.members[i].node, nt.members[i].mesh = nil, nil
	nt.mu.Unlock()
	if err := n.Close(); err != nil {
		return fmt.Errorf("testnet: stop n%d: %w", i, err)
	}
	nt.log.Info("node stopped", "node", i, "height", n.Chain().Tip().Height())
	if err := nt.rewire(ctx); err != nil {
		return err
	}
	_, err = nt.WaitGossipSettled(ctx, nt.stepTimeout())
	return err
}

// Restart opens node i again on its data directory, so with the same
// store, keys and peer ID, listening on its old port if that is free
// (on a new one otherwise), and dials its links. It returns once the
// node runs and its links are up; it does not wait for the node to catch
// up (WaitConverged) nor for it to join the meshes (WaitMesh), so the
// time to catch up can be measured from there. In a partition, the node
// stays on its side.
func (nt *Net) Restart(ctx context.Context, i int) error {
	if err := nt.usable(i); err != nil {
		return fmt.Errorf("testnet: restart: %w", err)
	}
	m := nt.members[i]
	if nt.Node(i) != nil {
		return fmt.Errorf("testnet: restart n%d: %w", i, ErrRunning)
	}
	if nt.sim != nil {
		return fmt.Errorf("testnet: restart n%d: %w", i, ErrSimRestart)
	}
	if err := nt.start(i, m.port); err != nil {
		nt.log.Info("node cannot listen on its port again, taking a new one", "node", i, "port", m.port, "err", err)
		if err := nt.start(i, 0); err != nil {
			return fmt.Errorf("testnet: restart: %w", err)
		}
	}
	if nt.group != nil {
		nt.blockAcross(i)
	}
	nt.log.Info("node restarted", "node", i, "height", nt.Node(i).Chain().Tip().Height())
	return nt.rewire(ctx)
}

// usable checks that node i exists and the Net is open.
func (nt *Net) usable(i int) error {
	nt.mu.Lock()
	closed := nt.closed
	nt.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if i < 0 || i >= len(nt.members) {
		return fmt.Errorf("no node %d of %d: %w", i, len(nt.members), ErrStopped)
	}
	return nil
}

// running returns node i, or an error wrapping ErrStopped if it is not
// running.
func (nt *Net) running(i int) (*node.Node, error) {
	if err := nt.usable(i); err != nil {
		return nil, err
	}
	n := nt.Node(i)
	if n == nil {
		return nil, fmt.Errorf("n%d: %w", i, ErrStopped)
	}
	return n, nil
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
	cfg := node.Config{
		Params:         nt.cfg.params,
		DataDir:        m.dir,
		Listen:         []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)},
		Bootstrap:      boot,
		MDNS:           false,
		MinerThreads:   1,
		Logger:         nodeLogger(nt.cfg.nodeLog, m.name, nt.cfg.logLevel),
		GossipOptions:  []p2p.GossipOption{p2p.WithPubSubOptions(pubsub.WithRawTracer(mesh), pubsub.WithRawTracer(m.stats))},
		MempoolOptions: nt.cfg.mempool,
	}
	if nt.sim != nil {
		// The store on tmpfs without fsync: a simulation's chains are
		// thrown away, and 1,000 fsyncs a block would measure the disk.
		cfg.Libp2p, cfg.StoreOptions = nt.sim.libp2p(i), []store.Option{store.WithNoSync(true)}
	}
	n, err := node.New(cfg)
	if err != nil {
		return fmt.Errorf("open n%d: %w", i, err)
	}
	// The node lives until Stop or Close, not a step's deadline.
	if err := n.Start(nt.life); err != nil {
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
// same side that is down, and waits for them.
func (nt *Net) rewire(ctx context.Context) error {
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
			nt.log.Info("link added to keep a side connected", "from", l.from, "to", l.to, "side", fmt.Sprint(side))
		}
	}

	ctx, cancel := context.WithTimeout(ctx, nt.stepTimeout())
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxDials)
	errs := make([]error, len(nt.links))
	for k, l := range nt.links {
		from, to := nt.Node(l.from), nt.Node(l.to)
		if from == nil || to == nil || !nt.sameSide(l.from, l.to) {
			continue
		}
		if nt.sim != nil {
			if err := nt.simLink(l.from, l.to); err != nil {
				return fmt.Errorf("testnet: %w", err)
			}
		}
		ai := peer.AddrInfo{ID: to.Host().ID(), Addrs: to.Host().Addrs()}
		boot := slices.Contains(nt.members[l.from].boot, l.to)
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			dial := func() error {
				if boot {
					// The bootstrap loop keeps this link; dial now rather
					// than wait out its backoff.
					return from.Host().Dial(ctx, ai, p2p.SourceBootstrap)
				}
				// AddPeer, even when connected: a restarted node has
				// lost the dial loop that keeps an added link.
				return from.Host().AddPeer(ctx, ai, p2p.SourceRegister)
			}
			if err := retryDial(ctx, dial); err != nil {
				errs[k] = fmt.Errorf("link n%d → n%d: %w", l.from, l.to, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

// retryDial runs dial until it succeeds or ctx ends, waiting a little
// longer after each failure. One failed dial is no failure of the step:
// at 100 nodes on two shared cores a Noise handshake timed out during
// a heal (i/o timeout) while the next try would have gone through.
func retryDial(ctx context.Context, dial func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := dial()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// connected reports whether node a has a connection to node b.
func (nt *Net) connected(a, b int) bool {
	n := nt.Node(a)
	return n != nil && n.Host().Network().Connectedness(nt.members[b].id) == network.Connected
}

// Close stops every running node at once and removes the data
// directories. It may be called more than once; later calls do nothing.
func (nt *Net) Close() error {
	var wg sync.WaitGroup
	nt.mu.Lock()
	if nt.closed {
		nt.mu.Unlock()
		return nil
	}
	nt.closed = true
	// As at a test's end: the nodes' loops see their context end first,
	// then Close waits for them.
	nt.cancel()
	errs := make([]error, len(nt.members))
	for k, m := range nt.members {
		if n := m.node; n != nil {
			m.node, m.mesh = nil, nil
			wg.Go(func() {
				if err := n.Close(); err != nil {
					errs[k] = fmt.Errorf("close %s: %w", m.name, err)
				}
			})
		}
	}
	nt.mu.Unlock()
	wg.Wait()
	if nt.sim != nil {
		errs = append(errs, nt.sim.mn.Close())
	}
	if err := os.RemoveAll(nt.base); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

// nodeLogger is the logger of the node called name: log, tagged with
// the name, and no lower than level, which may be above the Net's own
// notes.
func nodeLogger(log *slog.Logger, name string, level slog.Level) *slog.Logger {
	return slog.New(logutil.MinLevel(log.Handler(), level)).With("node", name)
}
