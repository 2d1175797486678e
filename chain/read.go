package chain

import "fmt"

// The chain's reads: the tip, and blocks, index entries and locations
// through the write under way (pending) where it has validated them.

// NextHeight is the height of the next block on the tip or, while a
// write that moves the tip is being committed, on the tip it leaves: a
// transaction admitted meanwhile (Account reads that write) can only go
// into a block after it.
func (c *Chain) NextHeight() uint64 {
	if o := c.pending.Load(); o != nil && !o.b.Tip.IsZero() {
		if m, err := o.Meta(o.b.Tip); err == nil {
			return m.Height() + 1
		}
	}
	return c.Tip().Height() + 1
}

// Tip returns the main chain's last block. The caller must not modify it.
func (c *Chain) Tip() *BlockMeta { return c.tip.Load() }

// TipChanged returns a channel that is closed at the next tip change.
func (c *Chain) TipChanged() <-chan struct{} { return *c.tipWait.Load() }

// Meta returns the index entry of a stored block, or of one validated
// and being committed. The caller must not modify it: while the block's
// write is under way it is the entry being written.
func (c *Chain) Meta(h Hash) (*BlockMeta, error) { return c.reader().Meta(h) }

// Block returns a stored block, on the main chain or not, or one
// validated and being committed: a node that forwarded a block before its
// commit ended must answer for it.
func (c *Chain) Block(h Hash) (*Block, error) { return c.reader().Block(h) }

// BlockBytes returns a block's canonical encoding (Block.Encode), as
// Block finds it: a block of the write under way is encoded from memory,
// a stored one read as the store keeps it, without decoding it and
// encoding it again. It is what the node serves to peers, so a block
// known invalid (stored because its branch was heavier, then failed to
// connect: protocol.md 9.6, 17.7) is ErrNotFound: a peer that fetched it
// would only fail on it, and could hold the peer that served it at fault.
func (c *Chain) BlockBytes(h Hash) ([]byte, error) {
	if c.invalid.has(h) {
		return nil, fmt.Errorf("block %s is known invalid, not served: %w", h.Short(), ErrNotFound)
	}
	if o := c.pending.Load(); o != nil {
		if b, ok, err := o.pendingBlock(h); ok {
			if err != nil {
				return nil, err
			}
			return b.Encode(), nil
		}
	}
	return c.store.BlockBytes(h)
}

// Committed reports whether a block is in the store: unlike Meta, not
// one still being committed. The syncer asks this, since the tip it
// weighs peers' claims against moves only with a commit.
func (c *Chain) Committed(h Hash) bool {
	_, err := c.store.Meta(h)
	return err == nil
}

// reader is the committed state seen through the write under way, if
// its blocks are validated (see pending).
func (c *Chain) reader() stateReader {
	if o := c.pending.Load(); o != nil {
		return o
	}
	return c.store
}

// BlockAt returns the main-chain block at height.
func (c *Chain) BlockAt(height uint64) (*Block, error) {
	h, err := c.store.MainHash(height)
	if err != nil {
		return nil, err
	}
	return c.store.Block(h)
}

// MainHash returns the hash of the main-chain block at height.
func (c *Chain) MainHash(height uint64) (Hash, error) { return c.store.MainHash(height) }

// TxLocation returns the main-chain block that holds transaction id,
// the write under way included, as Block does: a transaction the mempool
// dropped for a block being committed is found in that block.
func (c *Chain) TxLocation(id Hash) (Hash, error) { return c.reader().TxLocation(id) }

// HasBlock reports whether the block is stored or waiting as an orphan.
func (c *Chain) HasBlock(h Hash) bool {
	if _, err := c.Meta(h); err == nil {
		return true
	}
	return c.orphans.has(h)
}

// OrphanRoot returns the first missing ancestor of an orphan: the block to
// ask peers for. For a block that is not an orphan it returns h.
func (c *Chain) OrphanRoot(h Hash) Hash {
	return c.orphans.root(h)
}
