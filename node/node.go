package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/p2p"
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
	// Rebroadcast is how often the node gossips again the transactions
	// submitted to it that are still unconfirmed; zero means every three
	// minutes.
	Rebroadcast time.Duration
}

// Node is one running gossipchain node: store, chain, mempool, wallet
// key, libp2p host with gossip and sync, and the miner. New opens the
// data directory; Start joins the network; Close undoes both.
//
// mu serialises every change of the chain with the mempool update that
// follows it, so the mempool sees tip changes in order. The miner and
// the p2p services run on goroutines counted by wg under ctx.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	chain   *chain.Chain
	mempool *chain.Mempool
	wallet  ed25519.PrivateKey
	miner   string
	hashes  atomic.Uint64
	// hashRate holds the float64 bits of the last sampled hash rate.
	hashRate atomic.Uint64
	events   *Events
	own      ownTxs
	// failed is closed, and failErr set before, when the node stopped
	// itself because its store could not commit (see watchStore).
	failed  chan struct{}
	failErr error

	mu      sync.Mutex
	closing bool // set by Close under mu: addTx refuses from then on

	host   *p2p.Host
	gossip *p2p.Gossip
	syncer *p2p.Syncer
	cancel context.CancelFunc
	wg     sync.WaitGroup
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
	st, err := store.OpenDir(cfg.DataDir)
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
	n := &Node{
		cfg:   cfg,
		log:   log,
		store: st,
		chain: c,
		mempool: chain.NewMempool(cfg.Params, chain.WithMinedCheck(func(id chain.Hash) bool {
			_, err := c.TxLocation(id)
			return err == nil
		})),
		wallet: key,
		miner:  minerAddr,
		events: newEvents(),
		failed: make(chan struct{}),
	}
	if k, err := n.loadMempool(); err != nil {
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
		DataDir:   n.cfg.DataDir,
		Listen:    n.cfg.Listen,
		Bootstrap: n.cfg.Bootstrap,
		MDNS:      n.cfg.MDNS,
		NetworkID: n.cfg.Params.NetworkID(),
		Logger:    n.log,
		OnPeer:    n.onPeer,
	})
	if err != nil {
		return err
	}
	n.host = h
	adapter := chainAdapter{n}
	n.syncer = p2p.NewSyncer(ctx, h.Host, adapter, h, append([]p2p.SyncOption{p2p.WithSyncLogger(n.log),
		p2p.WithSyncNotify(n.onSync)}, n.cfg.SyncOptions...)...)
	gossipOpts := append([]p2p.GossipOption{p2p.WithGossipLogger(n.log)}, n.cfg.GossipOptions...)
	n.gossip, err = p2p.NewGossip(ctx, h.Host, adapter, n.syncer, gossipOpts...)
	if err != nil {
		return errors.Join(err, n.closeP2P())
	}
	if err := h.Start(ctx); err != nil {
		return errors.Join(err, n.closeP2P())
	}
	tip := n.chain.Tip()
	n.log.Info("node started", "network", n.cfg.Params.Name, "peer_id", h.ID(), "height", tip.Height(),
		"hash", tip.Hash.Short(), "data_dir", n.cfg.DataDir, "wallet", n.WalletAddress())
	n.wg.Go(func() { n.watchStore(ctx) })
	n.wg.Go(func() { n.sampleHashRate(ctx) })
	every := n.cfg.Rebroadcast
	if every <= 0 {
		every = defaultRebroadcast
	}
	n.wg.Go(func() { n.rebroadcastLoop(ctx, every) })
	if n.cfg.Mine {
		n.wg.Go(func() { n.mineLoop(ctx) })
	}
	return nil
}

