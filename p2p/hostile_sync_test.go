package p2p_test

import (
	"bytes"
	"context"
	"io"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
)

// Hostile sync peers. Already covered in sync_test.go:
// TestSyncLiarIsDroppedAndAnotherPeerUsed (enormous claim, garbage
// headers: dropped, banned, another peer used) and
// TestSyncSilentLiarDoesNotStall (enormous claim, a headers request never
// answered, fresh claims: another peer used).

// hostileTimeout is the request timeout of the node under attack, so that
// a peer that stalls is cut within the test's patience.
const hostileTimeout = 500 * time.Millisecond

// countingWriter counts what a hostile peer manages to write: everything
// the honest node read, or holds in its stream's receive window.
type countingWriter struct {
	w    io.Writer
	n    *atomic.Int64
	done <-chan struct{} // closed when the test ends
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// hostileSyncPeer serves the sync protocol of net as its callbacks say:
// status with an enormous claim unless status is set, and whatever
// headers and blocks do (nothing: the stream is closed).
type hostileSyncPeer struct {
	h       host.Host
	done    chan struct{} // closed when the test ends
	written atomic.Int64  // bytes the handlers wrote
	tricks  atomic.Int64  // requests answered with the misbehaviour under test

	status  func(w io.Writer)
	headers func(w io.Writer, req protocol.GetHeaders)
	blocks  func(w io.Writer, hashes []chain.Hash)
	// listen is the address the peer listens on; loopback TCP if empty.
	listen string
}

// enormousClaim is a status no chain can honour: 2^200 work at height 2^40.
func enormousClaim(net chain.Hash) protocol.Status {
	return protocol.Status{Genesis: net, Tip: chain.Hash{0xee}, Height: 1 << 40, Work: new(big.Int).Lsh(big.NewInt(1), 200)}
}

func (l *hostileSyncPeer) start(t *testing.T, net chain.Hash) {
	t.Helper()
	if l.listen == "" {
		l.h = newHost(t)
	} else {
		l.h = newHostOn(t, l.listen)
	}
	l.done = make(chan struct{})
	t.Cleanup(func() { close(l.done) }) // before the host closes
	l.h.SetStreamHandler(lpprotocol.ID(protocol.SyncProtocol(net)), func(st network.Stream) {
		defer st.Close()
		// Never longer than the test: the writers below loop until the
		// honest node cuts the stream.
		_ = st.SetDeadline(time.Now().Add(20 * time.Second))
		req, err := protocol.NewReader(st).ReadRequest()
		if err != nil {
			_ = st.Reset()
			return
		}
		w := countingWriter{w: st, n: &l.written, done: l.done}
		switch {
		case req.GetStatus() != nil && l.status != nil:
			l.tricks.Add(1)
			l.status(w)
		case req.GetStatus() != nil:
			_ = protocol.NewWriter(w).WriteResponse(protocol.StatusResponse(enormousClaim(net)))
		case req.GetGetHeaders() != nil && l.headers != nil:
			r, err := protocol.ValidateGetHeaders(req.GetGetHeaders())
			if err != nil {
				t.Errorf("the node sent an invalid GetHeaders: %v", err)
				return
			}
			l.tricks.Add(1)
			l.headers(w, r)
		case req.GetGetBlocks() != nil && l.blocks != nil:
			hashes, err := protocol.ValidateGetBlocks(req.GetGetBlocks())
			if err != nil {
				t.Errorf("the node sent an invalid GetBlocks: %v", err)
				return
			}
			l.tricks.Add(1)
			l.blocks(w, hashes)
		}
	})
}

// alteredBodies answers GetBlocks with c's blocks, each changed by alter
// after its header was read: the header asked for over a body it does
// not commit to.
func alteredBodies(c *testChain, alter func(*chain.Block)) func(io.Writer, []chain.Hash) {
	return func(w io.Writer, hashes []chain.Hash) {
		pw := protocol.NewWriter(w)
		for _, h := range hashes {
			b, err := c.Block(h)
			if err != nil {
				return
			}
			alter(b)
			if pw.WriteResponse(protocol.BlockResponse(b)) != nil {
				return
			}
		}
	}
}

// changedBodies is alteredBodies with each coinbase amount changed.
func changedBodies(c *testChain) func(io.Writer, []chain.Hash) {
	return alteredBodies(c, func(b *chain.Block) { b.Transactions[0].Amount-- })
}

// emptiedBodies is alteredBodies with every block's transactions taken
// away: a body that fails before its merkle root is compared
// (chain.ErrNoTransactions).
func emptiedBodies(c *testChain) func(io.Writer, []chain.Hash) {
	return alteredBodies(c, func(b *chain.Block) { b.Transactions = nil })
}

// stall holds a stream, sending nothing, until the test ends.
func stall(w io.Writer) { <-w.(countingWriter).done }

// forever writes chunk until the stream fails.
func forever(w io.Writer, chunk []byte) {
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// freshClaims returns enormousClaim with a new tip at each call.
func freshClaims(net chain.Hash) func() protocol.Status {
	var n atomic.Uint32
	return func() protocol.Status {
		st, i := enormousClaim(net), n.Add(1)
		st.Tip = chain.Hash{0xee, byte(i), byte(i >> 8), byte(i >> 16)}
		return st
	}
}

// pushClaims has from tell to its status, claim(), every 20 ms until the
// test ends, as a hostile peer keeping its claim fresh would; it returns
// the count of statuses the node answered.
func pushClaims(t *testing.T, from host.Host, to peer.ID, net chain.Hash, claim func() protocol.Status) *atomic.Int64 {
	var pushed atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-stopped })
	go func() {
		defer close(stopped)
		proto := lpprotocol.ID(protocol.SyncProtocol(net))
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if st, err := from.NewStream(ctx, to, proto); err == nil {
				if protocol.NewWriter(st).WriteRequest(protocol.StatusRequest(claim())) == nil {
					_ = st.CloseWrite()
					if _, err := protocol.NewReader(st).ReadResponse(); err == nil {
						pushed.Add(1)
					}
				}
				_ = st.Close()
			}
			cancel()
		}
	}()
	return &pushed
}

