package chain

import (
	"errors"
	"fmt"
)

// MaxLocatorLen bounds a block locator: ten recent hashes, then one per
// doubling step back to genesis, covers any chain shorter than 2^50.
const MaxLocatorLen = 64

// Locator returns hashes of main-chain blocks, dense near the tip and
// exponentially sparser toward genesis (always the last entry). A peer
// finds the first one it has on its own main chain: the fork point.
func (c *Chain) Locator() ([]Hash, error) {
	tip := c.Tip()
	var out []Hash
	step := uint64(1)
	for height := tip.Height(); ; {
		h, err := c.store.MainHash(height)
		if err != nil {
			return nil, fmt.Errorf("locator at %d: %w", height, err)
		}
		out = append(out, h)
		if height == 0 || len(out) == MaxLocatorLen-1 {
			break
		}
		if len(out) >= 10 {
			step *= 2
		}
		if height < step {
			height = 0
		} else {
			height -= step
		}
	}
	if out[len(out)-1] != c.p.NetworkID() {
		out = append(out, c.p.NetworkID())
	}
	return out, nil
}

// HeadersAfter returns up to max main-chain headers following the first
// locator hash found on the main chain, stopping after stop if it is met.
// This is what a peer that sent the locator is missing.
//
// A locator with no hash on the main chain gets no headers. Answering from
// genesis instead would send headers whose first parent, genesis, is not in
// the locator, which the client must refuse as unrequested (it checks the
// answer builds on a hash it sent); a locator that holds genesis, as ours
// always does, is never in this case, because genesis is on every main
// chain of the network.
func (c *Chain) HeadersAfter(locator []Hash, stop Hash, max int) ([]Header, error) {
	if len(locator) > MaxLocatorLen {
		return nil, fmt.Errorf("locator has %d hashes, limit %d", len(locator), MaxLocatorLen)
	}
	// prev is the hash the answer builds on: the locator hash found, not
	// a second read of the main chain at its height, which a reorg in
	// between could change and make the answer look unrequested.
	start, prev, found := uint64(0), Hash{}, false
	for _, h := range locator {
		m, err := c.store.Meta(h)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if mh, err := c.store.MainHash(m.Height()); err == nil && mh == h {
			start, prev, found = m.Height(), h, true
			break
		}
	}
	if !found {
		return nil, nil
	}
	tip := c.Tip().Height()
	var out []Header
	for height := start + 1; height <= tip && len(out) < max; height++ {
		h, err := c.store.MainHash(height)
		if errors.Is(err, ErrNotFound) {
			break // the main chain got shorter under us
		} else if err != nil {
			return nil, err
		}
		m, err := c.store.Meta(h)
		if err != nil {
			return nil, err
		}
		if m.Header.PrevHash != prev {
			break // a reorg under us: what we have so far still links
		}
		out = append(out, m.Header)
		prev = h
		if h == stop {
			break
		}
	}
	return out, nil
}
