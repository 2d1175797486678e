package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// write is one key of a bucket: a put, or a delete when val is nil.
type write struct {
	key, val []byte
}

// plan is a batch encoded into per-bucket writes, keys sorted.
type plan struct {
	buckets [][]write // indexed like allBuckets
	names   []string
}

// Apply commits every write of b in one bbolt transaction: all of them or,
// on error, none. When it returns nil the transaction is on disk (unless
// the store was opened WithNoSync). A nil or empty batch writes nothing.
//
// Everything is encoded before the transaction begins, so a record the
// store cannot hold (ErrBadBatch) fails the batch without touching the
// file, and bbolt's single writer lock is held only for the puts.
func (s *Store) Apply(b *chain.Batch) error {
	if b == nil || batchEmpty(b) {
		return nil
	}
	p, err := encodeBatch(b)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	err = boltErr(s.db.Update(func(tx *bolt.Tx) error {
		for i, ws := range p.buckets {
			if len(ws) == 0 {
				continue
			}
			bk, err := getBucket(tx, p.names[i])
			if err != nil {
				return err
			}
			for _, w := range ws {
				if w.val == nil {
					err = bk.Delete(w.key)
				} else {
					err = bk.Put(w.key, w.val)
				}
				if err != nil {
					return fmt.Errorf("bucket %s: %w", p.names[i], err)
				}
			}
		}
		return nil
	}))
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

func batchEmpty(b *chain.Batch) bool {
	return len(b.Blocks) == 0 && len(b.Metas) == 0 && len(b.Undos) == 0 && len(b.Main) == 0 &&
		len(b.Accounts) == 0 && len(b.TxIndex) == 0 && b.Tip.IsZero()
}

// encodeBatch turns b into writes, refusing records the store cannot hold.
func encodeBatch(b *chain.Batch) (*plan, error) {
	names := allBuckets()
	p := &plan{buckets: make([][]write, len(names)), names: names}
	add := func(bucket string, key, val []byte) {
		i := slices.Index(names, bucket)
		p.buckets[i] = append(p.buckets[i], write{key: key, val: val})
	}

	for h, blk := range b.Blocks {
		if blk == nil {
			add(bucketBlocks, hashKey(h), nil)
			continue
		}
		if got := blk.Hash(); got != h {
			return nil, fmt.Errorf("%w: block %s filed under %s", ErrBadBatch, got.Short(), h.Short())
		}
		enc := blk.Encode()
		if len(enc) > chain.MaxBlockSize {
			return nil, fmt.Errorf("%w: block %s is %d bytes, limit %d", ErrBadBatch, h.Short(), len(enc), chain.MaxBlockSize)
		}
		add(bucketBlocks, hashKey(h), enc)
	}
	for h, m := range b.Metas {
		if m == nil {
			add(bucketMetas, hashKey(h), nil)
			continue
		}
		if m.Hash != h || m.Header.Hash() != h {
			return nil, fmt.Errorf("%w: meta of %s (header %s) filed under %s", ErrBadBatch, m.Hash.Short(), m.Header.Hash().Short(), h.Short())
		}
		enc, err := encodeMeta(m)
		if err != nil {
			return nil, err
		}
		add(bucketMetas, hashKey(h), enc)
	}
	for h, u := range b.Undos {
		if u == nil {
			add(bucketUndo, hashKey(h), nil)
			continue
		}
		enc, err := encodeUndo(u)
		if err != nil {
			return nil, fmt.Errorf("undo %s: %w", h.Short(), err)
		}
		add(bucketUndo, hashKey(h), enc)
	}
	for height, h := range b.Main {
		add(bucketMain, heightKey(height), hashVal(h))
	}
	for addr, a := range b.Accounts {
		if err := checkAddress(addr); err != nil {
			return nil, fmt.Errorf("account %q: %w", addr, err)
		}
		var val []byte
		if !a.IsZero() {
			val = appendAccount(make([]byte, 0, accountSize), a)
		}
		add(bucketAccounts, []byte(addr), val)
	}
	for id, h := range b.TxIndex {
		add(bucketTxIndex, hashKey(id), hashVal(h))
	}
	if !b.Tip.IsZero() {
		add(bucketMeta, []byte(keyTip), hashKey(b.Tip))
	}

	// Map order is random; sorted keys make the commit deterministic and
	// walk each B+tree once from left to right.
	for _, ws := range p.buckets {
		slices.SortFunc(ws, func(a, b write) int { return bytes.Compare(a.key, b.key) })
	}
	return p, nil
}

func hashKey(h chain.Hash) []byte { return bytes.Clone(h[:]) }

// hashVal is the value of a hash-valued entry: nil, a delete, for ZeroHash.
func hashVal(h chain.Hash) []byte {
	if h.IsZero() {
		return nil
	}
	return hashKey(h)
}
