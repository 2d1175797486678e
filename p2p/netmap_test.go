package p2p_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/p2p"
	"github.com/gossipchain/gossipchain/protocol"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// mapNode is a gossip node with a syncer and the network map; its rounds
// are an hour apart, so tests step with Ask.
type mapNode struct {
	*gossipNode
	s     *p2p.Syncer
	m     *p2p.NetMap
	gater *p2p.Gater
}

func newMapNode(t testing.TB) *mapNode {
	t.Helper()
	h, c, gater := newHost(t), newTestChain(t), p2p.NewGater()
	// Statuses every 200 ms, so the tips b reports of its peers catch up
	// with a new block at once.
	s := p2p.NewSyncer(context.Background(), h, c, gater, p2p.WithSyncLogger(testLogger(t)),
		p2p.WithStatusInterval(200*time.Millisecond))
	t.Cleanup(s.Close)
	n := &mapNode{gossipNode: startGossipNode(t, h, c, s), s: s, gater: gater}
	n.m = p2p.NewNetMap(context.Background(), h, s, n.g, p2p.WithMapInterval(time.Hour), p2p.WithMapLogger(testLogger(t)))
	t.Cleanup(n.m.Close)
	return n
}

func (n *mapNode) answerOf(p peer.ID) (p2p.MapAnswer, bool) {
	for _, a := range n.m.Answers() {
		if a.Peer == p {
			return a, true
		}
	}
	return p2p.MapAnswer{}, false
}

// TestNetMapAnswers: on a line a–b–c, a learns from b that b is
// connected to a (inbound) and to c (outbound, by tcp), the tips b last
// heard from each, b's own tip, and when b first saw a's block.
func TestNetMapAnswers(t *testing.T) {
	a, b, c := newMapNode(t), newMapNode(t), newMapNode(t)
	line(t, a.gossipNode, b.gossipNode, c.gossipNode)
	blk := a.c.mine(t, testwallet.New("miner").Addr)
	if err := a.g.PublishBlock(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "a's block reaches c through b", func() bool { return c.c.Tip().Hash == blk.Hash() })

	var ans p2p.MapAnswer
	testutil.EventuallyErr(t, 10*time.Second, "b's answer lists a and c with their tips", func() error {
		if err := a.m.Ask(context.Background(), b.h.ID()); err != nil {
			return err
		}
		ans, _ = a.answerOf(b.h.ID())
		if len(ans.List.Peers) != 2 {
			return errors.New("not two peers yet")
		}
		for _, p := range ans.List.Peers {
			if !p.HasTip || p.Tip != blk.Hash() || p.Height != 1 {
				return errors.New("tips not heard yet")
			}
		}
		return nil
	})
	if ans.List.Tip != blk.Hash() || ans.List.Height != 1 {
		t.Errorf("b's tip %s at %d, want block 1", ans.List.Tip.Short(), ans.List.Height)
	}
	kinds := map[peer.ID]string{}
	for _, p := range ans.List.Peers {
		dir := "outbound"
		if p.Inbound {
			dir = "inbound"
		}
		kinds[p.ID] = dir + "/" + p.Transport
	}
	if kinds[a.h.ID()] != "inbound/tcp" || kinds[c.h.ID()] != "outbound/tcp" {
		t.Errorf("b's connections %v: want a inbound and c outbound, both tcp", kinds)
	}
	if len(ans.List.Seen) != 1 || ans.List.Seen[0].Hash != blk.Hash() {
		t.Errorf("b saw %+v, want a's block", ans.List.Seen)
	}
}

// hostileMapPeer is a node that speaks sync (so the honest node keeps
// it connected) and answers map requests with raw bytes.
func hostileMapPeer(t *testing.T, answer []byte) *gossipNode {
	t.Helper()
	h := newSyncNode(t).h
	h.SetStreamHandler(lpprotocol.ID(protocol.MapProtocol(chain.RegTest().NetworkID())), func(st network.Stream) {
		defer st.Close()
		_, _ = st.Write(answer)
	})
	return &gossipNode{h: h}
}

