package store

import bolt "go.etcd.io/bbolt"

func (s *Store) BoltStats() bolt.Stats { return s.db.Stats() }
