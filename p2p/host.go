package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gossipchain/gossipchain/chain"
)

// DefaultPort is the TCP and UDP port a node listens on unless told
// otherwise. A fixed port, rather than libp2p's random one, is what makes
// "/ip4/<lan ip>/tcp/9310/p2p/<id>" a stable thing to write into another
// node's --bootstrap and into firewall rules; 9310 is unassigned by IANA.
// Several nodes on one machine pass their own --listen.
const DefaultPort = 9310

// Peer sources, as reported by PeerSource and logged on connect.
const (
	SourceMDNS       = "mdns"
	SourceBootstrap  = "bootstrap"
	SourceRegister   = "register" // an operator asked over the API
	SourceRemembered = "remembered"
	SourceInbound    = "inbound"
	SourceOutbound   = "outbound" // dialled by someone who gave no source
	SourceDHT        = "dht"      // a record under the network's rendezvous key
)

// DefaultListenAddrs returns the listen addresses used when
// HostConfig.Listen is empty: TCP and QUIC on DefaultPort, all IPv4
// interfaces. QUIC is the faster handshake and what libp2p dials first;
// TCP is there for networks that drop UDP.
func DefaultListenAddrs() []string {
	return []string{
		fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultPort),
		fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultPort),
	}
}

// HostConfig is what NewHost needs; the CLI fills it from flags.
type HostConfig struct {
	// DataDir holds node.key and peers.json. Empty means an identity that
	// lasts only as long as the process and no peer memory (tests).
	DataDir string
	// Listen multiaddrs; empty means DefaultListenAddrs().
	Listen []string
	// Bootstrap peers as full multiaddrs ending in /p2p/<id>. They are
	// kept connected for the life of the host.
	Bootstrap []string
	// MDNS turns on LAN discovery. It multicasts on every interface.
	MDNS bool
	// NetworkID is the genesis hash; it names the mDNS service and the
	// DHT's protocols and rendezvous key.
	NetworkID chain.Hash
	// DHT is the node's part in the network's Kademlia DHT; zero is off.
	// The bootstrap peers are its seeds, and the only ones.
	DHT DHTMode
	// Announce, if set, replaces the direct addresses the host tells
	// peers (identify, the DHT) with these, as kubo's Addresses.Announce.
	Announce []string
	// PortMap asks the LAN's router for a port mapping by UPnP or
	// NAT-PMP. Both multicast or broadcast on the LAN: off unless asked.
	PortMap bool
	// Reachability, "public" or "private", overrides what AutoNAT finds
	// (kubo's Internal.ForceReachability): for a bootstrap node whose
	// address is known to be public, which then serves as a relay and a
	// DHT server from the start. Empty means AutoNAT decides.
	Reachability string
	// Connection manager water marks and grace period; zero means default.
	ConnLow, ConnHigh int
	ConnGrace         time.Duration
	Logger            *slog.Logger
	// Metrics, if set, is where go-libp2p registers its own metrics
	// (swarm, identify, hole punching, the resource manager). They are
	// off without it. go-libp2p's collectors are package globals: every
	// host in one process adds to the same series, so in a process of
	// several nodes (tests, gossipchain testnet) they are the sum of all.
	Metrics prometheus.Registerer
	// OnPeer, if set, is told of every peer that connects or disconnects,
	// after the host has logged it. It runs on the host's event loop and
	// must not block.
	OnPeer func(PeerEvent)

	// Libp2p, if set, builds the libp2p host in place of NewHost's own
	// (TCP and QUIC, Noise, yamux, the resource manager, the connection
	// manager and gater). The testnet's simulation hands in go-libp2p's
	// mocknet hosts, whose links carry latency and bandwidth but have no
	// transport, security or muxer, and no connection gater (the
	// simulation unlinks peers to cut them apart). Listen is then
	// ignored. A node run by an operator leaves it nil.
	Libp2p Libp2pFunc

	// Test knobs; zero means the production values.
	backoff       backoffPolicy
	memoryDelay   time.Duration // peers.json write debounce
	mdnsYieldWait time.Duration // how long the larger peer ID waits to be dialled
}

func (c *HostConfig) applyDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = DefaultListenAddrs()
	}
	if c.ConnLow == 0 {
		c.ConnLow = DefaultConnLow
	}
	if c.ConnHigh == 0 {
		c.ConnHigh = max(DefaultConnHigh, c.ConnLow)
	}
	if c.ConnGrace == 0 {
		c.ConnGrace = DefaultConnGrace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.backoff = c.backoff.withDefaults()
	if c.memoryDelay == 0 {
		c.memoryDelay = defaultMemoryDelay
	}
	if c.mdnsYieldWait == 0 {
		c.mdnsYieldWait = defaultMDNSYield
	}
}

