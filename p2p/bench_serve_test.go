package p2p_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// BenchmarkServeRequest is what one sync request costs the node that
// serves it, against which the server's allowances per peer are set
// (limits.go): a real peer on loopback opens a stream, sends a request,
// reads the whole answer, and sends the next. cpu-µs/req is the
// process's CPU per request, the asking peer's included (a stream, a
// write, a read of its own), so the server's share is less. The server's
// rate-limit clock is moved on an hour before each request, so that every
// one is served.
func BenchmarkServeRequest(b *testing.B) {
	tc := newTestChain(b)
	mined := mineBlocks(b, tc, testwallet.New("miner").Addr, protocol.MaxBlocksPerRequest)
	hashes := make([]chain.Hash, len(mined))
	for i, blk := range mined {
		hashes[i] = blk.Hash()
	}
	server := newHost(b)
	s := p2p.NewSyncer(context.Background(), server, tc, p2p.NewGater(), p2p.WithSyncLogger(testLogger(b)))
	b.Cleanup(s.Close)
	advance := s.FreezeServeClock()
	client := newHost(b)
	answerStatus(client, tc)
	if err := client.Connect(context.Background(), server.Peerstore().PeerInfo(server.ID())); err != nil {
		b.Fatal(err)
	}
	proto := lpprotocol.ID(protocol.SyncProtocol(tc.Params().NetworkID()))
	tip := tc.Tip()
	for _, c := range []struct {
		name    string
		req     *pb.Request
		answers int
	}{
		{"status", protocol.StatusRequest(protocol.Status{Genesis: tc.Params().NetworkID(), Tip: tip.Hash, Height: tip.Height(), Work: tip.Work}), 1},
		{"blocks=64", protocol.GetBlocksRequest(hashes[:64]), 64},
		{"blocks=128", protocol.GetBlocksRequest(hashes), len(hashes)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				advance(time.Hour)
				cpu0 := testutil.ProcessCPU()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				st, err := client.NewStream(ctx, server.ID(), proto)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				_ = st.SetDeadline(time.Now().Add(10 * time.Second))
				if err := protocol.NewWriter(st).WriteRequest(c.req); err != nil {
					b.Fatal(err)
				}
				_ = st.CloseWrite()
				r := protocol.NewReader(st)
				for i := range c.answers {
					resp, err := r.ReadResponse()
					if err != nil || resp.GetError() != nil {
						b.Fatalf("answer %d of %d: %v %v", i+1, c.answers, resp.GetError(), err)
					}
				}
				if _, err := r.ReadResponse(); !errors.Is(err, io.EOF) {
					b.Fatalf("after the answer: %v, want the stream's end", err)
				}
				_ = st.Close()
				cpu += testutil.ProcessCPU() - cpu0
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
		})
	}
}
