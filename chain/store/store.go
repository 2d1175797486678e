package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gossipchain/gossipchain/chain"
)

// SchemaVersion is the version of the storage format this code reads and
// writes. Bump it on any change to a bucket or an encoding. Version 1
// filed blocks and undo records under their hash and kept the header in
// the meta; version 2 files them under height and hash (doc.go); version
// 3 splits each block record into chunks (chunks.go); version 4 commits
// the transaction index lazily, complete up to the "indexed" mark
// (txindex.go); version 5 keeps records larger than two chunks in the
// records file beside the store file (records.go). Open converts
// version-2, -3 and -4 files (migrate.go).
const SchemaVersion uint32 = 5

// FileName is the store's file inside a data directory (see OpenDir).
const FileName = "chain.db"

// fileMode is the permission of a newly created store file: the chain
// stays private to the node's user.
const fileMode = 0o600

// Bucket names and keys of the meta bucket. The layout is in doc.go.
const (
	bucketBlocks   = "blocks"
	bucketMetas    = "metas"
	bucketMain     = "main"
	bucketAccounts = "accounts"
	bucketTxIndex  = "txindex"
	bucketMeta     = "meta"

	keyTip     = "tip"
	keyVersion = "version"
)

// allBuckets lists every bucket; Open creates them in a new file and
// requires them in an existing one.
func allBuckets() []string {
	return []string{bucketBlocks, bucketMetas, bucketMain, bucketAccounts, bucketTxIndex, bucketMeta}
}

// Errors of the store. Not-found conditions are chain.ErrNotFound.
var (
	// ErrCorrupt: a stored record does not decode, or a bucket is missing.
	ErrCorrupt = errors.New("store corrupt")
	// ErrBadBatch: Apply was given a record the store cannot encode, or a
	// block or meta filed under a hash that is not its own.
	ErrBadBatch = errors.New("batch cannot be stored")
	// ErrLocked: another process holds the store open.
	ErrLocked = errors.New("store is locked by another process")
	// ErrSchema: the file is not a store of SchemaVersion.
	ErrSchema = errors.New("unsupported store schema")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("store closed")
)

// Store is the bbolt implementation of chain.Store. Its methods are safe
// for concurrent use: bbolt lets many read transactions run alongside one
// writer, and serialises writers.
type Store struct {
	db *bolt.DB
	// applyMu makes Apply and the flush at Close one at a time, from
	// planning the index to updating pending, and starting or waiting
	// for a background flush (flush.go).
	applyMu sync.Mutex
	pending pendingSet
	// failed is the error of a commit that failed once its writes were
	// planned, or of a background flush: from then on the store starts
	// no write, not even Close's flush (a background flush already
	// started may still commit, flush.go says why that is safe), and the
	// next Open repairs the index. Under failMu: a group commit sets it
	// without applyMu (group.go). Read and set through failure and fail.
	failMu sync.Mutex
	failed error
	// failReported is set once an Apply returned an error while the
	// store had failed: Close reports a failure no Apply did (a group
	// commit's, or a background flush's).
	failReported bool
	// flushDone is closed when the background flush ends, nil when none
	// was started since the last was collected; flushErr is its error,
	// set before flushDone is closed. Under applyMu, and owned by the
	// group commit while one runs (groupDone).
	flushDone chan struct{}
	flushErr  error
	// maxEntries bounds the pending set's entries (entryBound).
	maxEntries int
	// log reports a background flush that failed (WithLogger).
	log *slog.Logger
	// recs is the records file, where large block records are
	// (records.go).
	recs *recordsFile
	// mem holds the deferred batches, wal keeps them durable (nil: the
	// store defers nothing).
	mem memtable
	wal *wal
	// groupQueued is set while a group commit started by an Apply
	// waits for applyMu (group.go). Under applyMu.
	groupQueued bool
	// hooks are set by tests only: queued runs when a queued group
	// commit starts, before it takes applyMu; written once it wrote its
	// batches to bbolt, before it takes applyMu again. The store's own,
	// so that a group commit of a store a test left behind runs none of
	// the next test's.
	hooks struct{ queued, written atomic.Pointer[func()] }
	// groupDone is closed when the group commit writing to bbolt
	// without applyMu ends, nil when none is (group.go). Under applyMu.
	groupDone chan struct{}
	// known holds the hashes the store may have a meta for (known.go);
	// nil until Open ends.
	known *knownBlocks
	// closed is set by Close, under applyMu: from then on Apply fails
	// with ErrClosed. Apply reads it first without the lock too, to fail
	// at once rather than after Close.
	closed atomic.Bool
}

var _ chain.Store = (*Store)(nil)

// OpenDir opens or creates the store in the data directory dir, as
// dir/FileName. It creates dir (mode 0700) if needed.
func OpenDir(dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return Open(filepath.Join(dir, FileName), opts...)
}

