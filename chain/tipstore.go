package chain

import (
	"errors"
	"fmt"
	"sync"
)

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
// It also remembers which hashes the store just said it has no meta for:
// a gossiped block's hash is looked up four times before its commit (the
// gossip validator's precheck and its Validated, the chain's precheck
// and checkKnown), each a read transaction and a miss through bbolt's
// pages, about a sixth of a 1 KiB block's relay hop (docs/benchmarks.md).
// An answer is kept only while no Apply has begun since the read that
// gave it (gen), so it is always what the store would answer now: the
// chain is the only writer of metas, through Apply.
//
// Concurrency: safe from any goroutine; Apply calls are serialized.
type tipStore struct {
	Store

	apply sync.Mutex // serializes Apply, so a batch's tip follows its predecessor's

	mu   sync.Mutex
	meta *BlockMeta // the committed tip's; nil: not known, every read goes to the store
	// gen counts the starts and ends of Applies: odd while one runs.
	gen uint64
	// absent holds hashes the store had no meta for, read at absentGen.
	absent    map[Hash]struct{}
	absentGen uint64
}

// maxAbsent bounds tipStore.absent: a hash stays only until the next
// Apply, so a few blocks' worth of lookups suffice; lookups of hashes a
// peer makes up cost it a store read each and cannot grow the set.
const maxAbsent = 64

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

// knownTip returns the committed tip's hash and height, if known,
// without copying its meta.
func (t *tipStore) knownTip() (Hash, uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.meta == nil {
		return Hash{}, 0, false
	}
	return t.meta.Hash, t.meta.Height(), true
}

func (t *tipStore) Tip() (Hash, error) {
	if h, _, ok := t.knownTip(); ok {
		return h, nil
	}
	return t.Store.Tip()
}

func (t *tipStore) Meta(h Hash) (*BlockMeta, error) {
	t.mu.Lock()
	switch {
	case t.meta != nil && t.meta.Hash == h:
		m := t.meta.Clone()
		t.mu.Unlock()
		return m, nil
	case t.absentGen == t.gen && t.gen%2 == 0:
		if _, ok := t.absent[h]; ok {
			t.mu.Unlock()
			return nil, &notFound{what: "meta", h: h}
		}
	}
	gen := t.gen
	t.mu.Unlock()
	m, err := t.Store.Meta(h)
	if errors.Is(err, ErrNotFound) {
		t.noteAbsent(h, gen)
	}
	return m, err
}

// noteAbsent remembers that the store had no meta for h in a read begun
// at gen, if no Apply has begun since (nor was running then).
func (t *tipStore) noteAbsent(h Hash, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen != t.gen || gen%2 != 0 {
		return
	}
	if t.absent == nil || t.absentGen != gen || len(t.absent) >= maxAbsent {
		t.absent, t.absentGen = make(map[Hash]struct{}, 8), gen
	}
	t.absent[h] = struct{}{}
}

// MainHash answers the tip's own height, and those above it, from
// memory: the committed tip is the main chain's block at its height, and
// the main chain has none above (a disconnect deletes its entry).
func (t *tipStore) MainHash(height uint64) (Hash, error) {
	if h, tipHeight, ok := t.knownTip(); ok {
		switch {
		case height == tipHeight:
			return h, nil
		case height > tipHeight:
			return Hash{}, &notFound{what: "height", height: height}
		}
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
	t.gen++ // odd: no absence noted from now on holds
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.gen++
		t.mu.Unlock()
	}()
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

// notFound is ErrNotFound for a block's hash or a height, formatted only
// when printed: a miss is the usual answer where a block's own hash is
// looked up to see whether it is new, several times on each relayed
// block, and formatting each cost about as much as the lookup.
type notFound struct {
	what   string
	h      Hash
	height uint64
}

func (e *notFound) Error() string {
	if e.h.IsZero() {
		return fmt.Sprintf("%s %d: %v", e.what, e.height, ErrNotFound)
	}
	return fmt.Sprintf("%s %s: %v", e.what, e.h.Short(), ErrNotFound)
}

func (e *notFound) Unwrap() error { return ErrNotFound }
