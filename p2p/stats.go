package p2p

import (
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Counters are plain atomics read as snapshots: the node exposes them to
// Prometheus at its edge, so p2p needs no metrics registry of its own and
// several nodes in one test process do not share one.

// TopicStats counts one gossip topic's messages. In is every message
// from a peer that reached our validator; it ends as exactly one of
// Accepted, Rejected (the sender is penalised) or Ignored. Published
// counts our own messages; Sent counts copies of any message (ours or
// forwarded) queued to a peer.
type TopicStats struct {
	In, Accepted, Rejected, Ignored uint64
	Published, Sent                 uint64
}

// GossipStats is a snapshot of the gossip counters.
type GossipStats struct {
	Tx, Block TopicStats
	Compact   CompactStats
	// FromBanned counts the RPCs and messages of banned peers dropped
	// unread: what GossipSub had read from them before their ban, not
	// counted in Tx or Block.
	FromBanned uint64
}

// verdicts counts messages by the validator's verdict: in is every one,
// and each also counts as exactly one of accepted, rejected or ignored.
type verdicts struct {
	in, accepted, rejected, ignored atomic.Uint64
}

func (c *verdicts) verdict(res pubsub.ValidationResult) {
	c.in.Add(1)
	switch res {
	case pubsub.ValidationAccept:
		c.accepted.Add(1)
	case pubsub.ValidationReject:
		c.rejected.Add(1)
	default:
		c.ignored.Add(1)
	}
}

type topicCounters struct {
	verdicts
	published, sent atomic.Uint64
}

func (c *topicCounters) snapshot() TopicStats {
	return TopicStats{
		In: c.in.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(), Ignored: c.ignored.Load(),
		Published: c.published.Load(), Sent: c.sent.Load(),
	}
}

// Stats returns the gossip counters.
func (g *Gossip) Stats() GossipStats {
	return GossipStats{Tx: g.txStats.snapshot(), Block: g.blockStats.snapshot(), Compact: g.compactStats.snapshot(),
		FromBanned: g.fromBanned.Load()}
}

// NopRawTracer implements pubsub.RawTracer doing nothing: a tracer
// embeds it and overrides the events it wants.
type NopRawTracer struct{}

var _ pubsub.RawTracer = NopRawTracer{}

func (NopRawTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (NopRawTracer) OnClosedOutboundStream(peer.ID)                       {}
func (NopRawTracer) Join(string)                                          {}
func (NopRawTracer) Leave(string)                                         {}
func (NopRawTracer) Graft(peer.ID, string)                                {}
func (NopRawTracer) Prune(peer.ID, string)                                {}
func (NopRawTracer) ValidateMessage(*pubsub.Message)                      {}
func (NopRawTracer) DeliverMessage(*pubsub.Message)                       {}
func (NopRawTracer) RejectMessage(*pubsub.Message, string)                {}
func (NopRawTracer) DuplicateMessage(*pubsub.Message)                     {}
func (NopRawTracer) ThrottlePeer(peer.ID)                                 {}
func (NopRawTracer) RecvRPC(*pubsub.RPC)                                  {}
func (NopRawTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (NopRawTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (NopRawTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (NopRawTracer) UndeliverableMessage(*pubsub.Message)                 {}

// SyncStats is a snapshot of the syncer's counters.
type SyncStats struct {
	// Started, Finished and Failed count downloads from a peer; a
	// download that was stopped (a fault, a stall) counts as Failed.
	Started, Finished, Failed uint64
	// Blocks is the number of blocks downloads connected.
	Blocks uint64
	// Served is the number of requests answered for peers.
	Served uint64
	// Syncing is true while a download runs.
	Syncing bool
	// Heard is how many connected peers have told us their status;
	// Ahead how many of them claim more work than our tip and are not
	// set aside (cooling down after failing to deliver, or banned), so
	// that a node can tell it is in step with its peers (/readyz).
	Heard, Ahead int
}

type syncCounters struct {
	started, finished, failed, blocks, served atomic.Uint64
	syncing                                   atomic.Bool
	heard, ahead                              atomic.Int64
}

// Stats returns the syncer's counters.
func (s *Syncer) Stats() SyncStats {
	c := &s.stats
	return SyncStats{
		Started: c.started.Load(), Finished: c.finished.Load(), Failed: c.failed.Load(),
		Blocks: c.blocks.Load(), Served: c.served.Load(), Syncing: c.syncing.Load(),
		Heard: int(c.heard.Load()), Ahead: int(c.ahead.Load()),
	}
}
