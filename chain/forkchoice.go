package chain

import "fmt"

// The fork-choice rule: the main chain is the valid branch with the most
// cumulative work. A branch must have strictly more work than the tip to
// replace it, so of two branches with equal work the one seen first stays,
// as in Bitcoin: switching on a tie would gain no work and only make nodes
// that saw the rivals in different orders churn. A branch that turns out to
// hold an invalid block is cut back to its heaviest valid part, which is
// then weighed against the tip in the same way.

// cmpWork compares the cumulative work of two blocks.
func cmpWork(a, b *BlockMeta) int { return a.Work.Cmp(b.Work) }

// maybeReorg moves the main chain onto meta's branch if it has more work
// than the tip. If a block of that branch fails to connect, it and its
// descendants are marked invalid and the heaviest valid part of the
// branch is tried instead; the error of the first failure is returned.
func (c *Chain) maybeReorg(root *overlay, meta *BlockMeta) error {
	var firstErr error
	for cand := meta; cand != nil; {
		tip, err := tipMeta(root)
		if err != nil {
			return err
		}
		if cmpWork(cand, tip) <= 0 {
			return firstErr
		}
		child := newOverlay(root)
		bad, err := c.reorgTo(child, tip, cand)
		if err == nil {
			root.merge(child)
			return firstErr
		}
		if bad == nil {
			return err
		}
		if firstErr == nil {
			firstErr = err
		}
		c.log.Debug("block failed to connect", "hash", bad.Hash.Short(), "height", bad.Height(), "reason", err)
		if err := c.markInvalid(root, bad, cand); err != nil {
			return err
		}
		cand, err = root.Meta(bad.Header.PrevHash)
		if err != nil {
			return fmt.Errorf("read parent of invalid block: %w", err)
		}
	}
	return firstErr
}

// tipMeta reads the tip's index entry from r.
func tipMeta(r stateReader) (*BlockMeta, error) {
	h, err := r.Tip()
	if err != nil {
		return nil, fmt.Errorf("read tip: %w", err)
	}
	m, err := r.Meta(h)
	if err != nil {
		return nil, fmt.Errorf("read tip meta: %w", err)
	}
	return m, nil
}

// markInvalid marks bad and every block from bad up to top as invalid.
func (c *Chain) markInvalid(root *overlay, bad, top *BlockMeta) error {
	for m := top; ; {
		mm := *m
		mm.Status |= StatusInvalid
		root.b.Metas[m.Hash] = &mm
		c.invalid.add(m.Hash)
		if m.Hash == bad.Hash || m.Height() <= bad.Height() {
			return nil
		}
		var err error
		if m, err = root.Meta(m.Header.PrevHash); err != nil {
			return fmt.Errorf("mark invalid: %w", err)
		}
	}
}
