package p2p

import (
	"errors"
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
// honest miners racing each other sent blocks we rejected as too light
// (chain.ErrLowWork), a few in a burst (TestCatchUp2000 saw a node ban
// the network's only miner that way; such blocks on a recent parent are
// now chain.ErrNotHeavier and ignored, protocol.md §9.5 rule 3); on the
// block topic GossipSub's graylist alone applies.
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
	if g.bans == nil || g.host.Network().Connectedness(from) != network.Connected || g.bans.Banned(from) {
		return
	}
	g.log.Info("peer dropped", "peer", from, "reason", "rejected transactions past the graylist threshold")
	g.bans.Ban(from, graylistBanTime)
}

// errBannedPeer drops an RPC of a banned peer (see dropBanned).
var errBannedPeer = errors.New("peer banned")

// dropBanned reports whether from is banned, counting it if so: its RPC
// or message is then dropped before anything is done with it. A ban
// closes the peer's connections at once (Host.Ban), but what GossipSub
// already read from them still waits in its queues: up to 32 RPCs for
// the event loop, 32 messages for validation, and validations already
// started. Dropped at the event loop (the RPC inspector, before
// subscriptions, control messages and the seen cache) or at the
// validator's door, none of it costs a decode, a hash or an admission.
// A Gossip beside no Syncer has no bans to consult.
func (g *Gossip) dropBanned(from peer.ID) bool {
	if g.bans == nil || !g.bans.Banned(from) {
		return false
	}
	g.fromBanned.Add(1)
	return true
}

// inspectRPC is GossipSub's application RPC inspector: it drops a banned
// peer's RPCs.
func (g *Gossip) inspectRPC(from peer.ID, _ *pubsub.RPC) error {
	if g.dropBanned(from) {
		return errBannedPeer
	}
	return nil
}

// FeeFloor is what a Chain may also offer gossip: the least fee its
// mempool takes for a transaction of size encoded bytes
// (chain.Mempool.MinFee; zero on the open network).
type FeeFloor interface {
	MinFee(size int) uint64
}

// checkFee judges a gossiped transaction by its fee, read before anything
// is decoded (chain.PeekFee), so a flood of low fees costs three reads a
// message instead of a decode and an admission. Below the network's floor
// (chain.Params.RelayFeeFloor) the transaction is worthless on every node,
// and relaying it a fault: the error wraps chain.ErrFeeBelowFloor, which
// txVerdict rejects (protocol.md §11.7 rule 5). Below only the chain's own
// higher minimum it is local policy: chain.ErrFeeTooLow alone, Ignore
// (§16.4). A message this lets through is decoded and judged in full, so
// a malformed one is still rejected.
func (g *Gossip) checkFee(data []byte) error {
	fee, ok := chain.PeekFee(data)
	if !ok {
		return nil
	}
	if floor := g.floor.Fee(len(data)); fee < floor {
		return fmt.Errorf("%w: %w: fee %d, the network asks at least %d for %d bytes",
			chain.ErrFeeTooLow, chain.ErrFeeBelowFloor, fee, floor, len(data))
	}
	if f, ok := g.chain.(FeeFloor); ok {
		if min := f.MinFee(len(data)); fee < min {
			return fmt.Errorf("%w: fee %d, this node asks at least %d for %d bytes", chain.ErrFeeTooLow, fee, min, len(data))
		}
	}
	return nil
}
