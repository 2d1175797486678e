package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// miner mines blocks on the tip, paying its address, hands each to intake
// and has the relay gossip it; it counts the hashes tried and samples the
// hash rate.
//
// Concurrency: mineOne is safe from any goroutine (the mining loop and API
// calls may mine at once: each mines on its own and intake orders what
// they find). loop and sampleRate each run on one goroutine of Node's.
// hashes and rate are atomics, read from anywhere.
type miner struct {
	chain   *chain.Chain
	mempool *chain.Mempool
	intake  *intake
	relay   *relay
	log     *slog.Logger
	address string
	threads int

	hashes atomic.Uint64
	// rate holds the float64 bits of the last sampled hash rate.
	rate atomic.Uint64
}

// mineOne mines one block on the tip, connects it and publishes it.
func (m *miner) mineOne(ctx context.Context) (*chain.Block, error) {
	b, err := m.chain.Mine(ctx, m.mempool, m.address, m.threads, &m.hashes)
	if err != nil {
		return nil, err
	}
	return m.connect(ctx, b)
}

// connect connects a block mineOne solved and publishes it: as soon as
// the chain has validated it, as a gossiped block is forwarded, so that
// its peers do not wait for its commit, and the block is handed to the
// relay before any transaction admitted during that commit on its state
// (which then usually goes out after it; the two topics' sends are not
// ordered); after the commit if the relay had no room then.
func (m *miner) connect(ctx context.Context, b *chain.Block) (*chain.Block, error) {
	published := false
	ch, _, err := m.intake.processBlocks(ctx, []*chain.Block{b}, false, OriginMined, func(ch *chain.Change) {
		if ch.Joined(b.Hash()) {
			published = m.relay.tryPublishBlock(ctx, b)
		}
	})
	switch chain.CodeOf(err) {
	case chain.ErrNotHeavier, chain.ErrLowWork:
		// A rival came first while ours was solved and processed: ours
		// cannot beat the tip, so it is not even stored (protocol.md
		// §9.5). Mining goes on, on the new tip.
		m.log.Info("block mined on a side branch", "height", b.Header.Height, "hash", b.Hash().Short(), "tip", m.chain.Tip().Hash.Short())
		return b, nil
	case chain.ErrUnknownParent:
		if m.chain.Tip().Hash == b.Header.PrevHash {
			// Unknown and still the tip: a store fault, reported as
			// one. Taken for a stale tip, the loop would mine on it
			// forever.
			break
		}
		// The parent was the tip when the template was made, so it was
		// stored. A reorganisation since then, and the new branch's
		// growth, left it more than sideBranchPruneDepth blocks' work
		// below the tip, and pruning deleted it (protocol.md §9.6): a
		// node far behind its peers that mines while it catches up.
		// Ours can never connect; it is a block mined on a stale tip,
		// which /mine retries and the mining loop mines again, on the
		// new tip.
		m.log.Info("block mined on a pruned branch", "height", b.Header.Height, "hash", b.Hash().Short(),
			"parent", b.Header.PrevHash.Short(), "tip", m.chain.Tip().Hash.Short())
		return nil, fmt.Errorf("own block %s: parent %s pruned: %w (%w)", b.Hash().Short(), b.Header.PrevHash.Short(), chain.ErrStaleTip, err)
	}
	if err != nil {
		return nil, fmt.Errorf("own block: %w", err)
	}
	if !ch.Joined(b.Hash()) {
		// A block of the same height came first (a tie keeps the first
		// seen): ours is stored on a side branch. "block mined" promises
		// a block on the main chain, committed, so it is not said here.
		m.log.Info("block mined on a side branch", "height", b.Header.Height, "hash", b.Hash().Short(), "tip", m.chain.Tip().Hash.Short())
		return b, nil
	}
	m.log.Info("block mined", "height", b.Header.Height, "hash", b.Hash().Short(), "txs", len(b.Transactions), "miner", m.address)
	if !published {
		m.relay.publishBlock(ctx, b)
	}
	return b, nil
}

// loop mines until ctx ends or mining fails for good.
func (m *miner) loop(ctx context.Context) {
	m.log.Info("mining", "threads", m.threads, "address", m.address)
	for ctx.Err() == nil {
		_, err := m.mineOne(ctx)
		if errors.Is(err, chain.ErrStoreFailed) {
			return // the store watch reports it, once, and stops the node
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, chain.ErrStaleTip) {
			m.log.Error("mining stopped", "reason", err)
			return
		}
	}
}

// hashRateInterval is how often the hash rate is sampled.
const hashRateInterval = 5 * time.Second

// sampleRate keeps rate at the rate of the last interval.
func (m *miner) sampleRate(ctx context.Context) {
	t := time.NewTicker(hashRateInterval)
	defer t.Stop()
	last, at := m.hashes.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := m.hashes.Load()
			m.rate.Store(math.Float64bits(float64(cur-last) / now.Sub(at).Seconds()))
			last, at = cur, now
		}
	}
}

// hashRate returns the last sampled hash rate, in hashes per second.
func (m *miner) hashRate() float64 { return math.Float64frombits(m.rate.Load()) }