// syncEvents records a syncer's events.
type syncEvents struct {
	mu  sync.Mutex
	evs []p2p.SyncEvent
}

func (e *syncEvents) add(ev p2p.SyncEvent) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

// failed returns the first failed download from the peer, if any.
func (e *syncEvents) failed(h host.Host) (p2p.SyncEvent, bool) { return e.first(h, p2p.SyncFailed) }

// waitFailed waits for a failed download from the peer and returns it.
func (e *syncEvents) waitFailed(t *testing.T, h host.Host, within time.Duration) p2p.SyncEvent {
	t.Helper()
	var ev p2p.SyncEvent
	testutil.Eventually(t, within, "a failed download from "+h.ID().ShortString(), func() (ok bool) {
		ev, ok = e.failed(h)
		return ok
	})
	return ev
}

// count returns how many events from the peer are in state.
func (e *syncEvents) count(h host.Host, state string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.evs {
		if ev.Peer == h.ID() && ev.State == state {
			n++
		}
	}
	return n
}

// first returns the first event from the peer in state, if any.
func (e *syncEvents) first(h host.Host, state string) (p2p.SyncEvent, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.evs {
		if ev.Peer == h.ID() && ev.State == state {
			return ev, true
		}
	}
	return p2p.SyncEvent{}, false
}

