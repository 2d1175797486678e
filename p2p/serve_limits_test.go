package p2p_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// workCountingChain counts the store work the server does for peers.
type workCountingChain struct {
	*testChain
	headerCalls, blockReads atomic.Int64
}

func (c *workCountingChain) HeadersAfter(loc []chain.Hash, stop chain.Hash, max int) ([]chain.Header, error) {
	c.headerCalls.Add(1)
	return c.testChain.HeadersAfter(loc, stop, max)
}

func (c *workCountingChain) BlockBytes(h chain.Hash) ([]byte, error) {
	c.blockReads.Add(1)
	return c.testChain.BlockBytes(h)
}

// flooder is a peer that sends one kind of request as fast as it is
// answered. It answers the server's status requests with the server's own
// status, so it is neither hung up on nor downloaded from.
type flooder struct {
	h     host.Host
	proto lpprotocol.ID
}

func newFlooder(t *testing.T, server *p2p.Syncer, c *testChain) *flooder {
	f := &flooder{h: newHost(t), proto: lpprotocol.ID(protocol.SyncProtocol(c.Params().NetworkID()))}
	answerStatus(f.h, c)
	return f
}

// answerStatus makes h answer sync status requests with c's status, so
// that a syncer keeps it as a peer of its network.
func answerStatus(h interface {
	SetStreamHandler(lpprotocol.ID, network.StreamHandler)
}, c *testChain) {
	h.SetStreamHandler(lpprotocol.ID(protocol.SyncProtocol(c.Params().NetworkID())), func(st network.Stream) {
		defer st.Close()
		if _, err := protocol.NewReader(st).ReadRequest(); err != nil {
			_ = st.Reset()
			return
		}
		tip := c.Tip()
		_ = protocol.NewWriter(st).WriteResponse(protocol.StatusResponse(protocol.Status{
			Genesis: c.Params().NetworkID(), Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}))
	})
}

// ask sends req n times, one stream each, and counts the answers served
// and the refusals for the rate (Error 2). Anything else fails the test.
func (f *flooder) ask(t *testing.T, server host.Host, req *pb.Request, n int) (served, refused int) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := f.h.NewStream(ctx, server.ID(), f.proto)
		cancel()
		if err != nil {
			t.Fatalf("open a sync stream: %v", err)
		}
		_ = st.SetDeadline(time.Now().Add(10 * time.Second))
		if err := protocol.NewWriter(st).WriteRequest(req); err != nil {
			t.Fatal(err)
		}
		_ = st.CloseWrite()
		resp, err := protocol.NewReader(st).ReadResponse()
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		switch {
		case resp.GetError() == nil:
			served++
		case resp.GetError().GetCode() == uint32(protocol.CodeRateLimited):
			refused++
		default:
			t.Fatalf("answer: error %d %q", resp.GetError().GetCode(), resp.GetError().GetMessage())
		}
		_, _ = io.Copy(io.Discard, st) // the rest of a GetBlocks answer
		_ = st.Close()
	}
	return served, refused
}

// TestServeFloodChargedByCost: a real libp2p peer floods the server with
// one kind of request. With the server's rate-limit clock stopped, what
// it serves is exactly what the peer's allowance pays for (protocol.md
// §17.9): the burst, then nothing; hanging up and reconnecting does not
// refill it; one second on the clock serves one second's rate. The
// server's store work (HeadersAfter calls, block reads) is the served
// requests' and no more. Counts, not timings, decide.
func TestServeFloodChargedByCost(t *testing.T) {
	const blocks = 100
	tests := []struct {
		name string
		req  func(net chain.Hash, hashes []chain.Hash) *pb.Request
		// burst is how many requests a full allowance serves, perSecond
		// how many one second of refill serves (a bucket holds no more
		// than its burst).
		burst, perSecond int
		// work is the server's store work so far.
		work func(c *workCountingChain) int64
		// perRequest is the store work of one served request.
		perRequest int64
	}{
		{
			name: "GetHeaders of 2000",
			req: func(net chain.Hash, _ []chain.Hash) *pb.Request {
				return protocol.GetHeadersRequest(protocol.GetHeaders{Locator: []chain.Hash{net}, Max: protocol.MaxHeadersPerResponse})
			},
			burst:      p2p.ServerHeaderBurst / protocol.MaxHeadersPerResponse,
			perSecond:  p2p.ServerHeaderRate / protocol.MaxHeadersPerResponse,
			work:       func(c *workCountingChain) int64 { return c.headerCalls.Load() },
			perRequest: 1,
		},
		{
			name: "GetHeaders of 500",
			req: func(net chain.Hash, _ []chain.Hash) *pb.Request {
				return protocol.GetHeadersRequest(protocol.GetHeaders{Locator: []chain.Hash{net}, Max: 500})
			},
			burst:      p2p.ServerHeaderBurst / 500,
			perSecond:  p2p.ServerHeaderRate / 500,
			work:       func(c *workCountingChain) int64 { return c.headerCalls.Load() },
			perRequest: 1,
		},
		{
			name: "GetBlocks of 100",
			req: func(_ chain.Hash, hashes []chain.Hash) *pb.Request {
				return protocol.GetBlocksRequest(hashes)
			},
			burst: p2p.ServerBlockBurst / blocks,
			// A second refills more than the burst holds.
			perSecond:  min(p2p.ServerBlockRate, p2p.ServerBlockBurst) / blocks,
			work:       func(c *workCountingChain) int64 { return c.blockReads.Load() },
			perRequest: blocks,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.burst+tc.perSecond+1 > p2p.ServerBurst {
				t.Fatal("the case would meet the per-request limit first")
			}
			tc2 := newTestChain(t)
			mined := mineBlocks(t, tc2, testwallet.New("miner").Addr, blocks)
			hashes := make([]chain.Hash, len(mined))
			for i, b := range mined {
				hashes[i] = b.Hash()
			}
			c := &workCountingChain{testChain: tc2}
			server := newHost(t)
			s := p2p.NewSyncer(context.Background(), server, c, p2p.NewGater(), p2p.WithSyncLogger(testLogger(t)))
			t.Cleanup(s.Close)
			advance := s.FreezeServeClock()
			f := newFlooder(t, s, tc2)
			req := tc.req(tc2.Params().NetworkID(), hashes)

			connect(t, f.h, server)
			served, refused := f.ask(t, server, req, tc.burst+5)
			if served != tc.burst || refused != 5 {
				t.Fatalf("flood: %d served, %d refused; want %d and 5", served, refused, tc.burst)
			}

			// Hang up and come back: the allowance is where it was.
			if err := f.h.Network().ClosePeer(server.ID()); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 10*time.Second, "the server sees the flooder leave", func() bool {
				return server.Network().Connectedness(f.h.ID()) != network.Connected
			})
			connect(t, f.h, server)
			if served, refused := f.ask(t, server, req, 3); served != 0 || refused != 3 {
				t.Fatalf("after reconnecting: %d served, %d refused; want 0 and 3", served, refused)
			}

			// One second of refill pays for one second's rate.
			advance(time.Second)
			if served, refused := f.ask(t, server, req, tc.perSecond+2); served != tc.perSecond || refused != 2 {
				t.Fatalf("a second later: %d served, %d refused; want %d and 2", served, refused, tc.perSecond)
			}
			if got, want := tc.work(c), int64(tc.burst+tc.perSecond)*tc.perRequest; got != want {
				t.Fatalf("the server did %d units of store work, want %d: only what was paid for", got, want)
			}
		})
	}
}

