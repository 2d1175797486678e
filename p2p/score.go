package p2p

import (
	"net"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer scoring, after the GossipSub v1.1 spec's guidance. The one signal
// that matters most here is P4, invalid messages: a peer that relays a
// block or transaction our validator rejects loses 100 points per message,
// so a single invalid block takes it below the gossip threshold and a
// handful below the graylist, where its messages are no longer even read.
// Honest delivery earns a little (P2), so a long-lived good peer absorbs an
// occasional race without being cut off. Mesh-delivery penalties (P3) are
// off: blocks come every few seconds at most, too rarely for a delivery
// rate to mean anything.

// scoreThresholds are GossipSub's thresholds (see limits.go).
func scoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           acceptPXThreshold,
		OpportunisticGraftThreshold: opportunisticGraftThreshold,
	}
}

func topicScore() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight: 1,
		// P1: a little for staying in the mesh, capped at 10 points.
		TimeInMeshWeight:  0.01,
		TimeInMeshQuantum: time.Second,
		TimeInMeshCap:     1000,
		// P2: first deliveries of valid messages, capped at 50 points.
		FirstMessageDeliveriesWeight: 1,
		FirstMessageDeliveriesDecay:  0.999,
		FirstMessageDeliveriesCap:    50,
		// P3 and P3b off (see above); the decays must still be valid.
		MeshMessageDeliveriesDecay:  0.5,
		MeshMessageDeliveriesCap:    1,
		MeshMessageDeliveriesWindow: time.Millisecond,
		MeshFailurePenaltyDecay:     0.5,
		// P4: invalid messages.
		InvalidMessageDeliveriesWeight: invalidMessageWeight,
		InvalidMessageDeliveriesDecay:  invalidMessageDecay,
	}
}

func scoreParams(trusted map[peer.ID]bool, topics ...string) *pubsub.PeerScoreParams {
	p := &pubsub.PeerScoreParams{
		Topics: make(map[string]*pubsub.TopicScoreParams),
		// P5: the operator's bootstrap peers start trusted enough for
		// their peer exchange to count (WithTrustedPeers); no one else
		// gets anything for free.
		AppSpecificScore: func(p peer.ID) float64 {
			if trusted[p] {
				return acceptPXThreshold
			}
			return 0
		},
		AppSpecificWeight: 1,
		// P6: more than three peers behind one IP is suspicious on the
		// internet; loopback is where tests and local networks live.
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: ipColocationThreshold,
		IPColocationFactorWhitelist: loopbackNets(),
		// P7: GossipSub protocol misbehaviour (broken promises, spam).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     0.99,
		DecayInterval:             scoreDecayInterval,
		DecayToZero:               0.01,
		RetainScore:               retainScore,
	}
	for _, t := range topics {
		p.Topics[t] = topicScore()
	}
	return p
}

func loopbackNets() []*net.IPNet {
	_, v4, _ := net.ParseCIDR("127.0.0.0/8")
	_, v6, _ := net.ParseCIDR("::1/128")
	return []*net.IPNet{v4, v6}
}
