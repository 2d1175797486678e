package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// defaultRebroadcast is how long the node waits before it gossips again
// a transaction submitted to it that is still unconfirmed. GossipSub
// drops a message it has seen in the last two minutes, and its seen cache
// lets go of an entry only at a sweep once a minute: after three minutes
// the copy is new to every peer, ours included. A peer that missed it the
// first time (not connected yet, or it arrived ahead of the sender's
// previous nonce) takes it now; one that has it ignores it. Bitcoin
// Core's wallet resends its transactions in the same way.
const defaultRebroadcast = 3 * time.Minute

// ownTxs remembers the transactions submitted to this node (API or
// wallet) while they wait in the mempool. Entries go once the mempool no
// longer holds them (mined or dropped), so the set is bounded by the
// mempool.
type ownTxs struct {
	mu   sync.Mutex
	sent map[chain.Hash]time.Time // when each was last published
}

// add records id as published at time at (zero: never, so due at once).
func (o *ownTxs) add(id chain.Hash, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sent == nil {
		o.sent = make(map[chain.Hash]time.Time)
	}
	o.sent[id] = at
}

// ids returns the set of the node's own transactions.
func (o *ownTxs) ids() map[chain.Hash]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[chain.Hash]bool, len(o.sent))
	for id := range o.sent {
		out[id] = true
	}
	return out
}

// due returns the transactions last published before cutoff that the
// mempool holds as pending, marking them published now, and forgets
// those the mempool no longer holds at all.
func (o *ownTxs) due(pool *chain.Mempool, cutoff time.Time) []*chain.Transaction {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*chain.Transaction
	now := time.Now()
	for id, at := range o.sent {
		if !pool.Has(id) {
			delete(o.sent, id) // mined, or dropped
			continue
		}
		// Get sees pending transactions only: one still queued for an
		// earlier nonce waits.
		if tx, ok := pool.Get(id); ok && at.Before(cutoff) {
			out = append(out, tx)
			o.sent[id] = now
		}
	}
	return out
}

// relay is what the node gossips of its own accord: the blocks it mines,
// the transactions submitted to it, and those again while they wait
// unconfirmed (what peers gossip to us, GossipSub forwards by itself).
//
// Concurrency: gossip is set by Node.Start before any goroutine that
// publishes starts, and is nil before, when publishing is skipped; own has
// a lock of its own; rebroadcastLoop runs on one goroutine of Node's. The
// other methods are safe from any goroutine.
type relay struct {
	mempool *chain.Mempool
	log     *slog.Logger
	gossip  *p2p.Gossip
	own     ownTxs

	// publish gossips a mined block: gossip.PublishBlock, or a test's.
	publish func(context.Context, *chain.Block) error
	// blocksMu guards lastBlock, closed when the last mined block handed
	// over (queueBlock) has been published (nil before the first), and
	// unsent, which holds a token per mined block not yet published.
	// orderMu is held from a block's token to its place in the order, so
	// that a block's place is that of its taking orderMu, not of whichever
	// waiting caller the channel wakes first.
	orderMu   sync.Mutex
	blocksMu  sync.Mutex
	lastBlock chan struct{}
	unsent    chan struct{}
}

// maxUnsentBlocks bounds the mined blocks waiting to be published: past
// it publishBlock waits, as it always did before publishing moved off
// the caller, so a GossipSub that falls behind slows the miner rather
// than piling up blocks (up to 16 of 512 KiB) in memory.
const maxUnsentBlocks = 16

// publishBlock gossips a block the node mined and validated, on a
// goroutine of its own: the caller (POST /mine) answers once the block
// is committed rather than after GossipSub's validation pipeline and
// event loop have taken it, which cost a /mine as much as its template
// and proof of work together (docs/benchmarks.md, "One block per API
// call"). Blocks are published in the order publishBlock is called, each
// after the one before: sequential calls (one miner loop, or /mine calls
// one after another) never send a peer a block ahead of its parent.
// Concurrent miners (the loop and /mine) may: one may publish a child of
// the block the other mined before that block; the peer then gets the
// parent by gossip or sync, as for any block gossiped out of order.
// The publish outlives the caller's context: the block is validated.
func (r *relay) publishBlock(ctx context.Context, b *chain.Block) { r.queueBlock(ctx, b, true) }

// tryPublishBlock is publishBlock for a caller that must not wait: the
// miner's hook, which runs under the chain's lock once the block is
// validated. It does nothing and returns false when another caller is
// taking its place in the order or maxUnsentBlocks are unsent; the
// caller then publishes after the commit.
func (r *relay) tryPublishBlock(ctx context.Context, b *chain.Block) bool {
	return r.queueBlock(ctx, b, false)
}

// queueBlock hands b to a publishing goroutine in its place in the
// order, waiting for room if wait is set, else returning false when it
// would wait.
func (r *relay) queueBlock(ctx context.Context, b *chain.Block, wait bool) bool {
	publish := r.publish
	if publish == nil {
		if r.gossip == nil {
			return true // no network: nothing to wait for
		}
		publish = r.gossip.PublishBlock
	}
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	r.blocksMu.Lock()
	if r.unsent == nil {
		r.unsent = make(chan struct{}, maxUnsentBlocks)
	}
	unsent := r.unsent
	r.blocksMu.Unlock()
	if wait {
		r.orderMu.Lock()
		unsent <- struct{}{}
	} else {
		if !r.orderMu.TryLock() {
			return false
		}
		select {
		case unsent <- struct{}{}:
		default:
			r.orderMu.Unlock()
			return false
		}
	}
	r.blocksMu.Lock()
	prev := r.lastBlock
	r.lastBlock = done
	r.blocksMu.Unlock()
	r.orderMu.Unlock()
	go func() {
		defer func() { <-unsent }()
		defer close(done)
		if prev != nil {
			<-prev
		}
		if err := publish(ctx, b); err != nil {
			r.log.Warn("publish block", "height", b.Header.Height, "reason", err)
		}
	}()
	return true
}

// waitBlocks waits until the mined blocks handed over so far (publishBlock,
// tryPublishBlock) are published (or have failed to be), or until
// timeout has passed; it reports whether they were.
func (r *relay) waitBlocks(timeout time.Duration) bool {
	r.blocksMu.Lock()
	last := r.lastBlock
	r.blocksMu.Unlock()
	if last == nil {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-last:
		return true
	case <-t.C:
		return false
	}
}

// publishTx gossips a transaction submitted to the node, in its next
// batch (p2p.Gossip.PublishTx), and remembers it for rebroadcast.
func (r *relay) publishTx(ctx context.Context, tx *chain.Transaction, id chain.Hash) {
	r.own.add(id, time.Now())
	if r.gossip == nil {
		return
	}
	if err := r.gossip.PublishTx(ctx, tx); err != nil {
		r.log.Warn("publish tx", "id", id.Short(), "reason", err)
	}
}

// hold remembers a transaction of the node's own that was not published
// (queued for a nonce gap, or read back from mempool.dat): it is due at
// the first rebroadcast that finds it pending.
func (r *relay) hold(id chain.Hash) { r.own.add(id, time.Time{}) }

// rebroadcastLoop publishes again each of the node's own transactions
// still in the mempool once every interval, looking three times an
// interval.
func (r *relay) rebroadcastLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			txs := r.own.due(r.mempool, now.Add(-every))
			if err := r.gossip.PublishTxs(ctx, txs); err != nil && ctx.Err() == nil {
				r.log.Warn("rebroadcast txs", "txs", len(txs), "reason", err)
			}
			if len(txs) > 0 {
				r.log.Debug("rebroadcast", "txs", len(txs))
			}
		}
	}
}
