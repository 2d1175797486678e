package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what the command line decides about a node.
type Config struct {
	Params  *chain.Params
	DataDir string
	// Listen, Bootstrap and MDNS configure the libp2p host (see
	// p2p.HostConfig); empty Listen means p2p.DefaultListenAddrs.
	Listen    []string
	Bootstrap []string
	MDNS      bool
	// DHT is the node's part in the network's DHT; zero is off.
	DHT p2p.DHTMode
	// Announce, PortMap and Reachability: see p2p.HostConfig.
	Announce     []string
	PortMap      bool
	Reachability string
	// Mine makes the node mine continuously on MinerThreads goroutines,
	// paying MinerAddress (the wallet's address when empty).
	Mine         bool
	MinerThreads int
	MinerAddress string
	Logger       *slog.Logger
	// GossipOptions are added after the node's own when GossipSub starts:
	// the testnet harness passes a tracer to see the mesh form.
	GossipOptions []p2p.GossipOption
	// SyncOptions are added after the node's own when the syncer starts.
	SyncOptions []p2p.SyncOption
	// Libp2p, if set, builds the node's libp2p host (p2p.HostConfig's
	// Libp2p): the testnet's simulation puts its nodes on go-libp2p's
	// mocknet. Nil for a real node.
	Libp2p p2p.Libp2pFunc
	// StoreOptions are passed to the store when it opens: the simulation
	// runs its stores without fsync (store.WithNoSync) on tmpfs.
	StoreOptions []store.Option
	// Rebroadcast is how often the node gossips again the transactions
	// submitted to it that are still unconfirmed; zero means every three
	// minutes.
	Rebroadcast time.Duration
	// MinRelayFee is the least fee per 1,000 bytes the mempool takes on
	// signed networks (--min-relay-fee); nil means
	// chain.DefaultMinRelayFee. A value below the network's floor
	// (Params.RelayFeeFloor) is raised to it, with a warning. A pointer,
	// since a Config that says nothing must not be read as zero.
	MinRelayFee *chain.FeeRate
	// NetMap turns the network-map protocol on or off (--netmap); nil
	// means the network's default (p2p.MapByDefault): on for the
	// predefined networks.
	NetMap *bool
	// NetMapOptions are added after the node's own when the map starts.
	NetMapOptions []p2p.NetMapOption
	// MempoolOptions are added after the node's own when the mempool is
	// made: tests give nodes small pools to fill them.
	MempoolOptions []chain.MempoolOption
}

// Node is one running gossipchain node: store, chain, mempool, wallet
// key, libp2p host with gossip and sync, and the miner. New opens the
// data directory; Start joins the network; Close undoes both. The work is
// done by parts with their own files: intake (blocks and transactions in,
// the mempool kept in step), relay (what the node gossips of its own
// accord), miner, wallet, poolFile (mempool.dat) and storeWatch; Node
// wires them together and is the facade the API uses.
//
// Concurrency: whoever runs the node calls New, Start (at most once; a
// node that never joins the network has its uses) and Close, in that
// order, from one goroutine; the other methods are safe from any
// goroutine, and those that need the network (host, gossip, syncer) see
// it once Start has returned. The goroutines Start begins (miner, hash
// rate, rebroadcast, store watch, and the p2p services) run under ctx and
// are counted by wg, which Close waits for.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	chain   *chain.Chain
	mempool *chain.Mempool
	events  *Events
	intake  *intake
	relay   *relay
	wallet  *wallet
	miner   *miner
	pool    *poolFile
	watch   *storeWatch
	// metrics holds go-libp2p's metrics for the API's /metrics; the
	// node's own figures are read from Stats at each scrape.
	metrics *prometheus.Registry

	host   *p2p.Host
	gossip *p2p.Gossip
	syncer *p2p.Syncer
	netmap *p2p.NetMap // nil when the map is off
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopMining and mining are the miner loop's own: it ends before
	// the network does (Close).
	stopMining context.CancelFunc
	mining     sync.WaitGroup
}

// New opens the node's data directory: store, chain and wallet key.
func New(cfg Config) (*Node, error) { return newNode(cfg, nil) }