// Open opens the store file at path, creating it if it does not exist.
// It fails with ErrLocked if another process holds the file after the lock
// timeout, and with ErrSchema if the file is not a store this code reads.
// Opening reads the schema version and the hash of every stored block
// (known.go: 29 ms for 100,000 blocks).
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	timeout := cfg.lockTimeout
	if timeout <= 0 {
		// bbolt waits forever on zero; a nanosecond makes it try once.
		timeout = time.Nanosecond
	}
	db, err := bolt.Open(path, fileMode, &bolt.Options{
		Timeout:         timeout,
		NoSync:          cfg.noSync,
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (lock timeout %s)", path, ErrLocked, cfg.lockTimeout)
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return nil, err // it names the file already: "open <path>: read-only file system"
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := prepare(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, maxEntries: entryBound(), log: cfg.log}
	s.mem.scale = jitterScale()
	// The records file first: the log's batches and catchUp write and
	// read records. The log's batches are committed before catchUp,
	// which then indexes their blocks' transactions with any others
	// above the mark.
	var meta []byte
	err = db.View(func(tx *bolt.Tx) error {
		meta = bytes.Clone(tx.Bucket([]byte(bucketMeta)).Get([]byte(keyRecords)))
		return nil
	})
	if err == nil {
		s.recs, err = openRecords(path+RecordsSuffix, meta, cfg.noSync, s.log)
	}
	var w *wal
	if err == nil {
		var batches []*chain.Batch
		if w, batches, err = openWAL(path+WALSuffix, cfg.noSync, s.fileTip()); err == nil {
			s.wal = w
			err = s.replayWAL(batches)
		}
	}
	if err == nil {
		err = catchUp(db, s.recs, cfg.log)
	}
	if err == nil {
		s.known, err = loadKnown(db)
	}
	if err != nil {
		if w != nil {
			_ = w.close()
		}
		_ = s.recs.close()
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// prepare checks the schema of an existing store, or lays out a new one.
// The check is a read transaction, so opening a store of this version
// writes nothing here; a version-2, -3 or -4 store is converted first
// (migrate.go).
func prepare(db *bolt.DB) error {
	fresh, migrate := false, false
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		if meta == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: a bbolt file without a %q bucket is not a gossipchain store", ErrSchema, bucketMeta)
			}
			fresh = true
			return nil
		}
		v := meta.Get([]byte(keyVersion))
		if len(v) != 4 {
			return fmt.Errorf("%w: schema version is %d bytes, want 4", ErrCorrupt, len(v))
		}
		got := binary.BigEndian.Uint32(v)
		migrate = needsMigration(meta, got)
		if got != SchemaVersion && !migrate {
			return fmt.Errorf("%w: file has version %d, this build reads version %d and converts versions 2, 3 and 4; "+
				"move the file aside and start again: the node downloads the chain from its peers (docs/operator.md)", ErrSchema, got, SchemaVersion)
		}
		for _, name := range allBuckets() {
			if tx.Bucket([]byte(name)) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if migrate {
		return migrateFrom(db)
	}
	if !fresh {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyVersion), binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

// Close commits the deferred batches, waits for a background flush of
// the transaction index, commits what is still pending, then releases
// the file and its lock. Closing
// twice is harmless; any other use after Close fails with ErrClosed, an
// Apply from the moment Close began. If a flush fails, the background one
// or Close's own, Close reports it and still closes the file, and the
// next Open indexes the blocks again.
func (s *Store) Close() error {
	// applyMu is held until the file is closed, and closed set under it,
	// so no Apply commits or starts a flush after Close waited for the
	// last one.
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	s.awaitGroup()
	var gerr error
	if s.failure() == nil {
		gerr = s.commitPending()
	}
	ferr := s.waitFlush()
	if s.failure() == nil {
		ferr = s.flush()
	}
	if ferr == nil {
		ferr = gerr
	}
	if ferr == nil {
		// A failure no Apply reported: a group commit's, which left its
		// batches to the log.
		ferr = s.unreportedFailure()
	}
	if closeHook != nil {
		closeHook()
	}
	if s.wal != nil {
		if err := s.wal.close(); err != nil && ferr == nil {
			ferr = err
		}
	}
	// The records file after bbolt, whose Close waits for the reads
	// that may still read it.
	dbErr := s.db.Close()
	recErr := s.recs.close()
	if dbErr != nil {
		return fmt.Errorf("close store: %w", dbErr)
	}
	if recErr != nil && ferr == nil {
		ferr = recErr
	}
	// Lookups end with the file, whether or not the set and the
	// memtable were written.
	s.pending.clear()
	s.mem.clear()
	if ferr != nil && !errors.Is(ferr, ErrClosed) {
		return fmt.Errorf("close store: %w", ferr)
	}
	return nil
}

// failure returns the store's failure, nil while it writes.
func (s *Store) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// noteReported records that an Apply returned err, if err is the
// store's failure: the caller knows, and Close need not say it again. An
// error of the batch's own (a bad batch) says nothing of a failure a
// group commit met meanwhile.
func (s *Store) noteReported(err error) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed != nil && errors.Is(err, s.failed) {
		s.failReported = true
	}
}

// unreportedFailure returns the store's failure if no Apply returned it.
func (s *Store) unreportedFailure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failReported {
		return nil
	}
	return s.failed
}

// fail makes err the store's failure, unless it has one already: from
// then on it writes nothing more.
func (s *Store) fail(err error) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
}

// closeHook, set by tests only, runs in Close just before the file is
// closed.
var closeHook func()

// Path returns the store file's path, or "" after Close.
func (s *Store) Path() string { return s.db.Path() }

// view runs fn in a read transaction, mapping bbolt's closed-database error.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return boltErr(s.db.View(fn))
}

func getBucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
	}
	return b, nil
}

func boltErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}
