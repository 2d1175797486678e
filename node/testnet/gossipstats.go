package testnet

import (
	"maps"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/gossipchain/gossipchain/p2p"
)

// gossipStats counts one node's GossipSub traffic on the block topic, as
// GossipSub's tracer reports it, for GossipFigures: from which peer and
// when each block first came (its hop in the delivery tree), which ones
// this node published, how many copies came after the first, and the
// bytes and block messages of every RPC in and out.
type gossipStats struct {
	p2p.NopRawTracer
	topic string

	mu        sync.Mutex
	first     map[string]peer.ID   // message id → the peer it came from first
	at        map[string]time.Time // message id → when it was first delivered here
	published map[string]time.Time // message id → when this node first sent it, not having received it
	dups      map[string]int       // message id → copies after the first
	sent      map[string]int       // message id → copies this node sent, each to one peer
	recvBytes int64
	sentBytes int64
	// known holds every block message id this node received or sent,
	// and survives reset: a node forwarding, or answering an IWANT for,
	// a block it got before the count began has not published it. (The
	// 5-node testnet's funding blocks, still in flight when the load
	// began, were counted as hundreds of publications without it.)
	known map[string]struct{}
}

func newGossipStats(topic string) *gossipStats {
	s := &gossipStats{topic: topic, known: map[string]struct{}{}}
	s.clear()
	return s
}

func (s *gossipStats) clear() {
	s.first, s.at, s.published = map[string]peer.ID{}, map[string]time.Time{}, map[string]time.Time{}
	s.dups, s.sent = map[string]int{}, map[string]int{}
	s.recvBytes, s.sentBytes = 0, 0
}

var _ pubsub.RawTracer = (*gossipStats)(nil)

func (s *gossipStats) DeliverMessage(msg *pubsub.Message) {
	if msg.GetTopic() != s.topic {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.first[msg.ID]; !ok {
		s.first[msg.ID], s.at[msg.ID] = msg.ReceivedFrom, time.Now()
	}
	s.known[msg.ID] = struct{}{}
}

func (s *gossipStats) DuplicateMessage(msg *pubsub.Message) {
	if msg.GetTopic() != s.topic {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dups[msg.ID]++
}

func (s *gossipStats) RecvRPC(rpc *pubsub.RPC) {
	size := int64(proto.Size(&rpc.RPC))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recvBytes += size
}

// SendRPC also finds this node's own publications: GossipSub's tracer
// reports no delivery of them, and a message sent without having been
// received was published here.
func (s *gossipStats) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	var ids []string
	for _, m := range rpc.GetPublish() {
		if m.GetTopic() == s.topic {
			ids = append(ids, p2p.MessageID(m.GetData()))
		}
	}
	size, now := int64(proto.Size(&rpc.RPC)), time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.known[id]; !ok {
			s.published[id] = now
			s.known[id] = struct{}{}
		}
		s.sent[id]++
	}
	s.sentBytes += size
}

func (s *gossipStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

// GossipFigures is what the block topic's traffic came to since the last
// ResetGossipStats, over the blocks published in that time.
type GossipFigures struct {
	Blocks int // block messages published by a node of the Net
	// Hops is, for each (block, node that got it by gossip) pair, the
	// number of GossipSub hops from the publisher along the path of
	// first arrivals, sorted; the publisher itself is not counted.
	Hops []int
	// Delays is, for the same pairs, the time from the block's
	// publication to its delivery there (validation included), sorted.
	Delays []time.Duration
	// Duplicates, BytesIn and BytesOut are per node per block: copies
	// received after the first, and the bytes of every GossipSub RPC
	// (both topics, control messages included) received and sent.
	Duplicates, BytesIn, BytesOut float64
	// MessagesPerBlock counts every copy of a block message sent by any
	// node, per block: the network's cost of one block.
	MessagesPerBlock float64
}

// ResetGossipStats starts GossipFigures' count afresh, as a measured
// run begins.
func (nt *Net) ResetGossipStats() {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for _, m := range nt.members {
		m.stats.reset()
	}
}

// GossipFigures reads the block topic's traffic of the running and
// stopped nodes alike (a stopped node's counts end when it stopped).
func (nt *Net) GossipFigures() GossipFigures {
	index := nt.indexByID()
	nt.mu.Lock()
	n := len(nt.members)
	first := make([]map[string]peer.ID, n)
	at := make([]map[string]time.Time, n)
	published := map[string]time.Time{}
	publisher := map[string]int{}
	dupsOf, sentOf := map[string]int{}, map[string]int{}
	var f GossipFigures
	var dups, in, out, sent int64
	for i, m := range nt.members {
		s := m.stats
		s.mu.Lock()
		first[i], at[i] = maps.Clone(s.first), maps.Clone(s.at)
		for id, t := range s.published {
			published[id], publisher[id] = t, i
		}
		for id, d := range s.dups {
			dupsOf[id] += d
		}
		for id, k := range s.sent {
			sentOf[id] += k
		}
		in, out = in+s.recvBytes, out+s.sentBytes
		s.mu.Unlock()
	}
	nt.mu.Unlock()
	// Copies of blocks published before the count began are not this
	// count's.
	for id := range published {
		dups, sent = dups+int64(dupsOf[id]), sent+int64(sentOf[id])
	}
	f.Blocks = len(published)

	// A node's hop is one more than that of the peer it first heard the
	// block from; the publisher's is 0. Memoised per message.
	hop := make([]map[string]int, n)
	for i := range hop {
		hop[i] = map[string]int{}
	}
	var hopOf func(i int, id string, depth int) (int, bool)
	hopOf = func(i int, id string, depth int) (int, bool) {
		if p, ok := publisher[id]; ok && p == i {
			return 0, true
		}
		if h, ok := hop[i][id]; ok {
			return h, true
		}
		from, ok := first[i][id]
		if !ok || depth > n {
			return 0, false
		}
		j, ok := index[from]
		if !ok {
			return 0, false
		}
		h, ok := hopOf(j, id, depth+1)
		if !ok {
			return 0, false
		}
		hop[i][id] = h + 1
		return h + 1, true
	}
	for i := range n {
		for id := range first[i] {
			t0, ok := published[id]
			if !ok {
				continue // published before the count began
			}
			if h, ok := hopOf(i, id, 0); ok {
				f.Hops = append(f.Hops, h)
				f.Delays = append(f.Delays, at[i][id].Sub(t0))
			}
		}
	}
	slices.Sort(f.Delays)
	slices.Sort(f.Hops)
	if f.Blocks > 0 && n > 0 {
		per := float64(f.Blocks) * float64(n)
		f.Duplicates, f.BytesIn, f.BytesOut = float64(dups)/per, float64(in)/per, float64(out)/per
		f.MessagesPerBlock = float64(sent) / float64(f.Blocks)
	}
	return f
}
