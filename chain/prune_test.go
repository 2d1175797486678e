package chain_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestPruneSideBranch (protocol.md §9.6): a side branch of two blocks
// forking at height 1 stays stored, across a reopen, while its tip's work
// is within SideBranchPruneDepth blocks' work of the main tip (its first
// block too, though it is further behind: the second needs it); once the
// main chain is more than that ahead of the branch's tip, both bodies and
// index entries are gone, the main chain is whole, and the branch can be
// stored again when it is brought by sync.
func TestPruneSideBranch(t *testing.T) {
	h := newHarness(t, nil)
	main := h.extend(h.tipHash(), 3)
	side := h.extend(main[0].Hash(), 2)
	if h.tipHash() != main[2].Hash() {
		t.Fatal("the side branch took the tip")
	}
	h.close()
	h.open() // the side set comes from the store

	sideTip, err := h.c.Meta(side[1].Hash())
	if err != nil {
		t.Fatal(err)
	}
	stored := func(b *chain.Block) bool {
		_, err := h.c.Meta(b.Hash())
		if err != nil && !errors.Is(err, chain.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	for {
		tip := h.c.Tip()
		margin := new(big.Int).Mul(chain.WorkForBits(tip.Header.Bits), big.NewInt(chain.SideBranchPruneDepth))
		behind := new(big.Int).Sub(tip.Work, sideTip.Work)
		if behind.Cmp(margin) > 0 {
			break
		}
		if !stored(side[0]) || !stored(side[1]) {
			t.Fatalf("side branch pruned at main height %d, %s work behind, margin %s", tip.Height(), behind, margin)
		}
		h.extend(h.tipHash(), 1)
	}
	for i, b := range side {
		if stored(b) {
			t.Errorf("side block %d still indexed at main height %d", i, h.c.Tip().Height())
		}
		if _, err := h.c.Block(b.Hash()); !errors.Is(err, chain.ErrNotFound) {
			t.Errorf("side block %d body: %v, want ErrNotFound", i, err)
		}
	}
	for height := uint64(0); height <= h.c.Tip().Height(); height++ {
		hash, err := h.st.MainHash(height)
		if err != nil {
			t.Fatalf("main chain at %d: %v", height, err)
		}
		if _, err := h.c.Block(hash); err != nil {
			t.Fatalf("main block at %d: %v", height, err)
		}
	}
	if err := h.st.Check(); err != nil {
		t.Fatalf("store check: %v", err)
	}
	if _, err := h.sync(side[0]); err != nil {
		t.Fatalf("the pruned branch brought again by sync: %v", err)
	}
	if !stored(side[0]) {
		t.Fatal("the pruned branch was not stored again")
	}
}
