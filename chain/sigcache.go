package chain

import (
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
// another id. The network id is not in the key: a cache belongs to one
// Chain (one network), and the signing bytes of each verification carried
// that network's id.
//
// The cache is bounded (first in, first out): an attacker who floods it
// with valid transactions pays a verification for each and only makes us
// verify again later. Failures are never cached. Safe for concurrent use.
type SigCache struct {
	mu  sync.Mutex
	ids *hashRing

	verifies, hits atomic.Uint64
}

// NewSigCache returns a cache of at most size entries.
func NewSigCache(size int) *SigCache {
	return &SigCache{ids: newHashRing(size)}
}

// SigStats are a SigCache's counters.
type SigStats struct {
	// Verifies counts ed25519 verifications done; Hits the signatures
	// found already verified.
	Verifies, Hits uint64
}

// Stats returns the counters.
func (c *SigCache) Stats() SigStats {
	if c == nil {
		return SigStats{}
	}
	return SigStats{Verifies: c.verifies.Load(), Hits: c.hits.Load()}
}

// verify reports whether tx's signature is valid on network p, from the
// cache when its id is there. A nil cache verifies every time. known, if
// not nil, is tx's id.
func (c *SigCache) verify(p *Params, tx *Transaction, known *Hash) bool {
	if c == nil {
		return verifySig(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature)
	}
	var id Hash
	if known != nil {
		id = *known
	} else {
		id = tx.ID()
	}
	if c.cached(id) {
		return true
	}
	c.verifies.Add(1)
	if !verifySig(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature) {
		return false
	}
	c.add(id)
	return true
}

func (c *SigCache) add(id Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids.add(id)
}