// TestNetMapHostileAnswer: an answer over the size limit, undecodable, or
// breaking a rule (too many peers, bogus ids) is refused before it is
// kept, and costs its sender a ban and its connection.
func TestNetMapHostileAnswer(t *testing.T) {
	tooMany := &pb.PeerList{Tip: make([]byte, 32)}
	for range protocol.MaxMapPeers + 1 {
		tooMany.Peers = append(tooMany.Peers, &pb.MapPeer{Id: []byte(newHost(t).ID())})
	}
	tests := []struct {
		name   string
		answer []byte
	}{
		{"huge length prefix", append(varint.ToUvarint(1<<30), make([]byte, 1024)...)},
		{"just over the limit", append(varint.ToUvarint(protocol.MaxPeerListSize+1), make([]byte, protocol.MaxPeerListSize+1)...)},
		{"not protobuf", append(varint.ToUvarint(3), 0xff, 0xff, 0xff)},
		{"bogus peer id", encodeList(t, &pb.PeerList{Tip: make([]byte, 32), Peers: []*pb.MapPeer{{Id: []byte("bogus")}}})},
		{"too many peers", encodeList(t, tooMany)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			honest := newMapNode(t)
			evil := hostileMapPeer(t, tt.answer)
			connect(t, honest.h, evil.h)
			err := honest.m.Ask(context.Background(), evil.h.ID())
			if !errors.Is(err, protocol.ErrBadMessage) {
				t.Fatalf("Ask = %v, want ErrBadMessage", err)
			}
			if !honest.gater.Banned(evil.h.ID()) {
				t.Error("the sender is not banned")
			}
			testutil.Eventually(t, 10*time.Second, "the sender is disconnected", func() bool {
				return honest.h.Network().Connectedness(evil.h.ID()) != network.Connected
			})
			if _, ok := honest.answerOf(evil.h.ID()); ok {
				t.Error("the hostile answer was kept")
			}
		})
	}
}

func encodeList(t *testing.T, l *pb.PeerList) []byte {
	t.Helper()
	b, err := proto.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return append(varint.ToUvarint(uint64(len(b))), b...)
}

// TestNetMapRateLimited: a peer that asks more often than its allowance
// gets mapServeBurst answers and then reset streams, until the clock
// refills the bucket; the honest node stays connected to it (asking
// often is not a fault, only worthless).
func TestNetMapRateLimited(t *testing.T) {
	server := newMapNode(t)
	advance := server.s.FreezeServeClock()
	client := newSyncNode(t).h // speaks sync, so the server keeps it
	connect(t, client, server.h)
	proto := lpprotocol.ID(protocol.MapProtocol(chain.RegTest().NetworkID()))
	answered := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := client.NewStream(ctx, server.h.ID(), proto)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_ = st.CloseWrite()
		_, err = protocol.NewReader(st).ReadPeerList(server.h.ID())
		return err == nil
	}
	got := 0
	for range 3 * p2p.MapServeBurst {
		if answered() {
			got++
		}
	}
	if got != p2p.MapServeBurst {
		t.Fatalf("%d answers to a flood, want the burst, %d", got, p2p.MapServeBurst)
	}
	advance(time.Minute)
	if !answered() {
		t.Fatal("no answer once the bucket refilled")
	}
	if server.gater.Banned(client.ID()) {
		t.Fatal("asking too often cost a ban")
	}
}

// TestNetMapOff: a node that does not run the map (off by operator
// choice) does not speak the protocol: asking it fails, and costs it
// nothing.
func TestNetMapOff(t *testing.T) {
	asker := newMapNode(t)
	private := newSyncNode(t)
	connect(t, asker.h, private.h)
	err := asker.m.Ask(context.Background(), private.h.ID())
	if err == nil || errors.Is(err, protocol.ErrBadMessage) || errors.Is(err, io.EOF) {
		t.Fatalf("Ask of a node without the map = %v, want a protocol negotiation error", err)
	}
	if asker.gater.Banned(private.h.ID()) {
		t.Fatal("a node without the map was banned")
	}
}

// TestMapByDefault: on for the predefined networks, where seeing the
// network is the point; off for any other name.
func TestMapByDefault(t *testing.T) {
	tests := []struct {
		network string
		want    bool
	}{{"devnet", true}, {"open", true}, {"regtest", true}, {"mainnet", false}, {"", false}, {"Devnet", false}}
	for _, tt := range tests {
		if got := p2p.MapByDefault(tt.network); got != tt.want {
			t.Errorf("MapByDefault(%q) = %v, want %v", tt.network, got, tt.want)
		}
	}
}
