package chain

import (
	"fmt"
	"math/big"
)

// HeaderChain checks a run of headers a peer offers before any of their
// bodies is fetched (headers-first sync, protocol.md §17.10): each header
// must follow the one before (the first, a stored block), pass header
// sanity, and pass context against its parent header with the targets
// and median times the chain's rules give, all without a body. The run's
// cumulative work is kept, so the syncer can tell whether the branch
// would beat the tip before it asks for a byte of body. Not safe for
// concurrent use; it holds the run's headers in memory, so the caller
// bounds how many it adds.
type HeaderChain struct {
	c        *Chain
	byHash   map[Hash]*Header
	last     Header
	lastHash Hash
	work     *big.Int
}

// NewHeaderChain starts a run on the stored block from, whose cumulative
// work it starts from.
func (c *Chain) NewHeaderChain(from Hash) (*HeaderChain, error) {
	m, err := c.store.Meta(from)
	if err != nil {
		return nil, fmt.Errorf("start of headers %s: %w", from.Short(), err)
	}
	if m.Status&StatusInvalid != 0 {
		return nil, ruleError(ErrKnownInvalid, "headers start at invalid block %s", from.Short())
	}
	return &HeaderChain{c: c, byHash: make(map[Hash]*Header), last: m.Header, lastHash: from,
		work: new(big.Int).Set(m.Work)}, nil
}

// Last returns the hash of the run's last header (its start while empty).
func (hc *HeaderChain) Last() Hash { return hc.lastHash }

// Len returns how many headers the run holds.
func (hc *HeaderChain) Len() int { return len(hc.byHash) }

// Work returns the cumulative work at the run's last header. The caller
// must not modify it.
func (hc *HeaderChain) Work() *big.Int { return hc.work }

// Extend checks hdrs, in order, as the continuation of the run and adds
// those that pass; it stops at the first that fails and returns its
// error: ErrDoesNotLink when it does not follow the run, a rule error
// when it breaks header sanity or context, ErrKnownInvalid when the
// chain remembers it (or its parent) as invalid.
func (hc *HeaderChain) Extend(hdrs []Header) error {
	now := hc.c.now()
	// The invalid set has a lock of its own, not the chain's: a syncer
	// extends its run while the chain commits the blocks before it, and
	// a wait for the chain's lock would be a wait for a commit.
	hashes := make([]Hash, len(hdrs))
	for i := range hdrs {
		hashes[i] = hdrs[i].Hash()
	}
	bad := -1
	for i := range hdrs {
		if hc.c.invalid.has(hashes[i]) || hc.c.invalid.has(hdrs[i].PrevHash) {
			bad = i
			break
		}
	}
	for i := range hdrs {
		h := hdrs[i]
		hash := hashes[i]
		if h.PrevHash != hc.lastHash {
			return fmt.Errorf("%w: header %s at height %d follows %s, not %s", ErrDoesNotLink,
				hash.Short(), h.Height, h.PrevHash.Short(), hc.lastHash.Short())
		}
		if err := CheckHeaderSanity(hc.c.p, &h); err != nil {
			return err
		}
		if i == bad {
			return ruleError(ErrKnownInvalid, "header %s failed validation before", hash.Short())
		}
		if err := CheckHeaderContext(hc.c.p, hc, &h, &hc.last, now); err != nil {
			return err
		}
		hc.byHash[hash] = &h
		hc.last, hc.lastHash = h, hash
		hc.work.Add(hc.work, workForBits(h.Bits))
	}
	return nil
}

// ForgetStored drops the run's headers at and below the tip when the tip
// is on the run: those blocks are stored, and Ancestor reads them from
// the store. A syncer that keeps extending one run while its bodies
// connect so holds only the headers it has not connected yet.
func (hc *HeaderChain) ForgetStored() {
	tip := hc.c.Tip()
	if _, on := hc.byHash[tip.Hash]; !on {
		return
	}
	for h, hdr := range hc.byHash {
		if hdr.Height <= tip.Header.Height {
			delete(hc.byHash, h)
		}
	}
}

// Ancestor serves the retarget and median-time rules: the run's own
// headers first, then the store.
func (hc *HeaderChain) Ancestor(tip *Header, height uint64) (*Header, error) {
	if height > tip.Height {
		return nil, fmt.Errorf("ancestor at %d of a header at %d", height, tip.Height)
	}
	h := tip
	for h.Height > height {
		if p, ok := hc.byHash[h.PrevHash]; ok {
			h = p
			continue
		}
		m, err := hc.c.store.Meta(h.PrevHash)
		if err != nil {
			return nil, fmt.Errorf("ancestor of %d: %w", h.Height, err)
		}
		h = &m.Header
	}
	return h, nil
}
