package p2p

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
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
// which no recover on GossipSub's goroutine could catch. (The chain's
// processing runs on ProcessEarly's workers, as before: a panic there is
// not one of the check's.)
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
				var checkedOn string
				v := g.validator(topic, &stats, func(ctx context.Context, from peer.ID, data []byte) (pubsub.ValidationResult, error) {
					checkedOn = goroutine()
					return tt.check(ctx, from, data)
				})
				for range 20 {
					checkedOn = ""
					if got := v(context.Background(), from, msg); got != tt.want {
						t.Fatalf("verdict %v, want %v", got, tt.want)
					}
					// The validator returned after the check: checkedOn
					// was written before, on whichever goroutine.
					if onCaller := checkedOn == goroutine(); onCaller != (topic == "tx") {
						t.Fatalf("checked on the caller's goroutine: %v, want %v", onCaller, topic == "tx")
					}
				}
				if got := stats.in.Load(); got != 20 {
					t.Errorf("%d verdicts counted, want 20", got)
				}
			})
		}
	}
}

// goroutine names the goroutine it runs on: the first line of its stack
// trace ("goroutine 7 [running]:").
func goroutine() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	line, _, _ := bytes.Cut(buf, []byte("\n"))
	name, _, _ := bytes.Cut(line, []byte(" ["))
	return string(name)
}
