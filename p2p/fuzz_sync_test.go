package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// FuzzSyncHandler feeds raw bytes to the sync handler of a live node, as
// go-libp2p's autonatv2 server test does: each input is written to a
// stream as it is, then again behind a varint length prefix of its own
// size, so that the protobuf decoder and the request validators see it
// too. The node must not panic, and must stay usable: after every input a
// well-behaved peer still gets an answer to its status request.
//
// A malformed request costs its sender the connection and a ban, so the
// fuzzing peer is replaced whenever the node hangs up on it, and every
// fuzzClientUses inputs to stay clear of the per-peer rate limit.
//
// Coverage of a live network stack varies from run to run, so the fuzzer
// finds many inputs "interesting" and would spend its default minute
// minimising each one: switch that off.
//
//	go test ./p2p -run '^$' -fuzz FuzzSyncHandler -fuzztime 30s -fuzzminimizetime 0
func FuzzSyncHandler(f *testing.F) {
	server := &syncNode{h: newHost(f), c: newTestChain(f)}
	server.s = p2p.NewSyncer(context.Background(), server.h, server.c, p2p.NewGater())
	f.Cleanup(server.s.Close)
	blocks := mineBlocks(f, server.c, testwallet.New("miner").Addr, 5)
	net := server.c.Params().NetworkID()
	proto := lpprotocol.ID(protocol.SyncProtocol(net))

	// Seeds that name this run's blocks; the fixed ones are in
	// testdata/fuzz/FuzzSyncHandler.
	hashes := make([]chain.Hash, len(blocks))
	for i, b := range blocks {
		hashes[i] = b.Hash()
	}
	tip := server.c.Tip()
	for _, req := range []protocol.GetHeaders{
		{Locator: []chain.Hash{hashes[1], net}, Max: protocol.MaxHeadersPerResponse},
		{Locator: []chain.Hash{net}, Stop: hashes[2], Max: 3},
	} {
		f.Add(encodeRequest(f, protocol.GetHeadersRequest(req)))
	}
	f.Add(encodeRequest(f, protocol.GetBlocksRequest(hashes)))
	f.Add(encodeRequest(f, protocol.StatusRequest(protocol.Status{Genesis: net, Tip: tip.Hash, Height: tip.Height(), Work: tip.Work})))

	probe := newFuzzClient(f, server)
	var client *fuzzClient
	uses := 0
	f.Cleanup(func() {
		probe.h.Close()
		if client != nil {
			client.h.Close()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if client == nil || uses == fuzzClientUses || client.h.Network().Connectedness(server.h.ID()) != network.Connected {
			if client != nil {
				client.h.Close()
			}
			client, uses = newFuzzClient(t, server), 0
		}
		uses++
		client.send(t, server.h, proto, data)
		if client.h.Network().Connectedness(server.h.ID()) == network.Connected {
			client.send(t, server.h, proto, append(varint.ToUvarint(uint64(len(data))), data...))
		}
		probe.checkStatus(t, server.h, proto)
	})
}

// fuzzClientUses is how many inputs one fuzzing peer sends: two streams
// each, well inside the server's burst of 200 requests.
const fuzzClientUses = 50

// fuzzClient is a host that looks like a gossipchain node at genesis to
// the server: it answers the server's status exchange, so it is not
// dropped as foreign. Its host outlives the input that made it: the
// caller closes it.
type fuzzClient struct {
	h       host.Host
	genesis protocol.Status // what it tells the server
}

func newFuzzClient(t testing.TB, server *syncNode) *fuzzClient {
	t.Helper()
	p := server.c.Params()
	genesis := protocol.Status{Genesis: p.NetworkID(), Tip: p.Genesis().Hash(), Height: 0, Work: big.NewInt(1)}
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	c := &fuzzClient{h: h, genesis: genesis}
	c.h.SetStreamHandler(lpprotocol.ID(protocol.SyncProtocol(p.NetworkID())), func(st network.Stream) {
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		if req, err := protocol.NewReader(st).ReadRequest(); err == nil && req.GetStatus() != nil {
			_ = protocol.NewWriter(st).WriteResponse(protocol.StatusResponse(genesis))
		}
	})
	connect(t, c.h, server.h)
	return c
}

// send writes data on a new sync stream, closes its write side and reads
// whatever the server answers until it closes or resets the stream.
func (c *fuzzClient) send(t *testing.T, server host.Host, proto lpprotocol.ID, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.h.NewStream(ctx, server.ID(), proto)
	if err != nil {
		// The server hung up on an earlier input of this client.
		if c.h.Network().Connectedness(server.ID()) != network.Connected {
			return
		}
		t.Fatalf("open a sync stream: %v", err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = st.Write(data)
	_ = st.CloseWrite()
	if _, err := io.Copy(io.Discard, io.LimitReader(st, 2*protocol.MaxBlocksPerRequest*protocol.MaxMessageSize)); errors.Is(err, network.ErrReset) {
		return
	} else if err != nil && !errors.Is(err, io.EOF) {
		// A deadline here means the server holds a stream whose request
		// has ended: it should have answered or hung up.
		t.Fatalf("reading the answer: %v", err)
	}
}

// checkStatus asks the server for its status, as a well-behaved peer.
// The server may refuse for the rate (the probe asks after every input),
// but it must answer.
func (c *fuzzClient) checkStatus(t *testing.T, server host.Host, proto lpprotocol.ID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.h.NewStream(ctx, server.ID(), proto)
	if err != nil {
		t.Fatalf("the node no longer opens sync streams: %v", err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	if err := protocol.NewWriter(st).WriteRequest(protocol.StatusRequest(c.genesis)); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	resp, err := protocol.NewReader(st).ReadResponse()
	if err != nil {
		t.Fatalf("no status from the node: %v", err)
	}
	var re *protocol.RemoteError
	if _, err := protocol.StatusFromResponse(resp); err != nil && !(errors.As(err, &re) && re.Code == protocol.CodeRateLimited) {
		t.Fatalf("status from the node: %v", err)
	}
}

// encodeRequest returns req as it goes on the wire, length prefix included.
func encodeRequest(t testing.TB, req *pb.Request) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := protocol.NewWriter(&b).WriteRequest(req); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
