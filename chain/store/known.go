package store

import (
	"fmt"
	"hash/maphash"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// knownBlocks answers from memory that the store holds no meta for a
// hash, which every block arriving by gossip or sync asks first (is it
// stored already?), several times: without it each such miss began a
// bbolt read transaction, looked through up to 64 pending batches and
// searched the metas bucket: 1–2 µs alone, and about 20 µs of CPU a
// relayed 4-transfer block's hop among 20 nodes on two cores
// (docs/benchmarks.md); and a peer naming blocks nobody has could make
// the node do that at will.
//
// It holds a 64-bit hash of every block hash with a meta in the file or
// the memtable, seeded afresh by each store (maphash), so that no peer can
// name blocks whose keys match stored ones. A hash it lacks is not
// stored. One it has may be stored (two hashes may share a key: the read
// then looks, as it did before), so it never needs to forget a hash: a
// block deleted, or a batch that failed to commit, leaves a key that
// costs one read. Every hash is added before its batch is visible to any
// read (Apply), and the file's at Open, once the log's batches are
// committed. Go's map takes about 24 bytes a block, up to 38 past half a
// million: under 40 MB for a million.
type knownBlocks struct {
	seed maphash.Seed
	mu   sync.RWMutex
	m    map[uint64]struct{}
}

func (k *knownBlocks) key(h chain.Hash) uint64 { return maphash.Comparable(k.seed, h) }

// loadKnown returns the set of the metas bucket's hashes.
func loadKnown(db *bolt.DB) (*knownBlocks, error) {
	k := &knownBlocks{seed: maphash.MakeSeed()}
	err := db.View(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, bucketMetas)
		if err != nil {
			return err
		}
		k.m = make(map[uint64]struct{})
		c := b.Cursor()
		for key, _ := c.First(); key != nil; key, _ = c.Next() {
			if len(key) != chain.HashSize {
				return fmt.Errorf("%w: metas key of %d bytes", ErrCorrupt, len(key))
			}
			k.m[k.key(chain.Hash(key))] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("known blocks: %w", boltErr(err))
	}
	return k, nil
}

// addBatch adds the hashes b puts a meta for.
func (k *knownBlocks) addBatch(b *chain.Batch) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for h, m := range b.Metas {
		if m != nil {
			k.m[k.key(h)] = struct{}{}
		}
	}
}

// lacks reports that the store holds no meta for h. A nil set (a store
// being opened) knows nothing, so it lacks nothing.
func (k *knownBlocks) lacks(h chain.Hash) bool {
	if k == nil {
		return false
	}
	k.mu.RLock()
	_, ok := k.m[k.key(h)]
	k.mu.RUnlock()
	return !ok
}

// lacks reports that s holds no meta for h, unless s is closed: its
// reads report that.
func (s *Store) lacks(h chain.Hash) bool { return !s.closed.Load() && s.known.lacks(h) }
