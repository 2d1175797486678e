package p2p_test

import (
	"context"
	"errors"
	"io"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// syncNode is a host with a chain and a syncer (no gossip).
type syncNode struct {
	h host.Host
	c *testChain
	s *p2p.Syncer
}

func newSyncNode(t *testing.T, opts ...p2p.SyncOption) *syncNode {
	t.Helper()
	return newSyncNodeOn(t, newHost(t), opts...)
}

// newSyncNodeOn is newSyncNode on the host h.
func newSyncNodeOn(t *testing.T, h host.Host, opts ...p2p.SyncOption) *syncNode {
	t.Helper()
	n := &syncNode{h: h, c: newTestChain(t)}
	n.s = p2p.NewSyncer(context.Background(), n.h, n.c, p2p.NewGater(), append([]p2p.SyncOption{p2p.WithSyncLogger(testLogger(t))}, opts...)...)
	t.Cleanup(n.s.Close)
	return n
}

// mineBlocks extends c by n blocks paying miner and returns them.
func mineBlocks(t testing.TB, c *testChain, miner string, n int) []*chain.Block {
	t.Helper()
	out := make([]*chain.Block, n)
	for i := range out {
		out[i] = c.mine(t, miner)
	}
	return out
}

// TestSyncLateJoiner: a node with an empty store that connects to a node
// 1,000 blocks ahead downloads them all and ends on the same tip.
func TestSyncLateJoiner(t *testing.T) {
	a, b := newSyncNode(t), newSyncNode(t)
	mineBlocks(t, a.c, testwallet.New("miner").Addr, 1000)
	connect(t, b.h, a.h)
	testutil.Eventually(t, 60*time.Second, "late joiner reaches the tip", func() bool { return b.c.Tip().Hash == a.c.Tip().Hash })
	if got, err := b.c.Account(testwallet.New("miner").Addr); err != nil || got.Balance != 1000*int64(b.c.Params().Reward) {
		t.Fatalf("synced ledger: %+v, %v", got, err)
	}
}

// TestSyncHeavierBranch: two nodes that mined apart join; the one with
// less work reorganises onto the other's branch.
func TestSyncHeavierBranch(t *testing.T) {
	a, b := newSyncNode(t), newSyncNode(t)
	mineBlocks(t, a.c, testwallet.New("a").Addr, 10)
	mineBlocks(t, b.c, testwallet.New("b").Addr, 12)
	connect(t, a.h, b.h)
	testutil.Eventually(t, 30*time.Second, "the lighter node moves to the heavier branch", func() bool { return a.c.Tip().Hash == b.c.Tip().Hash })
	if b.c.Tip().Height() != 12 {
		t.Fatalf("the heavier node moved: height %d", b.c.Tip().Height())
	}
}

// TestSyncLiarIsDroppedAndAnotherPeerUsed: a peer that claims enormous
// work and answers the header request with garbage is disconnected and
// refused, and the node syncs from an honest peer instead.
func TestSyncLiarIsDroppedAndAnotherPeerUsed(t *testing.T) {
	b, honest := newSyncNode(t), newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("miner").Addr, 50)

	liar := newHost(t)
	net := b.c.Params().NetworkID()
	huge := new(big.Int).Lsh(big.NewInt(1), 200)
	liar.SetStreamHandler(lpprotocol.ID(protocol.SyncProtocol(net)), func(st network.Stream) {
		defer st.Close()
		req, err := protocol.NewReader(st).ReadRequest()
		if err != nil {
			return
		}
		w := protocol.NewWriter(st)
		if req.GetStatus() != nil {
			w.WriteResponse(protocol.StatusResponse(protocol.Status{Genesis: net, Tip: chain.Hash{1}, Height: 1 << 40, Work: huge}))
			return
		}
		st.Write([]byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff}) // a message that is not a Response
	})
	connect(t, b.h, liar)
	testutil.Eventually(t, 30*time.Second, "liar disconnected", func() bool {
		return b.h.Network().Connectedness(liar.ID()) != network.Connected
	})
	connect(t, b.h, honest.h)
	testutil.Eventually(t, 30*time.Second, "synced from the honest peer", func() bool { return b.c.Tip().Hash == honest.c.Tip().Hash })
	// The liar is refused when it comes back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = liar.Connect(ctx, b.h.Peerstore().PeerInfo(b.h.ID()))
	testutil.Eventually(t, 10*time.Second, "banned liar stays disconnected", func() bool {
		return b.h.Network().Connectedness(liar.ID()) != network.Connected
	})
}

