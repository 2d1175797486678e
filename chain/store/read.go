package store

import (
	"fmt"

	"github.com/gossipchain/gossipchain/chain"
)

// Each read is one read transaction (see get) that copies the value out;
// decoding runs after the transaction has ended.

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
