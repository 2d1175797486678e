package chain

import (
	"fmt"
	"slices"
)

// Eviction: when the pool is full, a new transaction takes the place of
// the cheapest evictable ones or is refused (see Mempool).

// makeRoom evicts what it must for e to fit, or changes nothing and
// returns ErrMempoolFull. Only peers' transactions paying strictly less
// than e are evicted, lowest fee first, newest first among equal fees. A
// local transaction (AddLocal) is never evicted, not even for a
// better-paying local one: the node answered its client that it took
// it, and it is the one node sure to keep it, so what does not fit
// beside it is refused at entry instead, where the client can still
// act on the refusal (protocol.md §11.2.1). The heap holds peers'
// entries before local ones, so the first local one ends the search.
// e's own sender is spared (its last pending transaction is the one e
// follows), and so are e's parents. m.mu is held.
func (m *Mempool) makeRoom(e *poolEntry) error {
	var victims, spared []*poolEntry
	for m.fullFor(e) {
		v := m.evictable.min()
		if v == nil || v.local || v.tx.Fee >= e.tx.Fee {
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
		return fmt.Errorf("%w: %d transactions (%d this node's own), %d bytes; fee %d does not beat the cheapest peer's",
			ErrMempoolFull, len(m.byID), m.locals, m.bytes, e.tx.Fee)
	}
	return nil
}

// shrink evicts peers' transactions, cheapest first, until the pool is
// within its limits or only local ones are left to evict. A
// reorganisation can return more than fits; the pool then stays over
// its limits by local transactions, refusing newcomers (fullFor) until
// blocks take enough out, rather than drop a transaction its node
// answered for. m.mu is held.
func (m *Mempool) shrink() {
	for len(m.byID) > m.maxTxs || m.bytes > m.maxBytes {
		v := m.evictable.min()
		if v == nil || v.local {
			return
		}
		m.remove(v)
	}
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
