package p2p_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// serveHeaders answers GetHeaders from c, as an honest server would.
func serveHeaders(c *testChain) func(io.Writer, protocol.GetHeaders) {
	return func(w io.Writer, req protocol.GetHeaders) {
		hdrs, err := c.HeadersAfter(req.Locator, req.Stop, req.Max)
		if err != nil {
			return
		}
		_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(hdrs))
	}
}

// serveStatus answers a status request with c's real status.
func serveStatus(c *testChain) func(io.Writer) {
	return func(w io.Writer) {
		tip := c.Tip()
		st := protocol.Status{Genesis: c.Params().NetworkID(), Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}
		_ = protocol.NewWriter(w).WriteResponse(protocol.StatusResponse(st))
	}
}

// trickle answers GetBlocks from c with the first block at once and each
// next one gap after the last: no per-message deadline is ever missed.
func trickle(c *testChain, gap time.Duration) func(io.Writer, []chain.Hash) {
	return func(w io.Writer, hashes []chain.Hash) {
		pw := protocol.NewWriter(w)
		for i, h := range hashes {
			if i > 0 {
				select {
				case <-w.(countingWriter).done:
					return
				case <-time.After(gap):
				}
			}
			b, err := c.Block(h)
			if err != nil || pw.WriteResponse(protocol.BlockResponse(b)) != nil {
				return
			}
		}
	}
}

// TestSyncTricklerBesideHonestPeer (issue 12, item 2): a peer claims
// enormous work, shows the headers of a short branch of its own (heavier
// than our genesis) and answers GetBlocks with one block at once and the
// rest one at a time, each a while after the last: it breaks no
// per-message deadline. Beside it an honest peer has 100 blocks. The
// node syncs to the honest tip while the trickler is connected, and the
// trickler's download fails (cut by the batch's delivery bound, or its
// headers shown to lie): it does not hold the only download.
func TestSyncTricklerBesideHonestPeer(t *testing.T) {
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
	honest := newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("honest").Addr, 100)

	cheap := newTestChain(t)
	mineBlocks(t, cheap, testwallet.New("trickler").Addr, 5)
	net := node.c.Params().NetworkID()
	trickler := &hostileSyncPeer{
		headers: serveHeaders(cheap),
		blocks:  trickle(cheap, 2*protocol.ResponseLatency),
	}
	trickler.start(t, net)
	connect(t, node.h, trickler.h)
	connect(t, node.h, honest.h)
	testutil.Eventually(t, 60*time.Second, "the node on the honest tip", func() bool { return node.c.Tip().Hash == honest.c.Tip().Hash })
	ev, ok := events.failed(trickler.h)
	if !ok {
		t.Fatal("no failed download from the trickler: it was never tried, or it won")
	}
	t.Logf("the trickler's download: %v", ev.Err)
}

// TestSyncBetterPeerDuringDownload (issue 12, item 8): a download from a
// peer that stalls on its blocks (with a request timeout of an hour, it
// would hold the download all test long) does not stop the status
// refresh, and a peer that meanwhile comes to claim more work is acted
// on at once: the download is preempted and the node syncs from it.
func TestSyncBetterPeerDuringDownload(t *testing.T) {
	events := &syncEvents{}
	fast := p2p.WithStatusInterval(200 * time.Millisecond)
	node := &syncNode{h: newHost(t), c: newTestChain(t)}
	node.s = p2p.NewSyncer(context.Background(), node.h, node.c, p2p.NewGater(), p2p.WithRequestTimeout(time.Hour),
		p2p.WithSyncNotify(events.add), p2p.WithSyncLogger(testLogger(t)), fast)
	t.Cleanup(node.s.Close)

	slowChain := newTestChain(t)
	mineBlocks(t, slowChain, testwallet.New("slow").Addr, 30)
	var blocksAsked atomic.Bool
	slow := &hostileSyncPeer{status: serveStatus(slowChain), headers: serveHeaders(slowChain),
		blocks: func(w io.Writer, _ []chain.Hash) { blocksAsked.Store(true); stall(w) }}
	slow.start(t, node.c.Params().NetworkID())
	better := newSyncNode(t, fast)
	mineBlocks(t, better.c, testwallet.New("better").Addr, 10)

	connect(t, node.h, slow.h)
	testutil.Eventually(t, 10*time.Second, "a download from the stalling peer under way", func() bool {
		return node.s.Stats().Syncing && blocksAsked.Load()
	})
	connect(t, node.h, better.h)
	// Behind the stalling peer at first; ahead of it after this, which
	// only a status exchanged during the download can tell the node.
	mineBlocks(t, better.c, testwallet.New("better").Addr, 40)
	testutil.Eventually(t, 30*time.Second, "the node on the better peer's tip", func() bool { return node.c.Tip().Hash == better.c.Tip().Hash })
}

