package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check runs bbolt's own consistency check of the file's page structure
// (every page reachable once, none both used and free, keys in order) in
// a read transaction, and returns what it found, joined, with what the
// store's index mark promises: that it names a main-chain block at or
// below the tip, and that no index entry on disk names a height above it
// (the entries of the blocks above it are written later, by design). It
// reads the whole
// file: it is for tests and repair tools after a crash or a failed
// write, not for every open.
func (s *Store) Check() error {
	var errs []error
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if err := checkMark(tx); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: bbolt check: %w", ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

// checkMark checks the index mark against the main chain and the tip.
func checkMark(tx *bolt.Tx) error {
	bk, err := openBuckets(tx)
	if err != nil {
		return err
	}
	v := bk.meta.Get([]byte(keyIndexed))
	if v == nil {
		return nil // damaged (the first batch writes one): Open rebuilds the index
	}
	height, mark, err := decodeMark(v)
	if err != nil {
		return err
	}
	if err := markAtTip(bk, height, mark); err != nil {
		return err
	}
	// Entries above the mark would be a flush's that the mark does not
	// cover: a reorg above it could leave them naming the wrong block.
	return bk.txindex.ForEach(func(k, v []byte) error {
		if len(v) != heightKeySize {
			return fmt.Errorf("tx index record of %x is %d bytes, want %d", k, len(v), heightKeySize)
		}
		if h := binary.BigEndian.Uint64(v); h > height {
			return fmt.Errorf("tx index entry %x names height %d, above the index mark at %d", k, h, height)
		}
		return nil
	})
}
