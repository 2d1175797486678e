package chain

import (
	"errors"
	"fmt"
	"slices"
)

// MaxLocatorLen bounds a block locator: ten recent hashes, then one per
// doubling step back to genesis, covers any chain shorter than 2^50.
const MaxLocatorLen = 64

// Locator returns hashes of main-chain blocks, dense near the tip and
// exponentially sparser toward genesis (always the last entry). A peer
// finds the first one it has on its own main chain: the fork point. All
// reads are one store view, so the locator describes one main chain even
// if a reorg commits meanwhile.
func (c *Chain) Locator() ([]Hash, error) {
	tip := c.Tip()
	var out []Hash
	err := c.store.View(func(v StoreView) error {
		step := uint64(1)
		for height := tip.Height(); ; {
			h, err := v.MainHash(height)
			if err != nil {
				return fmt.Errorf("locator at %d: %w", height, err)
			}
			out = append(out, h)
			if height == 0 || len(out) == MaxLocatorLen-1 {
				return nil
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
	})
	if err != nil {
		return nil, err
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
//
// It is what a peer's GetHeaders costs us, so every read is in one store
// view: one read transaction for the whole answer (up to 64 locator
// lookups and 2,000 headers), not one per read. The view also makes the
// answer one main chain: a reorg committed meanwhile is not seen, so the
// headers always link.
func (c *Chain) HeadersAfter(locator []Hash, stop Hash, max int) ([]Header, error) {
	if len(locator) > MaxLocatorLen {
		return nil, fmt.Errorf("locator has %d hashes, limit %d", len(locator), MaxLocatorLen)
	}
	var out []Header
	err := c.store.View(func(v StoreView) error {
		start, found, err := forkPoint(v, locator)
		if err != nil || !found {
			return err
		}
		out = make([]Header, 0, min(max, headerChunkLen))
		// Whole runs from the cache while they reach (headercache.go).
		from := start + 1
		for len(out) < max {
			h := from + uint64(len(out))
			ch, err := c.headers.chunk(v, h/headerChunkLen)
			if err != nil {
				return err
			}
			if ch == nil {
				break
			}
			i := int(h % headerChunkLen)
			j := min(headerChunkLen, i+max-len(out))
			if k := slices.Index(ch.hashes[i:j], stop); k >= 0 {
				out = append(out, ch.headers[i:i+k+1]...)
				return nil
			}
			out = append(out, ch.headers[i:j]...)
		}
		hashes, err := v.MainHashes(from+uint64(len(out)), max-len(out))
		if err != nil {
			return err
		}
		for _, h := range hashes {
			m, err := v.Meta(h)
			if err != nil {
				return err
			}
			out = append(out, m.Header)
			if h == stop {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forkPoint returns the height of the first locator hash that is a block
// on v's main chain, and whether there is one (0, false if not).
func forkPoint(v StoreView, locator []Hash) (uint64, bool, error) {
	for _, h := range locator {
		m, err := v.Meta(h)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return 0, false, err
		}
		if mh, err := v.MainHash(m.Height()); err == nil && mh == h {
			return m.Height(), true, nil
		}
	}
	return 0, false, nil
}
