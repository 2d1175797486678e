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

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// Config is what the command line decides about a node.
type Config struct {
	Params  *chain.Params
	DataDir string
	// Mine makes the node mine continuously on MinerThreads goroutines,
	// paying MinerAddress (the wallet's address when empty).
	Mine         bool
	MinerThreads int
	MinerAddress string
	Logger       *slog.Logger
}

// Node is one running gossipchain node. Run drives it; Close releases it.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	chain   *chain.Chain
	mempool *chain.Mempool
	wallet  ed25519.PrivateKey
	miner   string
	hashes  atomic.Uint64

	// mu serialises ProcessBlock with the mempool update that follows it,
	// so the mempool sees tip changes in order.
	mu sync.Mutex
}

// New opens the node's data directory: store, chain and wallet key.
func New(cfg Config) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := LoadOrCreateKey(filepath.Join(cfg.DataDir, "wallet.key"))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	c, err := chain.New(cfg.Params, st, chain.WithLogger(log))
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Node{
		cfg:     cfg,
		log:     log,
		store:   st,
		chain:   c,
		mempool: chain.NewMempool(cfg.Params),
		wallet:  key,
		miner:   minerAddr,
	}, nil
}

// Chain returns the node's chain.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Mempool returns the node's mempool.
func (n *Node) Mempool() *chain.Mempool { return n.mempool }

// WalletAddress returns the address of the node's wallet key.
func (n *Node) WalletAddress() string {
	return chain.AddressFromPublicKey(n.wallet.Public().(ed25519.PublicKey))
}

// Run logs the node's state and, if configured, mines until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	tip := n.chain.Tip()
	n.log.Info("node started", "network", n.cfg.Params.Name, "height", tip.Height(),
		"hash", tip.Hash.Short(), "data_dir", n.cfg.DataDir, "wallet", n.WalletAddress())
	if !n.cfg.Mine {
		<-ctx.Done()
		return nil
	}
	n.log.Info("mining", "threads", n.cfg.MinerThreads, "address", n.miner)
	for {
		if _, err := n.MineOne(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, chain.ErrStaleTip) {
				return err
			}
		}
	}
}

// MineOne mines one block on the tip and connects it.
func (n *Node) MineOne(ctx context.Context) (*chain.Block, error) {
	b, err := n.chain.Mine(ctx, n.mempool, n.miner, max(n.cfg.MinerThreads, 1), &n.hashes)
	if err != nil {
		return nil, err
	}
	if _, err := n.ProcessBlock(ctx, b); err != nil {
		return nil, fmt.Errorf("own block: %w", err)
	}
	n.log.Info("block mined", "height", b.Header.Height, "hash", b.Hash().Short(),
		"txs", len(b.Transactions))
	return b, nil
}

// ProcessBlock hands a block to the chain and brings the mempool along.
func (n *Node) ProcessBlock(ctx context.Context, b *chain.Block) (*chain.Change, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, err := n.chain.ProcessBlock(ctx, b)
	if ch != nil {
		n.mempool.Reorg(ch.Disconnected, ch.Connected, n.chain)
	}
	return ch, err
}

// Close releases the store.
func (n *Node) Close() error { return n.store.Close() }
