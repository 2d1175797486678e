package node

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestPublishBlockDoesNotWait: the miner's caller (POST /mine) gets its
// answer without waiting for GossipSub to take the block, and the blocks
// still go out in the order they were mined; waitBlocks, which Close
// runs before closing gossip, waits for all of them.
func TestPublishBlockDoesNotWait(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var published []uint64
	r := &relay{log: testutil.Logger(t), publish: func(_ context.Context, b *chain.Block) error {
		<-release // GossipSub busy: nothing goes out until released
		mu.Lock()
		defer mu.Unlock()
		published = append(published, b.Header.Height)
		return nil
	}}
	ctx, cancel := context.WithCancel(t.Context())
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for h := range uint64(5) {
			r.publishBlock(ctx, &chain.Block{Header: chain.Header{Height: h + 1}})
		}
		cancel() // the request ends: its blocks are published all the same
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("publishBlock waited for the publish")
	}
	close(release)
	r.waitBlocks()
	mu.Lock()
	defer mu.Unlock()
	if want := []uint64{1, 2, 3, 4, 5}; !slices.Equal(published, want) {
		t.Fatalf("published %v, want %v", published, want)
	}
}
