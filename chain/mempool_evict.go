package chain

import (
	"fmt"
	"math/bits"
	"slices"
)

// Eviction: when the pool is full, a new transaction takes the place of
// the cheapest evictable ones or is refused (see Mempool).
//
// On signed networks what goes is a package: a stretch at the end of one
// sender's chain (a transaction cannot go before its sender's later
// ones, nor before a child that claimed its credit), the one of that
// sender's stretches with the lowest mean fee. Ranking a chain by its
// last transaction alone, as before, let one well-paying transaction at
// the end of a sender's chain keep any number of cheap ones before it
// in the pool: each place they held cost a newcomer more than it cost
// their sender. Bitcoin Core evicts by a package's fee rate for the same
// reason. Fees are compared per transaction, not per byte: signed
// transfers differ in size by the length of two names at most.

// makeRoom evicts what it must for e to fit, or changes nothing and
// returns ErrMempoolFull. Only peers' packages whose mean fee is
// strictly below e's fee are evicted, the lowest mean first, the newest
// first among equal means, each whole. A local transaction (AddLocal) is
// never evicted, not even for a better-paying local one: the node
// answered its client that it took it, and it is the one node sure to
// keep it, so what does not fit beside it is refused at entry instead,
// where the client can still act on the refusal (protocol.md §11.2.1).
// No package holds a local transaction on signed networks; on unsigned
// ones the heap holds peers' entries before local ones, so the first
// local one ends the search. e's own sender's package is spared (its
// last pending transaction is the one e follows), and so is any package
// holding one of e's parents. m.mu is held.
func (m *Mempool) makeRoom(e *poolEntry) error {
	var victims, spared []*poolEntry
	var raise uint64                // the rolling minimum the evictions call for
	var parents map[*poolEntry]bool // e.parents, looked up once per entry
	if len(e.parents) > 0 {
		parents = make(map[*poolEntry]bool, len(e.parents))
		for _, p := range e.parents {
			parents[p] = true
		}
	}
	for m.fullFor(e) {
		m.repackAll()
		v := m.evictable.min()
		if v == nil || v.local || !cheaperThan(v, e.tx.Fee) {
			break
		}
		if m.p.Signed && m.spares(e, v, parents) {
			m.evictable.remove(v)
			spared = append(spared, v)
			continue
		}
		raise = max(raise, above(v))
		victims = m.evictPackage(v, victims)
	}
	full := m.fullFor(e)
	if full {
		// Put the victims back, last evicted first, so each goes back
		// onto the end of its sender's chain and each parent is back
		// before its child.
		for _, v := range slices.Backward(victims) {
			m.insert(v)
		}
	} else {
		m.raiseRolling(raise)
	}
	// Out of the heap for this search only.
	for _, v := range spared {
		m.stale(v.tx.Sender)
	}
	if full {
		return fmt.Errorf("%w: %d transactions (%d this node's own), %d bytes; fee %d does not beat the cheapest peer's",
			ErrMempoolFull, len(m.byID), m.locals, m.bytes, e.tx.Fee)
	}
	return nil
}

// spares reports whether the package v begins may not make room for e:
// it is e's sender's own, or it holds one of e's parents (the set
// parents). A spared package out of the heap may come back into it in
// the same search (an eviction touched its sender), and is spared
// again. m.mu is held.
func (m *Mempool) spares(e, v *poolEntry, parents map[*poolEntry]bool) bool {
	if v.tx.Sender == e.tx.Sender {
		return true
	}
	if len(parents) == 0 {
		return false
	}
	q := m.bySender[v.tx.Sender]
	for _, w := range q[slices.Index(q, v):] {
		if parents[w] {
			return true
		}
	}
	return false
}

// evictPackage removes the package v begins, its sender's last first,
// and returns victims with them appended in that order. m.mu is held.
func (m *Mempool) evictPackage(v *poolEntry, victims []*poolEntry) []*poolEntry {
	if !m.p.Signed {
		m.remove(v)
		return append(victims, v)
	}
	for {
		q := m.bySender[v.tx.Sender]
		last := q[len(q)-1]
		m.remove(last)
		victims = append(victims, last)
		if last == v {
			return victims
		}
	}
}

// shrink evicts peers' packages, cheapest first, until the pool is
// within its limits or only local ones are left to evict. A
// reorganisation can return more than fits; the pool then stays over
// its limits by local transactions, refusing newcomers (fullFor) until
// blocks take enough out, rather than drop a transaction its node
// answered for. m.mu is held.
func (m *Mempool) shrink() {
	for len(m.byID) > m.maxTxs || m.bytes > m.maxBytes {
		m.repackAll()
		v := m.evictable.min()
		if v == nil || v.local {
			return
		}
		m.evictPackage(v, nil) // raises no rolling minimum (mempool_rolling.go)
	}
}

// above is the least fee above the mean of the package v begins.
func above(v *poolEntry) uint64 { return v.pkgFee/v.pkgN + 1 }

// fullFor reports whether adding e would break a limit. m.mu is held.
func (m *Mempool) fullFor(e *poolEntry) bool {
	return len(m.byID)+1 > m.maxTxs || m.bytes+e.size > m.maxBytes
}

// stale takes a signed-network sender's package out of the heap, to be
// worked out again (repackAll) before the heap is next read: its chain,
// or what of it may go, changed. Working it out at once would cost each
// admission a walk of its sender's chain while the pool has room and
// nothing is evicted. m.mu is held.
func (m *Mempool) stale(sender string) {
	if _, ok := m.repack[sender]; ok {
		return
	}
	m.repack[sender] = struct{}{}
	for _, e := range m.bySender[sender] {
		if e.heapIdx >= 0 {
			m.evictable.remove(e)
			return // a sender has one package at most
		}
	}
}

// repackAll works out the packages of the senders stale left out of the
// heap, and puts each back in. A sender's package is the stretch, at the
// end of its chain, after the last transaction that is local or whose
// credit a child claimed, with the lowest mean fee (the shortest, on a
// tie); none if that leaves nothing. m.mu is held.
func (m *Mempool) repackAll() {
	for sender := range m.repack {
		delete(m.repack, sender)
		q := m.bySender[sender]
		var best *poolEntry
		var fee, n, bestFee, bestN uint64
		for i := len(q) - 1; i >= 0 && !q[i].local && q[i].child == nil; i-- {
			fee, n = fee+q[i].tx.Fee, n+1
			if best == nil || meanBelow(fee, n, bestFee, bestN) {
				best, bestFee, bestN = q[i], fee, n
			}
		}
		if best != nil {
			best.pkgFee, best.pkgN = bestFee, bestN
			m.evictable.push(best)
		}
	}
}

// meanBelow reports whether fee/n < fee2/n2, exactly.
func meanBelow(fee, n, fee2, n2 uint64) bool { return meanCmp(fee, n, fee2, n2) < 0 }

// meanCmp compares fee/n with fee2/n2 exactly, as 128-bit products:
// -1, 0 or +1.
func meanCmp(fee, n, fee2, n2 uint64) int {
	hi, lo := bits.Mul64(fee, n2)
	hi2, lo2 := bits.Mul64(fee2, n)
	if hi == hi2 {
		hi, hi2 = lo, lo2
	}
	switch {
	case hi < hi2:
		return -1
	case hi > hi2:
		return 1
	}
	return 0
}

// cheaperThan reports whether the package v begins pays less per
// transaction than fee.
func cheaperThan(v *poolEntry, fee uint64) bool {
	return meanBelow(v.pkgFee, v.pkgN, fee, 1)
}
