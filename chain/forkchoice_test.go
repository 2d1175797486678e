package chain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
)

func hashes(bs []*chain.Block) []chain.Hash {
	out := make([]chain.Hash, len(bs))
	for i, b := range bs {
		out[i] = b.Hash()
	}
	return out
}

func sameHashes(t *testing.T, what string, got []*chain.Block, want []*chain.Block) {
	t.Helper()
	g, w := hashes(got), hashes(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d blocks, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s[%d]: %s, want %s", what, i, g[i].Short(), w[i].Short())
		}
	}
}

// TestForkChoice: equal work keeps the branch seen first; one more block
// on the other branch moves the tip, and the Change says exactly which
// blocks left and joined the main chain.
func TestForkChoice(t *testing.T) {
	h := newHarness(t, nil)
	g := h.tipHash()
	a := h.extend(g, 2)
	b1 := h.build(g, nil, nil)
	if ch, err := h.sync(b1); err != nil || ch != nil {
		t.Fatalf("side block: change %v, err %v", ch, err)
	}
	bb := h.extend(b1.Hash(), 1) // b1,bb[0]: equal work with a
	if h.tipHash() != a[1].Hash() {
		t.Fatalf("tie moved the tip to %s", h.tipHash().Short())
	}
	more := h.build(bb[0].Hash(), nil, nil)
	ch, err := h.process(more)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Reorg() || h.tipHash() != more.Hash() {
		t.Fatalf("heavier branch did not win: tip %s", h.tipHash().Short())
	}
	sameHashes(t, "disconnected", ch.Disconnected, []*chain.Block{a[1], a[0]})
	sameHashes(t, "connected", ch.Connected, []*chain.Block{b1, bb[0], more})
	if ch.OldTip.Hash != a[1].Hash() || ch.NewTip.Hash != more.Hash() {
		t.Fatal("change tips wrong")
	}
	for height, want := range []chain.Hash{g, b1.Hash(), bb[0].Hash(), more.Hash()} {
		got, err := h.c.MainHash(uint64(height))
		if err != nil || got != want {
			t.Fatalf("main chain at %d: %s, %v; want %s", height, got.Short(), err, want.Short())
		}
	}
}

// TestReorgOntoShorterHeavierBranch: work, not height, decides. A branch
// of two hard blocks beats three easy ones, and the main-chain index above
// the new tip is gone.
func TestReorgOntoShorterHeavierBranch(t *testing.T) {
	q := *chain.RegTest()
	q.NoRetarget = false
	q.RetargetInterval = 1
	q.TargetSpacing = time.Second
	q.MaxRetargetFactor = 4
	q.MaxFutureDrift = 100 * time.Millisecond // a tenth of its 1 s window
	p := chain.NewParams(q)
	h := newHarness(t, p)
	g := h.tipHash()
	// Fast blocks (1 ms apart) make each next target 4x harder; slow ones
	// (1,000 s apart) keep it at the limit. Each carries the target
	// NextBits asks for.
	spaced := func(gap int64) func(chain.Hash, int) []*chain.Block {
		return func(parent chain.Hash, n int) []*chain.Block {
			var out []*chain.Block
			for i := 0; i < n; i++ {
				pm, _ := h.c.Meta(parent)
				bits, err := chain.NextBits(p, metaSource{h}, &pm.Header)
				if err != nil {
					t.Fatal(err)
				}
				b := h.build(parent, nil, func(b *chain.Block) {
					b.Header.Bits = bits
					b.Header.Timestamp = pm.Header.Timestamp + gap
				})
				if _, err := h.sync(b); err != nil {
					t.Fatalf("block %d, %d ms after its parent: %v", i, gap, err)
				}
				out = append(out, b)
				parent = b.Hash()
			}
			return out
		}
	}
	slow, fast := spaced(1_000_000), spaced(1)
	long := slow(g, 3)
	short := fast(g, 3) // targets: limit/4, limit/16, limit/64: far more work
	if h.tipHash() != short[2].Hash() {
		t.Fatalf("tip %s: the heavier branch should win", h.tipHash().Short())
	}
	if long[2].Header.Height != 3 || h.c.Tip().Height() != 3 {
		t.Fatalf("tip height %d", h.c.Tip().Height())
	}
	// A branch of two fast blocks is heavier than three slow ones but
	// shorter: the main-chain index above its tip must go.
	h = newHarness(t, p)
	g = h.tipHash()
	slow(g, 3)
	two := fast(g, 2)
	if h.tipHash() != two[1].Hash() {
		t.Fatalf("tip %s, want the two-block heavier branch", h.tipHash().Short())
	}
	if _, err := h.c.MainHash(3); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("main chain still has height 3 after moving to a height-2 tip: %v", err)
	}
}

// metaSource answers HeaderSource from a harness's stored metas.
type metaSource struct{ h *harness }

func (s metaSource) Ancestor(tip *chain.Header, height uint64) (*chain.Header, error) {
	hd := tip
	for hd.Height > height {
		m, err := s.h.c.Meta(hd.PrevHash)
		if err != nil {
			return nil, err
		}
		hd = &m.Header
	}
	return hd, nil
}

