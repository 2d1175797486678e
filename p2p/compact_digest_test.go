package p2p_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
)

// digestChain records the digest gossip hands the chain with each block.
type digestChain struct {
	*testChain
	got chan *chain.TxDigest
}

func (c digestChain) ProcessBlock(ctx context.Context, b *chain.Block, d *chain.TxDigest) (p2p.BlockResult, error) {
	select {
	case c.got <- d:
	default: // a second delivery of the block: the first digest is the one looked at
	}
	return c.testChain.ProcessBlock(ctx, b, d)
}

// TestCompactDigestHandedToChain: the receiver of a compact block hands
// the chain the digest it hashed to check the rebuilt block's merkle
// root, so that the chain's check does not hash the transactions again;
// whether every transaction came from its mempool or some were asked of
// the sender.
func TestCompactDigestHandedToChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inPool int // of the block's 10 transfers, how many b holds
	}{
		{"rebuilt from the mempool", 10},
		{"missing ones asked of the sender", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan *chain.TxDigest, 1)
			a := newCompactNode(t, false, nil)
			b := newCompactNode(t, false, func(c *testChain) p2p.Chain { return digestChain{c, got} })
			p, alice := a.c.Params(), testwallet.New("alice")
			fundAll(t, alice, a, b)
			link(t, a, b)
			txs := transfers(t, p, alice, 10, a.c)
			for _, tx := range txs[:tc.inPool] {
				if err := b.c.AddTx(tx); err != nil {
					t.Fatal(err)
				}
			}
			blk := publishMined(t, a)
			waitTipIs(t, b.c, blk, "b connects the block")
			d := <-got
			switch {
			case d == nil:
				t.Fatal("no digest handed to the chain")
			case d.Root() != blk.Header.MerkleRoot:
				t.Fatalf("digest root %s, block's %s", d.Root().Short(), blk.Header.MerkleRoot.Short())
			case !slices.Equal(d.IDs(), chain.TxIDs(blk.Transactions)):
				t.Fatal("digest ids are not the block's transactions' ids")
			}
		})
	}
}