// TestSyncNow: the on-demand sync (the API's /sync-chain) reports whether
// the tip moved.
func TestSyncNow(t *testing.T) {
	a, b := newSyncNode(t), newSyncNode(t)
	connect(t, a.h, b.h)
	mineBlocks(t, b.c, testwallet.New("b").Addr, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The automatic sync may get there first; either way a's tip is b's
	// afterwards, and a second call has nothing to do.
	a.s.SyncNow(ctx)
	if a.c.Tip().Hash != b.c.Tip().Hash {
		t.Fatal("SyncNow did not reach the peer's tip")
	}
	if a.s.SyncNow(ctx) {
		t.Fatal("SyncNow reported a change with nothing to do")
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("SyncNow took the whole deadline")
	}
}

// TestBannedPeerIsNotRedialled: a bootstrap peer banned for misbehaviour
// is refused at the gate, so the bootstrap loop's redials fail (and back
// off) instead of reconnecting it.
func TestBannedPeerIsNotRedialled(t *testing.T) {
	target := newHost(t)
	h, err := p2p.NewHost(context.Background(), p2p.HostConfig{
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: []string{target.Addrs()[0].String() + "/p2p/" + target.ID().String()},
		NetworkID: chain.RegTest().NetworkID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "bootstrap connects", func() bool {
		return h.Network().Connectedness(target.ID()) == network.Connected
	})
	h.Ban(target.ID(), time.Hour)
	testutil.Eventually(t, 10*time.Second, "ban disconnects", func() bool {
		return h.Network().Connectedness(target.ID()) != network.Connected
	})
	// The target dials back; the gate refuses it too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := target.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err == nil {
		testutil.Eventually(t, 5*time.Second, "inbound from a banned peer closed", func() bool {
			return h.Network().Connectedness(target.ID()) != network.Connected
		})
	}
	// Give the bootstrap loop time for several redials: none may stick.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if h.Network().Connectedness(target.ID()) == network.Connected {
			t.Fatal("banned bootstrap peer reconnected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncDeepFork: a peer's heavier branch forks from ours more than one
// headers answer (2,000) deep. Once the first 2,000 of its blocks are
// stored, still lighter than our chain, our own locator would only find
// the fork point again; the syncer must go on from the last stored header.
func TestSyncDeepFork(t *testing.T) {
	a, b := newSyncNode(t), newSyncNode(t)
	mineBlocks(t, a.c, testwallet.New("a").Addr, 2100)
	mineBlocks(t, b.c, testwallet.New("b").Addr, 2050)
	connect(t, b.h, a.h)
	testutil.Eventually(t, 120*time.Second, "the lighter node reorganises onto the deep heavier branch", func() bool {
		return b.c.Tip().Hash == a.c.Tip().Hash
	})
}

// TestSyncDeepForkFarDown: a heavier branch that forks from the node's
// chain 4,200 blocks deep, between two hashes of its locator 4,096
// apart: the peer's first answer holds only the node's own headers, the
// next request carries our main chain's hashes every 2,000 blocks
// (denseLocator), and the peer answers from the highest it holds,
// above that first answer: the run starts again from there, and the
// node reorganises onto the branch.
func TestSyncDeepForkFarDown(t *testing.T) {
	a, b := newSyncNode(t), newSyncNode(t)
	processAll(t, b.c, mineBlocks(t, a.c, testwallet.New("shared").Addr, 4200), 500)
	mineBlocks(t, a.c, testwallet.New("a").Addr, 4200)
	mineBlocks(t, b.c, testwallet.New("b").Addr, 4250)
	connect(t, a.h, b.h)
	testutil.Eventually(t, 120*time.Second, "the node on the deep heavier branch", func() bool {
		return a.c.Tip().Hash == b.c.Tip().Hash
	})
}

// TestSyncUnknownRequestKindNotBanned: a request with no body this
// version knows, as a newer peer might send, is refused with
// CodeBadRequest and does not cost the peer its connection.
func TestSyncUnknownRequestKindNotBanned(t *testing.T) {
	server := newSyncNode(t)
	client, st := openSyncStream(t, server)
	// A Request whose only field is one this version does not know:
	// field 15, varint 1.
	if _, err := st.Write([]byte{0x02, 15 << 3, 0x01}); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	resp, err := protocol.NewReader(st).ReadResponse()
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.GetError(); e == nil || protocol.ErrorCode(e.GetCode()) != protocol.CodeBadRequest {
		t.Fatalf("response %v, want an Error with CodeBadRequest", resp)
	}
	if server.h.Network().Connectedness(client.ID()) != network.Connected {
		t.Fatal("the server dropped a peer for a request kind it does not know")
	}
}

// TestSyncSilentLiarDoesNotStall: a peer claims enormous work, never
// answers a headers request, and keeps sending fresh status. It must not
// keep the turn: after its request times out, an honest peer with less
// (but more than our) work is used. (Before, the liar's fresh claim won
// every pass and the node stayed at genesis.)
func TestSyncSilentLiarDoesNotStall(t *testing.T) {
	b := &syncNode{h: newHost(t), c: newTestChain(t)}
	b.s = p2p.NewSyncer(context.Background(), b.h, b.c, p2p.NewGater(), p2p.WithRequestTimeout(500*time.Millisecond))
	t.Cleanup(b.s.Close)
	honest := newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("miner").Addr, 20)

	liar := newHost(t)
	net := b.c.Params().NetworkID()
	proto := lpprotocol.ID(protocol.SyncProtocol(net))
	claim := protocol.Status{Genesis: net, Tip: chain.Hash{7}, Height: 1 << 30, Work: new(big.Int).Lsh(big.NewInt(1), 200)}
	liar.SetStreamHandler(proto, func(st network.Stream) {
		req, err := protocol.NewReader(st).ReadRequest()
		if err != nil {
			st.Reset()
			return
		}
		if req.GetStatus() != nil {
			protocol.NewWriter(st).WriteResponse(protocol.StatusResponse(claim))
			st.Close()
			return
		}
		// Never answer: hold the stream until the client gives up.
		io.Copy(io.Discard, st)
	})
	connect(t, b.h, liar)
	connect(t, b.h, honest.h)
	pushClaims(t, liar, b.h.ID(), net, func() protocol.Status { return claim })
	testutil.Eventually(t, 30*time.Second, "synced from the honest peer despite the liar", func() bool {
		return b.c.Tip().Hash == honest.c.Tip().Hash
	})
}

// TestSyncForeignPeerDropped: a peer that does not speak this network's
// sync protocol (here a plain libp2p host; a node of another network is
// the same to us) is disconnected rather than left holding a connection
// slot.
func TestSyncForeignPeerDropped(t *testing.T) {
	n := newSyncNode(t)
	plain := newHost(t)
	connect(t, plain, n.h)
	testutil.Eventually(t, 10*time.Second, "the plain host disconnected", func() bool {
		return n.h.Network().Connectedness(plain.ID()) != network.Connected
	})
}

// TestRequestSyncTooSoonAsksAgain: a block whose parent we lack, from a
// peer we exchanged status with a moment ago, makes the syncer ask that
// peer again once the coalescing gap has passed, rather than act on the
// status it gave before the block existed. The periodic refresh is an
// hour here, so only the renewed request can bring the block.
func TestRequestSyncTooSoonAsksAgain(t *testing.T) {
	slow := func() *syncNode {
		n := &syncNode{h: newHost(t), c: newTestChain(t)}
		n.s = p2p.NewSyncer(context.Background(), n.h, n.c, p2p.NewGater(), p2p.WithSyncLogger(testLogger(t)), p2p.WithStatusInterval(time.Hour))
		t.Cleanup(n.s.Close)
		return n
	}
	a, b := slow(), slow()
	connect(t, a.h, b.h)
	// Both have asked each other once (at genesis, nothing to do).
	testutil.Eventually(t, 10*time.Second, "status exchanged", func() bool {
		return a.s.Stats().Served > 0 && b.s.Stats().Served > 0
	})
	mineBlocks(t, b.c, testwallet.New("b").Addr, 1)
	a.s.RequestSync(b.h.ID()) // as gossip would, for b's block ahead of a
	testutil.Eventually(t, 10*time.Second, "a on b's tip", func() bool { return a.c.Tip().Hash == b.c.Tip().Hash })
}

// peerWithHeldBlocks returns a peer five blocks ahead of genesis, a chain
// that holds the same five blocks, and the meta of the fourth: the tip
// such a chain reports while the fifth is still committing.
func peerWithHeldBlocks(t *testing.T) (*syncNode, *testChain, *chain.BlockMeta) {
	t.Helper()
	a := newSyncNode(t)
	blocks := mineBlocks(t, a.c, testwallet.New("miner").Addr, 5)
	bc := newTestChain(t)
	for _, b := range blocks {
		if _, err := bc.processNow(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	fourth, err := bc.Meta(blocks[3].Hash())
	if err != nil {
		t.Fatal(err)
	}
	return a, bc, fourth
}

// laggingTip is a chain whose tip lags the blocks it holds, as a node's
// does between validating a gossiped block and the end of its commit
// (protocol.md §16.8): its locator already names the block, its tip not.
type laggingTip struct {
	*testChain
	tip *chain.BlockMeta
}

func (c laggingTip) Tip() *chain.BlockMeta { return c.tip }

// TestSyncClaimedTipHeldIsNoLie: a peer whose claimed tip we hold, but
// which is not yet our tip, answers our locator with no headers. That is
// no lie (gossip brought the block while we asked) and the peer is kept.
// It was banned as a liar when the block came during the download
// (TestKillMiningNode, about one run in three under load).
func TestSyncClaimedTipHeldIsNoLie(t *testing.T) {
	a, bc, parent := peerWithHeldBlocks(t)
	events := make(chan p2p.SyncEvent, 16)
	bans := p2p.NewGater()
	h := newHost(t)
	s := p2p.NewSyncer(context.Background(), h, laggingTip{bc, parent}, bans, p2p.WithSyncLogger(testLogger(t)),
		p2p.WithSyncNotify(func(ev p2p.SyncEvent) {
			select {
			case events <- ev:
			default:
			}
		}))
	t.Cleanup(s.Close)
	connect(t, h, a.h)
	timeout := time.After(30 * time.Second)
	for ended := false; !ended; {
		select {
		case ev := <-events:
			switch ev.State {
			case p2p.SyncFailed:
				t.Fatalf("download from the peer failed: %v", ev.Err)
			case p2p.SyncFinished:
				ended = true
			}
		case <-timeout:
			t.Fatal("no download from the peer ended within 30 s")
		}
	}
	if bans.Banned(a.h.ID()) {
		t.Fatal("the peer was banned")
	}
	if h.Network().Connectedness(a.h.ID()) != network.Connected {
		t.Fatal("the peer was disconnected")
	}
}

// committingChain reports a stale tip, as a chain does while the commit
// of a block it validated (and names in its locator) is under way, until
// someone waits for the tip to change: then the commit ends.
type committingChain struct {
	*testChain
	stale     *chain.BlockMeta
	committed atomic.Bool
}

func (c *committingChain) Tip() *chain.BlockMeta {
	if c.committed.Load() {
		return c.testChain.Tip()
	}
	return c.stale
}

// Validated does not know the block either until the commit ends, so
// the syncer's wait for the commit, not its look at the claimed tip,
// must save the peer.
func (c *committingChain) Validated(h chain.Hash) bool {
	return c.committed.Load() && c.testChain.Validated(h)
}

func (c *committingChain) TipChanged() <-chan struct{} {
	c.committed.Store(true)
	done := make(chan struct{})
	close(done)
	return done
}

// TestSyncClaimMetByCommitUnderWay: a peer whose status claims the block
// we are still committing answers our locator, which names that block,
// with no headers. That is not a lie (its claim is met once the commit
// ends), so the peer is not banned, even where the claimed tip is not
// known to be held (the peer moved to our branch since its status).
func TestSyncClaimMetByCommitUnderWay(t *testing.T) {
	a, bc, stale := peerWithHeldBlocks(t)
	c := &committingChain{testChain: bc, stale: stale}
	h, gate := newHost(t), p2p.NewGater()
	s := p2p.NewSyncer(context.Background(), h, c, gate, p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(s.Close)
	connect(t, h, a.h)
	testutil.Eventually(t, 20*time.Second, "the download from the peer ended", func() bool {
		st := s.Stats()
		return st.Started > 0 && !st.Syncing
	})
	if gate.Banned(a.h.ID()) {
		t.Fatal("the peer was banned for a claim the commit under way meets")
	}
}

// TestSyncBadRequestAnsweredThenBanned: a request that breaks §17.2 (a
// GetBlocks naming one hash twice) is answered with Error 1, which
// reaches the peer, and then costs it its connection and a ban.
func TestSyncBadRequestAnsweredThenBanned(t *testing.T) {
	gate := p2p.NewGater()
	server := &syncNode{h: newHost(t), c: newTestChain(t)}
	server.s = p2p.NewSyncer(context.Background(), server.h, server.c, gate, p2p.WithSyncLogger(testLogger(t)))
	t.Cleanup(server.s.Close)
	client, st := openSyncStream(t, server)
	h := chain.Hash{1}
	if err := protocol.NewWriter(st).WriteRequest(protocol.GetBlocksRequest([]chain.Hash{h, h})); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	resp, err := protocol.NewReader(st).ReadResponse()
	if err != nil {
		t.Fatalf("no answer to the bad request: %v", err)
	}
	if e := resp.GetError(); e == nil || protocol.ErrorCode(e.GetCode()) != protocol.CodeBadRequest {
		t.Fatalf("response %v, want an Error with CodeBadRequest", resp)
	}
	testutil.Eventually(t, 10*time.Second, "the server bans the peer and hangs up", func() bool {
		return gate.Banned(client.ID()) && server.h.Network().Connectedness(client.ID()) != network.Connected
	})
}

// openSyncStream connects a new gossipchain node (a foreign peer would be
// dropped) to server and opens a sync stream to it, closed when the test
// ends, with a deadline of 10 s.
func openSyncStream(t *testing.T, server *syncNode) (host.Host, network.Stream) {
	t.Helper()
	client := newSyncNode(t).h
	connect(t, client, server.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.NewStream(ctx, server.h.ID(), lpprotocol.ID(protocol.SyncProtocol(server.c.Params().NetworkID())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	return client, st
}