// TestSyncHostilePeer: a sync peer that sends garbage, claims work it
// cannot deliver, streams without end, sends more than the limits allow,
// or never answers. In each case the node under attack cuts the stream at
// its deadline or limit (the download fails, in well under the default
// request timeout for stalls), a peer that broke the protocol is
// disconnected while one that merely failed to deliver is not, what the
// peer managed to write stays within the message limit plus one stream
// receive window, and the node then syncs to an honest peer's tip.
func TestSyncHostilePeer(t *testing.T) {
	honest := newSyncNode(t)
	mineBlocks(t, honest.c, testwallet.New("miner").Addr, 20)
	net := honest.c.Params().NetworkID()
	realHeaders := func(w io.Writer, req protocol.GetHeaders) {
		hdrs, err := honest.c.HeadersAfter(req.Locator, req.Stop, req.Max)
		if err != nil {
			return
		}
		_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(hdrs))
	}
	// A block of the honest chain that no download from genesis asks for
	// first.
	last, err := honest.c.Block(honest.c.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	var lastMsg bytes.Buffer
	if err := protocol.NewWriter(&lastMsg).WriteResponse(protocol.BlockResponse(last)); err != nil {
		t.Fatal(err)
	}
	junk := garbage(5, 32<<10)
	// yamux lets a sender run at most one receive window ahead of the
	// reader: 256 KiB at first, growing with what is read to go-libp2p's
	// 16 MiB cap.
	const initialWindow, maxWindow = 256 << 10, 16 << 20

	cases := []struct {
		name     string
		peer     hostileSyncPeer
		fault    bool  // the node drops the peer; else it only gives up on it
		deadline bool  // cut at the request deadline, not at a limit
		bound    int64 // the most the peer may manage to write; 0: unchecked
	}{
		// (a) garbage
		{name: "status answered with garbage", fault: true, peer: hostileSyncPeer{
			status: func(w io.Writer) { _, _ = w.Write([]byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff}) }}},
		{name: "headers answered with garbage", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) { _, _ = w.Write(append([]byte{0x80, 0x01}, junk[:128]...)) }}},
		{name: "blocks answered with garbage", fault: true, peer: hostileSyncPeer{headers: realHeaders,
			blocks: func(w io.Writer, _ []chain.Hash) { _, _ = w.Write(append([]byte{0x80, 0x01}, junk[:128]...)) }}},
		{name: "headers without proof of work", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, req protocol.GetHeaders) {
				h := chain.Header{Version: chain.HeaderVersion, Height: 1, PrevHash: req.Locator[len(req.Locator)-1],
					Timestamp: time.Now().UnixMilli(), Bits: honest.c.Params().PowLimitBits()}
				for chain.CheckHeaderSanity(honest.c.Params(), &h) == nil {
					h.Nonce++
				}
				_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse([]chain.Header{h}))
			}}},
		{name: "blocks with their bodies changed", fault: true, peer: hostileSyncPeer{headers: realHeaders,
			// The header asked for, over a body it does not commit to:
			// the node must refuse the body and still take the block
			// from an honest peer.
			blocks: changedBodies(honest.c)}},
		// (b) enormous claims it cannot deliver
		// An empty answer is the end of the peer's chain, at a block we
		// hold: a claim its headers disprove, so a lie (17.9).
		{name: "enormous claim, no headers", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) {
				_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(nil))
			}}},
		{name: "enormous claim, real headers, no blocks", peer: hostileSyncPeer{headers: realHeaders,
			blocks: func(io.Writer, []chain.Hash) {}}},
		// (c) endless streams
		{name: "headers beyond the limit", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, req protocol.GetHeaders) {
				hdrs := make([]chain.Header, protocol.MaxHeadersPerResponse+1)
				_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(hdrs))
			}}, bound: protocol.MaxMessageSize},
		{name: "blocks never requested, without end", fault: true, peer: hostileSyncPeer{headers: realHeaders,
			blocks: func(w io.Writer, _ []chain.Hash) { forever(w, lastMsg.Bytes()) }},
			bound: protocol.MaxMessageSize + maxWindow},
		{name: "a response that never ends", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) {
				_, _ = w.Write(varint.ToUvarint(protocol.MaxMessageSize))
				forever(w, junk)
			}}, bound: protocol.MaxMessageSize + maxWindow},
		{name: "a response trickled a byte at a time", deadline: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) {
				_, _ = w.Write(varint.ToUvarint(protocol.MaxMessageSize))
				for {
					if _, err := w.Write([]byte{0}); err != nil {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}}, bound: 1 << 10},
		// (d) never answers
		{name: "headers never answered", deadline: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) { stall(w) }}},
		{name: "blocks never answered", deadline: true, peer: hostileSyncPeer{headers: realHeaders,
			blocks: func(w io.Writer, _ []chain.Hash) { stall(w) }}},
		// (e) over the message size limit
		{name: "a message over the size limit", fault: true, peer: hostileSyncPeer{
			headers: func(w io.Writer, _ protocol.GetHeaders) {
				_, _ = w.Write(varint.ToUvarint(protocol.MaxMessageSize + 1))
				forever(w, junk)
			}}, bound: initialWindow + 64<<10},
	}
	for i := range cases {
		tc := &cases[i]
		t.Run(tc.name, func(t *testing.T) {
			var events syncEvents
			b := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
			evil := &tc.peer
			evil.start(t, net)

			connect(t, b.h, evil.h)
			testutil.Eventually(t, 10*time.Second, "the misbehaviour is tried on the node", func() bool { return evil.tricks.Load() > 0 })
			if tc.fault {
				testutil.Eventually(t, 10*time.Second, "the peer is disconnected", func() bool {
					return b.h.Network().Connectedness(evil.h.ID()) != network.Connected
				})
			} else {
				events.waitFailed(t, evil.h, 10*time.Second)
			}
			if ev, ok := events.failed(evil.h); ok {
				t.Logf("download from the hostile peer failed after %v: %v", ev.Duration, ev.Err)
				if tc.deadline && (ev.Duration < hostileTimeout || ev.Duration > hostileTimeout+2*time.Second) {
					t.Fatalf("cut after %v, want at the %v deadline", ev.Duration, hostileTimeout)
				}
			} else if tc.deadline {
				t.Fatal("no failed download from the stalling peer")
			}
			if b.c.Tip().Height() != 0 {
				t.Fatalf("the hostile peer moved the tip to height %d", b.c.Tip().Height())
			}

			connect(t, b.h, honest.h)
			testutil.Eventually(t, 20*time.Second, "the node syncs from the honest peer", func() bool { return b.c.Tip().Hash == honest.c.Tip().Hash })
			if tc.fault && b.h.Network().Connectedness(evil.h.ID()) == network.Connected {
				t.Fatal("the peer that broke the protocol is connected again")
			}
			if !tc.fault && b.h.Network().Connectedness(evil.h.ID()) != network.Connected {
				t.Fatal("a peer that only failed to deliver was dropped")
			}
			n := evil.written.Load()
			t.Logf("the hostile peer wrote %d bytes", n)
			if tc.bound > 0 && n > tc.bound {
				t.Fatalf("the hostile peer wrote %d bytes, bound %d", n, tc.bound)
			}
		})
	}
}