// TestSyncFreshClaimsDoNotHoldSyncNow: a peer claims enormous work for a
// new tip on every status, pushes a status often, and refuses every
// GetHeaders once it has pushed two more. Cooling it for the tip it
// claimed would never hold: each fresh claim won it another download and
// could keep SyncNow (/sync-chain) waiting for ever. SyncNow returns
// after the peer's one failed turn, and once the peer failed for two tips
// it is put aside whatever it claims: many fresh claims later it was
// still asked for headers at most twice.
func TestSyncFreshClaimsDoNotHoldSyncNow(t *testing.T) {
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout))
	net := node.c.Params().NetworkID()
	var asked atomic.Int64
	var armed atomic.Bool
	fresh := freshClaims(net)
	// Level with the node until armed, then a fresh tip each time.
	claim := func() protocol.Status {
		if !armed.Load() {
			tip := node.c.Tip()
			return protocol.Status{Genesis: net, Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}
		}
		return fresh()
	}
	var pushed *atomic.Int64 // set before armed
	liar := &hostileSyncPeer{
		status: func(w io.Writer) { _ = protocol.NewWriter(w).WriteResponse(protocol.StatusResponse(claim())) },
		headers: func(w io.Writer, _ protocol.GetHeaders) {
			asked.Add(1)
			// Refused once a fresh claim is waiting: the node knows of a
			// tip it never tried when this turn ends.
			for from := pushed.Load(); pushed.Load() < from+2; {
				select {
				case <-w.(countingWriter).done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			_ = protocol.NewWriter(w).WriteResponse(protocol.ErrorResponse(protocol.CodeUnavailable, "not now"))
		},
	}
	liar.start(t, net)
	connect(t, node.h, liar.h)
	pushed = pushClaims(t, liar.h, node.h.ID(), net, claim)
	testutil.Eventually(t, 10*time.Second, "the first status exchange", func() bool { return node.s.Stats().Heard == 1 })
	armed.Store(true)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node.s.SyncNow(ctx)
	if ctx.Err() != nil {
		t.Fatalf("SyncNow still waiting after %d fresh claims and %d headers requests", pushed.Load(), asked.Load())
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("SyncNow returned after %d headers requests to the liar, want its one turn", n)
	}
	from := pushed.Load()
	testutil.Eventually(t, 20*time.Second, "50 more fresh claims", func() bool { return pushed.Load() >= from+50 })
	if n := asked.Load(); n > 2 {
		t.Fatalf("the liar was asked for headers %d times over %d fresh claims, want at most 2", n, pushed.Load())
	}
}

// TestSyncCoolDownOutlivesReconnect: a peer whose download failed, and
// which hangs up and connects again with the same claim, finds its
// cool-down as it left it: it is not asked for headers again. Before, a
// new connection was a clean slate, and a peer could earn a download a
// reconnect.
func TestSyncCoolDownOutlivesReconnect(t *testing.T) {
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
	net := node.c.Params().NetworkID()
	var asked atomic.Int64
	liar := &hostileSyncPeer{headers: func(w io.Writer, _ protocol.GetHeaders) {
		asked.Add(1)
		_ = protocol.NewWriter(w).WriteResponse(protocol.ErrorResponse(protocol.CodeUnavailable, "not now"))
	}}
	liar.start(t, net)
	connect(t, node.h, liar.h)
	events.waitFailed(t, liar.h, 10*time.Second)
	// The failure's event comes from the download, before the loop has
	// taken its end and cooled the liar down; a pass ends only after
	// that, so SyncNow returns with the cool-down in place. Closed
	// before, the liar would count as having hung up on its download,
	// which is not cooled down (protocol.md 17.10).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node.s.SyncNow(ctx)
	if n := asked.Load(); n != 1 {
		t.Fatalf("the liar was asked for headers %d times before the reconnect, want once", n)
	}
	if err := node.h.Network().ClosePeer(liar.h.ID()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the liar gone from the table", func() bool {
		_, ok := node.s.PeerTip(liar.h.ID())
		return !ok
	})
	connect(t, node.h, liar.h)
	// The loop hears of the connection from the swarm's events, which
	// may come after a SyncNow: the liar's first status after it came
	// back shows the loop has it.
	testutil.Eventually(t, 10*time.Second, "the liar's status after the reconnect", func() bool {
		_, ok := node.s.PeerTip(liar.h.ID())
		return ok
	})
	node.s.SyncNow(ctx) // a pass with the liar's status after it came back
	if _, ok := node.s.PeerTip(liar.h.ID()); !ok {
		t.Fatal("SyncNow returned without the liar's status")
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the liar was asked for headers %d times, want once: its cool-down did not outlive the reconnect", n)
	}
}

