package chain_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// failingStore makes Apply fail with err while err is set, the way a full
// disk or a file system remounted read-only does, and counts the calls.
type failingStore struct {
	chain.Store
	err     error
	applies int
}

func (s *failingStore) Apply(b *chain.Batch) error {
	s.applies++
	if s.err != nil {
		return fmt.Errorf("apply: %w", s.err)
	}
	return s.Store.Apply(b)
}

// TestStoreFailureIsSticky: once a commit fails the chain takes no more
// writes, even when the store would take them again, because what the
// file holds after a failed commit is unknown until it is reopened. The
// tip and reads stay on what was committed last; a chain opened again on
// the store goes on from there.
func TestStoreFailureIsSticky(t *testing.T) {
	h := newHarness(t, nil)
	fs := &failingStore{Store: h.st}
	c, err := chain.New(h.p, fs, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var blocks []*chain.Block
	for range 3 {
		b := h.build(c.Tip().Hash, nil, nil)
		if _, err := c.ProcessBlock(ctx, b); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	committed := c.Tip()
	if c.StoreErr() != nil {
		t.Fatalf("StoreErr %v before any failure", c.StoreErr())
	}
	select {
	case <-c.StoreFailed():
		t.Fatal("StoreFailed closed before any failure")
	default:
	}

	fs.err = syscall.ENOSPC
	next := h.build(committed.Hash, nil, nil)
	ch, err := c.ProcessBlock(ctx, next)
	if !errors.Is(err, chain.ErrStoreFailed) || !errors.Is(err, syscall.ENOSPC) || ch != nil {
		t.Fatalf("ProcessBlock on a full disk: change %v, error %v; want ErrStoreFailed wrapping ENOSPC", ch, err)
	}
	if chain.CodeOf(err) != 0 {
		t.Errorf("store failure has rule code %v: peers would be blamed for it", chain.CodeOf(err))
	}
	select {
	case <-c.StoreFailed():
	default:
		t.Fatal("StoreFailed not closed after a failed commit")
	}
	if got := c.StoreErr(); !errors.Is(got, syscall.ENOSPC) {
		t.Errorf("StoreErr %v, want it to wrap ENOSPC", got)
	}
	if c.Tip() != committed {
		t.Errorf("tip moved to %s on a failed commit, want %s", c.Tip().Hash.Short(), committed.Hash.Short())
	}

	// The disk has room again: the chain still refuses, without asking
	// the store.
	fs.err = nil
	applies := fs.applies
	if _, err := c.ProcessBlock(ctx, next); !errors.Is(err, chain.ErrStoreFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("ProcessBlock after the failure: %v, want the sticky ErrStoreFailed", err)
	}
	if _, n, err := c.ProcessBlocks(ctx, []*chain.Block{next}); !errors.Is(err, chain.ErrStoreFailed) || n != 0 {
		t.Errorf("ProcessBlocks after the failure: %d processed, %v; want 0 and ErrStoreFailed", n, err)
	}
	if fs.applies != applies {
		t.Errorf("store Apply called %d more times after the failure", fs.applies-applies)
	}
	for _, b := range blocks {
		if _, err := c.Block(b.Hash()); err != nil {
			t.Errorf("read block %s after the failure: %v", b.Hash().Short(), err)
		}
	}

	// Reopened, the chain is where the last commit left it and takes
	// the block the failed commit lost.
	c2, err := chain.New(h.p, h.st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Tip().Hash != committed.Hash {
		t.Fatalf("reopened at %s, want %s", c2.Tip().Hash.Short(), committed.Hash.Short())
	}
	if _, err := c2.ProcessBlock(ctx, next); err != nil {
		t.Fatalf("reopened chain refuses the lost block: %v", err)
	}
}
