// Package store keeps the chain on disk: it is the bbolt implementation of
// chain.Store.
//
// # What it owns
//
// The durable storage format: which bucket holds what, how each record is
// encoded, the schema version, and the guarantee that a batch of writes is
// all on disk or not at all.
//
// One bbolt file (FileName inside the node's data directory, see OpenDir)
// holds these buckets (schema version 5):
//
//	bucket    key                         value
//	metas     block hash (32)             height uint64 | status (1) | cumulative work,
//	                                      big-endian without leading zeros (0..32)
//	blocks    height uint64 | hash |      chunk i of the block record: block length uvarint |
//	          chunk index uint16 (42)     canonical block encoding (chain.Block.Encode) |
//	                                      undo record, if any; under index 0xffff, where
//	                                      the record is in the records file (below):
//	                                      offset uint64 | length uint32 | CRC-32C of the
//	                                      record uint32 | CRC-32C of its first 8,126
//	                                      bytes, or all if fewer, uint32  = 20 bytes
//	main      height uint64 (8)           block hash (32) of the main chain at that height
//	accounts  address (see below)         balance int64 | nonce uint64  = 16 bytes
//	txindex   transaction id (32)         height uint64 of the main-chain block holding it
//	meta      "tip"                       hash (32) of the main chain's last block
//	          "indexed"                   height uint64 | hash (32): the main-chain block
//	                                      up to which txindex is complete (the mark)
//	          "version"                   schema version uint32
//	          "records"                   the records file's id (16) | its committed
//	                                      length uint64, header included
//
// A block record is cut into chunks of 8,126 bytes (recordChunk), the
// last one 1 to 8,126 bytes, filed under indexes 0, 1, 2, ... in order;
// the record is their concatenation. A record of 8,126 bytes or fewer is
// one chunk. Any other layout (a chunk missing, out of sequence, of
// another size, or an entry after a short one) is ErrCorrupt. A record
// rewritten (an undo record put or deleted alone) is written whole again
// and the chunks past its new end are deleted; a block deleted takes every
// entry under its height and hash with it.
//
// A record of more than two chunks (16,252 bytes: a block of about 70
// transfers or more) is not cut into chunks: it is appended to the records
// file, the store file's path and RecordsSuffix ("chain.db-records"), and
// the blocks bucket holds only its pointer, under chunk index 0xffff
// (records.go says why: bbolt writes every byte it is given through its
// pages). The file is the records one after the other, with nothing
// between them, after a 24-byte header: the magic "gcrec" 0 0 1 and the
// file's id, 16 random bytes drawn when the store creates it. The meta
// bucket's "records" key holds that id and the committed length (absent
// until the first record commits). A batch's records are written from
// there by its own commit (a connected block's just before its
// transaction begins), synced, and only then is the transaction
// committed, with the new length; so a pointer always names bytes on disk,
// and bytes below the committed length are never written again. A record
// rewritten goes to the file's end again (and to the tree if it shrinks to
// two chunks or fewer, its pointer deleted, or from the tree to the file
// if it grows past them, its chunks deleted); a block deleted takes its
// pointer with it. The bytes they leave behind stay in the file, unread:
// reorganisations grow it by what they rewrite. A pointer of another size,
// past the file's end, or whose bytes fail their CRC is ErrCorrupt, and so
// is a pointer beside a chunk when the record is read whole (a meta reads
// only the first 8,126 bytes and checks their own CRC).
//
// An undo record is the entry count uint32, then per entry the address,
// the balance int64 and the nonce uint64; a block that is not connected
// has none, and nothing follows its encoding. An address in an undo
// record is a gc address (the prefix and 48 lowercase hex digits) as the
// byte 0xff and the 24 bytes the digits spell, any other name (the open
// network's) as its length (1..128) and its bytes; an accounts key is the
// same 0xff form for a gc address, any other name a zero byte and its
// bytes. A gc address is half its size so, and on a signed network the
// accounts and undo records hold nothing else.
//
// All integers are big-endian except the length, a uvarint as in the
// block encoding; balances are two's complement. A block's meta
// (chain.BlockMeta) is its metas record joined with its block record: the
// header, the size and the transaction count are read from the block's
// encoding, so nothing is kept twice. A block and its meta are put and
// deleted together, with the undo record; a meta alone changes the status
// of a stored block, and an undo record alone (connecting or disconnecting
// a stored block) rewrites its block record. Transaction index entries
// name their block through its height, and Apply refuses one whose block
// is not the main chain's at that height once the batch is in.
//
// The transaction index is committed lazily (txindex.go). Its keys are
// hashes, so every entry dirties a leaf of its own: in a sync batch of
// small blocks they were about 70% of the commit's write calls. A batch
// that only extends the main chain (no index entry deleted, no main
// entry at or below the stored tip's height, its tip the highest of its
// main entries, every block its index entries name above the stored tip),
// other than the store's first, is committed without its index entries,
// which Apply keeps in memory once the commit succeeded. Once the
// held-back set reaches 8,192
// blocks or its entry bound (a number each store draws at Open between
// 32,768 and 65,536, so that nodes sharing a machine do not all write
// theirs on the same block), it is written, sorted, with the mark moved
// to the tip after the batch that reached it, in a transaction of its own
// in the background (flush.go), one at a time, while later batches are
// held back in a new set; a batch that would take the two sets together
// to twice the bounds waits for the flush first. The whole set is written
// instead in the transaction of any batch that may take a block off the
// main chain (before that batch's own deletions, the entries of blocks it
// replaces dropped), in that of a batch that would take the set to twice
// the bounds while no flush runs, and at Close; each of these first waits
// for a background flush. The first batch (genesis) is written with its mark,
// so a store without a mark is a damaged one. After a bbolt commit or a
// flush that failed, the store starts no write, Close's set included: the
// next Open catches up. (A write or sync of the records file that fails
// fails its batch before bbolt commits, and the store goes on: the next
// record is written over the same bytes. A flush that failed while a
// group commit writes is collected when the group ends: the batches
// logged meanwhile are in the log, and replayed.) A background flush
// already started may still commit:
// that is safe, because only a batch that extends the main chain commits
// while a flush runs (any other waits for it), so the flush's mark, the
// tip after the batch that started it, is at or below the tip before the
// failed batch and on the main chain whether or not that batch reached
// the file, and the flush checks so in its transaction. So the mark is
// always the tip or a main-chain ancestor of it, the bucket holds exactly
// the main chain's transactions up to it, and no entry on disk names a
// block off the main chain. The held-back sets are at most about 12 MB
// together.
//
// Beside the bbolt file, its write-ahead log (the file's path and
// WALSuffix, "chain.db-wal") holds the batches Apply deferred (wal.go,
// memtable.go): a 52-byte header (magic, generation, the store's tip the
// generation's records extend, CRC-32C), then one
// record per batch (length, CRC-32C, generation, sequence number, the
// batch in the encodings above: walcodec.go). A batch of one block (or
// none) that only adds it on top of the tip, with its meta, undo record,
// main entry and index entries in the batch (deferrable), whose block
// takes at most memDeferMax (16 KiB) encoded in a store opened
// WithNoSync (a block of any size while a background flush of the index
// may hold bbolt's writer; in a store that syncs, any block), is not
// committed to bbolt by its Apply: it is appended to the log and synced,
// and kept in memory, the memtable, which every read consults before
// bbolt. The memtable's batches are merged (a later write of a key over
// an earlier) and committed in one bbolt transaction once they hold 64
// blocks or 1 MiB of block encodings, both bounds scaled by a factor
// each store draws at Open between 0.75 and 1.25 (so that stores fed
// the same blocks do not commit together): by a goroutine started right
// after the Apply that got there returns, which writes to bbolt without
// the Apply lock while the next Applies keep logging and deferring, and
// drops the batches it wrote once they are in, then commits those logged
// meanwhile under the lock; by that Apply itself once they hold twice
// the bounds; before any batch that is not deferrable; and at Close.
// Then the log is reset: its header is rewritten with the next
// generation and synced, and new records are written over the old from
// its start (after a commit straight to bbolt, the header is rewritten
// by the next Apply that logs, and its record's sync takes both; Open's
// reset skips a generation, which such a header, lost, may have begun:
// wal.go). So a run of single-block batches costs one log write and
// one fdatasync each instead of a bbolt commit of 10 to 230 pages and
// two fdatasyncs, and bbolt writes the group's pages once.
//
// Why the keys are heights: blocks and main-index entries are written as
// the chain grows, so keyed by height they append to the end of their
// B+trees, whose pages are filled to the brim (appendFill) and never
// written again, instead of landing in random pages half full. Version 1
// filed blocks and undo records under their hash in two buckets, kept the
// header in the meta and the work in 32 bytes, and took about 1,000
// bytes of pages per coinbase-only block against about 600 now, with
// more pages written per commit (docs/benchmarks.md).
//
// Why the chunks: bbolt rewrites the whole leaf it puts into and never
// splits a leaf of four entries or fewer, so in version 2 a large block's
// record shared a leaf with the two or three records before it and every
// commit wrote all of them again: 4.8 bytes written per byte of a block of
// 700 transfers, against 1.3 in chunks. bbolt puts two entries in a leaf
// when each is larger than a page, and two chunks with their 42-byte keys
// and 16-byte element headers fill four 4,096-byte pages with the page
// header exactly, so a record appends as full leaves and a commit
// rewrites at most the last three chunks of the record before it.
//
// The meta bucket's version is checked on every open, and a file with
// another version, or a bbolt file that is not a gossipchain store, is
// refused with ErrSchema rather than read wrongly, with three exceptions,
// converted in place on Open (migrate.go). A version-4 file differs only
// by having no records file: its large records are in chunks, which
// version 5 reads, so its first transaction sets the version to 5 and
// its next large records go to the file. A version-3 file differs from
// version 4 only by the mark: its index is complete, so its first
// transaction sets the mark to the tip and the version to 5. A version-2
// file gets the same and has each block record cut into its chunks, the
// bytes unchanged, in transactions of up to 32 MiB of records, resumed by
// the next Open if cut short (the meta bucket's "migrating" key marks
// it). The version is 5 from the first transaction on, so an older build
// refuses the file: a version-4 build would not find the records in the
// file, a version-2 build would not find the records already cut, and a
// version-3 build would trust an index that may lag the tip and miss
// lookups (on the unsigned network, accept a transaction already mined).
// Version 1 files are refused: the node fills a new file from its peers
// (docs/operator.md says how).
//
// # Guarantees
//
// Apply writes a whole chain.Batch in one bbolt read-write transaction
// (its large records appended to the records file and synced before it
// commits), or, deferred, as one record of the log. When it returns nil the
// transaction is committed and fsynced (fdatasync on Linux), or the
// record is written and fdatasynced: a crash at any later moment, of the
// process or of the machine, leaves every write of the batch in place
// (the next Open commits the log's records). When it returns an error the
// batch is not applied. The one case where "not applied" is not certain is
// an I/O error during the commit itself (a failed write or fsync of
// bbolt's meta page, or of the log's record): the store then holds the
// state before the batch or after it, never a part of it, and which one
// is known after reopening. A group commit that fails in the Apply that
// reached the bound is not that Apply's failure: its batch is in the log
// and the memtable, read and replayed as applied; the next Apply or Close
// reports the failure, and the store writes nothing more.
// Zero-valued batch entries are deletions (see chain.Batch). The index
// entries Apply held back are the exception: a crash may lose them, and
// the next Open writes them again from the block records (below), before
// any read. TxLocation answers them from memory from the moment Apply
// returns: it looks in the memtable's batches, then in the held-back
// set, then, if absent, opens its read transaction; a batch that writes the set empties it, and a background
// flush drops the generation it wrote (dropOld), only after the commit
// that wrote them, so an entry Apply has returned is always in one or the
// other.
// Only while Apply runs does a lookup race it: the held-back entries of a
// batch just committed are found once Apply returns, and a reorg's batch
// may let a lookup find the block it is taking off the main chain until
// it returns. The chain reads the index under its own lock, after Apply
// returned, so neither reaches it.
//
// Each read runs in its own read-only transaction, over the memtable's
// batches as they were when it began (the memtable's lock makes the two
// one instant: memtable.go says why that is enough), and sees every batch
// Apply returned; View runs many reads of the block index, the main chain and
// the accounts in one, all of them seeing the same state (a request that
// reads thousands of records, or a block connecting that touches
// thousands of accounts, pays for one transaction, and a reorg committed
// meanwhile does not show through half-way). Values are copied out of bbolt's memory map before the
// transaction ends, so what a read returns is the caller's. Reads may run
// from any goroutine, concurrently with Apply; bbolt serialises writers.
//
// Opening is O(1) in the length of the chain: bbolt maps the file and
// loads its list of free pages (about one large batch's worth), then the
// store checks the schema version, the buckets, and that the mark is the
// tip, checks the records file's header against the store's id and
// cuts the file to its committed length (what a transaction that did not
// commit left past it; a file that is missing, shorter, or has another
// id is ErrCorrupt and left as it is; while the store has committed no
// record, a file holding more than a header is renamed aside, never
// cut), reads the log, and reads the key of every block meta once, to
// keep a 64-bit hash of each in memory (known.go: about 29 ms for 100,000
// blocks, 24 bytes a block). Nothing else is read or scanned. The
// exceptions: after a crash, the log's records (a group's at most, 80
// blocks or 1.25 MiB of blocks, and the batches logged while it was
// written: twice that, and one block more, up to 512 KiB) are
// decoded and committed in one transaction, up to the first record that
// is short, fails its CRC or has another generation or sequence number
// (the torn tail of a crash: it was never acknowledged), then the log is
// reset; replaying records whose group commit had reached the file
// before the crash writes the same values again, so the file's tip may
// be the log's base or any of its records' tips, and any other refuses
// the log. A log whose header does not check, or a log file over 64 MiB
// (ten times what a log holds), makes Open fail with ErrCorrupt
// (docs/operator.md says what to do). The first Open of a
// version-2 file rewrites every block record once; after a crash, Open
// indexes the main chain's blocks above the mark (at most 16,384 blocks
// and about 131,072 transactions, and the blocks the log's records
// added: it reads each block record and hashes its transactions); and a
// mark that is missing while the chain has a tip, does not decode or is
// not on the main chain (which Apply never leaves) makes Open empty the
// index and build it again from the whole main chain, in transactions of
// up to 65,536 transactions that each move the mark, logging why
// (WithLogger).
//
// A file is opened by one process at a time (an exclusive flock). A second
// Open of the same file fails with ErrLocked after the lock timeout
// (WithLockTimeout) instead of waiting forever.
//
// WithNoSync turns the fsync off, the log's and the records file's too,
// for tests and benchmarks only: a machine crash may then lose or tear
// recent batches.
//
// # What it does not do
//
// It does not validate anything. Whether a block is valid, whether a batch
// leaves the ledger consistent, whether the tip has a meta or the main index
// has gaps: that is package chain, which builds every batch. The store
// checks only what it needs to keep its own format sound: that blocks and
// metas are filed under their own hash and come in pairs, that an undo
// record or an index entry names a block it can file it under (its
// height), that an indexed block is the main chain's at its height, and
// that every record fits its encoding. It does not cache, beyond the
// deferred batches it holds until they are committed and the set of its
// blocks' hashes that answers a miss without a read (known.go); the
// chain keeps what it wants in memory.
//
// # Errors
//
//   - chain.ErrNotFound (wrapped): no such block, meta, height, undo record,
//     transaction or tip. An unknown account is not an error: it is the zero
//     chain.Account.
//   - ErrCorrupt: a stored record does not decode, or a bucket is missing.
//     No record's content makes the store panic. (bbolt keeps no page
//     checksums; damage to its own page structure is bbolt's to report.)
//   - ErrBadBatch: Apply was given a record it cannot store; nothing was
//     written.
//   - ErrLocked, ErrSchema: Open could not take the file.
//   - ErrClosed: the store was used after Close.
package store