// Run starts the node and waits for ctx to end.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (n *Node) mineLoop(ctx context.Context) {
	n.log.Info("mining", "threads", max(n.cfg.MinerThreads, 1), "address", n.miner)
	for ctx.Err() == nil {
		_, err := n.MineOne(ctx)
		if errors.Is(err, chain.ErrStoreFailed) {
			return // watchStore reports it, once, and stops the node
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, chain.ErrStaleTip) {
			n.log.Error("mining stopped", "reason", err)
			return
		}
	}
}

// Chain returns the node's chain.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Mempool returns the node's mempool.
func (n *Node) Mempool() *chain.Mempool { return n.mempool }

// Host returns the libp2p host, nil before Start.
func (n *Node) Host() *p2p.Host { return n.host }

// WalletAddress returns the address of the node's wallet key.
func (n *Node) WalletAddress() string {
	return chain.AddressFromPublicKey(n.wallet.Public().(ed25519.PublicKey))
}

// MineOne mines one block on the tip, connects it and publishes it.
func (n *Node) MineOne(ctx context.Context) (*chain.Block, error) {
	b, err := n.chain.Mine(ctx, n.mempool, n.miner, max(n.cfg.MinerThreads, 1), &n.hashes)
	if err != nil {
		return nil, err
	}
	ch, _, err := n.processBlocks(ctx, []*chain.Block{b}, false, OriginMined)
	if err != nil {
		return nil, fmt.Errorf("own block: %w", err)
	}
	if !ch.Joined(b.Hash()) {
		// A block of the same height came first (a tie keeps the first
		// seen): ours is stored on a side branch. "block mined" promises
		// a block on the main chain, committed, so it is not said here.
		n.log.Info("block mined on a side branch", "height", b.Header.Height, "hash", b.Hash().Short(), "tip", n.chain.Tip().Hash.Short())
		return b, nil
	}
	n.log.Info("block mined", "height", b.Header.Height, "hash", b.Hash().Short(), "txs", len(b.Transactions), "miner", n.miner)
	if n.gossip != nil {
		if err := n.gossip.PublishBlock(ctx, b); err != nil && ctx.Err() == nil {
			n.log.Warn("publish block", "height", b.Header.Height, "reason", err)
		}
	}
	return b, nil
}

// SubmitTx offers a transaction to the mempool and, if accepted,
// publishes it.
//
// A transaction ahead of its sender's next nonce is held by the mempool
// (chain.ErrTxQueued is returned): it is not gossiped now, since peers
// would drop it for the same gap, but it is remembered as the node's
// own, so the first rebroadcast after its earlier nonces arrive sends it.
func (n *Node) SubmitTx(ctx context.Context, tx *chain.Transaction) error {
	if err := n.addTx(tx, OriginAPI); err != nil {
		if errors.Is(err, chain.ErrTxQueued) {
			n.own.add(tx.ID(), time.Time{})
		}
		return err
	}
	n.own.add(tx.ID(), time.Now())
	if n.gossip != nil {
		if err := n.gossip.PublishTx(ctx, tx); err != nil {
			n.log.Warn("publish tx", "id", tx.ID().Short(), "reason", err)
		}
	}
	return nil
}

// SyncNow syncs from the best connected peer now; it reports whether the
// tip moved.
func (n *Node) SyncNow(ctx context.Context) bool {
	if n.syncer == nil {
		return false
	}
	return n.syncer.SyncNow(ctx)
}

// Origins of blocks and transactions, as events report them.
const (
	OriginMined  = "mined"
	OriginGossip = "gossip"
	OriginSync   = "sync"
	OriginAPI    = "api"
)

// processBlocks hands blocks to the chain, brings the mempool along and,
// after unlocking, publishes what changed. A batch (sync) is published
// as its last connected block.
func (n *Node) processBlocks(ctx context.Context, bs []*chain.Block, batch bool, origin string) (*chain.Change, int, error) {
	ch, k, err := n.processLocked(ctx, bs, batch)
	if ch == nil {
		return ch, k, err
	}
	if ch.Reorg() {
		n.events.publish(EventReorg, ReorgEventData{OldTip: ch.OldTip.Hash.String(), NewTip: ch.NewTip.Hash.String(),
			Height: ch.NewTip.Height(), Depth: len(ch.Disconnected)})
	}
	connected := ch.Connected
	if batch && len(connected) > 1 {
		connected = connected[len(connected)-1:]
	}
	for _, b := range connected {
		n.events.publish(EventBlock, blockEvent(b, origin, len(ch.Connected)))
	}
	return ch, k, err
}

