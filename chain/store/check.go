package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check runs bbolt's own consistency check of the file's page structure
// (every page reachable once, none both used and free, keys in order) in
// a read transaction, and returns what it found, joined. It reads the
// whole file: it is for tests and repair tools after a crash or a failed
// write, not for every open.
func (s *Store) Check() error {
	var errs []error
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
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
