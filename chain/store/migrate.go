package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Version 2 kept a block record whole under height | hash (40 bytes);
// version 3 keeps it in chunks under height | hash | index (chunks.go).
// Nothing else differs, so Open converts a version-2 file in place: each
// record is deleted and put again as its chunks, the bytes unchanged.
// Version 4 differs from version 3 only by the "indexed" mark (txindex.go):
// a version-2 or -3 file's index is complete, so the mark is its tip.
// Version 5 differs from version 4 only by the records file (records.go),
// which holds nothing yet: a version-4 file's records are all in the
// tree, where version 5 reads them.
//
// The first transaction sets the version to 5, the index mark (from
// versions 2 and 3) and, from version 2, the migrating mark, so an older
// build refuses the file from then on (a version-2 build would not find
// the records already cut, a version-3 one would trust an index that may
// lag, a version-4 one would not find the records in the file), and a
// conversion cut short by a crash or a kill resumes at the next Open.
// Each later transaction converts records worth up to migrateBudget
// bytes, so memory stays bounded whatever the chain's length, and a
// record is either whole or in chunks, never both, after any of them.
// The last one removes the migrating mark. Nothing reads the store before
// Open returns, so no reader sees it half converted.

// keyMigrating, in the meta bucket, marks a store whose version-2 block
// records are being cut into chunks. Its value is the version converted
// from.
const keyMigrating = "migrating"

// migrateBudget is how many bytes of version-2 records one transaction
// of the conversion takes: bounded memory and dirty pages per commit, and
// few commits (a chain of coinbase-only blocks is about 600 bytes a
// block).
var migrateBudget = 32 << 20

// needsMigration reports whether a store whose meta bucket is meta must
// be converted before use: version 2, 3 or 4, or this version with the
// mark left by a conversion of block records that did not finish (a
// version-4 file may hold that mark too).
func needsMigration(meta *bolt.Bucket, version uint32) bool {
	return version == 2 || version == 3 || version == 4 || (version == SchemaVersion && meta.Get([]byte(keyMigrating)) != nil)
}

// migrateFrom converts db to SchemaVersion: the version and the index
// mark first, then the version-2 block records into chunks (a version-3
// or -4 file may still have some, if a conversion from version 2 was cut
// short).
func migrateFrom(db *bolt.DB) error {
	var cut bool
	err := db.Update(func(tx *bolt.Tx) error {
		bk, err := openBuckets(tx)
		if err != nil {
			return err
		}
		version := binary.BigEndian.Uint32(bk.meta.Get([]byte(keyVersion)))
		if version == 2 {
			if err := bk.meta.Put([]byte(keyMigrating), []byte{2}); err != nil {
				return err
			}
		}
		cut = bk.meta.Get([]byte(keyMigrating)) != nil
		if version == SchemaVersion {
			return nil
		}
		if version < 4 {
			// A version-2 or -3 file's index is complete: the mark is
			// its tip. A version-4 file has its mark.
			tip, height, ok, err := storedTip(bk)
			if err != nil {
				return err
			}
			if ok {
				if err := bk.meta.Put([]byte(keyIndexed), appendMark(nil, height, tip)); err != nil {
					return err
				}
			}
		}
		return bk.meta.Put([]byte(keyVersion), binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("migrate to version %d: %w", SchemaVersion, err)
	}
	var from []byte // the last record converted: the next batch starts after it
	for done := !cut; !done; {
		err := db.Update(func(tx *bolt.Tx) error {
			var err error
			from, done, err = migrateBatch(tx, from)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate from version 2: %w", err)
		}
	}
	return nil
}

// migrateBatch converts the version-2 records after from (all of them
// when from is nil), up to migrateBudget bytes, in tx. It returns the key
// of the last one converted, and done once none is left, having removed
// the migrating mark.
func migrateBatch(tx *bolt.Tx, from []byte) (last []byte, done bool, err error) {
	blocks, err := getBucket(tx, bucketBlocks)
	if err != nil {
		return nil, false, err
	}
	blocks.FillPercent = appendFill
	type record struct{ key, val []byte }
	var batch []record
	size := 0
	c := blocks.Cursor()
	k, v := c.First()
	if from != nil {
		// Past from even if it is still there: a batch that left its
		// records whole would otherwise be taken again for ever.
		if k, v = c.Seek(from); bytes.Equal(k, from) {
			k, v = c.Next()
		}
	}
	// The cursor is read to the end of the batch before anything is
	// written: bbolt's cursors do not survive a put or a delete. Chunk
	// keys (42 bytes) are records already converted.
	for ; k != nil; k, v = c.Next() {
		if len(k) != blockKeySize {
			continue
		}
		if len(batch) > 0 && size+len(v) > migrateBudget {
			break
		}
		if len(v) == 0 || len(v) > maxRecordSize {
			return nil, false, fmt.Errorf("%w: version-2 block record %x is %d bytes, want 1 to %d", ErrCorrupt, k, len(v), maxRecordSize)
		}
		batch = append(batch, record{key: bytes.Clone(k), val: bytes.Clone(v)})
		size += len(v)
	}
	done = k == nil
	for _, r := range batch {
		if err := blocks.Delete(r.key); err != nil {
			return nil, false, err
		}
		for i := range chunkCount(len(r.val)) {
			key := append(bytes.Clone(r.key), byte(i>>8), byte(i))
			if err := blocks.Put(key, r.val[i*recordChunk:min(len(r.val), (i+1)*recordChunk)]); err != nil {
				return nil, false, err
			}
		}
		last = r.key
	}
	if done {
		meta, err := getBucket(tx, bucketMeta)
		if err != nil {
			return nil, false, err
		}
		if err := meta.Delete([]byte(keyMigrating)); err != nil {
			return nil, false, err
		}
	}
	return last, done, nil
}
