package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check runs bbolt's own consistency check of the file's page structure
// (every page reachable once, none both used and free, keys in order) in
// a read transaction, and returns what it found, joined, with what the
// store's index mark promises: that it names a main-chain block at or
// below the tip (index entries of the blocks above it are not on disk
// yet, by design, so nothing is expected of them). It reads the whole
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
		return nil // no flush yet: Open indexes the whole main chain
	}
	height, mark, err := decodeMark(v)
	if err != nil {
		return err
	}
	if got, err := decodeHash(bk.main.Get(heightKey(height))); err != nil || got != mark {
		return fmt.Errorf("index mark %s at height %d is not the main chain's block", mark.Short(), height)
	}
	_, tipHeight, ok, err := storedTip(bk)
	if err != nil {
		return err
	}
	if !ok || tipHeight < height {
		return fmt.Errorf("index mark at height %d is above the tip", height)
	}
	return nil
}
