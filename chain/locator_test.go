package chain_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

func TestLocatorAndHeadersAfter(t *testing.T) {
	h := newHarness(t, nil)
	blocks := h.extend(h.tipHash(), 300)
	loc, err := h.c.Locator()
	if err != nil {
		t.Fatal(err)
	}
	if loc[0] != h.tipHash() || loc[len(loc)-1] != h.p.NetworkID() {
		t.Fatal("locator must start at the tip and end at genesis")
	}
	if len(loc) > 10+10 {
		t.Fatalf("locator of a 300-block chain has %d entries; it should thin out exponentially", len(loc))
	}
	// A peer 100 blocks behind, on our chain.
	peer := []chain.Hash{blocks[199].Hash(), blocks[150].Hash(), h.p.NetworkID()}
	hdrs, err := h.c.HeadersAfter(peer, chain.ZeroHash, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdrs) != 50 || hdrs[0].Height != 201 || hdrs[0].PrevHash != blocks[199].Hash() {
		t.Fatalf("got %d headers from %d", len(hdrs), hdrs[0].Height)
	}
	for i := 1; i < len(hdrs); i++ {
		if hdrs[i].PrevHash != hdrs[i-1].Hash() {
			t.Fatalf("header %d does not link", i)
		}
	}
	// A stop hash ends the answer early.
	hdrs, _ = h.c.HeadersAfter(peer, blocks[204].Hash(), 50)
	if len(hdrs) != 5 {
		t.Fatalf("with a stop hash: %d headers, want 5", len(hdrs))
	}
	// A locator of unknown hashes starts after genesis.
	hdrs, _ = h.c.HeadersAfter([]chain.Hash{{1}, {2}}, chain.ZeroHash, 3)
	if len(hdrs) != 3 || hdrs[0].Height != 1 {
		t.Fatal("unknown locator must start at height 1")
	}
	// Too long a locator is refused.
	if _, err := h.c.HeadersAfter(make([]chain.Hash, chain.MaxLocatorLen+1), chain.ZeroHash, 1); err == nil {
		t.Fatal("oversized locator accepted")
	}
	// At the tip there is nothing to send.
	hdrs, _ = h.c.HeadersAfter([]chain.Hash{h.tipHash()}, chain.ZeroHash, 10)
	if len(hdrs) != 0 {
		t.Fatalf("%d headers after the tip", len(hdrs))
	}
}