// Host is the node's libp2p host plus the discovery that keeps it
// connected: mDNS, bootstrap peers and remembered peers. The embedded
// host.Host is the plain libp2p host, the one to hand to GossipSub and to
// register stream handlers on. Dial is its Connect with a source recorded,
// and Close here shadows its own so that Close stops discovery first.
//
// Its parts: the peer table (peertable.go) records the connections as
// logged; the dialer (dialer.go) runs the dial loops that keep peers
// connected; the gater (gater.go) holds bans and blocks; the peer memory
// (peermemory.go) writes peers.json.
//
// Concurrency: the goroutines (one event loop, one dial loop per kept
// peer, the peer-memory writer) run under ctx and are counted by wg;
// Close cancels, then waits. mu guards only the host's life (started,
// closing, mDNS); the table and the dialer lock their own state.
type Host struct {
	host.Host

	cfg          HostConfig
	gater        *Gater
	log          *slog.Logger
	connMgr      *connmgr.BasicConnMgr
	bootstrap    []peer.AddrInfo
	bootstrapIDs map[peer.ID]bool // read-only after NewHost
	memory       *peerMemory      // nil without a data directory
	remembered   []peer.AddrInfo  // peers.json as loaded, dialled by Start

	ctx    context.Context // the host's life: event loop, peer memory
	cancel context.CancelFunc
	wg     sync.WaitGroup

	table  *peerTable
	dialer *dialer

	mu    sync.Mutex
	reach atomic.Value // network.Reachability, from AutoNAT's events

	mdns    interface{ Close() error } // nil unless started
	dht     *dhtDiscovery              // nil when DHT is off; set before Start
	started bool
	closing bool
}

// Libp2pFunc builds a libp2p host with the node's identity key (nil
// when the host has no data directory: then any key will do).
type Libp2pFunc func(key crypto.PrivKey) (host.Host, error)

// NewHost builds the libp2p host: TCP and QUIC, Noise, yamux, identify, the
// resource manager with libp2p's default scaled limits, and a connection
// manager. It listens at once but dials nobody until Start. ctx is the
// parent of everything the host runs; Close must still be called.
func NewHost(ctx context.Context, cfg HostConfig) (*Host, error) {
	cfg.applyDefaults()
	if cfg.ConnLow < 0 || cfg.ConnHigh < cfg.ConnLow {
		return nil, fmt.Errorf("connection limits: low %d, high %d: want 0 <= low <= high", cfg.ConnLow, cfg.ConnHigh)
	}
	bootstrap, err := parseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	var key crypto.PrivKey
	if cfg.DataDir != "" {
		if key, err = LoadOrCreateNodeKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	// AutoRelay may ask for candidates as soon as libp2p.New returns.
	var self atomic.Pointer[Host]
	relayPeers := func(ctx context.Context, num int) <-chan peer.AddrInfo {
		if h := self.Load(); h != nil {
			return h.relayCandidates(ctx, num)
		}
		ch := make(chan peer.AddrInfo)
		close(ch)
		return ch
	}
	gater := NewGater()
	var lh host.Host
	var cm *connmgr.BasicConnMgr
	if cfg.Libp2p != nil {
		lh, cm, err = injectedLibp2p(cfg, key, gater)
	} else {
		lh, cm, err = newLibp2p(&cfg, key, gater, relayPeers)
	}
	if err != nil {
		return nil, err
	}

	h := &Host{
		Host:      lh,
		gater:     gater,
		cfg:       cfg,
		log:       cfg.Logger,
		connMgr:   cm,
		bootstrap: bootstrap,
		table:     newPeerTable(),
	}
	h.dialer = newDialer(h, cfg.backoff)
	h.ctx, h.cancel = context.WithCancel(ctx)
	if cfg.DataDir != "" {
		// Loaded before the event loop starts, so peers connecting
		// before Start are added to the file's peers, not replaced by them.
		h.memory = newPeerMemory(cfg.DataDir, h.Peerstore(), h.log)
		h.memory.load()
		h.remembered = h.memory.addrInfos()
	}
	h.bootstrapIDs = make(map[peer.ID]bool, len(bootstrap))
	for _, ai := range bootstrap {
		h.bootstrapIDs[ai.ID] = true
		// Pinned: the connection manager must not trim the peers the
		// operator named.
		cm.Protect(ai.ID, SourceBootstrap)
	}
	// Only now that h is whole may AutoRelay read it (relayCandidates
	// reads bootstrapIDs).
	self.Store(h)
	if err := h.startEventLoop(); err != nil {
		h.cancel()
		lh.Close()
		return nil, err
	}
	if cfg.DHT != "" && cfg.DHT != DHTOff {
		// Built here rather than in Start so its protocol handlers are
		// registered before anyone connects.
		if h.dht, err = newDHT(h); err != nil {
			h.cancel()
			h.wg.Wait()
			lh.Close()
			return nil, err
		}
	}
	return h, nil
}

// FullAddrs returns every address the host listens on, with unspecified
// IPs expanded to the interfaces' and /p2p/<id> appended: the strings an
// operator pastes into another node's --bootstrap.
func (h *Host) FullAddrs() []multiaddr.Multiaddr {
	addrs, err := h.Network().InterfaceListenAddresses()
	if err != nil {
		addrs = h.Network().ListenAddresses()
	}
	// The relay transport "listens" on a bare /p2p-circuit: not an
	// address anyone can dial. Relay addresses come from AutoRelay, in
	// Addrs.
	addrs = slices.DeleteFunc(addrs, isRelayed)
	full, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: addrs})
	if err != nil {
		return nil
	}
	return full
}

