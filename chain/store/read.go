package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// Each read is one read transaction. A record found in one read (tip,
// main, account) is copied out and decoded after it ends (see get); one
// that needs two (a meta, a block, an undo record through the block's
// height, a transaction through the main index) runs through a txView
// and is decoded inside, the decoders copying what they keep. View is many
// reads in one transaction, for the requests that make hundreds of reads.

// Tip returns the hash of the main chain's last block, or
// chain.ErrNotFound in a store no batch has set a tip in.
func (s *Store) Tip() (chain.Hash, error) {
	v, err := s.get(bucketMeta, []byte(keyTip))
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tip: %w", err)
	}
	if v == nil {
		return chain.Hash{}, fmt.Errorf("tip: %w", chain.ErrNotFound)
	}
	h, err := decodeHash(v)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tip: %w", err)
	}
	return h, nil
}

// Meta returns the index entry of a stored block.
func (s *Store) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	var m *chain.BlockMeta
	err := s.view(func(tx *bolt.Tx) error {
		v, err := openView(tx)
		if err != nil {
			return err
		}
		m, err = v.Meta(h)
		return err
	})
	return m, err
}

// Block returns a stored block.
func (s *Store) Block(h chain.Hash) (*chain.Block, error) {
	var blk *chain.Block
	err := s.view(func(tx *bolt.Tx) error {
		v, err := openView(tx)
		if err != nil {
			return err
		}
		_, rec, err := v.blockRecord(h)
		if err != nil {
			return err
		}
		// DecodeBlock copies what it keeps out of bbolt's memory.
		if blk, err = chain.DecodeBlock(rec); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", h.Short(), err)
	}
	return blk, nil
}

// MainHash returns the hash of the main-chain block at height.
func (s *Store) MainHash(height uint64) (chain.Hash, error) {
	v, err := s.get(bucketMain, heightKey(height))
	return mainRecord(height, v, err)
}

// mainRecord decodes the main-index record v read at height (err is the
// read's).
func mainRecord(height uint64, v []byte, err error) (chain.Hash, error) {
	if err != nil {
		return chain.Hash{}, fmt.Errorf("height %d: %w", height, err)
	}
	if v == nil {
		return chain.Hash{}, fmt.Errorf("height %d: %w", height, chain.ErrNotFound)
	}
	h, err := decodeHash(v)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("height %d: %w", height, err)
	}
	return h, nil
}

// Account returns the state of addr at the tip; an address the store does
// not hold is the zero Account.
func (s *Store) Account(addr string) (chain.Account, error) {
	if addr == "" {
		// bbolt keys are never empty, so nothing can be stored here.
		return chain.Account{}, nil
	}
	v, err := s.get(bucketAccounts, accountKey(addr))
	if err != nil {
		return chain.Account{}, fmt.Errorf("account %q: %w", addr, err)
	}
	if v == nil {
		return chain.Account{}, nil
	}
	a, err := decodeAccount(v)
	if err != nil {
		return chain.Account{}, fmt.Errorf("account %q: %w", addr, err)
	}
	return a, nil
}

// Undo returns the undo record of a block.
func (s *Store) Undo(h chain.Hash) (*chain.Undo, error) {
	var u *chain.Undo
	err := s.view(func(tx *bolt.Tx) error {
		v, err := openView(tx)
		if err != nil {
			return err
		}
		rec, err := v.index(h)
		if err != nil {
			return err
		}
		b := v.blocks.Get(blockKey(rec.height, h))
		if b == nil {
			return fmt.Errorf("%w: meta without its block record", ErrCorrupt)
		}
		_, undo, err := splitBlockRecord(b)
		if err != nil {
			return err
		}
		if undo == nil {
			return chain.ErrNotFound
		}
		u, err = decodeUndo(undo) // it copies what it keeps
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("undo %s: %w", h.Short(), err)
	}
	return u, nil
}

// TxLocation returns the hash of the main-chain block holding the
// transaction with id txid.
func (s *Store) TxLocation(txid chain.Hash) (chain.Hash, error) {
	var h chain.Hash
	err := s.view(func(tx *bolt.Tx) error {
		v, err := openView(tx)
		if err != nil {
			return err
		}
		b := v.txindex.Get(txid[:])
		if b == nil {
			return chain.ErrNotFound
		}
		if len(b) != heightKeySize {
			return fmt.Errorf("%w: tx index record is %d bytes, want %d", ErrCorrupt, len(b), heightKeySize)
		}
		height := binary.BigEndian.Uint64(b)
		if h, err = decodeHash(v.main.Get(b)); err != nil {
			// Apply indexes transactions of main-chain blocks only.
			return fmt.Errorf("%w: indexed at height %d, which has no main-chain block", ErrCorrupt, height)
		}
		return nil
	})
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tx %s: %w", txid.Short(), err)
	}
	return h, nil
}

