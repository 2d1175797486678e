package p2p

import (
	"context"
	"log/slog"
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// TestValidatorVerdicts: each topic's validator returns its check's
// verdict, counts it, and turns a panic in the check into Ignore, the
// block topic's on a kept worker (blockWorkers) as the transaction
// topic's on GossipSub's goroutine: a panic there would end the process,
// which no recover on GossipSub's goroutine could catch.
func TestValidatorVerdicts(t *testing.T) {
	h, err := NewHost(context.Background(), HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NetworkID: chain.RegTest().NetworkID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	g := &Gossip{host: h.Host, log: slog.New(slog.DiscardHandler), peers: newPeerStats()}
	from := peer.ID("a peer")
	msg := &pubsub.Message{Message: &pb.Message{}}
	tests := []struct {
		name  string
		check func(context.Context, peer.ID, []byte) (pubsub.ValidationResult, error)
		want  pubsub.ValidationResult
	}{
		{"accept", func(context.Context, peer.ID, []byte) (pubsub.ValidationResult, error) {
			return pubsub.ValidationAccept, nil
		}, pubsub.ValidationAccept},
		{"reject", func(context.Context, peer.ID, []byte) (pubsub.ValidationResult, error) {
			return pubsub.ValidationReject, errUnfaithful
		}, pubsub.ValidationReject},
		{"panic", func(context.Context, peer.ID, []byte) (pubsub.ValidationResult, error) {
			panic("a bug of ours")
		}, pubsub.ValidationIgnore},
	}
	for _, topic := range []string{"tx", "block"} {
		for _, tt := range tests {
			t.Run(topic+"/"+tt.name, func(t *testing.T) {
				var stats topicCounters
				v := g.validator(topic, &stats, tt.check)
				for range 20 {
					if got := v(context.Background(), from, msg); got != tt.want {
						t.Fatalf("verdict %v, want %v", got, tt.want)
					}
				}
				if got := stats.in.Load(); got != 20 {
					t.Errorf("%d verdicts counted, want 20", got)
				}
			})
		}
	}
}
