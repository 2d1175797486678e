package chain

import (
	"math/big"
	"sync"
)

// orphanPool holds blocks whose parent is not known yet, bounded by count
// and total encoded size; when full, the oldest block leaves first. Blocks
// enter only after their sanity checks, so filling the pool costs a peer
// real proof of work, and a block taken out of the pool is not checked
// again: its sanity held when it entered. It has a mutex of its own, so
// that a header's precheck reads it without waiting for the chain's lock,
// which a store commit holds; changes happen under the chain's lock too,
// so a change that takes several calls is seen whole by the chain.
type orphanPool struct {
	mu                 sync.Mutex
	maxCount, maxBytes int
	bytes              int
	byHash             map[Hash]*orphan
	byParent           map[Hash][]Hash
	order              []Hash // insertion order, with removed entries skipped lazily
}

type orphan struct {
	b    *Block
	size int
	// requested: the block came in a sync batch, whose branch the
	// headers proved heavier, so the work gate does not apply to it.
	requested bool
}

func newOrphanPool(maxCount, maxBytes int) *orphanPool {
	return &orphanPool{
		maxCount: maxCount,
		maxBytes: maxBytes,
		byHash:   make(map[Hash]*orphan),
		byParent: make(map[Hash][]Hash),
	}
}

func (p *orphanPool) has(h Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hasLocked(h)
}

func (p *orphanPool) hasLocked(h Hash) bool { _, ok := p.byHash[h]; return ok }

func (p *orphanPool) add(b *Block, h Hash, requested bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hasLocked(h) {
		return
	}
	size := b.EncodedSize()
	if size > p.maxBytes || p.maxCount <= 0 {
		return
	}
	for len(p.byHash) >= p.maxCount || p.bytes+size > p.maxBytes {
		p.evictOldest()
	}
	p.byHash[h] = &orphan{b: b, size: size, requested: requested}
	p.byParent[b.Header.PrevHash] = append(p.byParent[b.Header.PrevHash], h)
	p.order = append(p.order, h)
	p.bytes += size
}

func (p *orphanPool) evictOldest() {
	for len(p.order) > 0 {
		h := p.order[0]
		p.order = p.order[1:]
		if p.hasLocked(h) {
			p.remove(h)
			return
		}
	}
}

func (p *orphanPool) remove(h Hash) {
	o, ok := p.byHash[h]
	if !ok {
		return
	}
	delete(p.byHash, h)
	p.bytes -= o.size
	prev := o.b.Header.PrevHash
	sibs := p.byParent[prev]
	for i, s := range sibs {
		if s == h {
			sibs = append(sibs[:i], sibs[i+1:]...)
			break
		}
	}
	if len(sibs) == 0 {
		delete(p.byParent, prev)
	} else {
		p.byParent[prev] = sibs
	}
	// Drop the lazily skipped entries once they dominate the order slice.
	if len(p.order) > 2*len(p.byHash)+64 {
		live := p.order[:0]
		for _, x := range p.order {
			if p.hasLocked(x) {
				live = append(live, x)
			}
		}
		p.order = live
	}
}

// takeChildren removes and returns the orphans whose parent is h.
func (p *orphanPool) takeChildren(h Hash) []*orphan {
	p.mu.Lock()
	defer p.mu.Unlock()
	hs := p.byParent[h]
	if len(hs) == 0 {
		return nil
	}
	out := make([]*orphan, 0, len(hs))
	for _, c := range append([]Hash(nil), hs...) {
		out = append(out, p.byHash[c])
		p.remove(c)
	}
	return out
}

// workAbove returns the work of the heaviest chain of orphans that
// descends from h (h itself excluded): what h's branch reaches once they
// connect. The pool holds at most maxCount blocks, so the walk is
// bounded.
func (p *orphanPool) workAbove(h Hash) *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workAboveLocked(h)
}

func (p *orphanPool) workAboveLocked(h Hash) *big.Int {
	best := new(big.Int)
	for _, c := range p.byParent[h] {
		o := p.byHash[c]
		if o == nil {
			continue
		}
		w := p.workAboveLocked(c)
		w.Add(w, workForBits(o.b.Header.Bits))
		if w.Cmp(best) > 0 {
			best = w
		}
	}
	return best
}

// root follows parent links through the pool and returns the first hash
// that is not in it: the missing ancestor.
func (p *orphanPool) root(h Hash) Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i <= len(p.byHash); i++ {
		o, ok := p.byHash[h]
		if !ok {
			return h
		}
		h = o.b.Header.PrevHash
	}
	return h
}

// hashRing is a set of at most n hashes that forgets the oldest first.
// Its mutex is its own, as the orphan pool's is.
type hashRing struct {
	mu   sync.Mutex
	set  map[Hash]struct{}
	ring []Hash
	next int
}

// newHashRing returns a ring of n hashes; one of n ≤ 0 holds none.
func newHashRing(n int) *hashRing {
	n = max(n, 0)
	return &hashRing{set: make(map[Hash]struct{}, n), ring: make([]Hash, 0, n)}
}

func (r *hashRing) has(h Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[h]
	return ok
}

// hasEach sets has[i] for each of hs the set holds, and returns how
// many it does.
func (r *hashRing) hasEach(hs []Hash, has []bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i := range hs {
		if _, ok := r.set[hs[i]]; ok {
			has[i] = true
			n++
		}
	}
	return n
}

func (r *hashRing) add(h Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[h]; ok || cap(r.ring) == 0 {
		return
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, h)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = h
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[h] = struct{}{}
}
