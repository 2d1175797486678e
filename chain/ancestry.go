package chain

import (
	"fmt"
	"sync"
)

// ancestorCacheSize bounds the headers an ancestorCache keeps: a few
// median-time windows, so the windows of the tip, of a template on it and
// of the blocks of a sync batch stay in it while they are walked.
const ancestorCacheSize = 64

// ancestorCache keeps the headers that ancestry walks read, by hash. The
// median time past of one block reads its ten parents, and a mined block
// has it computed three times (the template, the precheck, the connect)
// from ten store reads each (a read transaction and a block record
// decoded every time), about a tenth of the CPU of one /mine
// (docs/benchmarks.md). Consecutive blocks share all but one of those
// parents, and that one is the block connected last, whose header
// processOne adds.
//
// A header is named by its hash, so an entry is never stale: whatever
// happens to the block (a reorganisation, pruning, a commit that fails),
// the header of that hash is the same bytes, and the walk reaches it only
// from a child that names it. So the cache needs no invalidation, only a
// bound. Entries are read from the chain's store or overlays, or are a
// block's own header once it passed its context checks (processOne,
// proof of work included): a peer cannot fill the cache with headers
// that cost nothing.
//
// Concurrency: safe from any goroutine (the template and the precheck run
// outside the chain's lock).
//
// A header it hands out is shared, never changed: the rules only read
// the ancestors they walk. A copy per step had been a block's most
// frequent allocation (two median-time walks of ten parents, in the
// gossip precheck and the chain's).
//
// It also keeps the median windows of the last few blocks asked for
// (MedianTime's timeWindow), by hash, on the same grounds: a hash names
// its ancestors, so their timestamps never change.
type ancestorCache struct {
	mu     sync.Mutex
	byHash map[Hash]*Header
	ring   [ancestorCacheSize]Hash // insertion order, for eviction
	n      int                     // entries inserted so far
	// windows is a ring of the last median windows kept.
	windows [medianCacheSize]struct {
		h Hash
		w timeWindow
	}
	nw int // windows kept so far
}

// medianCacheSize is how many median windows an ancestorCache keeps: the
// tip's and its parent's, a branch's or two, a template's.
const medianCacheSize = 6

func newAncestorCache() *ancestorCache {
	return &ancestorCache{byHash: make(map[Hash]*Header, ancestorCacheSize)}
}

func (ac *ancestorCache) get(h Hash) (*Header, bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	hdr, ok := ac.byHash[h]
	return hdr, ok
}

// add keeps hdr as the header of h, evicting the oldest entry when full.
func (ac *ancestorCache) add(h Hash, hdr *Header) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if _, ok := ac.byHash[h]; ok {
		return
	}
	slot := ac.n % ancestorCacheSize
	if ac.n >= ancestorCacheSize {
		delete(ac.byHash, ac.ring[slot])
	}
	ac.ring[slot] = h
	c := *hdr
	ac.byHash[h] = &c
	ac.n++
}

func (ac *ancestorCache) window(h Hash) (timeWindow, bool) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if i := ac.findWindow(h); i >= 0 {
		return ac.windows[i].w, true
	}
	return timeWindow{}, false
}

func (ac *ancestorCache) keepWindow(h Hash, w timeWindow) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.findWindow(h) >= 0 {
		// Kept already (validators of two blocks on one parent ask at
		// once): a second copy would push out another window.
		return
	}
	k := &ac.windows[ac.nw%medianCacheSize]
	k.h, k.w = h, w
	ac.nw++
}

// findWindow is the index of h's kept window, or -1. ac.mu is held.
func (ac *ancestorCache) findWindow(h Hash) int {
	for i := range min(ac.nw, medianCacheSize) {
		if ac.windows[i].h == h {
			return i
		}
	}
	return -1
}

// ancestry answers HeaderSource queries by walking parent links in r,
// through cache when it is not nil.
type ancestry struct {
	r     stateReader
	cache *ancestorCache
}

func (a ancestry) window(tip Hash) (timeWindow, bool) {
	if a.cache == nil {
		return timeWindow{}, false
	}
	return a.cache.window(tip)
}

func (a ancestry) keepWindow(tip Hash, w timeWindow) {
	if a.cache != nil {
		a.cache.keepWindow(tip, w)
	}
}

// ancestry returns the HeaderSource of r for the chain's rules.
func (c *Chain) ancestry(r stateReader) ancestry { return ancestry{r: r, cache: c.ancestors} }

func (a ancestry) Ancestor(tip *Header, height uint64) (*Header, error) {
	if height > tip.Height {
		return nil, fmt.Errorf("ancestor at %d of a block at %d", height, tip.Height)
	}
	h := tip
	for h.Height > height {
		parent, err := a.parent(h)
		if err != nil {
			return nil, fmt.Errorf("ancestor of %d: %w", h.Height, err)
		}
		h = parent
	}
	return h, nil
}

// parent returns the header h names as its parent.
func (a ancestry) parent(h *Header) (*Header, error) {
	if a.cache != nil {
		if hdr, ok := a.cache.get(h.PrevHash); ok {
			return hdr, nil
		}
	}
	m, err := a.r.Meta(h.PrevHash)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		a.cache.add(h.PrevHash, &m.Header)
	}
	return &m.Header, nil
}
