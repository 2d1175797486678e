package p2p

import (
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Per-peer gossip counters, for the explorer's graph and GET /peers. The
// counters of a peer are kept in a bounded LRU by peer ID rather than
// dropped on disconnect: a peer that reconnects a moment later carries on
// from where it was, as GossipSub's own score does (retainScore), and the
// bound, not a timer, frees the memory.

// PeerGossip is one peer's gossip counters, both topics together.
// Received is every message from the peer that reached our validator; it
// ends as exactly one of Accepted, Rejected or Ignored (as TopicStats).
// Duplicates are copies of messages we already had, dropped by GossipSub
// before validation; Sent counts messages (ours or forwarded) queued to
// the peer. Score is GossipSub's score of the peer, as last inspected
// (scoreInspectPeriod), and HasScore whether it has one yet.
type PeerGossip struct {
	Received, Accepted, Rejected, Ignored uint64
	Duplicates, Sent                      uint64
	Score                                 float64
	HasScore                              bool
}

type peerCounters struct {
	verdicts
	duplicates, sent atomic.Uint64
	// rejects decides a ban for never-valid transactions (graylist.go).
	rejects rejectCounter
}

// peerStats is Gossip's table of per-peer counters and the scores
// GossipSub last reported. Safe for concurrent use: the LRU locks itself
// and the counters are atomics.
type peerStats struct {
	peers  *lru.Cache[peer.ID, *peerCounters]
	scores atomic.Pointer[map[peer.ID]float64]
}

func newPeerStats() *peerStats {
	c, err := lru.New[peer.ID, *peerCounters](maxGossipPeerStats)
	if err != nil {
		panic(err) // only for a size below one
	}
	return &peerStats{peers: c}
}

// of returns p's counters, making them if p is not remembered.
func (t *peerStats) of(p peer.ID) *peerCounters {
	if c, ok := t.peers.Get(p); ok {
		return c
	}
	c := new(peerCounters)
	if prev, ok, _ := t.peers.PeekOrAdd(p, c); ok {
		return prev
	}
	return c
}

func (t *peerStats) verdict(p peer.ID, res pubsub.ValidationResult) { t.of(p).verdict(res) }

// setScores is GossipSub's score inspector: it hands a fresh map each
// time, on a goroutine of its own, so keeping the map is safe.
func (t *peerStats) setScores(m map[peer.ID]float64) { t.scores.Store(&m) }

func (t *peerStats) get(p peer.ID) PeerGossip {
	var out PeerGossip
	if c, ok := t.peers.Peek(p); ok {
		out = PeerGossip{
			Received: c.in.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
			Ignored: c.ignored.Load(), Duplicates: c.duplicates.Load(), Sent: c.sent.Load(),
		}
	}
	if m := t.scores.Load(); m != nil {
		out.Score, out.HasScore = (*m)[p]
	}
	return out
}

// PeerGossip returns p's gossip counters: zero for a peer never heard
// from or forgotten (the table remembers the last maxGossipPeerStats).
func (g *Gossip) PeerGossip(p peer.ID) PeerGossip { return g.peers.get(p) }

// peerTracer is the pubsub.RawTracer that feeds the counters GossipSub
// sees and the validator does not: duplicates and copies sent, by peer,
// and by topic for the sent copies (TopicStats.Sent).
type peerTracer struct {
	NopRawTracer
	topics map[string]*topicCounters // read-only after NewGossip
	peers  *peerStats
}

var _ pubsub.RawTracer = (*peerTracer)(nil)

func (t *peerTracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	var n uint64
	for _, m := range rpc.GetPublish() {
		if c, ok := t.topics[m.GetTopic()]; ok {
			c.sent.Add(1)
			n++
		}
	}
	if n > 0 {
		t.peers.of(p).sent.Add(n)
	}
}

func (t *peerTracer) DuplicateMessage(m *pubsub.Message) {
	if _, ok := t.topics[m.GetTopic()]; ok && m.ReceivedFrom != "" {
		t.peers.of(m.ReceivedFrom).duplicates.Add(1)
	}
}
