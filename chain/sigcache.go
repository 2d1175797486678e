package chain

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// SigCache remembers the transactions whose signature verified, so that a
// transaction checked when it entered the mempool is not verified again
// when its block connects, by gossip or by sync. A node verifies each
// signature once instead of two or three times, and a block whose
// transactions all passed the mempool connects at the cost of hashing
// them.
//
// An entry is the transaction's id: SHA-256 of its whole encoding,
// public key and signature included. A hit therefore proves that these
// exact bytes verified; a transaction that differs in any byte has
// another id. Every path that verifies a signature checks the
// transaction's shape first (checkTxShape: names, amounts, key, address),
// which depends on nothing but the bytes and the network, so a hit
// proves the shape too, and block sanity does not check a hit's shape
// again. The network id is not in the key (the signing bytes carry it,
// the id does not), so a cache answers for one network: the one its first
// check was on (on). A check on any other verifies every time and keeps
// nothing, as with no cache: one cache shared by two networks would
// otherwise vouch on one for a signature made on the other.
//
// The cache is bounded (first in, first out): an attacker who floods it
// with valid transactions pays a verification for each and only makes us
// verify again later. Failures are never cached. Safe for concurrent use.
type SigCache struct {
	mu  sync.Mutex
	ids *hashRing
	// q gathers the misses of concurrent single checks into batches.
	q *sigQueue
	// keys holds recent signers' keys, decoded (keycache.go).
	keys *keyCache
	// net is the id of the network the entries were verified on, set by
	// the first check (on).
	net atomic.Pointer[Hash]

	verifies, hits, batches, batched, full atomic.Uint64
}

// signers returns c's key cache; a nil c has none.
func (c *SigCache) signers() *keyCache {
	if c == nil {
		return nil
	}
	return c.keys
}

// on returns c for a check on network p, nil (no cache) if c answers for
// another network; the first check binds c to its network.
func (c *SigCache) on(p *Params) *SigCache {
	if c == nil {
		return nil
	}
	n := c.net.Load()
	if n == nil {
		id := p.id
		if c.net.CompareAndSwap(nil, &id) {
			return c
		}
		n = c.net.Load()
	}
	if *n != p.id {
		return nil
	}
	return c
}

// NewSigCache returns a cache of at most size entries.
func NewSigCache(size int) *SigCache {
	c := &SigCache{ids: newHashRing(size), keys: newKeyCache(keyCacheSize, keyCacheSeen)}
	c.q = newSigQueue(c, sigQueueMax)
	return c
}

// SigStats are a SigCache's counters.
type SigStats struct {
	// Verifies counts ed25519 verifications done, one per signature
	// whether alone or in a batch; Hits the signatures found already
	// verified (a block's are looked up together before its checks, so
	// an invalid block's hits past its first fault count too); Batches
	// the batch verifications (of batchMin signatures or more) among
	// them, and Batched the signatures they verified.
	Verifies, Hits, Batches, Batched uint64
	// QueueFull counts the single checks that found the queue of
	// admissions' checks full and waited for room: verification not
	// keeping up with admissions.
	QueueFull uint64
}

// Stats returns the counters.
func (c *SigCache) Stats() SigStats {
	if c == nil {
		return SigStats{}
	}
	return SigStats{Verifies: c.verifies.Load(), Hits: c.hits.Load(), Batches: c.batches.Load(), Batched: c.batched.Load(), QueueFull: c.full.Load()}
}

// verify reports whether tx's signature is valid on network p, from the
// cache when its id is there, else verified in a batch with the checks
// concurrent with it (sigQueue). A nil cache verifies every time, alone.
// known, if not nil, is tx's id. The error is ctx's, if it ended before
// the verdict.
func (c *SigCache) verify(ctx context.Context, p *Params, tx *Transaction, known *Hash) (bool, error) {
	if c = c.on(p); c == nil {
		return verifySig(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature), nil
	}
	var id Hash
	if known != nil {
		id = *known
	} else {
		id = tx.ID()
	}
	if c.cached(id) {
		return true, nil
	}
	ok, err := c.q.check(ctx, p, tx, id)
	if err != nil {
		return false, fmt.Errorf("verifying the signature of %s: %w", tx.Sender, err)
	}
	return ok, nil
}
