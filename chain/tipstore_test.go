package chain_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

// TestTipInMemoryMatchesStore: after each kind of write the chain makes
// (a block on the tip, synced or gossiped, a lighter side branch, a reorg
// onto a heavier one, a block that fails to connect, a reopen), the tip
// the chain answers from memory is the store's: the same hash and a meta
// equal field by field. And it is answered from memory, and the meta
// handed out is the caller's own.
func TestTipInMemoryMatchesStore(t *testing.T) {
	h := newHarness(t, nil)
	base := h.extend(h.tipHash(), 3)
	var side []*chain.Block
	tests := []struct {
		name string
		step func(t *testing.T)
	}{
		{"a block on the tip", func(t *testing.T) { h.extend(h.tipHash(), 1) }},
		{"a block gossiped", func(t *testing.T) {
			if _, err := h.process(h.build(h.tipHash(), nil, nil)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a lighter side branch", func(t *testing.T) { side = h.extend(base[1].Hash(), 2) }},
		{"a reorg onto the side branch", func(t *testing.T) {
			old := h.tipHash()
			h.extend(side[len(side)-1].Hash(), 6)
			if h.tipHash() == old {
				t.Fatal("no reorg")
			}
		}},
		{"a block that fails to connect", func(t *testing.T) {
			old := h.tipHash()
			bad := h.build(old, nil, func(b *chain.Block) { b.Transactions[0].Amount += 1 })
			if _, err := h.sync(bad); err == nil {
				t.Fatal("a coinbase paying too much connected")
			}
			if h.tipHash() != old {
				t.Fatal("the tip moved")
			}
		}},
		{"a reopen", func(t *testing.T) { h.close(); h.open() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.step(t)
			stored, err := h.st.Tip()
			if err != nil {
				t.Fatal(err)
			}
			want, err := h.st.Meta(stored)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := chain.KnownTip(h.c)
			if !ok {
				t.Fatal("the tip is not known in memory")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("tip in memory %+v, the store's %+v", got, want)
			}
			if mh, err := h.c.MainHash(want.Height()); err != nil || mh != stored {
				t.Fatalf("main chain at the tip's height: %s, %v; want the tip %s", mh.Short(), err, stored.Short())
			}
			below, err := h.st.MainHash(want.Height() - 1)
			if mh, err2 := h.c.MainHash(want.Height() - 1); mh != below || err2 != err {
				t.Fatalf("main chain below the tip: %s, %v; the store's %s, %v", mh.Short(), err2, below.Short(), err)
			}
			for _, above := range []uint64{want.Height() + 1, want.Height() + 5} {
				_, err := h.st.MainHash(above)
				if _, err2 := h.c.MainHash(above); !errors.Is(err, chain.ErrNotFound) || !errors.Is(err2, chain.ErrNotFound) {
					t.Fatalf("main chain above the tip, at %d: %v; the store's %v", above, err2, err)
				}
			}
			m, err := h.c.Meta(stored)
			if err != nil {
				t.Fatal(err)
			}
			m.Work.SetInt64(0)
			m.Status = chain.StatusInvalid
			if again, _ := h.c.Meta(stored); !reflect.DeepEqual(again, want) {
				t.Fatalf("a caller's change to its meta reached the chain's: %+v", again)
			}
		})
	}
}

// TestAbsentMetaForgottenByApply: the chain remembers that the store has
// no meta for a hash it just looked up (tipstore.go), and forgets it with
// the next write: a block looked up before it arrives is found once it is
// stored, on the main chain or a side branch, also while other lookups of
// it race the write.
func TestAbsentMetaForgottenByApply(t *testing.T) {
	h := newHarness(t, nil)
	base := h.extend(h.tipHash(), 2)
	tests := []struct {
		name  string
		block func() *chain.Block
		send  func(*chain.Block) (*chain.Change, error)
	}{
		{"synced on a side branch", func() *chain.Block { return h.build(base[0].Hash(), nil, nil) }, h.sync},
		// Then buried under a child: the tip's own meta is answered
		// before any absence, so only a block below the tip tells.
		{"gossiped on the tip", func() *chain.Block { return h.build(h.tipHash(), nil, nil) }, func(b *chain.Block) (*chain.Change, error) {
			if ch, err := h.process(b); err != nil {
				return ch, err
			}
			return h.process(h.build(b.Hash(), nil, nil))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.block()
			for range 2 {
				if _, err := h.c.Meta(b.Hash()); !errors.Is(err, chain.ErrNotFound) {
					t.Fatalf("meta of a block not sent yet: %v", err)
				}
			}
			stop := make(chan struct{})
			var readers sync.WaitGroup
			for range 2 {
				readers.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							_, _ = h.c.Meta(b.Hash())
						}
					}
				})
			}
			_, err := tc.send(b)
			close(stop)
			readers.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if m, err := h.c.Meta(b.Hash()); err != nil || m.Hash != b.Hash() {
				t.Fatalf("meta of the stored block: %v, %v", m, err)
			}
			if _, err := h.st.Meta(b.Hash()); err != nil {
				t.Fatalf("the store has no meta of the block: %v", err)
			}
		})
	}
}

