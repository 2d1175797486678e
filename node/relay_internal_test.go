package node

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestPublishBlockDoesNotWait: the miner's caller (POST /mine) gets its
// answer without waiting for GossipSub to take the block, up to
// maxUnsentBlocks blocks not yet published, past which it waits; the
// blocks still go out in the order they were mined; waitBlocks, which
// Close runs before closing gossip, waits for all of them.
func TestPublishBlockDoesNotWait(t *testing.T) {
	g := newHeldGossip()
	r := &relay{log: testutil.Logger(t), publish: g.publish}
	ctx, cancel := context.WithCancel(t.Context())
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for h := range uint64(maxUnsentBlocks) {
			r.publishBlock(ctx, &chain.Block{Header: chain.Header{Height: h + 1}})
		}
		cancel() // the request ends: its blocks are published all the same
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("publishBlock waited for the publish")
	}
	// One more than the bound waits for room, however long GossipSub
	// takes: unsent blocks do not pile up.
	go r.publishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: maxUnsentBlocks + 1}})
	testutil.Eventually(t, 10*time.Second, "a block past the bound waiting", func() bool {
		return waitingOnSend("node.(*relay).publishBlock") == 1
	})
	g.open()
	testutil.Eventually(t, 10*time.Second, "the last block handed over", func() bool {
		return len(g.heights()) == maxUnsentBlocks+1
	})
	if !r.waitBlocks(10 * time.Second) {
		t.Fatal("mined blocks not published")
	}
	g.checkOrder(t, maxUnsentBlocks+1)
}

// heldGossip stands for GossipSub in the relay's tests: it publishes
// nothing until release is closed, then records each block's height.
type heldGossip struct {
	release   chan struct{}
	once      sync.Once
	mu        sync.Mutex
	published []uint64
}

func newHeldGossip() *heldGossip { return &heldGossip{release: make(chan struct{})} }

// open lets publishing go on; safe to call more than once.
func (g *heldGossip) open() { g.once.Do(func() { close(g.release) }) }

func (g *heldGossip) publish(_ context.Context, b *chain.Block) error {
	<-g.release // GossipSub busy: nothing goes out until released
	g.mu.Lock()
	defer g.mu.Unlock()
	g.published = append(g.published, b.Header.Height)
	return nil
}

func (g *heldGossip) heights() []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.published)
}

// checkOrder fails t unless heights 1 to n were published, in order.
func (g *heldGossip) checkOrder(t *testing.T, n int) {
	t.Helper()
	got := g.heights()
	ok := len(got) == n
	for i, h := range got {
		ok = ok && h == uint64(i+1)
	}
	if !ok {
		t.Fatalf("published %v, want 1 to %d in order", got, n)
	}
}

// waitingOnSend counts the goroutines blocked sending on a channel
// whose stack holds frame.
func waitingOnSend(frame string) int { return blockedIn("[chan send", frame) }

// blockedIn counts the goroutines in state (as runtime.Stack prints it,
// "[chan receive" say) whose stack holds frame.
func blockedIn(state, frame string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range bytes.Split(buf[:n], []byte("\n\n")) {
		if bytes.Contains(g, []byte(state)) && bytes.Contains(g, []byte(frame)) {
			count++
		}
	}
	return count
}

// TestTryPublishBlock: the miner's hook, which runs under the chain's
// lock, hands a block over only when it need not wait: not while
// maxUnsentBlocks are unsent, nor while another caller takes its place
// in the order; it does once there is room, and the order holds.
func TestTryPublishBlock(t *testing.T) {
	g := newHeldGossip()
	r := &relay{log: testutil.Logger(t), publish: g.publish}
	r.orderMu.Lock() // another caller taking its place, with room left
	if r.tryPublishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: 1}}) {
		t.Fatal("a block handed over while another caller held the order")
	}
	r.orderMu.Unlock()
	for h := range uint64(maxUnsentBlocks) {
		if !r.tryPublishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: h + 1}}) {
			t.Fatalf("block %d refused with room left", h+1)
		}
	}
	if r.tryPublishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: maxUnsentBlocks + 1}}) {
		t.Fatal("a block past the bound handed over")
	}
	g.open()
	if !r.waitBlocks(10 * time.Second) {
		t.Fatal("blocks not published")
	}
	// A publishing goroutine frees its place just after it reports the
	// block published: poll.
	testutil.Eventually(t, 10*time.Second, "a block handed over once there is room", func() bool {
		return r.tryPublishBlock(t.Context(), &chain.Block{Header: chain.Header{Height: maxUnsentBlocks + 1}})
	})
	if !r.waitBlocks(10 * time.Second) {
		t.Fatal("the last block not published")
	}
	g.checkOrder(t, maxUnsentBlocks+1)
}
