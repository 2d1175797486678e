package chain

import "container/heap"

// Select returns up to maxTxs pending transactions of at most maxBytes
// encoded bytes in all, for a block template: highest fee first, the
// earliest arrival first among equal fees, but never a sender's nonce N+1
// before N, and never a transaction before the parents whose credits it
// claimed (see Mempool). Applied in the returned order to the state the
// pool was last reconciled with, every transaction is valid. A
// transaction too big for the room left is skipped along with its
// sender's later ones and its children, and smaller ones from other
// senders may still fill the room.
//
// The fee is the whole fee, not fee per byte: transactions differ in size
// by at most the length of two names.
func (m *Mempool) Select(maxTxs, maxBytes int) []*Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.selectLocked(maxTxs, maxBytes)
}

// selectLocked is Select; m.mu is held. It keeps a heap of each sender's
// next transaction (of every transaction, on unsigned networks, where no
// order binds a sender); taking one puts its successor on offer. A next
// transaction with parents not taken yet waits off the heap, parked under
// each of them, until the last is taken. Entries record the pass that
// took them, so no set is allocated for that.
func (m *Mempool) selectLocked(maxTxs, maxBytes int) []*Transaction {
	if maxTxs <= 0 || maxBytes <= 0 || len(m.byID) == 0 {
		return nil
	}
	m.selectPass++
	pass := m.selectPass
	// One backing array for the items, so the heap holds pointers and
	// popping one does not box it.
	n := len(m.bySender)
	if !m.p.Signed {
		n = len(m.byID)
	}
	items := make([]selectItem, 0, n)
	for _, q := range m.bySender {
		if m.p.Signed {
			items = append(items, selectItem{q: q})
			continue
		}
		for i := range q {
			items = append(items, selectItem{q: q[i : i+1]})
		}
	}
	var parked map[*poolEntry][]*selectItem
	// ready reports whether its next transaction may be taken, parking
	// it under each parent not taken yet if not.
	ready := func(it *selectItem) bool {
		it.waiting = 0
		for _, p := range it.q[0].parents {
			if p.taken != pass {
				if parked == nil {
					parked = make(map[*poolEntry][]*selectItem)
				}
				parked[p] = append(parked[p], it)
				it.waiting++
			}
		}
		return it.waiting == 0
	}
	h := make(selectHeap, 0, len(items))
	for i := range items {
		if ready(&items[i]) {
			h = append(h, &items[i])
		}
	}
	heap.Init(&h)
	out := make([]*Transaction, 0, min(maxTxs, len(m.byID)))
	room := maxBytes
	for h.Len() > 0 && len(out) < maxTxs {
		it := h[0]
		e := it.q[0]
		if e.size > room {
			// Its successors and children cannot go before it: the
			// whole rest of this sender's chain stays out, and its
			// children stay parked.
			heap.Pop(&h)
			continue
		}
		out = append(out, e.tx)
		room -= e.size
		e.taken = pass
		it.q = it.q[1:]
		if len(it.q) > 0 && ready(it) {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		if ws, ok := parked[e]; ok {
			delete(parked, e)
			for _, w := range ws {
				if w.waiting--; w.waiting == 0 {
					heap.Push(&h, w)
				}
			}
		}
	}
	return out
}

// selectItem is what is left of one sender's chain in Select: q[0] is
// the transaction on offer, once waiting (its parents not taken yet) is
// zero.
type selectItem struct {
	q       []*poolEntry
	waiting int
}

// selectHeap is a max-heap of chains by the fee of the transaction on
// offer, the earlier arrival first on a tie. Arrivals are unique, so the
// order is total and Select is deterministic.
type selectHeap []*selectItem

func (h selectHeap) Len() int { return len(h) }
func (h selectHeap) Less(i, j int) bool {
	a, b := h[i].q[0], h[j].q[0]
	if a.tx.Fee != b.tx.Fee {
		return a.tx.Fee > b.tx.Fee
	}
	return a.arrival < b.arrival
}
func (h selectHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *selectHeap) Push(x any)   { *h = append(*h, x.(*selectItem)) }
func (h *selectHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// evictHeap is a min-heap of packages, each held by the entry it begins
// (mempool_evict.go): peers' before local ones (see AddLocal), then the
// lowest mean fee first, the latest arrival first on a tie, so among
// equal fees the newcomer goes before what waited longer. Each entry
// keeps its index, so a package that changes leaves the heap in
// O(log n).
type evictHeap []*poolEntry

func (h evictHeap) Len() int { return len(h) }
func (h evictHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.local != b.local {
		return b.local
	}
	if meanBelow(a.pkgFee, a.pkgN, b.pkgFee, b.pkgN) {
		return true
	}
	if meanBelow(b.pkgFee, b.pkgN, a.pkgFee, a.pkgN) {
		return false
	}
	return a.arrival > b.arrival
}
func (h evictHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *evictHeap) Push(x any) {
	e := x.(*poolEntry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *evictHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}

// push makes e evictable.
func (h *evictHeap) push(e *poolEntry) { heap.Push(h, e) }

// remove makes e unevictable; it may already be.
func (h *evictHeap) remove(e *poolEntry) {
	if e.heapIdx >= 0 {
		heap.Remove(h, e.heapIdx)
	}
}

// min returns the first entry to evict, or nil.
func (h evictHeap) min() *poolEntry {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
