package p2p_test

import (
	"context"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// heldAdds holds every gossiped batch in AddTxs, after gossip decoded it
// and before the mempool judges it, until release is closed: a batch
// still in the receiver's validation pipeline.
type heldAdds struct {
	*testChain
	entered chan struct{}
	release chan struct{}
}

func (c *heldAdds) AddTxs(txs []*chain.Transaction, ids []chain.Hash) []error {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	<-c.release
	return c.testChain.AddTxs(txs, ids)
}

// TestCompactFromRecentBatches: a block carries ten transfers that the
// receiver got in a gossiped batch but does not hold in its mempool: it
// refused them (a full pool, a sender at its limit), or the batch is
// still waiting for its admission. The receiver rebuilds the block from
// the batch it received, asking its sender for nothing.
func TestCompactFromRecentBatches(t *testing.T) {
	const n = 10
	tests := []struct {
		name string
		opts []chain.MempoolOption
		hold bool
	}{
		{name: "pool full", opts: []chain.MempoolOption{chain.WithMaxTxs(3)}},
		{name: "sender limit", opts: []chain.MempoolOption{chain.WithMaxPerSender(3)}},
		{name: "batch in validation", hold: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newCompactNode(t, false, nil)
			p := a.c.Params()
			held := &heldAdds{entered: make(chan struct{}, 1), release: make(chan struct{})}
			var view func(*testChain) p2p.Chain
			if tt.hold {
				view = func(c *testChain) p2p.Chain { held.testChain = c; return held }
			} else {
				close(held.release)
			}
			defer func() {
				select {
				case <-held.release:
				default:
					close(held.release)
				}
			}()
			b := newCompactNodeOn(t, newTestChainFor(t, p, tt.opts...), false, view)
			alice := testwallet.New("alice")
			fundAll(t, alice, a, b)
			link(t, a, b)
			txTopic := protocol.TxTopic(p.NetworkID())
			testutil.Eventually(t, 10*time.Second, "each in the other's tx mesh", func() bool {
				return a.mesh.inMesh(txTopic, b.h.ID()) && b.mesh.inMesh(txTopic, a.h.ID())
			})

			txs := transfers(t, p, alice, n, a.c)
			if err := a.g.PublishTxs(context.Background(), txs); err != nil {
				t.Fatal(err)
			}
			if tt.hold {
				select {
				case <-held.entered:
				case <-time.After(10 * time.Second):
					t.Fatal("the batch never reached b's mempool")
				}
			} else {
				testutil.Eventually(t, 10*time.Second, "b judges the batch", func() bool {
					s := b.g.Stats().Tx
					return s.Accepted+s.Ignored+s.Rejected == 1
				})
			}
			holds := 0
			b.c.RangeMempool(func(chain.Hash, *chain.Transaction) bool { holds++; return true })
			if holds >= n {
				t.Fatalf("b's mempool holds %d of the %d transfers; the test needs it to lack some", holds, n)
			}

			blk := publishMined(t, a)
			if len(blk.Transactions) != n+1 {
				t.Fatalf("block of %d transactions, want %d", len(blk.Transactions), n+1)
			}
			waitTipIs(t, b.c, blk, "b connects the block")
			got := b.g.Stats().Compact
			if got.Rebuilt != 1 || got.Requested != 0 || got.Fetched != 0 || got.TxsRecent != uint64(n-holds) {
				t.Fatalf("b: %+v; want the block rebuilt with the %d transfers its mempool lacked taken from the batch, none asked",
					got, n-holds)
			}
			if s := a.g.Stats().Compact.Served; s != 0 {
				t.Fatalf("a served %d requests, want none", s)
			}
		})
	}
}