// Dial connects to p unless it is already connected and records source
// as the reason the peer is connected. It ignores libp2p's own
// per-address dial backoff: callers here run their own, and the swarm's
// (5 s plus tries squared) would keep a restarted bootstrap peer
// unreachable for minutes. (It is not named Connect so as not to shadow
// the embedded host.Host's, which records no source.)
func (h *Host) Dial(ctx context.Context, ai peer.AddrInfo, source string) error {
	if ai.ID == h.ID() {
		return fmt.Errorf("connect %s: %w", ai.ID, errSelfDial)
	}
	if linked(h.Network().Connectedness(ai.ID)) {
		return nil
	}
	h.table.dialStarted(ai.ID, source)
	err := h.Host.Connect(network.WithForceDirectDial(ctx, source), ai)
	if err != nil && slices.ContainsFunc(ai.Addrs, isRelayed) && ctx.Err() == nil {
		// A peer behind a NAT may have no direct address that works:
		// a relayed connection, limited, is what hole punching starts
		// from. (A forced direct dial leaves circuit addresses out.)
		err = errors.Join(err, h.Host.Connect(ctx, ai))
		if linked(h.Network().Connectedness(ai.ID)) {
			err = nil
		}
	}
	h.table.dialEnded(ai.ID, source, err)
	if err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

var errSelfDial = errors.New("dial to self")

// PeerSource reports how a connected (or being dialled) peer came to be
// connected: "mdns", "dht", "bootstrap", "register", "remembered", "inbound"
// (it dialled us) or "outbound" (dialled through the embedded host.Host
// directly). It is "" for a peer that is neither.
func (h *Host) PeerSource(p peer.ID) string { return h.table.source(p) }

// Start logs the listen addresses and starts discovery: the bootstrap
// dialers, the remembered peers and, if configured, mDNS. Discovery runs
// until ctx is cancelled or the host is closed.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started || h.closing {
		h.mu.Unlock()
		return errors.New("p2p host: already started or closed")
	}
	h.started = true
	h.mu.Unlock()
	// Discovery ends with whichever ends first, Start's ctx or the host.
	runCtx, stopRun := context.WithCancel(h.ctx)
	stop := context.AfterFunc(ctx, stopRun)
	h.dialer.start(runCtx)
	h.spawn(func() {
		<-runCtx.Done()
		stop()
		stopRun()
	})

	for _, a := range h.FullAddrs() {
		h.log.Info("listening", "addr", a.String())
	}
	for _, ai := range h.bootstrap {
		h.log.Info("peer found", "peer", ai.ID, "addr", addrString(firstAddr(ai)), "addrs", len(ai.Addrs), "source", SourceBootstrap)
		h.dialer.keep(ai, SourceBootstrap, keepPolicy{persistent: true})
	}
	for _, ai := range h.remembered {
		h.dialer.keep(ai, SourceRemembered, keepPolicy{maxFailures: rememberedMaxFailures})
	}
	if h.memory != nil {
		h.spawn(func() { h.memory.run(h.ctx, h.cfg.memoryDelay) })
	}
	if h.dht != nil {
		h.spawn(func() { h.dht.run(runCtx) })
	}
	if h.cfg.MDNS {
		if err := h.startMDNS(); err != nil {
			return err
		}
	}
	return nil
}

