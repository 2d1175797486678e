package chain

import "sync"

// tipStore is the chain's store with the committed tip's hash and meta
// kept in memory. Connecting a block on the tip read them from the store
// seven times (the precheck's parent, the fork choice's tip twice, the
// fork point's main hash, the reorg's walk, the change's description),
// and the tip's hash twice more: each a read transaction, and a meta a
// block record's header decoded too. That was 7 of a mined block's 11
// counted store reads, and with the Tip reads half of their CPU, about
// 3 % of one /mine's (docs/benchmarks.md, "The committed tip read from
// memory"); a block mined, gossiped or synced onto the tip has the tip
// for its parent.
//
// The copy is written through, never filled by a read: Apply forgets it
// before the commit and sets it from the batch after the commit
// succeeded, so it only ever holds what the store holds (a read racing a
// commit sees the old or the new tip, as a store read would). The chain
// is the only writer of the store's tip, metas, main chain and accounts
// while it is open (the store writes its transaction index on its own
// schedule, which none of these depend on). A failed commit leaves it
// forgotten: the chain takes no write after one (storefail.go).
//
// Concurrency: safe from any goroutine; Apply calls are serialized.
type tipStore struct {
	Store

	apply sync.Mutex // serializes Apply, so a batch's tip follows its predecessor's

	mu   sync.Mutex
	meta *BlockMeta // the committed tip's; nil: not known, every read goes to the store
}

// newTipStore wraps st, its tip not known yet.
func newTipStore(st Store) *tipStore { return &tipStore{Store: st} }

// set makes m the known committed tip (nil: not known).
func (t *tipStore) set(m *BlockMeta) {
	if m != nil {
		m = m.Clone()
	}
	t.mu.Lock()
	t.meta = m
	t.mu.Unlock()
}

// known returns a copy of the committed tip's meta, if it is known.
func (t *tipStore) known() (*BlockMeta, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.meta == nil {
		return nil, false
	}
	return t.meta.Clone(), true
}

func (t *tipStore) Tip() (Hash, error) {
	if m, ok := t.known(); ok {
		return m.Hash, nil
	}
	return t.Store.Tip()
}

func (t *tipStore) Meta(h Hash) (*BlockMeta, error) {
	if m, ok := t.known(); ok && m.Hash == h {
		return m, nil
	}
	return t.Store.Meta(h)
}

// MainHash answers the tip's own height from memory: the committed tip
// is the main chain's block there.
func (t *tipStore) MainHash(height uint64) (Hash, error) {
	if m, ok := t.known(); ok && m.Height() == height {
		return m.Hash, nil
	}
	return t.Store.MainHash(height)
}

// Apply commits b and then knows the tip b leaves: b's new tip with the
// meta b writes for it, or the same tip as before when b names none and
// does not write its meta. Anything else (a tip whose meta b does not
// carry, a failed commit) leaves the tip unknown until the next Apply.
func (t *tipStore) Apply(b *Batch) error {
	t.apply.Lock()
	defer t.apply.Unlock()
	t.mu.Lock()
	prev := t.meta
	t.meta = nil
	t.mu.Unlock()
	if err := t.Store.Apply(b); err != nil {
		return err
	}
	h := b.Tip
	if h.IsZero() {
		if prev == nil {
			return nil
		}
		h = prev.Hash
	}
	next, written := b.Metas[h]
	if !written && prev != nil && prev.Hash == h {
		next = prev
	}
	t.set(next) // nil when b deletes the meta or does not carry it
	return nil
}
