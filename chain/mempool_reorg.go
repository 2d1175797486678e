package chain

import (
	"cmp"
	"slices"
)

// Reorg reconciles the pool with a new tip. Call it after every tip change,
// a plain new block included: disconnected are the blocks that left the
// main chain, newest first; connected those that joined it, oldest first
// (as in Change); state is the ledger at the new tip.
//
//   - Every transaction included in connected leaves the pool.
//   - Every non-coinbase transaction of disconnected comes back unless
//     connected includes it. It passed sanity inside a valid block, so its
//     signature is not verified again.
//   - The whole pool is then checked against state, each sender's
//     transactions in nonce order with the ledger's ApplyTx, and what no
//     longer applies (a nonce spent on the new branch, a balance the new
//     branch spent) leaves. Nothing that still applies is lost.
//
// The returned transactions keep their places in the arrival order, and
// those from disconnected come before all others (oldest block first, in
// block order), since they were sent earlier. If the returned ones take the
// pool over its limits, the lowest-fee ends of sender chains are evicted
// as in Add.
//
// A transaction whose check fails for a reason other than a rule (the
// state could not be read) is kept, with its sender's later ones: a store
// hiccup must not lose transactions, and the template builder checks
// every transaction again anyway.
func (m *Mempool) Reorg(disconnected, connected []*Block, state AccountReader) {
	included := make(map[Hash]struct{})
	for _, b := range connected {
		for _, tx := range b.Transactions {
			included[tx.ID()] = struct{}{}
		}
	}
	var back []*poolEntry
	seen := make(map[Hash]struct{})
	for _, b := range slices.Backward(disconnected) {
		for _, tx := range b.Transactions {
			if tx.IsCoinbase() {
				continue
			}
			id := tx.ID()
			if _, ok := included[id]; ok {
				continue
			}
			if _, ok := seen[id]; ok {
				continue
			}
			seen[id] = struct{}{}
			back = append(back, &poolEntry{tx: tx, id: id, size: tx.EncodedSize()})
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	stay := make([]*poolEntry, 0, len(m.byID))
	for id, e := range m.byID {
		_, inBlock := included[id]
		_, returned := seen[id]
		if !inBlock && !returned {
			stay = append(stay, e)
		}
	}
	slices.SortFunc(stay, func(a, b *poolEntry) int { return cmpUint64(a.arrival, b.arrival) })

	// Number everything again from zero: the returned ones first, then the
	// others in their old order.
	all := append(back, stay...)
	for i, e := range all {
		e.arrival = uint64(i)
		e.heapIdx = -1
	}
	m.nextArrival = uint64(len(all))
	m.reset()

	if !m.p.Signed {
		for _, e := range all {
			m.insert(e)
		}
	} else {
		m.revalidate(all, state)
	}
	for (len(m.byID) > m.maxTxs || m.bytes > m.maxBytes) && m.evictable.Len() > 0 {
		m.remove(m.evictable.min())
	}
}

// revalidate inserts the entries that apply to state, each sender's in
// nonce order (arrival order among equal nonces, so the first of two
// conflicting transactions wins). m.mu is held and the pool is empty.
func (m *Mempool) revalidate(entries []*poolEntry, state AccountReader) {
	bySender := make(map[string][]*poolEntry)
	for _, e := range entries {
		bySender[e.tx.Sender] = append(bySender[e.tx.Sender], e)
	}
	for _, q := range bySender {
		slices.SortFunc(q, func(a, b *poolEntry) int {
			return cmp.Or(cmpUint64(a.tx.Nonce, b.tx.Nonce), cmpUint64(a.arrival, b.arrival))
		})
		v := NewStateView(m.p, state)
		for i, e := range q {
			err := v.ApplyTx(e.tx)
			if err == nil {
				m.insert(e)
				continue
			}
			if CodeOf(err) == 0 {
				for _, rest := range q[i:] {
					m.insert(rest)
				}
				break
			}
		}
	}
}
