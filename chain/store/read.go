package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// Each read is one read transaction, through a txView, which answers from
// the memtable's pending batches first (memtable.go) and decodes bbolt's
// records inside the transaction, the decoders copying what they keep.
// View is many reads in one transaction, for the requests that make
// hundreds of reads.

// Tip returns the hash of the main chain's last block, or
// chain.ErrNotFound in a store no batch has set a tip in.
func (s *Store) Tip() (chain.Hash, error) {
	var h chain.Hash
	err := s.read(func(v *txView) error {
		if t, ok := v.pb.tip(); ok {
			h = t
			return nil
		}
		rec, err := v.get(&v.meta, bucketMeta, []byte(keyTip))
		if err != nil {
			return err
		}
		if rec == nil {
			return chain.ErrNotFound
		}
		h, err = decodeHash(rec)
		return err
	})
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tip: %w", err)
	}
	return h, nil
}

// Meta returns the index entry of a stored block.
func (s *Store) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	if s.lacks(h) {
		return nil, fmt.Errorf("meta %s: %w", h.Short(), chain.ErrNotFound)
	}
	return readOne(s, func(v *txView) (*chain.BlockMeta, error) { return v.Meta(h) })
}

// Block returns a stored block.
func (s *Store) Block(h chain.Hash) (*chain.Block, error) {
	if s.lacks(h) {
		return nil, fmt.Errorf("block %s: %w", h.Short(), chain.ErrNotFound)
	}
	var blk *chain.Block
	err := s.read(func(v *txView) error {
		if b, ok := v.pb.block(h); ok {
			// A copy of the caller's own, as a decoded record is.
			var err error
			blk, err = chain.DecodeBlock(b.Encode())
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

// BlockBytes returns a stored block's canonical encoding (chain.Block.Encode)
// as the store keeps it, copied out of bbolt's memory and not decoded: the
// sync server sends it as it is. Only the header is read, and a record
// whose header does not hash to h (misfiled, or damaged where the hash
// would show it) is ErrCorrupt; damage further in is left for the
// receiver, which checks every block it is sent (merkle root, signatures).
func (s *Store) BlockBytes(h chain.Hash) ([]byte, error) {
	if s.lacks(h) {
		return nil, fmt.Errorf("block %s: %w", h.Short(), chain.ErrNotFound)
	}
	var out []byte
	err := s.read(func(v *txView) error {
		if b, ok := v.pb.block(h); ok {
			out = b.Encode()
			return nil
		}
		_, rec, err := v.blockRecord(h)
		if err != nil {
			return err
		}
		if len(rec) < chain.HeaderSize+1 {
			return fmt.Errorf("%w: block record is %d bytes, shorter than a header and a count", ErrCorrupt, len(rec))
		}
		hdr, err := chain.DecodeHeader(rec[:chain.HeaderSize])
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if got := hdr.Hash(); got != h {
			return fmt.Errorf("%w: block record holds block %s", ErrCorrupt, got.Short())
		}
		out = append([]byte(nil), rec...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", h.Short(), err)
	}
	return out, nil
}

// MainHash returns the hash of the main-chain block at height.
func (s *Store) MainHash(height uint64) (chain.Hash, error) {
	return readOne(s, func(v *txView) (chain.Hash, error) { return v.MainHash(height) })
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
	return readOne(s, func(v *txView) (chain.Account, error) { return v.Account(addr) })
}

// accountRecord decodes the accounts record v read for addr (err is the
// read's).
func accountRecord(addr string, v []byte, err error) (chain.Account, error) {
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
	if s.lacks(h) {
		return nil, fmt.Errorf("undo %s: %w", h.Short(), chain.ErrNotFound)
	}
	var u *chain.Undo
	err := s.read(func(v *txView) error {
		if pu, ok := v.pb.undo(h); ok {
			// Deferred batches hold no deletion (deferrable).
			u = &chain.Undo{Entries: slices.Clone(pu.Entries)}
			return nil
		}
		_, b, err := v.record(h, false)
		if err != nil {
			return err
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
//
// It looks in the memtable's batches first, then in the pending set of
// held-back index entries, and opens its read transaction after: a group
// commit adds its entries to the pending set before it drops its batches
// from the memtable, and Apply, and the background flush (dropOld),
// remove entries from the set only once the transaction that wrote them
// to the bucket committed, so an entry is always in one of the three
// for a reader that looks in this order, once the Apply that made it has
// returned (doc.go: the windows while Apply runs).
func (s *Store) TxLocation(txid chain.Hash) (chain.Hash, error) {
	s.mem.mu.RLock()
	h, ok := s.mem.snapshot().txLocation(txid)
	s.mem.mu.RUnlock()
	if ok {
		return h, nil
	}
	if h, ok := s.pending.lookup(txid); ok {
		return h, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		v := openView(tx, nil, s.recs, s.known)
		b, err := v.get(&v.txindex, bucketTxIndex, txid[:])
		if err != nil {
			return err
		}
		if b == nil {
			return chain.ErrNotFound
		}
		if len(b) != heightKeySize {
			return fmt.Errorf("%w: tx index record is %d bytes, want %d", ErrCorrupt, len(b), heightKeySize)
		}
		height := binary.BigEndian.Uint64(b)
		mainRec, err := v.get(&v.main, bucketMain, b)
		if err != nil {
			return err
		}
		if h, err = decodeHash(mainRec); err != nil {
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
	return s.read(func(v *txView) error { return fn(v) })
}

// read runs fn on a txView of the memtable's pending batches and a read
// transaction begun while the memtable's lock is held shared: memtable
// says why that is one instant.
func (s *Store) read(fn func(*txView) error) error {
	s.mem.mu.RLock()
	pb := s.mem.snapshot()
	tx, err := s.db.Begin(false)
	s.mem.mu.RUnlock()
	if err != nil {
		return boltErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(openView(tx, pb, s.recs, s.known))
}

// readOne is a single read of the txView: read returning what fn does.
func readOne[T any](s *Store, fn func(*txView) (T, error)) (T, error) {
	var out T
	err := s.read(func(v *txView) error {
		var err error
		out, err = fn(v)
		return err
	})
	return out, err
}

// openView returns a txView on tx over the pending batches pb. It opens
// no bucket: each is opened on first use, as opening one costs as much as
// a read, and a single read (Meta, TxLocation) needs two of the four.
func openView(tx *bolt.Tx, pb pendingBatches, recs *recordsFile, known *knownBlocks) *txView {
	return &txView{tx: tx, pb: pb, recs: recs, known: known}
}

// txView is chain.StoreView inside one read transaction, each bucket
// opened once, with the memtable's pending batches over it. The store's
// single reads use it too, each in a transaction of its own.
type txView struct {
	tx                                           *bolt.Tx
	pb                                           pendingBatches
	metas, main, blocks, txindex, accounts, meta *bolt.Bucket
	// key and cur are reused by Account: a block's connect reads
	// thousands, and a Get costs bbolt a cursor of its own each.
	key []byte
	cur *bolt.Cursor
	// recs is the store's records file, where large block records are.
	recs *recordsFile
	// known answers most reads of a block not stored (known.go).
	known *knownBlocks
}

// bucket returns the bucket name, opening it into *slot on first use.
func (v *txView) bucket(slot **bolt.Bucket, name string) (*bolt.Bucket, error) {
	if *slot == nil {
		b, err := getBucket(v.tx, name)
		if err != nil {
			return nil, err
		}
		*slot = b
	}
	return *slot, nil
}

// get reads key from the bucket name through *slot; nil when absent.
func (v *txView) get(slot **bolt.Bucket, name string, key []byte) ([]byte, error) {
	b, err := v.bucket(slot, name)
	if err != nil {
		return nil, err
	}
	return b.Get(key), nil
}

// index returns the metas record of h, or chain.ErrNotFound.
func (v *txView) index(h chain.Hash) (indexRecord, error) {
	if v.known.lacks(h) {
		return indexRecord{}, chain.ErrNotFound
	}
	b, err := v.get(&v.metas, bucketMetas, h[:])
	if err != nil {
		return indexRecord{}, err
	}
	if b == nil {
		return indexRecord{}, chain.ErrNotFound
	}
	return decodeIndex(b)
}

// record returns the index record of h and its block record (or with
// head, the record's first chunk only: enough for a meta). A record of
// one chunk is bbolt's memory, valid only inside the transaction.
func (v *txView) record(h chain.Hash, head bool) (indexRecord, []byte, error) {
	rec, err := v.index(h)
	if err != nil {
		return rec, nil, err
	}
	b, err := v.bucket(&v.blocks, bucketBlocks)
	if err != nil {
		return rec, nil, err
	}
	r, _, err := readRecord(b, v.recs, rec.height, h, head)
	if err != nil {
		return rec, nil, err
	}
	if r == nil {
		return rec, nil, fmt.Errorf("%w: meta without its block record", ErrCorrupt)
	}
	return rec, r, nil
}

// blockRecord returns the index record of h and its block's encoding.
func (v *txView) blockRecord(h chain.Hash) (indexRecord, []byte, error) {
	rec, r, err := v.record(h, false)
	if err != nil {
		return rec, nil, err
	}
	blk, _, err := splitBlockRecord(r)
	return rec, blk, err
}

func (v *txView) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	if v.known.lacks(h) {
		return nil, fmt.Errorf("meta %s: %w", h.Short(), chain.ErrNotFound)
	}
	if m, ok := v.pb.meta(h); ok {
		return m.Clone(), nil
	}
	rec, r, err := v.record(h, true)
	if err == nil {
		var size int
		var head []byte
		if size, head, err = recordHead(r); err == nil {
			var m *chain.BlockMeta
			if m, err = metaOf(h, rec, head, size); err == nil {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("meta %s: %w", h.Short(), err)
}

func (v *txView) MainHash(height uint64) (chain.Hash, error) {
	if h, ok := v.pb.main(height); ok {
		return h, nil
	}
	b, err := v.get(&v.main, bucketMain, heightKey(height))
	return mainRecord(height, b, err)
}

func (v *txView) Account(addr string) (chain.Account, error) {
	if addr == "" {
		// bbolt keys are never empty, so nothing can be stored here.
		return chain.Account{}, nil
	}
	if a, ok := v.pb.account(addr); ok {
		return a, nil
	}
	if v.cur == nil {
		b, err := v.bucket(&v.accounts, bucketAccounts)
		if err != nil {
			return accountRecord(addr, nil, err)
		}
		v.cur = b.Cursor()
	}
	v.key = appendAccountKey(v.key[:0], addr)
	k, rec := v.cur.Seek(v.key)
	if !bytes.Equal(k, v.key) {
		rec = nil // Seek lands on the next key when addr has none
	}
	// decodeAccount copies the record out of bbolt's memory.
	return accountRecord(addr, rec, nil)
}

func (v *txView) MainHashes(from uint64, n int) ([]chain.Hash, error) {
	main, err := v.bucket(&v.main, bucketMain)
	if err != nil {
		return nil, err
	}
	var out []chain.Hash
	c := main.Cursor()
	k, rec := c.Seek(heightKey(from))
	for len(out) < n {
		height := from + uint64(len(out))
		// The pending batches' entries are above the stored tip; the
		// cursor walks what is below.
		if h, ok := v.pb.main(height); ok {
			out = append(out, h)
			continue
		}
		key := heightKey(height)
		for k != nil && bytes.Compare(k, key) < 0 {
			k, rec = c.Next()
		}
		if !bytes.Equal(k, key) {
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
	err := s.read(func(tv *txView) error {
		metas, err := tv.bucket(&tv.metas, bucketMetas)
		if err != nil {
			return err
		}
		main, err := tv.bucket(&tv.main, bucketMain)
		if err != nil {
			return err
		}
		return metas.ForEach(func(k, v []byte) error {
			h, err := decodeHash(k)
			if err != nil {
				return fmt.Errorf("meta key: %w", err)
			}
			rec, err := decodeIndex(v)
			if err != nil {
				return fmt.Errorf("meta %s: %w", h.Short(), err)
			}
			if bytes.Equal(main.Get(heightKey(rec.height)), h[:]) {
				return nil
			}
			// The pending batches add no side block (deferrable), but
			// may put a stored one on the main chain.
			if m, ok := tv.pb.main(rec.height); ok && m == h {
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