func blockEvent(b *chain.Block, origin string, count int) BlockEventData {
	d := BlockEventData{Height: b.Header.Height, Hash: b.Hash().String(), Txs: len(b.Transactions), Origin: origin, Count: count}
	if len(b.Transactions) > 0 {
		d.Miner = b.Transactions[0].Recipient
	}
	return d
}

func (n *Node) processLocked(ctx context.Context, bs []*chain.Block, batch bool) (*chain.Change, int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ch *chain.Change
	var k int
	var err error
	if batch {
		ch, k, err = n.chain.ProcessBlocks(ctx, bs)
	} else {
		ch, err = n.chain.ProcessBlock(ctx, bs[0])
		if err == nil {
			k = 1
		}
	}
	if ch != nil {
		n.mempool.Reorg(ch.Disconnected, ch.Connected, n.chain)
		if ch.Reorg() {
			n.log.Info("reorg", "old_tip", ch.OldTip.Hash.Short(), "new_tip", ch.NewTip.Hash.Short(),
				"height", ch.NewTip.Height(), "depth", len(ch.Disconnected))
		}
	}
	return ch, k, err
}

// addTx offers tx to the mempool. The signature is checked before
// taking n.mu, so gossip validators verify in parallel and never wait
// behind a block being connected just to check a signature.
func (n *Node) addTx(tx *chain.Transaction, origin string) error {
	if tx.IsCoinbase() {
		return n.mempool.Add(tx, n.chain) // refused at once, with its own error
	}
	if err := chain.CheckTxSanity(n.cfg.Params, tx); err != nil {
		return err
	}
	n.mu.Lock()
	err := ErrClosed
	if !n.closing {
		err = n.mempool.AddVerified(tx, n.chain)
	}
	n.mu.Unlock()
	if err == nil {
		n.events.publish(EventTx, TxEventData{ID: tx.ID().String(), Sender: tx.Sender, Recipient: tx.Recipient,
			Amount: tx.Amount, Fee: tx.Fee, Origin: origin})
	}
	return err
}

func (n *Node) closeP2P() error {
	var errs []error
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

// Close stops the miner and the network, writes the mempool to the data
// directory (mempool.dat) and closes the store. Transactions offered once
// Close has begun are refused with ErrClosed, so none is accepted and
// then lost.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	errs := []error{n.closeP2P()}
	select {
	case <-n.failed:
		// The store could not write: the data directory is full or
		// failing, and a mempool file would only add to that.
	default:
		errs = append(errs, n.saveMempool())
	}
	return errors.Join(append(errs, n.store.Close())...)
}

// ErrClosed is returned for a transaction offered to a node that is
// shutting down.
var ErrClosed = errors.New("node is shutting down")

// Send signs a transfer from the node's wallet with the wallet's next
// nonce (after its pending transactions) and submits it.
func (n *Node) Send(ctx context.Context, to string, amount, fee uint64) (*chain.Transaction, error) {
	from := n.WalletAddress()
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	acct, err := n.chain.Account(from)
	pending := len(n.mempool.Pending(from))
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: from, Recipient: to, Amount: amount, Fee: fee,
		Nonce: acct.Nonce + uint64(pending)}
	if n.cfg.Params.Signed {
		tx.Sign(n.cfg.Params.NetworkID(), n.wallet)
	}
	if err := n.SubmitTx(ctx, tx); err != nil {
		return nil, err
	}
	return tx, nil
}