// newNode is New with the chain's view of the store wrapped, when wrap is
// not nil: tests inject store faults there.
func newNode(cfg Config, wrap func(chain.Store) chain.Store) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := LoadOrCreateKey(filepath.Join(cfg.DataDir, "wallet.key"))
	if err != nil {
		return nil, notWritable(cfg.DataDir, err)
	}
	minerAddr := cfg.MinerAddress
	if minerAddr == "" {
		minerAddr = chain.AddressFromPublicKey(key.Public().(ed25519.PublicKey))
	}
	if cfg.Params.Signed && !chain.ValidAddress(minerAddr) {
		return nil, fmt.Errorf("miner address %q is not a valid address", minerAddr)
	}
	// The store reports what Open repairs (its transaction index after a
	// crash); the configuration's options come after and may override it.
	st, err := store.OpenDir(cfg.DataDir, append([]store.Option{store.WithLogger(log)}, cfg.StoreOptions...)...)
	if err != nil {
		return nil, notWritable(cfg.DataDir, err)
	}
	var cst chain.Store = st
	if wrap != nil {
		cst = wrap(st)
	}
	c, err := chain.New(cfg.Params, cst, chain.WithLogger(log))
	if err != nil {
		st.Close()
		return nil, err
	}
	minFee := chain.DefaultMinRelayFee
	if cfg.MinRelayFee != nil {
		minFee = *cfg.MinRelayFee
	}
	if floor := cfg.Params.RelayFeeFloor; minFee < floor {
		// An operator may only raise the floor: below it, the node would
		// relay what every peer refuses as a fault and be banned for it
		// (protocol.md §11.7 rule 5). Clamped rather than refused, so a
		// configuration written before the floor still starts.
		log.Warn("min relay fee below the network's floor: the floor applies", "min_relay_fee", minFee, "floor", floor)
		minFee = floor
	}
	pool := chain.NewMempool(cfg.Params, append([]chain.MempoolOption{chain.WithMinRelayFee(minFee), chain.WithMempoolSigCache(c.SigCache()), chain.WithMinedCheck(func(id chain.Hash) bool {
		_, err := c.TxLocation(id)
		return err == nil
	})}, cfg.MempoolOptions...)...)
	events := newEvents()
	rel := &relay{mempool: pool, log: log}
	in := &intake{params: cfg.Params, chain: c, mempool: pool, events: events, relay: rel, log: log}
	n := &Node{
		metrics: prometheus.NewRegistry(),
		cfg:     cfg,
		log:     log,
		store:   st,
		chain:   c,
		mempool: pool,
		events:  events,
		intake:  in,
		relay:   rel,
		wallet:  newWallet(cfg.Params, key, in),
		miner: &miner{chain: c, mempool: pool, intake: in, relay: rel, log: log, address: minerAddr,
			threads: max(cfg.MinerThreads, 1)},
		pool:  &poolFile{path: filepath.Join(cfg.DataDir, mempoolFile), mempool: pool, intake: in, relay: rel},
		watch: &storeWatch{chain: c, path: st.Path(), log: log, failed: make(chan struct{})},
	}
	if k, err := n.pool.load(); err != nil {
		log.Warn("mempool not restored in full", "restored", k, "reason", err)
	} else if k > 0 {
		log.Info("mempool restored", "txs", k)
	}
	return n, nil
}

// Start joins the network: it starts the libp2p host and its discovery,
// GossipSub and the syncer, and the miner if configured. Everything it
// starts stops with ctx or Close.
func (n *Node) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	h, err := p2p.NewHost(ctx, p2p.HostConfig{
		DataDir:      n.cfg.DataDir,
		Listen:       n.cfg.Listen,
		Bootstrap:    n.cfg.Bootstrap,
		MDNS:         n.cfg.MDNS,
		DHT:          n.cfg.DHT,
		Announce:     n.cfg.Announce,
		PortMap:      n.cfg.PortMap,
		Reachability: n.cfg.Reachability,
		NetworkID:    n.cfg.Params.NetworkID(),
		Logger:       n.log,
		OnPeer:       n.onPeer,
		Metrics:      n.metrics,
		Libp2p:       n.cfg.Libp2p,
	})
	if err != nil {
		return err
	}
	n.host = h
	adapter := chainAdapter{n}
	n.syncer = p2p.NewSyncer(ctx, h.Host, adapter, h, append([]p2p.SyncOption{p2p.WithSyncLogger(n.log),
		p2p.WithSyncNotify(n.onSync)}, n.cfg.SyncOptions...)...)
	gossipOpts := []p2p.GossipOption{p2p.WithGossipLogger(n.log), p2p.WithTrustedPeers(h.BootstrapIDs())}
	if n.cfg.DHT == p2p.DHTServer {
		// A DHT server is what others bootstrap from: its mesh
		// overflows first, and the peers it prunes learn of others.
		gossipOpts = append(gossipOpts, p2p.WithPeerExchange())
	}
	gossipOpts = append(gossipOpts, n.cfg.GossipOptions...)
	n.gossip, err = p2p.NewGossip(ctx, h.Host, adapter, n.syncer, gossipOpts...)
	if err != nil {
		return errors.Join(err, n.closeP2P())
	}
	if n.cfg.netMapOn() {
		n.netmap = p2p.NewNetMap(ctx, h.Host, n.syncer, n.gossip,
			append([]p2p.NetMapOption{p2p.WithMapLogger(n.log)}, n.cfg.NetMapOptions...)...)
	}
	if err := h.Start(ctx); err != nil {
		return errors.Join(err, n.closeP2P())
	}
	n.relay.gossip = n.gossip
	tip := n.chain.Tip()
	n.log.Info("node started", "network", n.cfg.Params.Name, "peer_id", h.ID(), "height", tip.Height(),
		"hash", tip.Hash.Short(), "data_dir", n.cfg.DataDir, "wallet", n.WalletAddress(), "netmap", n.netmap != nil)
	n.wg.Go(func() { n.watch.run(ctx, n.cancel) })
	n.wg.Go(func() { n.miner.sampleRate(ctx) })
	every := n.cfg.Rebroadcast
	if every <= 0 {
		every = defaultRebroadcast
	}
	n.wg.Go(func() { n.relay.rebroadcastLoop(ctx, every) })
	if n.cfg.Mine {
		// Close stops the miner before the network, so its own context.
		mineCtx, stop := context.WithCancel(ctx)
		n.stopMining = stop
		n.mining.Go(func() { n.miner.loop(mineCtx) })
	}
	return nil
}

