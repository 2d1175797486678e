package testnet

import (
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/p2p"
)

// TestGossipStatsPublishedOnlyOnce checks which sends count as a node's
// publication: only a block it had neither received nor sent, ever,
// including before the count was reset. A block still in flight when a
// measured run begins is forwarded, or asked for by IWANT, after the
// reset; counting that as a publication made the 5-node testnet report
// hundreds of blocks for the 40 mined in its window.
func TestGossipStatsPublishedOnlyOnce(t *testing.T) {
	const topic = "blocks"
	rpcOf := func(data string) *pubsub.RPC {
		tp := topic
		return &pubsub.RPC{RPC: pb.RPC{Publish: []*pb.Message{{Data: []byte(data), Topic: &tp}}}}
	}
	received := func(s *gossipStats, data string) {
		tp := topic
		s.DeliverMessage(&pubsub.Message{ID: p2p.MessageID([]byte(data)), ReceivedFrom: peer.ID("a"),
			Message: &pb.Message{Data: []byte(data), Topic: &tp}})
	}
	tests := []struct {
		name string
		run  func(s *gossipStats)
		want int // publications counted after the steps
	}{
		{"own block sent after the reset", func(s *gossipStats) {
			s.reset()
			s.SendRPC(rpcOf("mined"), "b")
		}, 1},
		{"received before the reset, forwarded after", func(s *gossipStats) {
			received(s, "old")
			s.reset()
			s.SendRPC(rpcOf("old"), "b")
		}, 0},
		{"sent before the reset, sent again after (IWANT)", func(s *gossipStats) {
			s.SendRPC(rpcOf("old"), "b")
			s.reset()
			s.SendRPC(rpcOf("old"), "c")
		}, 0},
		{"received after the reset, forwarded", func(s *gossipStats) {
			s.reset()
			received(s, "new")
			s.SendRPC(rpcOf("new"), "b")
		}, 0},
		{"own block sent to two peers", func(s *gossipStats) {
			s.reset()
			s.SendRPC(rpcOf("mined"), "b")
			s.SendRPC(rpcOf("mined"), "c")
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGossipStats(topic)
			tt.run(s)
			if got := len(s.published); got != tt.want {
				t.Fatalf("%d publications counted, want %d", got, tt.want)
			}
		})
	}
}
