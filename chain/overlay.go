package chain

import (
	"fmt"
	"maps"
)

// stateReader is the read side of a Store, also served by an overlay.
type stateReader interface {
	AccountReader
	Tip() (Hash, error)
	Meta(Hash) (*BlockMeta, error)
	Block(Hash) (*Block, error)
	MainHash(height uint64) (Hash, error)
	Undo(Hash) (*Undo, error)
	TxLocation(Hash) (Hash, error)
}

// overlay is a Batch under construction whose reads see its own writes
// first, then its base: the store, or an enclosing overlay. The chain
// validates a block or a reorg in an overlay and either merges it into its
// base or drops it, so a failed reorg leaves nothing behind.
type overlay struct {
	base stateReader
	b    *Batch
	// ids holds the transaction ids of blocks checked in this pass
	// (sanity hashed them for the merkle root), so connecting them
	// does not hash every transaction again. Not written to the store.
	ids map[Hash][]Hash
	// read holds accounts read ahead from the base (readAhead) by an
	// overlay on the store: committed state, which cannot change while
	// the chain's lock is held and the overlay lives. Not written.
	read map[string]Account
	// accounts, on an overlay on the store made under the chain's lock,
	// is the chain's account cache: readAhead takes what it holds
	// rather than read the store (see accountCache.fill).
	accounts *accountCache
}

// storeViewer is the part of a Store that reads many records in one
// read transaction.
type storeViewer interface {
	View(fn func(StoreView) error) error
}

// readAhead reads every address of addrs that no overlay from o down
// holds, from the account cache if the bottom overlay has it, the rest
// in one store view, so that connecting a block costs at most one read
// transaction instead of one per address it touches.
func (o *overlay) readAhead(addrs []string) error {
	bottom := o
	for {
		next, ok := bottom.base.(*overlay)
		if !ok {
			break
		}
		bottom = next
	}
	sv, ok := bottom.base.(storeViewer)
	if !ok {
		return nil
	}
	var missing []string
	seen := make(map[string]struct{}, len(addrs))
	for _, a := range addrs {
		if _, dup := seen[a]; dup {
			continue // a coinbase recipient or a busy wallet, read once
		}
		seen[a] = struct{}{}
		if !o.holds(a) {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if bottom.read == nil {
		bottom.read = make(map[string]Account, len(missing))
	}
	if bottom.accounts != nil {
		if missing = bottom.accounts.fill(missing, bottom.read); len(missing) == 0 {
			return nil
		}
	}
	err := sv.View(func(v StoreView) error {
		for _, a := range missing {
			acc, err := v.Account(a)
			if err != nil {
				return err
			}
			bottom.read[a] = acc
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	return nil
}

// holds reports whether o or an overlay below it answers for addr
// without reading the store.
func (o *overlay) holds(addr string) bool {
	for r := o; r != nil; {
		if _, ok := r.b.Accounts[addr]; ok {
			return true
		}
		if _, ok := r.read[addr]; ok {
			return true
		}
		r, _ = r.base.(*overlay)
	}
	return false
}

// noteIDs remembers the transaction ids of block h; nil is ignored.
func (o *overlay) noteIDs(h Hash, ids []Hash) {
	if ids == nil {
		return
	}
	if o.ids == nil {
		o.ids = make(map[Hash][]Hash)
	}
	o.ids[h] = ids
}

// txIDs returns the transaction ids of b, whose hash is h: those sanity
// computed in this pass, else hashed now. The ids are noted in the
// process's root overlay and a block connects in a child of it (the
// reorg's), so the enclosing overlays are asked too.
func (o *overlay) txIDs(h Hash, b *Block) []Hash {
	for r := o; r != nil; {
		if ids, ok := r.ids[h]; ok && len(ids) == len(b.Transactions) {
			return ids
		}
		r, _ = r.base.(*overlay)
	}
	return TxIDs(b.Transactions)
}

func newOverlay(base stateReader) *overlay { return &overlay{base: base, b: NewBatch()} }

func (o *overlay) Tip() (Hash, error) {
	if !o.b.Tip.IsZero() {
		return o.b.Tip, nil
	}
	return o.base.Tip()
}

func (o *overlay) Meta(h Hash) (*BlockMeta, error) {
	if m, ok := o.b.Metas[h]; ok {
		if m == nil {
			return nil, fmt.Errorf("meta %s: %w", h.Short(), ErrNotFound)
		}
		return m, nil
	}
	return o.base.Meta(h)
}

func (o *overlay) Block(h Hash) (*Block, error) {
	if b, ok, err := o.pendingBlock(h); ok {
		return b, err
	}
	return o.base.Block(h)
}

// pendingBlock returns the block h as this overlay or one it is built on
// holds it (ok), or ok false if none of them writes or deletes it: it is
// then the store's to read.
func (o *overlay) pendingBlock(h Hash) (b *Block, ok bool, err error) {
	for ; o != nil; o, _ = o.base.(*overlay) {
		if b, ok := o.b.Blocks[h]; ok {
			if b == nil {
				return nil, true, fmt.Errorf("block %s: %w", h.Short(), ErrNotFound)
			}
			return b, true, nil
		}
	}
	return nil, false, nil
}

func (o *overlay) MainHash(height uint64) (Hash, error) {
	if h, ok := o.b.Main[height]; ok {
		if h.IsZero() {
			return h, fmt.Errorf("main chain height %d: %w", height, ErrNotFound)
		}
		return h, nil
	}
	return o.base.MainHash(height)
}

func (o *overlay) Account(addr string) (Account, error) {
	if a, ok := o.b.Accounts[addr]; ok {
		return a, nil
	}
	if a, ok := o.read[addr]; ok {
		return a, nil
	}
	return o.base.Account(addr)
}

func (o *overlay) Undo(h Hash) (*Undo, error) {
	if u, ok := o.b.Undos[h]; ok {
		if u == nil {
			return nil, fmt.Errorf("undo %s: %w", h.Short(), ErrNotFound)
		}
		return u, nil
	}
	return o.base.Undo(h)
}

func (o *overlay) TxLocation(id Hash) (Hash, error) {
	if h, ok := o.b.TxIndex[id]; ok {
		if h.IsZero() {
			return h, fmt.Errorf("transaction %s: %w", id.Short(), ErrNotFound)
		}
		return h, nil
	}
	return o.base.TxLocation(id)
}

// merge moves every write of child into o. child must be built on o, and
// is not used after: a map o has nothing in yet is taken whole, not
// copied (a block's thousands of accounts and index entries).
func (o *overlay) merge(child *overlay) {
	mergeInto(&o.b.Blocks, child.b.Blocks)
	mergeInto(&o.b.Metas, child.b.Metas)
	mergeInto(&o.b.Undos, child.b.Undos)
	mergeInto(&o.b.Main, child.b.Main)
	mergeInto(&o.b.Accounts, child.b.Accounts)
	mergeInto(&o.b.TxIndex, child.b.TxIndex)
	if !child.b.Tip.IsZero() {
		o.b.Tip = child.b.Tip
	}
}

// mergeInto copies src into *dst, or makes src *dst if *dst is empty.
func mergeInto[K comparable, V any](dst *map[K]V, src map[K]V) {
	if len(*dst) == 0 {
		*dst = src
		return
	}
	maps.Copy(*dst, src)
}

// empty reports whether the overlay holds no writes.
func (o *overlay) empty() bool {
	b := o.b
	return len(b.Blocks)+len(b.Metas)+len(b.Undos)+len(b.Main)+len(b.Accounts)+len(b.TxIndex) == 0 && b.Tip.IsZero()
}
