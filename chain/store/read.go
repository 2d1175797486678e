package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// Each read is one read transaction (see get) that copies the value out;
// decoding runs after the transaction has ended. View is the exception: many
// reads in one transaction, each decoded inside it (the decoders copy what
// they keep), for the requests that make hundreds of reads.

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
	v, err := s.get(bucketMetas, h[:])
	return metaRecord(h, v, err)
}

// metaRecord decodes the meta record v read under h (err is the read's).
func metaRecord(h chain.Hash, v []byte, err error) (*chain.BlockMeta, error) {
	if err != nil {
		return nil, fmt.Errorf("meta %s: %w", h.Short(), err)
	}
	if v == nil {
		return nil, fmt.Errorf("meta %s: %w", h.Short(), chain.ErrNotFound)
	}
	m, err := decodeMeta(h, v)
	if err != nil {
		return nil, fmt.Errorf("meta %s: %w", h.Short(), err)
	}
	return m, nil
}

// Block returns a stored block.
func (s *Store) Block(h chain.Hash) (*chain.Block, error) {
	v, err := s.get(bucketBlocks, h[:])
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", h.Short(), err)
	}
	if v == nil {
		return nil, fmt.Errorf("block %s: %w", h.Short(), chain.ErrNotFound)
	}
	blk, err := chain.DecodeBlock(v)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w: %w", h.Short(), ErrCorrupt, err)
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
	v, err := s.get(bucketAccounts, []byte(addr))
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
	v, err := s.get(bucketUndo, h[:])
	if err != nil {
		return nil, fmt.Errorf("undo %s: %w", h.Short(), err)
	}
	if v == nil {
		return nil, fmt.Errorf("undo %s: %w", h.Short(), chain.ErrNotFound)
	}
	u, err := decodeUndo(v)
	if err != nil {
		return nil, fmt.Errorf("undo %s: %w", h.Short(), err)
	}
	return u, nil
}

// TxLocation returns the hash of the main-chain block holding the
// transaction with id txid.
func (s *Store) TxLocation(txid chain.Hash) (chain.Hash, error) {
	v, err := s.get(bucketTxIndex, txid[:])
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tx %s: %w", txid.Short(), err)
	}
	if v == nil {
		return chain.Hash{}, fmt.Errorf("tx %s: %w", txid.Short(), chain.ErrNotFound)
	}
	h, err := decodeHash(v)
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
	metas, err := getBucket(tx, bucketMetas)
	if err != nil {
		return txView{}, err
	}
	main, err := getBucket(tx, bucketMain)
	if err != nil {
		return txView{}, err
	}
	return txView{metas: metas, main: main}, nil
}

// txView is chain.StoreView inside one read transaction, its buckets
// opened once: opening a bucket costs as much as the read itself.
type txView struct{ metas, main *bolt.Bucket }

func (v txView) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	return metaRecord(h, v.metas.Get(h[:]), nil)
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
			m, err := decodeMeta(h, v)
			if err != nil {
				return fmt.Errorf("meta %s: %w", h.Short(), err)
			}
			if !bytes.Equal(tv.main.Get(heightKey(m.Height())), h[:]) {
				out = append(out, m)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("side metas: %w", err)
	}
	return out, nil
}