// TestSyncGoneGossiperLeavesNoState: a peer gossips a block whose parent
// we lack and hangs up before the validator has run, so the syncer is
// asked to look at a peer that is no longer there. The attack: new peer
// ids cost nothing, and every such request used to leave an entry with
// two rate limiters in the peer table for good, since the disconnect
// notification that removes entries had already passed.
func TestSyncGoneGossiperLeavesNoState(t *testing.T) {
	n := newSyncNode(t)
	for range 20 {
		gone := newHost(t)
		connect(t, gone, n.h)
		if err := gone.Close(); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the peer is gone", func() bool {
			return n.h.Network().Connectedness(gone.ID()) != network.Connected
		})
		n.s.RequestSync(gone.ID())
	}
	// The status exchanges RequestSync starts fail at once: wait until
	// every peer's entry is gone, or time out with the leak.
	testutil.Eventually(t, 10*time.Second, "no state left for peers that are gone", func() bool { return n.s.PeerEntries() == 0 })
}

// TestSyncLowWorkRunRemembered: peers claim enormous work and serve a
// branch forked from the node's chain whose headers, up to the
// download's bound, do not beat the node's tip (headers of real work,
// made once and replayed). The first peer's run costs the node the bound
// (two answers here); the node mines on, so that its locator's hash
// below the fork point moves, and a second peer serving the same run,
// its answers now beginning elsewhere in the node's own headers, is
// refused as the run seen before rather than at the bound; and the
// first, claiming a fresh tip every 20 ms, is not asked again. Both stay
// connected: a run too light to win is not a lie.
func TestSyncLowWorkRunRemembered(t *testing.T) {
	const bound = 2 * protocol.MaxHeadersPerResponse
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithMaxSyncHeaders(bound), p2p.WithSyncNotify(events.add))
	light := newTestChain(t)
	processAll(t, node.c, mineBlocks(t, light, testwallet.New("shared").Addr, 2500), 500)
	// The locator's hash below the fork point: 2,457 here, 2,497 once the
	// node has 40 blocks more; the light run from it is 43 and then 3 of
	// the node's headers and 4,000 of its own, over the bound both times,
	// and lighter than the node's branch from the fork point.
	mineBlocks(t, node.c, testwallet.New("honest").Addr, 4060)
	mineBlocks(t, light, testwallet.New("light").Addr, 4000)
	net := node.c.Params().NetworkID()
	claim := freshClaims(net)
	replayer := func() (*hostileSyncPeer, *atomic.Int64) {
		asked := new(atomic.Int64)
		l := &hostileSyncPeer{
			status: func(w io.Writer) { _ = protocol.NewWriter(w).WriteResponse(protocol.StatusResponse(claim())) },
			headers: func(w io.Writer, req protocol.GetHeaders) {
				asked.Add(1)
				serveHeaders(light)(w, req)
			},
		}
		l.start(t, net)
		return l, asked
	}
	failed := func(l *hostileSyncPeer) error { return events.waitFailed(t, l.h, 30*time.Second).Err }

	first, askedFirst := replayer()
	connect(t, node.h, first.h)
	pushed := pushClaims(t, first.h, node.h.ID(), net, claim)
	if err := failed(first); !strings.Contains(err.Error(), "without beating it") {
		t.Fatalf("the first replayer's download: %v; want it stopped at the bound", err)
	}
	if n := askedFirst.Load(); n != bound/protocol.MaxHeadersPerResponse {
		t.Fatalf("the first replayer was asked for headers %d times, want %d", n, bound/protocol.MaxHeadersPerResponse)
	}

	mineBlocks(t, node.c, testwallet.New("honest").Addr, 40)
	tip := node.c.Tip().Hash
	second, askedSecond := replayer()
	connect(t, node.h, second.h)
	if err := failed(second); !strings.Contains(err.Error(), "seen before") {
		t.Fatalf("the second replayer's download: %v; want the run refused as seen before", err)
	}
	from := pushed.Load()
	testutil.Eventually(t, 20*time.Second, "50 more fresh claims", func() bool { return pushed.Load() >= from+50 })
	if a, b := askedFirst.Load(), askedSecond.Load(); a != bound/protocol.MaxHeadersPerResponse || b > 2 {
		t.Fatalf("headers requests after the fresh claims: %d and %d, want %d and at most 2", a, b, bound/protocol.MaxHeadersPerResponse)
	}
	if node.c.Tip().Hash != tip {
		t.Fatal("the node left its tip for the light run")
	}
	for _, l := range []*hostileSyncPeer{first, second} {
		if node.h.Network().Connectedness(l.h.ID()) != network.Connected {
			t.Fatalf("replayer %s was disconnected", l.h.ID())
		}
	}
}

