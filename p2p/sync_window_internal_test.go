package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// TestNextBatch: an idle peer gets the first batch of the window that
// is neither fetched nor being fetched; past maxBytesAhead held, only
// the batch connected next, without which the download cannot go on.
func TestNextBatch(t *testing.T) {
	full, empty, busy := fetchedBatch, unaskedBatch, fetchingBatch
	window := func(head *bodyBatch) []*bodyBatch {
		bs := []*bodyBatch{head}
		for range maxBatchesAhead + 4 {
			bs = append(bs, empty())
		}
		return bs
	}
	tests := []windowCase{
		{name: "head free", batches: window(empty()), want: 0},
		{name: "head fetched", batches: window(full()), want: 1},
		{name: "head being fetched", batches: window(busy()), want: 1},
		{name: "from next", batches: window(full()), next: 3, want: 3},
		{name: "bytes bound: head still fetched", batches: window(empty()), held: maxBytesAhead, want: 0},
		{name: "bytes bound: nothing past the head", batches: window(busy()), held: maxBytesAhead, want: -1},
		{name: "just under the bytes bound", batches: window(busy()), held: maxBytesAhead - 1, want: 1},
		{name: "window full", batches: append(func() []*bodyBatch {
			var bs []*bodyBatch
			for range maxBatchesAhead {
				bs = append(bs, full())
			}
			return bs
		}(), empty()), want: -1},
		{name: "all done", batches: []*bodyBatch{full()}, want: -1},
	}
	var s Syncer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.nextBatch(tt.batches, tt.next, tt.held); got != tt.want {
				t.Fatalf("nextBatch = %d, want %d", got, tt.want)
			}
		})
	}
}

// One-block batches of a window, in each state a download gives them.
func fetchedBatch() *bodyBatch {
	return &bodyBatch{hashes: make([]chain.Hash, 1), blocks: make([]*chain.Block, 1)}
}
func unaskedBatch() *bodyBatch { return &bodyBatch{hashes: make([]chain.Hash, 1)} }
func fetchingBatch() *bodyBatch {
	return &bodyBatch{hashes: make([]chain.Hash, 1), holders: []peer.ID{"p"}}
}

// windowCase is a case of a decision taken on a download's window.
type windowCase struct {
	name    string
	batches []*bodyBatch
	next    int
	held    int
	want    int
}

// TestStalledBatch: only the batch the window waits on is asked of a
// second peer, and only once its one request is stallGrace old; a
// later batch held by one peer (the bytes bound reached) is not.
func TestStalledBatch(t *testing.T) {
	now := time.Now()
	held := func(age time.Duration, holders ...peer.ID) *bodyBatch {
		return &bodyBatch{hashes: make([]chain.Hash, 1), holders: holders, asked: now.Add(-age)}
	}
	done := &bodyBatch{hashes: make([]chain.Hash, 1), blocks: make([]*chain.Block, 1)}
	tests := []struct {
		name    string
		batches []*bodyBatch
		next    int
		want    int
	}{
		{name: "next held past its grace", batches: []*bodyBatch{held(stallGrace, "p")}, want: 0},
		{name: "next just asked", batches: []*bodyBatch{held(stallGrace/2, "p")}, want: -1},
		{name: "next asked twice already", batches: []*bodyBatch{held(stallGrace, "p", "q")}, want: -1},
		{name: "a later batch held, next complete", batches: []*bodyBatch{done, held(stallGrace, "p")}, want: -1},
		{name: "later batch when next is the one", batches: []*bodyBatch{done, held(stallGrace, "p")}, next: 1, want: 1},
		{name: "past the end", batches: []*bodyBatch{done}, next: 1, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stalledBatch(tt.batches, tt.next, now); got != tt.want {
				t.Fatalf("stalledBatch = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCommitNow: a commit takes every checked batch from next; with
// fewer than minCommitBatches (and minCommitBytes) it waits only while
// the batch after them is on its way: being checked, or being fetched
// with room in the window for another request.
func TestCommitNow(t *testing.T) {
	checked := func(bytes int) *bodyBatch {
		b := fetchedBatch()
		b.bytes, b.checked = bytes, &chain.CheckedBlocks{}
		return b
	}
	checking, fetching, unasked := fetchedBatch, fetchingBatch, unaskedBatch
	failed := func() *bodyBatch {
		b := checked(1)
		b.failed = true
		return b
	}
	run := func(n int, after ...*bodyBatch) []*bodyBatch {
		var bs []*bodyBatch
		for range n {
			bs = append(bs, checked(1000))
		}
		return append(bs, after...)
	}
	// full is a window with no room for another request: the checked
	// batches, then one being fetched, then ones fetched and checking.
	full := func(n int) []*bodyBatch {
		bs := run(n, fetching())
		for len(bs) < maxBatchesAhead+1 {
			bs = append(bs, checking())
		}
		return bs
	}
	tests := []windowCase{
		{name: "nothing checked", batches: []*bodyBatch{checking(), checked(1)}, want: 0},
		{name: "few, the next being checked", batches: run(2, checking(), unasked()), want: 0},
		{name: "few, the next being fetched", batches: run(2, fetching(), unasked()), want: 0},
		{name: "few, from next", batches: append([]*bodyBatch{unasked()}, run(2, fetching(), unasked())...), next: 1, want: 0},
		{name: "few, the next fetched by nobody", batches: run(2, unasked()), want: 2},
		{name: "few, the last known", batches: run(2), want: 2},
		{name: "few, the window full", batches: full(2), want: 2},
		{name: "few, the bytes bound reached", batches: run(2, fetching(), unasked()), held: maxBytesAhead, want: 2},
		{name: "enough batches", batches: run(minCommitBatches, checking()), want: minCommitBatches},
		{name: "more than enough", batches: run(minCommitBatches+3, fetching()), want: minCommitBatches + 3},
		{name: "enough bytes", batches: []*bodyBatch{checked(minCommitBytes), checking()}, want: 1},
		{name: "few, one failed its checks", batches: append(run(1), failed(), checked(1), fetching(), unasked()), want: 2},
	}
	var s Syncer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.commitNow(tt.batches, tt.next, tt.held); got != tt.want {
				t.Fatalf("commitNow = %d, want %d", got, tt.want)
			}
		})
	}
}