// Close stops discovery, waits for every goroutine the host started,
// writes the peer memory one last time and closes the libp2p host.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil
	}
	h.closing = true
	md := h.mdns
	h.mu.Unlock()

	if h.memory != nil {
		// The peers connected now are the ones to find again after a
		// restart, even those whose connect event is still queued.
		for _, p := range h.Network().Peers() {
			h.rememberConnected(p)
		}
	}
	h.cancel()
	var errs []error
	if md != nil {
		errs = append(errs, md.Close())
	}
	if h.dht != nil {
		errs = append(errs, h.dht.close())
	}
	h.wg.Wait()
	if h.memory != nil {
		errs = append(errs, h.memory.flush())
	}
	errs = append(errs, h.Host.Close())
	if h.cfg.Libp2p != nil {
		// Not the injected host's: closing it is ours.
		errs = append(errs, h.connMgr.Close())
	}
	return errors.Join(errs...)
}

// spawn runs f on a goroutine counted by wg unless the host is closing; it
// reports whether f was started. Checking closing under mu is what makes
// wg.Add safe against a concurrent Close already in wg.Wait.
func (h *Host) spawn(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// PeerEvent reports a peer connecting or disconnecting.
type PeerEvent struct {
	Peer      peer.ID
	Connected bool
	Source    string              // as PeerSource reports it
	Addr      multiaddr.Multiaddr // the connection's remote address
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID     peer.ID
	Addr   multiaddr.Multiaddr   // the connection's remote address
	Addrs  []multiaddr.Multiaddr // every address the peer announced (identify)
	Source string
	Since  time.Time
	// The kind of the connection: Inbound if the peer dialled us,
	// Transport the protocol it runs over (tcp, quic-v1, ...), Relayed
	// if it goes through a circuit relay. With several connections to
	// one peer these describe a direct one if there is one (the one a
	// new stream takes). Conn says the same as Relayed in the words of
	// the logs: ConnDirect or ConnRelayed.
	Inbound   bool
	Transport string
	Relayed   bool
	Conn      string
}

// Peers lists the connected peers, as the host logged them.
func (h *Host) Peers() []PeerInfo {
	out := h.table.list()
	for i := range out {
		out[i].Addrs = usableAddrs(h.Peerstore().Addrs(out[i].ID))
		if conns := h.Network().ConnsToPeer(out[i].ID); len(conns) > 0 {
			c := conns[0]
			for _, d := range conns {
				if !d.Stat().Limited && !isRelayed(d.RemoteMultiaddr()) {
					c = d
					break
				}
			}
			out[i].Inbound = c.Stat().Direction == network.DirInbound
			out[i].Transport, out[i].Relayed = connTransport(c.RemoteMultiaddr())
			out[i].Conn = connKind(conns)
		}
	}
	return out
}

// connTransport names the transport of a connection's remote address (the
// outermost protocol after the IP or DNS part, "quic-v1" for QUIC) and
// whether it is relayed.
func connTransport(a multiaddr.Multiaddr) (transport string, relayed bool) {
	for _, c := range a {
		switch code := c.Protocol().Code; code {
		case multiaddr.P_CIRCUIT:
			relayed = true
		case multiaddr.P_TCP, multiaddr.P_UDP:
			if transport == "" {
				transport = c.Protocol().Name
			}
		case multiaddr.P_QUIC_V1, multiaddr.P_WEBTRANSPORT, multiaddr.P_WEBRTC_DIRECT, multiaddr.P_WS, multiaddr.P_WSS:
			if !relayed {
				transport = c.Protocol().Name
			}
		}
	}
	return transport, relayed
}

// AddPeer dials ai now and, once connected, keeps it connected for the
// life of the host as it does bootstrap peers: redialled with backoff,
// never trimmed by the connection manager. It is how an operator adds a
// peer to a running node (/register-node). A failed first dial is
// returned and nothing is kept. It returns once the host has logged the
// connection, so that Peers lists the peer (/register-node answers with
// the list), unless ctx or the dial timeout ends first.
func (h *Host) AddPeer(ctx context.Context, ai peer.AddrInfo, source string) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := h.Dial(ctx, ai, source); err != nil {
		return err
	}
	h.connMgr.Protect(ai.ID, source)
	h.dialer.keep(ai, source, keepPolicy{persistent: true})
	if w := h.table.recordWaiter(ai.ID, h.Network()); w != nil {
		select {
		case <-w:
		case <-ctx.Done():
		case <-h.ctx.Done():
		}
	}
	return nil
}

// BootstrapIDs returns the peer IDs of the --bootstrap peers.
func (h *Host) BootstrapIDs() []peer.ID {
	out := make([]peer.ID, 0, len(h.bootstrap))
	for _, ai := range h.bootstrap {
		out = append(out, ai.ID)
	}
	return out
}

func firstAddr(ai peer.AddrInfo) multiaddr.Multiaddr {
	if len(ai.Addrs) == 0 {
		return nil
	}
	return ai.Addrs[0]
}
