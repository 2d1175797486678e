package chain

import "container/heap"

// Select returns up to maxTxs pending transactions of at most maxBytes
// encoded bytes in all, for a block template: by chunk, the best-paying
// first (protocol.md §11.3). A sender's run (its pending transactions
// whose parents are taken, in nonce order) is cut into chunks of
// non-increasing mean fee: each transaction joins the chunk before it
// while it lifts that chunk's mean (a child pays for its parents in the
// same chain); the chunk on offer is the first. Among
// the senders' chunks on offer, the one of highest mean fee is taken
// whole, the earliest arrival of a first transaction first among equal
// means; never a sender's nonce N+1 before N, and never a transaction
// before the parents whose credits it claimed (see Mempool): a
// transaction whose parents are not all taken ends its sender's chunks
// until they are. Applied in the returned order to the state the pool was
// last reconciled with, every transaction is valid. A chunk that does not
// fit the count or the room left is skipped along with its sender's
// later transactions and its children, and other senders' chunks may
// still fill the room.
//
// The fee is the whole fee, not fee per byte: transactions differ in size
// by at most the length of two names.
func (m *Mempool) Select(maxTxs, maxBytes int) []*Transaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.selectLocked(maxTxs, maxBytes)
}

// selectLocked is Select; m.mu is held. It keeps a heap of each sender's
// chunk on offer (of every transaction, on unsigned networks, where no
// order binds a sender). A sender's chunks are built as its chain
// becomes takeable, one transaction at a time, merging the last chunk
// into the one before while it pays more (the chain's upper hull): the
// chunks of a longer run are those of the shorter one extended, so a
// parent taken only extends the run it held back, and taking the first
// chunk leaves the rest as they are. A transaction with parents not
// taken yet waits, parked under each of them, until the last is taken.
// Entries record the pass that took them, so no set is allocated for
// that.
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
	// And one for the chunks, kept by the pool from pass to pass (every
	// slot is written before it is read): a chain has at most a chunk a
	// transaction, and its chunks never outgrow that share (taking one
	// from the front takes its transactions with it). Grown by append,
	// they were most of Select's allocations; allocated afresh, zeroing
	// them cost more than the chunks' own work for long chains.
	if cap(m.selectChunks) < len(m.byID) {
		m.selectChunks = make([]selectChunk, len(m.byID))
	}
	chunks := m.selectChunks[:len(m.byID)]
	for _, q := range m.bySender {
		if m.p.Signed {
			items = append(items, selectItem{q: q, idx: -1, chunks: chunks[:0:len(q)]})
			chunks = chunks[len(q):]
			continue
		}
		for i := range q {
			items = append(items, selectItem{q: q[i : i+1], idx: -1, chunks: chunks[:0:1]})
			chunks = chunks[1:]
		}
	}
	var parked map[*poolEntry][]*selectItem
	// extend adds the item's next transactions to its chunks while their
	// parents are taken, parking the first that waits under each parent
	// not taken yet.
	extend := func(it *selectItem) {
		for it.avail < len(it.q) {
			e := it.q[it.avail]
			for _, p := range e.parents {
				if p.taken != pass {
					if parked == nil {
						parked = make(map[*poolEntry][]*selectItem)
					}
					parked[p] = append(parked[p], it)
					it.waiting++
				}
			}
			if it.waiting > 0 {
				return
			}
			it.avail++
			it.push(e)
		}
	}
	h := make(selectHeap, 0, len(items))
	for i := range items {
		it := &items[i]
		if extend(it); len(it.chunks) > 0 {
			it.idx = len(h)
			h = append(h, it)
		}
	}
	heap.Init(&h)
	out := make([]*Transaction, 0, min(maxTxs, len(m.byID)))
	room := maxBytes
	for h.Len() > 0 && len(out) < maxTxs {
		it := h[0]
		c := it.chunks[0]
		if c.n > maxTxs-len(out) || c.size > room {
			// Its later transactions and its children cannot go
			// before it: the rest of this sender's chain stays out,
			// and its children stay parked.
			heap.Pop(&h)
			it.dropped = true
			continue
		}
		taken := it.q[:c.n]
		it.q, it.avail, it.chunks = it.q[c.n:], it.avail-c.n, it.chunks[1:]
		for _, e := range taken {
			out = append(out, e.tx)
			e.taken = pass
		}
		room -= c.size
		if len(it.chunks) > 0 {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		for _, e := range taken {
			ws, ok := parked[e]
			if !ok {
				continue
			}
			delete(parked, e)
			for _, w := range ws {
				if w.waiting--; w.waiting > 0 || w.dropped {
					continue
				}
				extend(w)
				if w.idx < 0 {
					heap.Push(&h, w)
				} else {
					heap.Fix(&h, w.idx)
				}
			}
		}
	}
	return out
}

// selectItem is what is left of one sender's chain in Select: q[:avail]
// may be taken, cut into chunks; q[avail], if any, waits for waiting
// parents.
type selectItem struct {
	q       []*poolEntry
	avail   int
	chunks  []selectChunk
	waiting int
	idx     int  // in the heap, -1 when not there
	dropped bool // its chunk on offer did not fit: none of it is taken
}

// selectChunk is a run of a sender's chain taken whole: its count, fees
// and encoded bytes. The sum does not overflow: on signed networks a
// sender's fees come out of its balance and the credits it claimed, all
// within the coins ever issued, and on unsigned ones a chunk is one
// transaction. Its product with a count is taken in 128 bits.
type selectChunk struct {
	n    int
	fee  uint64
	size int
	// first is the arrival of its first transaction, for ties.
	first uint64
}

// push adds e, the next takeable transaction of the chain, as a chunk of
// its own, then merges the last chunk into the one before while it pays
// more per transaction: the means end non-increasing.
func (it *selectItem) push(e *poolEntry) {
	it.chunks = append(it.chunks, selectChunk{n: 1, fee: e.tx.Fee, size: e.size, first: e.arrival})
	for k := len(it.chunks) - 1; k > 0; k-- {
		a, b := &it.chunks[k-1], it.chunks[k]
		if !meanBelow(a.fee, uint64(a.n), b.fee, uint64(b.n)) {
			break
		}
		a.n, a.fee, a.size = a.n+b.n, a.fee+b.fee, a.size+b.size
		it.chunks = it.chunks[:k]
	}
}

// selectHeap is a max-heap of chains by the mean fee of the chunk on
// offer, the earlier arrival of its first transaction first on a tie.
// Arrivals are unique, so the order is total and Select is
// deterministic.
type selectHeap []*selectItem

func (h selectHeap) Len() int { return len(h) }
func (h selectHeap) Less(i, j int) bool {
	a, b := &h[i].chunks[0], &h[j].chunks[0]
	if a.n == 1 && b.n == 1 {
		// The common case, a transaction each: no products.
		if a.fee != b.fee {
			return a.fee > b.fee
		}
		return a.first < b.first
	}
	if c := meanCmp(a.fee, uint64(a.n), b.fee, uint64(b.n)); c != 0 {
		return c > 0
	}
	return a.first < b.first
}
func (h selectHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *selectHeap) Push(x any) {
	it := x.(*selectItem)
	it.idx = len(*h)
	*h = append(*h, it)
}
func (h *selectHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	it.idx = -1
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
	if c := meanCmp(a.pkgFee, a.pkgN, b.pkgFee, b.pkgN); c != 0 {
		return c < 0
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