// BenchmarkHeaderFloodCost is a header flood's cost to each side, without
// the network stack (the same stream work on both): the server's answer
// to one GetHeaders of 2,000 (HeadersAfter on a 2,000-block chain, encode,
// write) against the attacker's request (encode, write). Run once:
//
//	go test ./p2p -run '^$' -bench HeaderFloodCost -benchtime 200x
func BenchmarkHeaderFloodCost(b *testing.B) {
	c := newTestChain(b)
	mineBlocks(b, c, testwallet.New("miner").Addr, protocol.MaxHeadersPerResponse)
	req := protocol.GetHeaders{Locator: []chain.Hash{c.Params().NetworkID()}, Max: protocol.MaxHeadersPerResponse}
	b.Run("server", func(b *testing.B) {
		w := protocol.NewWriter(io.Discard)
		for b.Loop() {
			hdrs, err := c.HeadersAfter(req.Locator, req.Stop, req.Max)
			if err != nil || len(hdrs) != req.Max {
				b.Fatalf("%d headers, %v", len(hdrs), err)
			}
			if err := w.WriteResponse(protocol.HeadersResponse(hdrs)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("attacker", func(b *testing.B) {
		w := protocol.NewWriter(io.Discard)
		for b.Loop() {
			if err := w.WriteRequest(protocol.GetHeadersRequest(req)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestServeIdleStreamsReserveLittle: streams that send a byte of their
// request and then nothing hold the reader's 16 KiB each with the
// resource manager, not an answer's 545 KiB: before, a few identities'
// idle streams took the sync service's whole memory and every peer's
// request, the honest ones' included, was reset. And a stream takes a
// request token as it arrives, request or none: once streams that never
// sent one spent the burst (the server's rate-limit clock is stopped),
// the peer's requests are refused, where before they cost it nothing.
func TestServeIdleStreamsReserveLittle(t *testing.T) {
	server := newSyncNode(t)
	server.s.FreezeServeClock()
	f := newFlooder(t, server.s, server.c)
	connect(t, f.h, server.h)
	const idle = 20
	for range idle {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := f.h.NewStream(ctx, server.h.ID(), f.proto)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer st.Reset()
		if _, err := st.Write([]byte{0x7f}); err != nil { // a request's length, and no request
			t.Fatal(err)
		}
	}
	var stat network.ScopeStat
	testutil.Eventually(t, 10*time.Second, "every idle stream served", func() bool {
		err := server.h.Network().ResourceManager().ViewService("gossipchain.sync", func(s network.ServiceScope) error {
			stat = s.Stat()
			return nil
		})
		return err == nil && stat.NumStreamsInbound == idle
	})
	if limit := int64(idle * 16 << 10); stat.Memory > limit {
		t.Fatalf("%d idle streams reserve %d bytes, want at most %d", idle, stat.Memory, limit)
	}
	for range p2p.ServerBurst - idle {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := f.h.NewStream(ctx, server.h.ID(), f.proto)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close() // no request
	}
	tip := server.c.Tip()
	st := protocol.Status{Genesis: server.c.Params().NetworkID(), Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}
	if served, refused := f.ask(t, server.h, protocol.StatusRequest(st), 20); refused == 0 {
		t.Fatalf("after %d streams without a request, %d status requests served and none refused", p2p.ServerBurst, served)
	}
}