// stallStore is a chain's store that counts the meta reads of one hash
// and can hold such a read, after the store answered, until released.
type stallStore struct {
	chain.Store
	hash   chain.Hash
	reads  atomic.Int64
	hold   atomic.Bool
	held   chan struct{} // a read is held
	resume chan struct{}
}

func (s *stallStore) Meta(h chain.Hash) (*chain.BlockMeta, error) {
	m, err := s.Store.Meta(h)
	if h == s.hash {
		s.reads.Add(1)
		if s.hold.CompareAndSwap(true, false) {
			s.held <- struct{}{}
			<-s.resume
		}
	}
	return m, err
}

// chainOnStall is a chain on h's store through a stallStore watching hash.
func chainOnStall(t *testing.T, h *harness, hash chain.Hash) (*chain.Chain, *stallStore) {
	t.Helper()
	st := &stallStore{Store: h.st, hash: hash, held: make(chan struct{}), resume: make(chan struct{})}
	c, err := chain.New(h.p, st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

// TestAbsentMetaReadRacingApply: a read that found no meta, and comes
// back only after the Apply that wrote it, leaves no absence behind: the
// block is found at once.
func TestAbsentMetaReadRacingApply(t *testing.T) {
	h := newHarness(t, nil)
	base := h.extend(h.tipHash(), 2)
	b := h.build(base[0].Hash(), nil, nil) // a side branch: not the tip
	c, st := chainOnStall(t, h, b.Hash())
	st.hold.Store(true)
	missed := make(chan error, 1)
	go func() {
		_, err := c.Meta(b.Hash())
		missed <- err
	}()
	<-st.held
	if _, _, err := c.ProcessBlocks(context.Background(), []*chain.Block{b}); err != nil {
		t.Fatal(err)
	}
	close(st.resume)
	if err := <-missed; !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("the read begun before the block was stored: %v", err)
	}
	if m, err := c.Meta(b.Hash()); err != nil || m.Hash != b.Hash() {
		t.Fatalf("meta of the stored block after a read that raced its write: %v, %v", m, err)
	}
}

// TestAbsentMetaAnsweredFromMemory: a hash the store just had no meta
// for is answered from memory until the next write, which sends the next
// lookup to the store again.
func TestAbsentMetaAnsweredFromMemory(t *testing.T) {
	h := newHarness(t, nil)
	base := h.extend(h.tipHash(), 2)
	b := h.build(base[1].Hash(), nil, nil)
	c, st := chainOnStall(t, h, b.Hash())
	for range 3 {
		_, err := c.Meta(b.Hash())
		if !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("meta of a block not sent yet: %v", err)
		}
		// From memory or the store, the error names the block.
		if !strings.Contains(err.Error(), b.Hash().Short()) {
			t.Fatalf("meta of a block not sent yet: %q does not name it", err)
		}
	}
	if _, err := c.MainHash(c.Tip().Height() + 5); !errors.Is(err, chain.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(c.Tip().Height()+5)) {
		t.Fatalf("main hash above the tip: %v, want ErrNotFound naming the height", err)
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("three lookups of a missing meta read the store %d times, want 1", n)
	}
	other := h.build(base[0].Hash(), nil, nil)
	if _, _, err := c.ProcessBlocks(context.Background(), []*chain.Block{other}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Meta(b.Hash()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("meta of a block not sent yet: %v", err)
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("a lookup after a write read the store %d times in all, want 2", n)
	}
}
