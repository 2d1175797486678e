package p2p_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// scanCountingChain counts the passes over its mempool, which rebuilding
// a compact block makes.
type scanCountingChain struct {
	*testChain
	scans atomic.Int64
}

func (c *scanCountingChain) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) {
	c.scans.Add(1)
	c.testChain.RangeMempool(f)
}

// TestCompactOrphanReplayIgnored: an orphan's header (a parent nobody
// has) costs only the network's easiest target, and each message of it
// with a nonce of its own is a new GossipSub message. The first is
// rebuilt from what the node holds (a pass over its mempool) and left to
// sync; every other message of the same block is ignored unread, from
// any sender, where each cost the pass again before: 2,000 messages of
// one header solved once, 2,000 passes. A different orphan is judged as
// the first was.
func TestCompactOrphanReplayIgnored(t *testing.T) {
	p := chain.DevNet()
	c := &scanCountingChain{testChain: newTestChainFor(t, p)}
	g, err := p2p.NewGossip(context.Background(), newHost(t), c, nopSync{}, p2p.WithGossipLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	orphan := func(parent byte) chain.Header {
		hdr := chain.Header{Version: chain.HeaderVersion, Height: 50, PrevHash: chain.Hash{parent},
			Timestamp: time.Now().UnixMilli(), Bits: p.PowLimitBits()}
		hdr, err := chain.Solve(context.Background(), hdr, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return hdr
	}
	coinbase := &chain.Transaction{Version: chain.TxVersion, Sender: chain.CoinbaseSender,
		Recipient: testwallet.New("miner").Addr, Amount: p.Reward, Nonce: 50}
	senders := []peer.ID{newHost(t).ID(), newHost(t).ID()}
	send := func(hdr chain.Header, nonce uint64, from int) {
		t.Helper()
		msg := &protocol.CompactBlock{Header: hdr, Nonce: nonce, ShortIDs: []uint64{nonce},
			Prefilled: []protocol.PrefilledTx{{Index: 0, Tx: coinbase}}}
		res, err := g.CheckBlock(context.Background(), senders[from], msg.Encode())
		if res != pubsub.ValidationIgnore {
			t.Fatalf("message %d: %v (%v), want Ignore", nonce, res, err)
		}
	}
	first := orphan(1)
	const copies = 2000
	for i := range copies {
		send(first, uint64(i), i%2)
	}
	if got := c.scans.Load(); got != 1 {
		t.Fatalf("%d messages of one orphan cost %d passes over the mempool, want 1", copies, got)
	}
	send(orphan(2), 1, 0)
	if got := c.scans.Load(); got != 2 {
		t.Fatalf("a second orphan: %d passes in all, want 2", got)
	}
}
