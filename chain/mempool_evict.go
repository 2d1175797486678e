package chain

import (
	"fmt"
	"slices"
)

// Eviction: when the pool is full, a new transaction takes the place of
// the cheapest evictable ones or is refused (see Mempool).

// makeRoom evicts what it must for e to fit, or changes nothing and
// returns ErrMempoolFull. Only transactions paying strictly less than e
// are evicted, peers' before local ones (AddLocal), lowest fee first,
// newest first among equal fees; a peer's transaction never evicts a
// local one. It stops at the first in that order that pays e's fee or
// more, so a local e reaches cheaper local transactions only once no
// peer's is evictable (protocol.md §11.2.1). e's own sender is spared (its last pending transaction is
// the one e follows), and so are e's parents. m.mu is held.
func (m *Mempool) makeRoom(e *poolEntry) error {
	var victims, spared []*poolEntry
	for m.fullFor(e) {
		v := m.evictable.min()
		if v == nil || v.tx.Fee >= e.tx.Fee || (v.local && !e.local) {
			break
		}
		if m.p.Signed && (v.tx.Sender == e.tx.Sender || slices.Contains(e.parents, v)) {
			m.evictable.remove(v)
			spared = append(spared, v)
			continue
		}
		m.remove(v)
		victims = append(victims, v)
	}
	full := m.fullFor(e)
	if full {
		// Put the victims back, last evicted first, so each goes back
		// onto the end of its sender's chain and each parent is back
		// before its child.
		for _, v := range slices.Backward(victims) {
			m.insert(v)
		}
	}
	// After the rollback: a spared entry may have become evictable only
	// because a victim that claimed its credit was out.
	for _, v := range spared {
		m.pushIfEvictable(v)
	}
	if full {
		return fmt.Errorf("%w: %d transactions, %d bytes; fee %d does not beat the cheapest evictable",
			ErrMempoolFull, len(m.byID), m.bytes, e.tx.Fee)
	}
	return nil
}

// fullFor reports whether adding e would break a limit. m.mu is held.
func (m *Mempool) fullFor(e *poolEntry) bool {
	return len(m.byID)+1 > m.maxTxs || m.bytes+e.size > m.maxBytes
}

// pushIfEvictable puts a signed-network entry into the eviction heap if
// it ends its sender's chain, no child claimed it, and it is not there
// yet. m.mu is held.
func (m *Mempool) pushIfEvictable(e *poolEntry) {
	q := m.bySender[e.tx.Sender]
	if e.heapIdx < 0 && e.child == nil && len(q) > 0 && q[len(q)-1] == e {
		m.evictable.push(e)
	}
}