// TestSyncSlowHonestPeerTriedForNewTip: a peer whose headers show its
// work (real status, real headers) but whose blocks do not come, twice,
// for two tips in a row (it mined between), is tried again at once when
// it mines on: proof of work in its headers is not a free claim, and it
// is not put aside for every tip as a peer whose claims no header backs
// is (TestSyncFreshClaimsDoNotHoldSyncNow). It could not be synced from
// before the cool-down (a minute) ended.
func TestSyncSlowHonestPeerTriedForNewTip(t *testing.T) {
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
	src := newTestChain(t)
	miner := testwallet.New("honest").Addr
	mineBlocks(t, src, miner, 20)
	net := node.c.Params().NetworkID()
	var serving atomic.Bool
	slow := &hostileSyncPeer{
		status:  serveStatus(src),
		headers: serveHeaders(src),
		blocks: func(w io.Writer, hashes []chain.Hash) {
			if serving.Load() {
				trickle(src, 0)(w, hashes)
			}
			// Else closed at once: no block, a download without progress.
		},
	}
	slow.start(t, net)
	connect(t, node.h, slow.h)
	pushClaims(t, slow.h, node.h.ID(), net, func() protocol.Status {
		tip := src.Tip()
		return protocol.Status{Genesis: net, Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}
	})
	failures := func() int { return events.count(slow.h, p2p.SyncFailed) }
	testutil.Eventually(t, 20*time.Second, "the first download failed", func() bool { return failures() == 1 })
	mineBlocks(t, src, miner, 1)
	testutil.Eventually(t, 20*time.Second, "the second, for the next tip, failed", func() bool { return failures() == 2 })
	serving.Store(true)
	mineBlocks(t, src, miner, 1)
	testutil.Eventually(t, 20*time.Second, "the node on the peer's third tip", func() bool { return node.c.Tip().Hash == src.Tip().Hash })
}

// TestSyncHeldTipLieDropped: a peer claims enormous work for the node's
// own tip, answers GetHeaders with none (as a peer whose tip we hold
// would), and keeps pushing the claim. The block's work is fixed, and
// the node holds it with less: a lie, and the peer is dropped. Before,
// the download counted as done (we hold the tip it named), the claim
// stood, and each pass started the next download from it at once:
// SyncNow never returned.
func TestSyncHeldTipLieDropped(t *testing.T) {
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout))
	mineBlocks(t, node.c, testwallet.New("honest").Addr, 5)
	net := node.c.Params().NetworkID()
	claim := func() protocol.Status {
		st := enormousClaim(net)
		st.Tip, st.Height = node.c.Tip().Hash, node.c.Tip().Height()
		return st
	}
	var asked atomic.Int64
	liar := &hostileSyncPeer{
		status: func(w io.Writer) { _ = protocol.NewWriter(w).WriteResponse(protocol.StatusResponse(claim())) },
		headers: func(w io.Writer, _ protocol.GetHeaders) {
			asked.Add(1)
			_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(nil))
		},
	}
	liar.start(t, net)
	connect(t, node.h, liar.h)
	pushClaims(t, liar.h, node.h.ID(), net, claim)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node.s.SyncNow(ctx)
	if ctx.Err() != nil {
		t.Fatalf("SyncNow still waiting after %d headers requests to the liar", asked.Load())
	}
	testutil.Eventually(t, 10*time.Second, "the liar dropped", func() bool {
		return node.h.Network().Connectedness(liar.h.ID()) != network.Connected
	})
}

// TestSyncHangUpNotCooled: a peer that hangs up in the middle of our
// download from it (it was killed, or restarted) is welcome back at once
// when it connects again, with the same tip: it is not cooled down. The
// download's error can reach the syncer's loop before the disconnect
// does; before, it then cooled the peer for a minute, and the cool-down
// outlived the reconnect, though a disconnect that came first left the
// peer uncooled (protocol.md §17.10). On TCP and on QUIC, where the
// other side's close may break the streams before the connection reads
// as closed (closedByPeer).
func TestSyncHangUpNotCooled(t *testing.T) {
	for _, tc := range []struct{ name, listen string }{
		{"tcp", "/ip4/127.0.0.1/tcp/0"},
		{"quic", "/ip4/127.0.0.1/udp/0/quic-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) { testSyncHangUpNotCooled(t, tc.listen) })
	}
}

func testSyncHangUpNotCooled(t *testing.T, listen string) {
	node := newSyncNodeOn(t, newHostOn(t, listen), p2p.WithRequestTimeout(hostileTimeout))
	src := newTestChain(t)
	mineBlocks(t, src, testwallet.New("honest").Addr, 20)
	net := node.c.Params().NetworkID()
	var hangUps atomic.Int64
	var peerHost atomic.Pointer[hostileSyncPeer]
	headers := serveHeaders(src)
	restarter := &hostileSyncPeer{
		status: serveStatus(src),
		headers: func(w io.Writer, req protocol.GetHeaders) {
			if hangUps.Load() == 0 {
				// Killed as the request came: every connection drops.
				hangUps.Add(1)
				_ = peerHost.Load().h.Network().ClosePeer(node.h.ID())
				return
			}
			headers(w, req)
		},
		blocks: trickle(src, 0),
		listen: listen,
	}
	peerHost.Store(restarter)
	restarter.start(t, net)
	connect(t, node.h, restarter.h)
	testutil.Eventually(t, 10*time.Second, "the hang-up", func() bool { return hangUps.Load() == 1 })
	testutil.Eventually(t, 10*time.Second, "the peer gone from the table", func() bool {
		_, ok := node.s.PeerTip(restarter.h.ID())
		return !ok
	})
	connect(t, node.h, restarter.h)
	testutil.Eventually(t, 20*time.Second, "the node on the peer's tip after it came back", func() bool {
		return node.c.Tip().Hash == src.Tip().Hash
	})
}