// TestInvalidBlockInHeavierBranch: a heavier branch whose last block fails
// at connect leaves the tip where it was when the valid part is not
// heavier, and moves it to the valid part when that is heavier.
func TestInvalidBlockInHeavierBranch(t *testing.T) {
	badCoinbase := func(b *chain.Block) {
		b.Transactions[0].Amount++
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	}
	t.Run("valid part ties", func(t *testing.T) {
		h := newHarness(t, nil)
		g := h.tipHash()
		a := h.extend(g, 3)
		side := h.extend(g, 3) // equal work: stays on a
		bad := h.build(side[2].Hash(), nil, badCoinbase)
		if _, err := h.process(bad); !errors.Is(err, chain.ErrBadCoinbaseAmount) {
			t.Fatalf("got %v", err)
		}
		if h.tipHash() != a[2].Hash() {
			t.Fatal("tip left a for a branch with equal valid work")
		}
	})
	t.Run("valid part heavier", func(t *testing.T) {
		h := newHarness(t, nil)
		g := h.tipHash()
		h.extend(g, 2)
		// A side branch built elsewhere: two blocks tie with ours, the
		// third is heavier, the fourth breaks a rule at connect.
		other := newRival(t)
		side := other.extend(g, 3)
		bad := other.build(side[2].Hash(), nil, badCoinbase)
		if _, _, err := h.c.ProcessBlocks(context.Background(), side[:2]); err != nil {
			t.Fatal(err)
		}
		ch, n, err := h.c.ProcessBlocks(context.Background(), []*chain.Block{side[2], bad})
		if !errors.Is(err, chain.ErrBadCoinbaseAmount) || n != 1 {
			t.Fatalf("batch: processed %d, err %v", n, err)
		}
		if h.tipHash() != side[2].Hash() || !ch.Reorg() {
			t.Fatalf("tip %s, want the valid heavier block %s", h.tipHash().Short(), side[2].Hash().Short())
		}
	})
	t.Run("invalid block inside the branch", func(t *testing.T) {
		h := newHarness(t, nil)
		g := h.tipHash()
		a := h.extend(g, 2)
		s1 := h.build(g, nil, nil)
		h.sync(s1)
		s2 := h.build(s1.Hash(), nil, badCoinbase) // stored: not heavier, so not connected yet
		if _, err := h.sync(s2); err != nil {
			t.Fatalf("side block with less work is only stored: %v", err)
		}
		s3 := h.build(s2.Hash(), nil, nil)
		if _, err := h.process(s3); !errors.Is(err, chain.ErrBadCoinbaseAmount) {
			t.Fatalf("heavier branch with a bad block: got %v", err)
		}
		if h.tipHash() != a[1].Hash() {
			t.Fatal("tip moved onto an invalid branch")
		}
		s4 := h.build(s3.Hash(), nil, nil)
		if _, err := h.process(s4); !errors.Is(err, chain.ErrKnownInvalid) {
			t.Fatalf("child of the invalid branch: got %v, want ErrKnownInvalid", err)
		}
	})
}

// TestOrphans: blocks that arrive before their parents wait, then connect
// in one go when the missing parent comes; OrphanRoot names the block to
// ask for; the pool forgets the oldest when full.
func TestOrphans(t *testing.T) {
	h := newHarness(t, nil)
	g := h.tipHash()
	// Build five blocks on a scratch chain, then feed them backwards.
	scratch := newHarness(t, nil)
	blocks := scratch.extend(g, 5)
	for i := 4; i >= 1; i-- {
		_, err := h.process(blocks[i])
		if !errors.Is(err, chain.ErrUnknownParent) || !chain.IsTransient(err) {
			t.Fatalf("orphan %d: got %v, want transient ErrUnknownParent", i, err)
		}
	}
	if got := h.c.OrphanRoot(blocks[4].Hash()); got != blocks[0].Hash() {
		t.Fatalf("orphan root %s, want %s", got.Short(), blocks[0].Hash().Short())
	}
	if !h.c.HasBlock(blocks[3].Hash()) {
		t.Fatal("HasBlock false for a waiting orphan")
	}
	if _, err := h.process(blocks[3]); !errors.Is(err, chain.ErrDuplicateBlock) {
		t.Fatalf("orphan again: got %v", err)
	}
	ch, err := h.process(blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	if h.tipHash() != blocks[4].Hash() {
		t.Fatalf("tip %s after the missing parent arrived", h.tipHash().Short())
	}
	sameHashes(t, "connected", ch.Connected, blocks)
}

func TestOrphanPoolBound(t *testing.T) {
	scratch := newHarness(t, nil)
	blocks := scratch.extend(scratch.tipHash(), 6)
	st := newHarness(t, nil)
	st.close()
	h := &harness{t: t, p: st.p, dir: t.TempDir(), miner: st.miner}
	h.open()
	t.Cleanup(h.close)
	c, err := chain.New(h.p, h.st, chain.WithClock(h.c.Params().Genesis().Header.Time), chain.WithOrphanLimits(3, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 6; i++ {
		c.ProcessBlock(context.Background(), blocks[i])
	}
	for i := 1; i < 6; i++ {
		if got, want := c.HasBlock(blocks[i].Hash()), i >= 3; got != want {
			t.Fatalf("orphan %d kept=%v, want %v (the oldest leave first)", i, got, want)
		}
	}
}
