package p2p

import (
	"context"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// PeerEntries is how many peers the syncer keeps state for, for tests
// that check the table does not outlive its peers.
func (s *Syncer) PeerEntries() int {
	return int(s.table.Load())
}

// FreezeServeClock stops the clock of s's server rate limits and returns
// a function that moves it on, so that a test counts what a flood is
// served without timing it.
func (s *Syncer) FreezeServeClock() (advance func(time.Duration)) {
	var mu sync.Mutex
	at := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
	s.serveLimits().clock.Store(&now)
	return func(d time.Duration) {
		mu.Lock()
		at = at.Add(d)
		mu.Unlock()
	}
}

// BlockValidatorOpts are the block topic's validator options, for a
// benchmark that runs a validator of its own through the same ones.
func BlockValidatorOpts() []pubsub.ValidatorOpt { return blockValidatorOpts() }

// Server rate limits, for tests that count what a flood is served.
const (
	ServerBurst       = serverBurst
	ServerHeaderRate  = serverHeaderRate
	ServerHeaderBurst = serverHeaderBurst
	HeaderSlack       = headerSlack
	ServerBlockRate   = serverBlockRate
	ServerBlockBurst  = serverBlockBurst
	ServerByteBurst   = serverByteBurst
	MapServeBurst     = mapServeBurst
)

// CompactBlockOf is the compact block the node publishes for a block of
// its own whose unsent transactions are unsent.
func CompactBlockOf(b *chain.Block, unsent []*chain.Transaction) []byte {
	ids := make(map[chain.Hash]bool, len(unsent))
	for _, tx := range unsent {
		ids[tx.ID()] = true
	}
	return compactBlock(b, chain.TxIDs(b.Transactions), ids)
}

// MinCommitBlocks is the fewest blocks a download commits at once while
// more are on their way.
const MinCommitBlocks = minCommitBatches * blocksPerRequest

// ParentWaits reports how many gossiped blocks wait for their parent's
// validation now, how many have waited in all, and how many of those gave
// up at the bound (parentWait).
func (g *Gossip) ParentWaits() (now, total, gaveUp int) {
	return int(g.inflight.waiting.Load()), int(g.inflight.waits.Load()), int(g.inflight.gaveUp.Load())
}

// WithParentWait sets how long a gossiped block waits for its parent's
// validation, for tests of the bound.
func WithParentWait(d time.Duration) GossipOption {
	return func(c *gossipConfig) { c.parentWait = d }
}

// WithTxnWait sets how long a request for a block's missing transactions
// may take, for tests of senders that never answer: the block holds its
// validator for that long.
func WithTxnWait(d time.Duration) GossipOption {
	return func(c *gossipConfig) { c.txnWait = d }
}

// BlockValidators is how many blocks are validated at once.
const BlockValidators = blockValidators

// CheckBlock judges a gossiped block's message as the block topic's
// validator does, for benchmarks of one hop's whole work.
func (g *Gossip) CheckBlock(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error) {
	return g.checkBlock(ctx, from, data)
}

// WithMaxSyncHeaders sets the headers a download checks before one run
// beats our tip, for tests of the bound.
func WithMaxSyncHeaders(n int) SyncOption { return func(s *Syncer) { s.maxHeaders = n } }
