package chain

import (
	"errors"
	"fmt"
	"math/big"
)

// Side-branch pruning (protocol.md §9.6): a body on a side branch whose
// work has fallen more than sideBranchPruneDepth blocks' work (at the
// tip's target) below the tip is deleted, with its index entry and undo
// record. Such a branch can still win only by gaining that much work, and
// then headers first finds it again and its bodies are fetched anew
// (§17.10): pruning costs a re-download in the rare case, never
// correctness, and bounds what worthless branches occupy on disk.

// sideBlock is what pruning needs to know of a stored side-branch block.
type sideBlock struct {
	parent Hash
	height uint64
	work   *big.Int
}

// loadSide fills the side set from the store, once, when the chain opens.
func (c *Chain) loadSide() error {
	metas, err := c.store.SideMetas()
	if err != nil {
		return err
	}
	c.side = make(map[Hash]sideBlock, len(metas))
	for _, m := range metas {
		c.side[m.Hash] = sideBlock{parent: m.Header.PrevHash, height: m.Height(), work: m.Work}
		if m.Status&StatusInvalid != 0 {
			// As markInvalid left it before the node stopped: its
			// children are refused at once, and BlockBytes does not
			// serve it.
			c.invalid.add(m.Hash)
		}
	}
	return nil
}

// noteSide updates the side set after batch b was committed with change
// ch (nil: the tip did not move). A meta written but not connected is a
// side block; the change's connected blocks leave the set and its
// disconnected ones join it. The set may hold a block that is on the main
// chain after all; pruning checks the main index before it deletes.
func (c *Chain) noteSide(b *Batch, ch *Change) error {
	joined := make(map[Hash]bool)
	if ch != nil {
		for _, blk := range ch.Connected {
			h := blk.Hash()
			joined[h] = true
			delete(c.side, h)
		}
		for _, blk := range ch.Disconnected {
			m, err := c.store.Meta(blk.Hash())
			if err != nil {
				return fmt.Errorf("meta of a disconnected block: %w", err)
			}
			c.side[m.Hash] = sideBlock{parent: m.Header.PrevHash, height: m.Height(), work: m.Work}
		}
	}
	tip := c.tip.Load().Hash
	for h, m := range b.Metas {
		if m != nil && !joined[h] && h != tip {
			c.side[h] = sideBlock{parent: m.Header.PrevHash, height: m.Height(), work: m.Work}
		}
	}
	return nil
}

// pruneSide deletes the side blocks whose work is more than
// sideBranchPruneDepth blocks' work below the tip's, in one store
// transaction, keeping every ancestor of a side block that stays. Called
// under mu after a commit that moved the tip.
func (c *Chain) pruneSide() error {
	tip := c.tip.Load()
	margin := new(big.Int).Mul(workForBits(tip.Header.Bits), big.NewInt(sideBranchPruneDepth))
	limit := new(big.Int).Sub(tip.Work, margin)
	prune := make(map[Hash]bool)
	for h, sb := range c.side {
		if sb.work.Cmp(limit) < 0 {
			prune[h] = true
		}
	}
	if len(prune) == 0 {
		return nil
	}
	// A block that stays needs its ancestors.
	for h, sb := range c.side {
		if prune[h] {
			continue
		}
		for p := sb.parent; prune[p]; p = c.side[p].parent {
			delete(prune, p)
		}
	}
	b := NewBatch()
	for h := range prune {
		main, err := c.store.MainHash(c.side[h].height)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("prune side branches: %w", err)
		}
		if err == nil && main == h {
			delete(c.side, h) // on the main chain after all
			continue
		}
		b.Blocks[h], b.Metas[h], b.Undos[h] = nil, nil, nil
	}
	if len(b.Metas) == 0 {
		return nil
	}
	if err := c.apply(b); err != nil {
		return fmt.Errorf("prune side branches: %w", c.failLocked(err))
	}
	for h := range b.Metas {
		delete(c.side, h)
	}
	c.log.Debug("pruned side-branch blocks", "blocks", len(b.Metas), "tip_height", tip.Height())
	return nil
}
