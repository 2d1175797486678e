package store

import (
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
)

// fileMark returns the index mark of the closed store at path (ok false
// when it has none) and its tip.
func fileMark(t *testing.T, path string) (height uint64, mark, tip chain.Hash, ok bool) {
	t.Helper()
	viewFile(t, path, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		var err error
		if tip, err = decodeHash(meta.Get([]byte(keyTip))); err != nil {
			return err
		}
		v := meta.Get([]byte(keyIndexed))
		if v == nil {
			return nil
		}
		ok = true
		height, mark, err = decodeMark(v)
		return err
	})
	return height, mark, tip, ok
}

// TestMigrateV3Fixture: a store written by a version-3 build opens as
// version 4 with the index mark at its tip (a version-3 index is
// complete), answers every query as the version-3 build did, and opened
// again answers the same.
func TestMigrateV3Fixture(t *testing.T) {
	path, want := copyV3Fixture(t)
	if v, mark, whole, chunks := layout(t, path); v != 3 || mark || whole != 0 || chunks == 0 {
		t.Fatalf("fixture: version %d, migrating %t, %d whole records, %d chunks; want version 3 in chunks", v, mark, whole, chunks)
	}
	if _, _, _, ok := fileMark(t, path); ok {
		t.Fatal("the version-3 fixture has an index mark")
	}
	for i := range 2 {
		if got := dumpFile(t, path); got != want {
			t.Fatalf("open %d: answers differ from version 3's:\n%s", i, firstDiff(got, want))
		}
		if v, mark, _, _ := layout(t, path); v != SchemaVersion || mark {
			t.Fatalf("open %d: version %d, migrating %t", i, v, mark)
		}
		if _, mark, tip, ok := fileMark(t, path); !ok || mark != tip {
			t.Fatalf("open %d: index mark %s (%t), want the tip %s", i, mark.Short(), ok, tip.Short())
		}
	}
}

// TestMigrateV2SetsMark: a version-2 file converts with the index mark at
// its tip.
func TestMigrateV2SetsMark(t *testing.T) {
	path, _ := copyV2Fixture(t)
	dumpFile(t, path)
	if _, mark, tip, ok := fileMark(t, path); !ok || mark != tip {
		t.Fatalf("index mark %s (%t), want the tip %s", mark.Short(), ok, tip.Short())
	}
}
