package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain/store"
)

// TestRecordsFileReplay: blocks small enough to be deferred whose record,
// with its undo record, goes to the records file reach it when the log
// is replayed after a crash (a copy of the files taken without Close),
// and when the store is closed.
func TestRecordsFileReplay(t *testing.T) {
	st, path := openTemp(t, store.WithNoSync(true))
	g := newGen(53, 300)
	blocks := connectN(t, st, g, 4, 60)
	if n := store.PendingBatches(st); n == 0 {
		t.Fatal("no batch deferred: the test needs blocks the log takes")
	}
	to := copyStore(t, path)
	before := fileSize(t, to+store.RecordsSuffix) // the blocks committed at once
	cp := openCopy(t, to)
	if after := fileSize(t, to+store.RecordsSuffix); after <= before {
		t.Fatalf("records file is %d bytes after the replay, %d before: the deferred blocks' records are missing", after, before)
	}
	checkChain(t, cp, blocks, g)
	checkOnDisk(t, cp, blocks)
}
