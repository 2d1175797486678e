package p2p_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// compactNode is a host with a chain, gossip and, if asked, a syncer:
// the parts compact block relay uses (gossip's blocktxn server and
// client, the syncer's GetBlocks for a block fetched whole).
type compactNode struct {
	h    host.Host
	c    *testChain
	g    *p2p.Gossip
	s    *p2p.Syncer // nil without sync
	mesh *meshTracer
}

// newCompactNode starts one; view, if not nil, is the chain gossip sees
// (a test's wrapper of c).
func newCompactNode(t *testing.T, withSync bool, view func(*testChain) p2p.Chain) *compactNode {
	t.Helper()
	return newCompactNodeOn(t, newTestChain(t), withSync, view)
}

// newCompactNodeOn is newCompactNode on the chain c.
func newCompactNodeOn(t *testing.T, c *testChain, withSync bool, view func(*testChain) p2p.Chain) *compactNode {
	t.Helper()
	n := &compactNode{h: newHost(t), c: c, mesh: newMeshTracer()}
	var pc p2p.Chain = n.c
	if view != nil {
		pc = view(n.c)
	}
	var trig p2p.SyncTrigger = nopSync{}
	if withSync {
		s := p2p.NewSyncer(context.Background(), n.h, pc, p2p.NewGater(), p2p.WithStatusInterval(time.Hour),
			p2p.WithSyncLogger(testLogger(t)))
		t.Cleanup(s.Close)
		trig, n.s = s, s
	}
	g, err := p2p.NewGossip(context.Background(), n.h, pc, trig,
		p2p.WithPubSubOptions(fastGossip(), pubsub.WithRawTracer(n.mesh)), p2p.WithGossipLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	n.g = g
	return n
}

// link connects a and b and waits until each has the other in its
// block topic mesh, so that a forwarded block reaches the other.
func link(t *testing.T, a, b *compactNode) {
	t.Helper()
	connect(t, a.h, b.h)
	topic := protocol.BlockTopic(a.c.Params().NetworkID())
	testutil.Eventually(t, 10*time.Second, "each in the other's block mesh", func() bool {
		return a.mesh.inMesh(topic, b.h.ID()) && b.mesh.inMesh(topic, a.h.ID())
	})
}

// fundAll mines a block on src paying alice and processes it on every
// other node directly.
func fundAll(t *testing.T, alice *testwallet.Wallet, src *compactNode, others ...*compactNode) {
	t.Helper()
	b := src.c.mine(t, alice.Addr)
	for _, n := range others {
		if _, err := n.c.processNow(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// transfers returns n transfers of alice's from nonce 0, admitted to
// every given node's mempool.
func transfers(t *testing.T, p *chain.Params, alice *testwallet.Wallet, n int, into ...*testChain) []*chain.Transaction {
	t.Helper()
	out := make([]*chain.Transaction, n)
	for i := range out {
		out[i] = alice.Tx(p, testwallet.New(fmt.Sprintf("payee %d", i)).Addr, 1, 1, uint64(i))
		for _, c := range into {
			if err := c.AddTx(out[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// publishMined mines a block of n's mempool, processes it and publishes
// it as a compact block.
func publishMined(t *testing.T, n *compactNode) *chain.Block {
	t.Helper()
	b := n.c.mine(t, testwallet.New("miner").Addr)
	if err := n.g.PublishBlock(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

func waitTipIs(t *testing.T, c *testChain, b *chain.Block, what string) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, what, func() bool { return c.Tip().Hash == b.Hash() })
}

// waitBlocksJudged waits until g has given a verdict on n block messages.
// A verdict is counted when the validator returns, which is after the
// block it carried has connected, so a test that saw the tip move must
// wait for it before reading the split.
func waitBlocksJudged(t *testing.T, g *p2p.Gossip, n uint64) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("%d block messages judged", n), func() bool {
		return g.Stats().Block.In >= n
	})
}

// TestCompactRebuiltFromMempool: a block whose transactions are all in
// the receiver's mempool is rebuilt from it without a request.
func TestCompactRebuiltFromMempool(t *testing.T) {
	a, b := newCompactNode(t, false, nil), newCompactNode(t, false, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b)
	link(t, a, b)
	transfers(t, p, alice, 20, a.c, b.c)
	blk := publishMined(t, a)
	if len(blk.Transactions) != 21 {
		t.Fatalf("block of %d transactions", len(blk.Transactions))
	}
	waitTipIs(t, b.c, blk, "b connects the block")
	got := b.g.Stats().Compact
	if got.Rebuilt != 1 || got.Requested != 0 || got.Fetched != 0 || a.g.Stats().Compact.Served != 0 {
		t.Fatalf("b: %+v, a served %d; want one rebuilt block and no request", got, a.g.Stats().Compact.Served)
	}
	// The mempool's update follows the commit, after the tip moved.
	testutil.Eventually(t, 15*time.Second, "the block's transactions leave b's mempool", func() bool { return b.c.mp.Len() == 0 })
}

// TestCompactMissingRequested: the receiver lacks some transactions; it
// asks the sender for exactly those, once, and connects the block. A node
// behind it, lacking them all, asks the forwarder, which answers from its
// store.
func TestCompactMissingRequested(t *testing.T) {
	a, b, c := newCompactNode(t, false, nil), newCompactNode(t, false, nil), newCompactNode(t, false, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b, c)
	link(t, a, b)
	link(t, b, c)
	txs := transfers(t, p, alice, 10, a.c)
	for _, tx := range txs[:6] {
		if err := b.c.AddTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	blk := publishMined(t, a)
	waitTipIs(t, b.c, blk, "b connects the block")
	waitTipIs(t, c.c, blk, "c connects the block b forwarded")
	if got := b.g.Stats().Compact; got.Requested != 1 || got.TxsRequested != 4 || got.Fetched != 0 {
		t.Fatalf("b: %+v; want one request for 4 transactions", got)
	}
	if got := c.g.Stats().Compact; got.Requested != 1 || got.TxsRequested != 10 || got.Fetched != 0 {
		t.Fatalf("c: %+v; want one request for 10 transactions", got)
	}
	if a.g.Stats().Compact.Served != 1 || b.g.Stats().Compact.Served != 1 {
		t.Fatalf("served: a %d, b %d; want 1 each", a.g.Stats().Compact.Served, b.g.Stats().Compact.Served)
	}
}

// TestCompactUnansweredFetchedWhole: a sender that never answers the
// request for missing transactions: past the deadline the receiver
// fetches the block whole with the sync protocol and connects it.
func TestCompactUnansweredFetchedWhole(t *testing.T) {
	a, b := newCompactNode(t, true, nil), newCompactNode(t, true, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	// a reads requests and never answers, until its stream is reset.
	a.h.SetStreamHandler(lpprotocol.ID(protocol.BlockTxnProtocol(p.NetworkID())), func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		select {
		case <-done:
		case <-time.After(2 * protocol.BlockTxnTimeout):
		}
		_ = s.Reset()
	})
	link(t, a, b)
	// b's first status exchange with a ends before the block: answered
	// after it (a slow peer), it would send b downloading the block by
	// sync while the request waits, and the whole block would then be a
	// duplicate.
	testutil.Eventually(t, 10*time.Second, "b has a's status", func() bool { return b.s.Stats().Heard == 1 })
	transfers(t, p, alice, 5, a.c)
	blk := publishMined(t, a)
	waitTipIs(t, b.c, blk, "b fetches the block whole and connects it")
	waitBlocksJudged(t, b.g, 1)
	if got := b.g.Stats().Compact; got.Requested != 1 || got.Fetched != 1 {
		t.Fatalf("b: %+v; want one request, then one whole block", got)
	}
	if got := b.g.Stats().Block; got.Accepted != 1 || got.Rejected != 0 {
		t.Fatalf("b's verdicts %+v; want the compact block accepted", got)
	}
}

// collidingChain makes its mempool report an impostor under the id of a
// block's transaction, as a short-id collision would: the receiver
// rebuilds the block with the wrong transaction in that place.
type collidingChain struct {
	*testChain
	victim   chain.Hash
	impostor *chain.Transaction
}

func (c *collidingChain) RangeMempool(f func(chain.Hash, *chain.Transaction) bool) {
	if !f(c.victim, c.impostor) {
		return
	}
	c.testChain.RangeMempool(func(id chain.Hash, tx *chain.Transaction) bool {
		return id == c.victim || f(id, tx)
	})
}

// TestCompactCollision: a short id in the receiver's mempool matches a
// transaction other than the block's. The rebuilt block's merkle root is
// wrong; the receiver fetches the block whole, finds that the compact
// block described it faithfully, connects it and forwards the compact
// block, and the node behind it connects it too. Nobody is penalised.
func TestCompactCollision(t *testing.T) {
	a := newCompactNode(t, true, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	cc := &collidingChain{}
	b := newCompactNode(t, true, func(c *testChain) p2p.Chain { cc.testChain = c; return cc })
	far := newCompactNode(t, true, nil) // a syncer hangs up on a peer without one
	fundAll(t, alice, a, b, far)
	link(t, a, b)
	link(t, b, far)
	sent := transfers(t, p, alice, 3, a.c, b.c, far.c)
	cc.victim = sent[1].ID()
	cc.impostor = alice.Tx(p, testwallet.New("someone else").Addr, 2, 1, 1)
	blk := publishMined(t, a)
	waitTipIs(t, b.c, blk, "b connects the block after fetching it whole")
	waitTipIs(t, far.c, blk, "the node behind b connects the forwarded block")
	waitBlocksJudged(t, b.g, 1)
	if got := b.g.Stats(); got.Compact.Fetched != 1 || got.Block.Accepted != 1 || got.Block.Rejected != 0 {
		t.Fatalf("b: %+v; want the block fetched whole and the compact block accepted", got)
	}
	if got := far.g.Stats().Compact; got.Rebuilt != 1 {
		t.Fatalf("far: %+v; want the block rebuilt from its mempool", got)
	}
}

// evilPublisher is an evil peer that gossips compact blocks and answers
// requests for their transactions with answer (nil: closes without one).
func evilPublisher(t *testing.T, honest *gossipNode, answer func(req []byte) []byte) *evilPeer {
	t.Helper()
	e := newEvilPeer(t, honest)
	e.h.SetStreamHandler(lpprotocol.ID(protocol.BlockTxnProtocol(honest.c.Params().NetworkID())), func(s network.Stream) {
		defer s.Close()
		req, err := io.ReadAll(s)
		if err != nil {
			_ = s.Reset()
			return
		}
		if out := answer(req); out != nil {
			_, _ = s.Write(out)
		}
	})
	return e
}

// TestCompactHostileAnswers: a sender whose answer to the request for
// missing transactions is wrong (other transactions, garbage, too large)
// has its compact block rejected and loses score; the block is not
// connected from it and nothing reaches the node behind. A sender that
// closes without an answer is only ignored.
func TestCompactHostileAnswers(t *testing.T) {
	honest, far := newGossipNode(t), newGossipNode(t)
	line(t, honest, far)
	p := honest.c.Params()
	alice := testwallet.New("alice")
	honest.c.mine(t, alice.Addr)
	if _, err := far.c.processNow(context.Background(), mustBlock(t, honest.c, honest.c.Tip().Hash)); err != nil {
		t.Fatal(err)
	}
	payments := make([]*chain.Transaction, 3)
	for i := range payments {
		payments[i] = alice.Tx(p, testwallet.New("bob").Addr, 1, 1, uint64(i))
	}
	blk := buildBlock(t, p, &honest.c.Tip().Header, testwallet.New("miner").Addr, payments...)
	respond := func(txs ...*chain.Transaction) []byte {
		return (&protocol.BlockTxnResponse{Block: blk.Hash(), Txs: txs}).Encode()
	}
	other := alice.Tx(p, testwallet.New("carol").Addr, 1, 1, 1)
	cases := []struct {
		name   string
		answer func([]byte) []byte
		reject bool
	}{
		{"other transactions", func([]byte) []byte { return respond(payments[0], other, payments[2]) }, true},
		{"garbage", func([]byte) []byte { return garbage(5, 300) }, true},
		{"too large", func([]byte) []byte { return make([]byte, protocol.MaxBlockTxnResponseSize+1) }, true},
		{"longer than what was asked can take", func([]byte) []byte { return make([]byte, protocol.BlockTxnAnswerBound(len(payments))+1) }, true},
		{"fewer than asked", func([]byte) []byte { return respond(payments[0]) }, true},
		{"no answer", func([]byte) []byte { return nil }, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evil := evilPublisher(t, honest, tc.answer)
			before := honest.g.Stats().Block
			// A fresh nonce: a new message to the seen cache each time.
			evil.publish(t, evil.block, protocol.NewCompactBlock(blk, uint64(i+1), nil).Encode())
			if tc.reject {
				testutil.Eventually(t, 10*time.Second, "the honest node rejects it", func() bool {
					return honest.g.Stats().Block.Rejected == before.Rejected+1
				})
				testutil.Eventually(t, 10*time.Second, "the sender's score drops below zero", func() bool {
					return honest.freshScore(t, evil.h.ID()) < 0
				})
			} else {
				testutil.Eventually(t, 10*time.Second, "the honest node ignores it", func() bool {
					return honest.g.Stats().Block.Ignored == before.Ignored+1
				})
				if s := honest.freshScore(t, evil.h.ID()); s < 0 {
					t.Fatalf("score %.1f for a sender that only had nothing to give", s)
				}
			}
			if honest.c.HasBlock(blk.Hash()) {
				t.Fatal("the block was connected from a wrong answer")
			}
		})
	}
	if s := far.g.Stats().Block; s.In != 0 {
		t.Fatalf("the far node saw %d compact blocks, want none", s.In)
	}
}

func mustBlock(t *testing.T, c *testChain, h chain.Hash) *chain.Block {
	t.Helper()
	b, err := c.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// askBlockTxn sends raw request bytes to n's blocktxn server and returns
// what it answers before closing, or the read error.
func askBlockTxn(t *testing.T, from host.Host, n *compactNode, req []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := from.NewStream(ctx, n.h.ID(), lpprotocol.ID(protocol.BlockTxnProtocol(n.c.Params().NetworkID())))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(req); err != nil {
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return nil, err
	}
	return io.ReadAll(s)
}

// TestBlockTxnServer: the server answers a valid request from the stored
// block, in the order asked; it closes without an answer for a block it
// lacks or an index past the block's end, and resets a malformed or
// oversized request.
func TestBlockTxnServer(t *testing.T) {
	n := newCompactNode(t, false, nil)
	p, alice := n.c.Params(), testwallet.New("alice")
	n.c.mine(t, alice.Addr)
	transfers(t, p, alice, 5, n.c)
	blk := n.c.mine(t, testwallet.New("miner").Addr)
	client := newHost(t)
	connect(t, client, n.h)

	req := &protocol.BlockTxnRequest{Block: blk.Hash(), Indexes: []int{1, 4, 5}}
	data, err := askBlockTxn(t, client, n, req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := protocol.DecodeBlockTxnResponse(data, req)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range req.Indexes {
		if resp.Txs[k].ID() != blk.Transactions[i].ID() {
			t.Fatalf("answer %d is not transaction %d", k, i)
		}
	}
	for name, r := range map[string]*protocol.BlockTxnRequest{
		"unknown block":      {Block: chain.Hash{1}, Indexes: []int{1}},
		"index past the end": {Block: blk.Hash(), Indexes: []int{1, 6}},
	} {
		if data, err := askBlockTxn(t, client, n, r.Encode()); err != nil || len(data) != 0 {
			t.Errorf("%s: answered %d bytes, %v; want a clean close without an answer", name, len(data), err)
		}
	}
	h := blk.Hash()
	for name, raw := range map[string][]byte{
		"malformed": append(h[:], 0),
		"oversized": make([]byte, protocol.MaxBlockTxnRequestSize+1),
	} {
		if data, err := askBlockTxn(t, client, n, raw); err == nil || len(data) != 0 {
			t.Errorf("%s: answered %d bytes, %v; want the stream reset", name, len(data), err)
		}
	}
	if got := n.g.Stats().Compact.Served; got != 1 {
		t.Fatalf("served %d, want 1", got)
	}
}

// TestCompactQueuedUsed: transactions the receiver holds in its queue,
// waiting for an earlier nonce it never got, fill their places too; it
// asks the sender only for the one it lacks.
func TestCompactQueuedUsed(t *testing.T) {
	a, b := newCompactNode(t, false, nil), newCompactNode(t, false, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b)
	link(t, a, b)
	txs := transfers(t, p, alice, 4, a.c)
	for _, tx := range txs[1:] {
		if err := b.c.AddTx(tx); !errors.Is(err, chain.ErrTxQueued) {
			t.Fatalf("nonce %d without nonce 0: %v, want queued", tx.Nonce, err)
		}
	}
	blk := publishMined(t, a)
	waitTipIs(t, b.c, blk, "b connects the block")
	if got := b.g.Stats().Compact; got.Requested != 1 || got.TxsRequested != 1 || got.Fetched != 0 {
		t.Fatalf("b: %+v; want one request for the one transaction it lacked", got)
	}
}

// TestCompactSenderWithoutBlock: the peer that gossiped a compact block
// can give neither its transactions nor the block (it answers both
// requests with nothing). The receiver ignores the message, asks every
// peer for its status, and downloads the block from the peer that has
// it.
func TestCompactSenderWithoutBlock(t *testing.T) {
	a, b, e := newCompactNode(t, true, nil), newCompactNode(t, true, nil), newCompactNode(t, true, nil)
	p, alice := a.c.Params(), testwallet.New("alice")
	fundAll(t, alice, a, b, e)
	link(t, a, b)
	link(t, e, b)
	transfers(t, p, alice, 3, a.c)
	blk := a.c.mine(t, testwallet.New("miner").Addr) // a does not gossip it
	// e gossips it without having stored it.
	if err := e.g.PublishBlock(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	waitTipIs(t, b.c, blk, "b downloads the block from a")
	waitBlocksJudged(t, b.g, 1)
	if got := b.g.Stats(); got.Compact.Requested != 1 || got.Compact.Fetched != 1 || got.Block.Ignored != 1 || got.Block.Rejected != 0 {
		t.Fatalf("b: %+v; want one request, one failed fetch and the message ignored", got)
	}
}

// TestCompactHeaderEarnsRequests: a compact block whose header is unsound
// is rejected, and one whose parent is unknown ignored (sync asks for its
// parents), before the node asks its sender for a single transaction: a
// header that costs nothing to make must not make the node wait on the
// sender.
func TestCompactHeaderEarnsRequests(t *testing.T) {
	honest := newGossipNode(t)
	p := honest.c.Params()
	alice := testwallet.New("alice")
	honest.c.mine(t, alice.Addr)
	var asked atomic.Int32
	evil := evilPublisher(t, honest, func([]byte) []byte { asked.Add(1); return nil })
	pay := alice.Tx(p, testwallet.New("bob").Addr, 1, 1, 0)

	broken := buildBlock(t, p, &honest.c.Tip().Header, testwallet.New("miner").Addr, pay)
	for chain.CheckHeaderSanity(p, &broken.Header) == nil {
		broken.Header.Nonce++ // a hash above the target: no proof of work
	}
	fakeParent := honest.c.Tip().Header
	fakeParent.Nonce++ // a header nobody has
	orphan := buildBlock(t, p, &fakeParent, testwallet.New("miner").Addr, pay)

	before := honest.g.Stats().Block
	evil.publish(t, evil.block, protocol.NewCompactBlock(broken, 1, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "the unsound header is rejected", func() bool {
		return honest.g.Stats().Block.Rejected == before.Rejected+1
	})
	evil.publish(t, evil.block, protocol.NewCompactBlock(orphan, 2, nil).Encode())
	testutil.Eventually(t, 10*time.Second, "the orphan is ignored", func() bool {
		return honest.g.Stats().Block.Ignored == before.Ignored+1
	})
	if n := asked.Load(); n != 0 {
		t.Fatalf("the node asked the sender %d times for transactions of blocks it could not judge", n)
	}
	if s := honest.freshScore(t, evil.h.ID()); s >= 0 {
		t.Fatalf("score %.1f after an unsound header, want below zero", s)
	}
}
