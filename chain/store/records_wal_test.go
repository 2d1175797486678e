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

// TestLargeBlocksDeferredWhenSynced: a block over memDeferMax is logged
// by a store that syncs (the log's one fdatasync in place of the three
// of a commit to the records file and bbolt), its record written to the
// records file with its group, and committed at once by one that does
// not. Either way a copy taken without Close opens with every block, its
// record in the records file, and so does the store closed and opened
// again. With a group bound of two, two of them go to the records file
// in one group commit, the third waits in the log.
func TestLargeBlocksDeferredWhenSynced(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    []store.Option
		bound   int // the memtable's bound in blocks; 0: the default
		pending int
		written bool // the records file holds the three blocks' records before Close
	}{
		{"fsync", nil, 0, 3, false},
		{"fsync/group of two", nil, 2, 1, true},
		{"nosync", []store.Option{store.WithNoSync(true)}, 0, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bound > 0 {
				store.SetGroupBound(t, tt.bound)
			}
			st, path := openTemp(t, tt.opts...)
			g := newGen(67, 300)
			blocks := connectN(t, st, g, 1, 2) // the first: committed at once, in chunks
			recs := path + store.RecordsSuffix
			empty := fileSize(t, recs)
			blocks = append(blocks, connectN(t, st, g, 3, 200)...)
			if n := store.PendingBatches(st); n != tt.pending {
				t.Fatalf("%d batches pending; want %d", n, tt.pending)
			}
			if grew := fileSize(t, recs) > empty; grew != tt.written {
				t.Fatalf("records file grew %v before Close; want %v", grew, tt.written)
			}
			to := copyStore(t, path)
			cp := openCopy(t, to)
			if fileSize(t, to+store.RecordsSuffix) <= empty {
				t.Fatal("the copy's records file holds no record after Open")
			}
			checkChain(t, cp, blocks, g)
			checkOnDisk(t, cp, blocks)
			st = reopen(t, st, path)
			checkChain(t, st, blocks, g)
			checkOnDisk(t, st, blocks)
		})
	}
}
