package p2p

import (
	"fmt"
	"math"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// A peer that keeps sending transactions that are never valid is banned
// at the gate once they alone would take its GossipSub score below the
// graylist threshold (protocol.md §14.4 rule 1). GossipSub drops a
// graylisted peer's messages unread, but it still decrypts and decodes
// every RPC before it looks at the score, and the peer can go on sending
// for as long as it is connected: at loopback speed an attacker wrote
// 20,000 messages in the 2 s between two score inspections
// (docs/benchmarks.md). Refused at the gate, its later messages cost
// nothing, and its IP counts towards the gate's per-IP bound (gater.go).
//
// The count is of rejected transactions, decaying as GossipSub's P4
// counter does (invalidMessageDecay a second), so the ban comes with the
// third in a row, where P4 alone graylists a peer whatever it earned
// otherwise (P1, P2 and P5 are capped far below one rejection's cost).
// Transactions only: an honest relay validated a transaction under the
// same rules before forwarding it, so it never sends one we reject, but
// honest miners racing each other do send blocks we reject as too light
// (chain.ErrLowWork), a few in a burst (TestCatchUp2000 saw a node ban
// the network's only miner that way); on the block topic GossipSub's
// graylist alone applies.
//
// A Gossip beside no Syncer (tests) bans no one.

// rejectCounter is one peer's decaying count of rejected transactions.
type rejectCounter struct {
	mu    sync.Mutex
	n     float64
	since time.Time
}

// add counts one more at now and returns the count.
func (c *rejectCounter) add(now time.Time) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.since.IsZero() {
		c.n *= math.Pow(invalidMessageDecay, now.Sub(c.since).Seconds())
	}
	c.n++
	c.since = now
	return c.n
}

// graylistedBy reports whether n rejected messages alone take a peer's
// score below the graylist threshold.
func graylistedBy(n float64) bool { return invalidMessageWeight*n*n < graylistThreshold }

// judged takes every verdict on a peer's message on topic ("tx" or
// "block").
func (g *Gossip) judged(topic string, from peer.ID, res pubsub.ValidationResult) {
	g.peers.verdict(from, res)
	if topic != "tx" || res != pubsub.ValidationReject || !graylistedBy(g.peers.of(from).rejects.add(time.Now())) {
		return
	}
	s, ok := g.sync.(*Syncer)
	if !ok || g.host.Network().Connectedness(from) != network.Connected || s.bans.Banned(from) {
		return
	}
	g.log.Info("peer dropped", "peer", from, "reason", "rejected transactions past the graylist threshold")
	s.bans.Ban(from, graylistBanTime)
}

// FeeFloor is what a Chain may also offer gossip: the least fee its
// mempool takes for a transaction of size encoded bytes
// (chain.Mempool.MinFee; zero on the open network).
type FeeFloor interface {
	MinFee(size int) uint64
}

// feeBelowFloor refuses a gossiped transaction whose fee, read before
// anything is decoded (chain.PeekFee), is below the chain's floor for the
// message's size: local policy, so the verdict is Ignore (protocol.md
// §16.4), and zero-fee bloat costs three reads a message instead of a
// decode and an admission. A message this lets through is decoded and
// judged in full, so a malformed one is still rejected.
func (g *Gossip) feeBelowFloor(data []byte) error {
	f, ok := g.chain.(FeeFloor)
	if !ok {
		return nil
	}
	fee, ok := chain.PeekFee(data)
	if min := f.MinFee(len(data)); ok && fee < min {
		return fmt.Errorf("%w: fee %d, this node asks at least %d for %d bytes", chain.ErrFeeTooLow, fee, min, len(data))
	}
	return nil
}
