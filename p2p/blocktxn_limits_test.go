package p2p_test

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// newServingNode starts a compact node beside a syncer whose bans are
// gater, as the node wires them, and returns both.
func newServingNode(t *testing.T, gater *p2p.Gater) (*compactNode, *p2p.Syncer) {
	t.Helper()
	n := &compactNode{h: newHost(t), c: newTestChain(t), mesh: newMeshTracer()}
	s := p2p.NewSyncer(context.Background(), n.h, n.c, gater, p2p.WithStatusInterval(time.Hour),
		p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(s.Close)
	g, err := p2p.NewGossip(context.Background(), n.h, n.c, s,
		p2p.WithPubSubOptions(fastGossip(), pubsub.WithRawTracer(n.mesh)), p2p.WithGossipLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	n.g = g
	return n, s
}

// TestBlockTxnServerSharesSyncAllowance: the blocktxn server charges a
// peer's requests to the same allowance as the sync server (protocol.md
// §16.7): a peer that spent its block reads on GetBlocks is not served a
// block's transactions, and is again once the allowance refills. A peer
// the syncer banned gets no answer at all. Counts decide, on a stopped
// rate-limit clock.
func TestBlockTxnServerSharesSyncAllowance(t *testing.T) {
	gater := p2p.NewGater()
	n, s := newServingNode(t, gater)
	advance := s.FreezeServeClock()
	p, alice := n.c.Params(), testwallet.New("alice")
	mined := mineBlocks(t, n.c, alice.Addr, 100)
	transfers(t, p, alice, 3, n.c)
	blk := n.c.mine(t, testwallet.New("miner").Addr)
	hashes := make([]chain.Hash, len(mined))
	for i, b := range mined {
		hashes[i] = b.Hash()
	}
	f := newFlooder(t, s, n.c)
	connect(t, f.h, n.h)
	req := (&protocol.BlockTxnRequest{Block: blk.Hash(), Indexes: []int{1}}).Encode()
	answered := func() bool {
		t.Helper()
		data, err := askBlockTxn(t, f.h, n, req)
		return err == nil && len(data) > 0
	}
	if !answered() {
		t.Fatal("a fresh peer's request was not answered")
	}

	// Spend every block read left on GetBlocks: the burst, less the one
	// the blocktxn answer took.
	left := p2p.ServerBlockBurst - 1
	for left > 0 {
		k := min(left, len(hashes))
		if served, _ := f.ask(t, n.h, protocol.GetBlocksRequest(hashes[:k]), 1); served != 1 {
			t.Fatalf("GetBlocks of %d refused with %d reads left", k, left)
		}
		left -= k
	}
	if served, refused := f.ask(t, n.h, protocol.GetBlocksRequest(hashes[:1]), 1); served != 0 || refused != 1 {
		t.Fatalf("GetBlocks past the allowance: %d served, %d refused; want 0 and 1", served, refused)
	}
	if answered() {
		t.Fatal("blocktxn answered a peer whose sync allowance is spent")
	}
	advance(time.Second)
	if !answered() {
		t.Fatal("blocktxn did not answer once the allowance refilled")
	}

	gater.Ban(f.h.ID(), time.Hour)
	if answered() {
		t.Fatal("blocktxn answered a banned peer")
	}
	if got := n.g.Stats().Compact.Served; got != 2 {
		t.Fatalf("served %d blocktxn answers, want 2", got)
	}
}

// TestBlockTxnChargesTheBlock: a request for one transaction of a large
// block is charged the block's bytes, as GetBlocks would charge the
// block, before the block is read and decoded: a peer asking for one
// transaction of a block of about 450 KB over and over is served as
// many times as the byte burst holds such blocks, not as many as its
// request tokens allow. Counts on a stopped clock.
func TestBlockTxnChargesTheBlock(t *testing.T) {
	n, s := newServingNode(t, p2p.NewGater())
	s.FreezeServeClock()
	p, alice := n.c.Params(), testwallet.New("alice")
	mineBlocks(t, n.c, alice.Addr, 100)
	payments := make([]*chain.Transaction, 2000)
	for i := range payments {
		payments[i] = alice.Tx(p, testwallet.New("payee").Addr, 1, 1, uint64(i))
	}
	blk := buildBlock(t, p, &n.c.Tip().Header, testwallet.New("miner").Addr, payments...)
	if _, err := n.c.processNow(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	size := blk.EncodedSize()
	f := newFlooder(t, s, n.c)
	connect(t, f.h, n.h)
	req := (&protocol.BlockTxnRequest{Block: blk.Hash(), Indexes: []int{1}}).Encode()
	want := p2p.ServerByteBurst / size
	if want >= p2p.ServerBurst {
		t.Fatalf("a block of %d bytes: the request burst (%d) would bind first", size, p2p.ServerBurst)
	}
	served := 0
	for range want + 2 {
		if data, err := askBlockTxn(t, f.h, n, req); err == nil && len(data) > 0 {
			served++
		}
	}
	if served != want {
		t.Fatalf("served %d requests for one transaction of a %d-byte block, want %d (the byte burst %d over the block)",
			served, size, want, p2p.ServerByteBurst)
	}
}

// TestBlockTxnAnswerReservedAndBounded: a peer asks for every
// transaction of a large block and never reads the answer. While the
// server waits to write it, the answer's bytes are reserved with the
// resource manager (before, only the request's 9 KiB were, and each such
// stream held half a megabyte unaccounted), and the server gives up at
// BlockTxnTimeout, the asker's own patience, releasing them: before, it
// waited the 13 s such an answer may take at the slowest rate.
func TestBlockTxnAnswerReservedAndBounded(t *testing.T) {
	n, s := newServingNode(t, p2p.NewGater())
	p, alice := n.c.Params(), testwallet.New("alice")
	mineBlocks(t, n.c, alice.Addr, 100)
	payments := make([]*chain.Transaction, 2000)
	indexes := make([]int, len(payments))
	for i := range payments {
		payments[i] = alice.Tx(p, testwallet.New("payee").Addr, 1, 1, uint64(i))
		indexes[i] = i + 1
	}
	blk := buildBlock(t, p, &n.c.Tip().Header, testwallet.New("miner").Addr, payments...)
	if _, err := n.c.processNow(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	asker := newFlooder(t, s, n.c).h // a peer of the network: it answers status
	connect(t, asker, n.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := asker.NewStream(ctx, n.h.ID(), lpprotocol.ID(protocol.BlockTxnProtocol(p.NetworkID())))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	if _, err := st.Write((&protocol.BlockTxnRequest{Block: blk.Hash(), Indexes: indexes}).Encode()); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite() // and never read
	reserved := func() int64 {
		var m int64
		_ = n.h.Network().ResourceManager().ViewService("gossipchain.blocktxn", func(s network.ServiceScope) error {
			m = s.Stat().Memory
			return nil
		})
		return m
	}
	answer := int64(blk.EncodedSize() * 9 / 10) // the transfers, less the header and coinbase
	testutil.Eventually(t, 10*time.Second, "the answer's bytes reserved while it waits to be written", func() bool {
		return reserved() >= answer
	})
	testutil.Eventually(t, 10*time.Second, "the answer given up and its bytes released", func() bool {
		return reserved() == 0
	})
}
