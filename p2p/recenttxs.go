package p2p

import (
	"sync"

	"github.com/gossipchain/gossipchain/chain"
)

// Bounds of recentTxs. A transaction refused by a full pool waits in its
// miner's pool behind about a pool's worth of others before a block takes
// it: at the five-node testnet's 6,000 transfers a second and 10,000
// pending, about two seconds, which 32,768 transactions cover with room
// to spare. The byte bound caps the worst case (every transaction of the
// largest size) at 8 MiB of encodings, and their decoded copies at about
// as much again.
const (
	recentTxsMax   = 1 << 15
	recentTxsBytes = 8 << 20
)

// recentTxs keeps the last transactions this node decoded from gossiped
// batches, whatever its mempool made of them, so that a compact block
// can be rebuilt from them without a round trip to its sender
// (compact.go): those still in the batch's validation when the block
// arrives, and those the pool refused for want of room (a full pool, a
// sender at its limit) that a peer's pool took and its block carries.
//
// Holding a transaction here vouches for nothing: it is a candidate for
// a short id, and the rebuilt block is checked whole (merkle root, every
// signature, the ledger) as a block from the pool is. A peer that floods
// it with junk only pushes out useful entries, and its blocks are then
// asked for as they were before this cache. It is a ring: the oldest
// entry goes first, at most recentTxsMax entries and recentTxsBytes of
// encodings.
type recentTxs struct {
	mu sync.Mutex
	// ring holds the entries oldest first from head: count of them, in
	// ring[(head+k) % len(ring)]. It grows to recentTxsMax slots as
	// needed, not at once: a simulation runs thousands of nodes.
	ring        []recentTx
	head, count int
	bytes       int // encoded size of the entries held
	byID        map[chain.Hash]struct{}
}

type recentTx struct {
	id   chain.Hash
	tx   *chain.Transaction
	size int
}

func newRecentTxs() *recentTxs {
	return &recentTxs{byID: make(map[chain.Hash]struct{})}
}

// add keeps txs, whose ids are ids, pushing out the oldest entries to
// make room; a transaction held already keeps its place.
func (r *recentTxs) add(txs []*chain.Transaction, ids []chain.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, tx := range txs {
		if _, ok := r.byID[ids[k]]; ok {
			continue
		}
		size := tx.EncodedSize()
		if r.count == len(r.ring) && len(r.ring) < recentTxsMax {
			r.grow()
		}
		for r.count == len(r.ring) || (r.count > 0 && r.bytes+size > recentTxsBytes) {
			old := &r.ring[r.head]
			delete(r.byID, old.id)
			r.bytes -= old.size
			*old = recentTx{}
			r.head = (r.head + 1) % len(r.ring)
			r.count--
		}
		r.ring[(r.head+r.count)%len(r.ring)] = recentTx{id: ids[k], tx: tx, size: size}
		r.byID[ids[k]] = struct{}{}
		r.bytes += size
		r.count++
	}
}

// grow doubles the ring, up to recentTxsMax slots, its entries in order
// from slot 0.
func (r *recentTxs) grow() {
	ring := make([]recentTx, min(max(2*len(r.ring), 256), recentTxsMax))
	for k := range r.count {
		ring[k] = r.ring[(r.head+k)%len(r.ring)]
	}
	r.ring, r.head = ring, 0
}

// rangeTxs calls f with each entry, oldest first, until f returns false.
// f runs under the lock: it must not call back into r.
func (r *recentTxs) rangeTxs(f func(id chain.Hash, tx *chain.Transaction) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.count {
		if s := &r.ring[(r.head+k)%len(r.ring)]; !f(s.id, s.tx) {
			return
		}
	}
}
