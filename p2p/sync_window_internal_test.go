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
	full := func() *bodyBatch { return &bodyBatch{hashes: make([]chain.Hash, 1), blocks: make([]*chain.Block, 1)} }
	empty := func() *bodyBatch { return &bodyBatch{hashes: make([]chain.Hash, 1)} }
	busy := func() *bodyBatch { return &bodyBatch{hashes: make([]chain.Hash, 1), holders: []peer.ID{"p"}} }
	window := func(head *bodyBatch) []*bodyBatch {
		bs := []*bodyBatch{head}
		for range maxBatchesAhead + 4 {
			bs = append(bs, empty())
		}
		return bs
	}
	tests := []struct {
		name    string
		batches []*bodyBatch
		next    int
		held    int
		want    int
	}{
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