// Chain returns the node's chain.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Mempool returns the node's mempool.
func (n *Node) Mempool() *chain.Mempool { return n.mempool }

// Host returns the libp2p host, nil before Start.
func (n *Node) Host() *p2p.Host { return n.host }

// Gossip returns the node's GossipSub topics, nil before Start.
func (n *Node) Gossip() *p2p.Gossip { return n.gossip }

// WalletAddress returns the address of the node's wallet key.
func (n *Node) WalletAddress() string { return n.wallet.address }

// MineOne mines one block on the tip, connects it and publishes it. An
// error wrapping chain.ErrStaleTip means the tip moved before the block
// could connect: mine again.
func (n *Node) MineOne(ctx context.Context) (*chain.Block, error) { return n.miner.mineOne(ctx) }

// SubmitTx offers a transaction to the mempool and, if accepted,
// publishes it. A transaction ahead of its sender's next nonce is held
// (chain.ErrTxQueued is returned) and gossiped once the gap closes.
func (n *Node) SubmitTx(ctx context.Context, tx *chain.Transaction) error {
	return n.intake.submit(ctx, tx)
}

// Send signs a transfer from the node's wallet with the wallet's next
// nonce (after its pending transactions) and submits it. A fee of zero
// means the node picks it: the least the mempool takes now for the
// transfer's size (MinFeeNow: its minimum relay fee, or its rolling
// minimum if higher), so the transfer is admitted and the recipient gets
// amount.
func (n *Node) Send(ctx context.Context, to string, amount, fee uint64) (*chain.Transaction, error) {
	return n.wallet.send(ctx, to, amount, fee)
}

// SyncNow syncs from the best connected peer now; it reports whether the
// tip moved.
func (n *Node) SyncNow(ctx context.Context) bool {
	if n.syncer == nil {
		return false
	}
	return n.syncer.SyncNow(ctx)
}

func (n *Node) closeP2P() error {
	var errs []error
	if n.netmap != nil {
		n.netmap.Close()
	}
	if n.gossip != nil {
		errs = append(errs, n.gossip.Close())
	}
	if n.syncer != nil {
		n.syncer.Close()
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	return errors.Join(errs...)
}

// closePublishWait bounds how long Close waits for the mined blocks still
// to be published; a GossipSub that takes longer is stopped under them.
const closePublishWait = 5 * time.Second

// Close stops the miner and the network, writes the mempool to the data
// directory (mempool.dat) and closes the store. Transactions offered once
// Close has begun are refused with ErrClosed, so none is accepted and
// then lost.
func (n *Node) Close() error {
	n.intake.close()
	// The miner stops first, so that the last block it committed is
	// among those handed to GossipSub while it still runs; a block
	// whose message has not left when the host closes reaches peers by
	// sync, from this node's next start. When the node's context ended
	// before Close (an embedder's choice: the command starts the node on
	// a context of its own), gossip has stopped with it and the
	// publishes fail at once.
	if n.stopMining != nil {
		n.stopMining()
	}
	// The miner may be waiting for room among the unsent blocks, which
	// only a running gossip makes: its wait is bounded like theirs.
	stopped := make(chan struct{})
	go func() { n.mining.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(closePublishWait):
	}
	n.relay.waitBlocks(closePublishWait)
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	// A miner the bounded wait above left running ends with the
	// context: none commits after the store closes.
	n.mining.Wait()
	// None outlives Close: with gossip's context ended, a publish still
	// running ends at once.
	n.relay.waitBlocks(closePublishWait)
	errs := []error{n.closeP2P()}
	// Gossip is closed: no block comes in any more, and those it
	// forwarded before their commit ended finish theirs.
	n.intake.wait()
	select {
	case <-n.watch.failed:
		// The store could not write: the data directory is full or
		// failing, and a mempool file would only add to that.
	case <-n.chain.StoreFailed():
		// The same, seen by the chain after the watch stopped (a
		// gossiped block's commit ends after the node's context), or
		// on a node never started: the mempool may also have dropped
		// the transactions of the block that failed (intake's
		// processCheckedLocked).
	default:
		errs = append(errs, n.pool.save())
	}
	return errors.Join(append(errs, n.store.Close())...)
}