// View runs fn with every read in one read transaction; see chain.Store.
// Serving a GetHeaders of 2,000 headers took one transaction per read
// (4,000) and 16 ms; in one view it takes 3–5 ms (docs/benchmarks.md).
func (s *Store) View(fn func(chain.StoreView) error) error {
	return s.view(func(tx *bolt.Tx) error {
		v, err := openView(tx)
		if err != nil {
			return err
		}
		return fn(v)
	})
}

// openView opens the buckets of a txView.
func openView(tx *bolt.Tx) (txView, error) {
	var v txView
	for _, o := range []struct {
		name string
		to   **bolt.Bucket
	}{
		{bucketMetas, &v.metas}, {bucketMain, &v.main}, {bucketBlocks, &v.blocks},
		{bucketTxIndex, &v.txindex},
	} {
		b, err := getBucket(tx, o.name)
		if err != nil {
			return txView{}, err
		}
		*o.to = b
	}
	return v, nil
}

// txView is chain.StoreView inside one read transaction, its buckets
// opened once: opening a bucket costs as much as the read itself. The
// store's single reads use it too, each in a transaction of its own.
type txView struct{ metas, main, blocks, txindex *bolt.Bucket }

// index returns the metas record of h, or chain.ErrNotFound.
func (v txView) index(h chain.Hash) (indexRecord, error) {
	b := v.metas.Get(h[:])
	if b == nil {
		return indexRecord{}, chain.ErrNotFound
	}
	return decodeIndex(b)
}

// blockRecord returns the index record of h and its block's encoding,
// which is bbolt's memory: valid only inside the transaction.
func (v txView) blockRecord(h chain.Hash) (indexRecord, []byte, error) {
	rec, err := v.index(h)
	if err != nil {
		return rec, nil, err
	}
	b := v.blocks.Get(blockKey(rec.height, h))
	if b == nil {
		return rec, nil, fmt.Errorf("%w: meta without its block record", ErrCorrupt)
	}
	blk, _, err := splitBlockRecord(b)
	return rec, blk, err
}

func (v txView) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	rec, b, err := v.blockRecord(h)
	if err == nil {
		var m *chain.BlockMeta
		if m, err = metaOf(h, rec, b); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("meta %s: %w", h.Short(), err)
}

func (v txView) MainHash(height uint64) (chain.Hash, error) {
	return mainRecord(height, v.main.Get(heightKey(height)), nil)
}

func (v txView) MainHashes(from uint64, n int) ([]chain.Hash, error) {
	var out []chain.Hash
	c := v.main.Cursor()
	for k, rec := c.Seek(heightKey(from)); k != nil && len(out) < n; k, rec = c.Next() {
		height := from + uint64(len(out))
		if !bytes.Equal(k, heightKey(height)) {
			break // a gap: the main chain ends below it
		}
		h, err := mainRecord(height, rec, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// SideMetas returns the metas of the stored blocks that are not on the
// main chain: one read transaction, one walk of the block index. The
// chain calls it once, when it opens, to know which bodies side-branch
// pruning may concern (protocol.md §9.6).
func (s *Store) SideMetas() ([]*chain.BlockMeta, error) {
	var out []*chain.BlockMeta
	err := s.view(func(tx *bolt.Tx) error {
		tv, err := openView(tx)
		if err != nil {
			return err
		}
		return tv.metas.ForEach(func(k, v []byte) error {
			h, err := decodeHash(k)
			if err != nil {
				return fmt.Errorf("meta key: %w", err)
			}
			rec, err := decodeIndex(v)
			if err != nil {
				return fmt.Errorf("meta %s: %w", h.Short(), err)
			}
			if bytes.Equal(tv.main.Get(heightKey(rec.height)), h[:]) {
				return nil
			}
			m, err := tv.Meta(h)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("side metas: %w", err)
	}
	return out, nil
}
