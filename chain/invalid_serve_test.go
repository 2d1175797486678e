package chain_test

import (
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestKnownInvalidNotServed: a block stored because its branch was
// heavier, that then failed to connect (protocol.md 9.6), is marked
// invalid and kept; BlockBytes, what the node serves to peers, does not
// give it, before the node restarts or after (the invalid set is seeded
// from the stored side blocks at open), while Block still reads it. A
// peer that fetched it would only fail on it, and hold the peer that
// served it at fault.
func TestKnownInvalidNotServed(t *testing.T) {
	h := newHarness(t, nil)
	tip := h.extend(h.tipHash(), 3)[2].Hash()
	bad := h.build(tip, nil, func(b *chain.Block) {
		b.Transactions[0].Amount++
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	})
	if _, err := h.process(bad); !errors.Is(err, chain.ErrBadCoinbaseAmount) {
		t.Fatalf("a block that overpays its coinbase: %v, want %v", err, chain.ErrBadCoinbaseAmount)
	}
	check := func(when string) {
		t.Helper()
		m, err := h.c.Meta(bad.Hash())
		if err != nil || m.Status&chain.StatusInvalid == 0 {
			t.Fatalf("%s: the block is not stored marked invalid: %v", when, err)
		}
		if _, err := h.c.Block(bad.Hash()); err != nil {
			t.Fatalf("%s: Block: %v", when, err)
		}
		if b, err := h.c.BlockBytes(bad.Hash()); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("%s: BlockBytes served %d bytes of a block known invalid (%v)", when, len(b), err)
		}
		if _, err := h.c.BlockBytes(tip); err != nil {
			t.Fatalf("%s: BlockBytes of a valid block: %v", when, err)
		}
	}
	check("after it failed")
	h.close()
	h.open()
	check("after a restart")
}
