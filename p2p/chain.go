package p2p

import (
	"context"

	"github.com/gossipchain/gossipchain/chain"
)

// Chain is what the network layer needs of the node's chain and mempool.
// The node passes an implementation that keeps its mempool in step with
// the blocks it processes; p2p never reaches the store directly.
type Chain interface {
	// Params names the network.
	Params() *chain.Params
	// Tip is the main chain's last block.
	Tip() *chain.BlockMeta
	// Stored reports whether a block is stored: valid as far as checked,
	// and not merely waiting in the orphan pool for its parent (the syncer
	// must fetch those again, or their parents would never come).
	Stored(chain.Hash) bool
	// OrphanRoot is the missing ancestor of a block waiting for its parent.
	OrphanRoot(chain.Hash) chain.Hash
	// Locator describes the main chain for a peer (see chain.Chain.Locator).
	Locator() ([]chain.Hash, error)
	// HeadersAfter answers a peer's locator from the main chain.
	HeadersAfter(locator []chain.Hash, stop chain.Hash, max int) ([]chain.Header, error)
	// Block returns a stored block.
	Block(chain.Hash) (*chain.Block, error)
	// ProcessBlock validates one block and reports whether it joined the
	// main chain. A block that is only stored, on a side branch with less
	// work, has passed sanity and context checks but not the ledger's, so
	// gossip does not forward it. A duplicate is an error
	// (chain.ErrDuplicateBlock), so gossip can ignore it.
	ProcessBlock(ctx context.Context, b *chain.Block) (connected bool, err error)
	// ProcessBlocks validates and connects blocks in order (see
	// chain.Chain.ProcessBlocks); the node updates its mempool after.
	ProcessBlocks(ctx context.Context, blocks []*chain.Block) (int, error)
	// AddTx offers a transaction to the mempool.
	AddTx(tx *chain.Transaction) error
}
