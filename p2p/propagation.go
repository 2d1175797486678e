package p2p

import (
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// BlockSeen is when this node first saw a block that joined its main
// chain by gossip, and from which peer: the explorer's propagation view.
// Seen is taken as the message reached our validator, before the block
// is checked, so it measures the network and not our validation. A block
// this node mined is recorded as it is published, with From our own ID.
type BlockSeen struct {
	Hash   chain.Hash
	Height uint64
	From   peer.ID
	// Seen is our clock; Timestamp the header's, the miner's clock when
	// it built the template (so it precedes the solve).
	Seen, Timestamp time.Time
}

// seenLog is the last maxSeenBlocks entries, oldest overwritten first.
// Only blocks that joined our main chain are recorded, at most once each
// (GossipSub's seen cache and the chain's duplicate check see to that),
// so a peer cannot fill it with blocks of no weight.
type seenLog struct {
	mu   sync.Mutex
	ring []BlockSeen // len ≤ maxSeenBlocks
	next int         // where the next entry goes once ring is full
}

func (l *seenLog) add(s BlockSeen) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < maxSeenBlocks {
		l.ring = append(l.ring, s)
		return
	}
	l.ring[l.next] = s
	l.next = (l.next + 1) % maxSeenBlocks
}

// list returns the entries, newest first.
func (l *seenLog) list() []BlockSeen {
	l.mu.Lock()
	out := make([]BlockSeen, 0, len(l.ring))
	out = append(out, l.ring[l.next:]...)
	out = append(out, l.ring[:l.next]...)
	l.mu.Unlock()
	slices.Reverse(out)
	return out
}

// Seen lists the blocks this node first saw by gossip or mined, newest
// first, up to the last maxSeenBlocks.
func (g *Gossip) Seen() []BlockSeen { return g.seen.list() }

func seenOf(b *chain.Block, from peer.ID, at time.Time) BlockSeen {
	return BlockSeen{Hash: b.Hash(), Height: b.Header.Height, From: from, Seen: at, Timestamp: b.Header.Time()}
}