// TestSyncReplayedOwnHeaders: a peer claims enormous work and answers
// GetHeaders with the node's own headers from an older locator hash than
// the newest it holds (all of them, so answering cost it nothing). An
// answer that passes a newer locator hash is not its main chain's answer
// (the first locator hash on it comes first, §17.6): a fault, and the
// peer is dropped. When the next locator hash is too far above for the
// first answer to reach it, the node's next request carries our main
// chain's hashes above the run every 2,000 blocks (denseLocator), and
// the replay, answering from the run's end, passes one of them in its
// second answer: dropped as well. Either way the node checks at most
// 2,000 of its own headers past the locator hash the replay began at.
func TestSyncReplayedOwnHeaders(t *testing.T) {
	events := &syncEvents{}
	node := newSyncNode(t, p2p.WithRequestTimeout(hostileTimeout), p2p.WithSyncNotify(events.add))
	// Its locator's three oldest hashes: heights 2,045 and 3,069, then
	// genesis 2,045 blocks below.
	mineBlocks(t, node.c, testwallet.New("honest").Addr, 4100)
	net := node.c.Params().NetworkID()
	for _, tc := range []struct {
		name  string
		back  int // the locator hash answered from, counted from the oldest
		asked int64
	}{
		{"passes a newer locator hash in its first answer", 2, 1},
		{"passes a denser locator's hash in its second", 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked atomic.Int64
			replayer := &hostileSyncPeer{
				headers: func(w io.Writer, req protocol.GetHeaders) {
					asked.Add(1)
					start := req.Locator[0] // the run's last, in a later request
					if start == node.c.Tip().Hash {
						start = req.Locator[len(req.Locator)-tc.back]
					}
					hdrs, err := node.c.HeadersAfter([]chain.Hash{start}, chain.Hash{}, req.Max)
					if err != nil {
						return
					}
					_ = protocol.NewWriter(w).WriteResponse(protocol.HeadersResponse(hdrs))
				},
			}
			replayer.start(t, net)
			connect(t, node.h, replayer.h)
			ev := events.waitFailed(t, replayer.h, 30*time.Second)
			t.Logf("the download: %v", ev.Err)
			if n := asked.Load(); n != tc.asked {
				t.Errorf("asked for headers %d times, want %d", n, tc.asked)
			}
			testutil.Eventually(t, 10*time.Second, "the replayer dropped", func() bool {
				return node.h.Network().Connectedness(replayer.h.ID()) != network.Connected
			})
		})
	}
}
