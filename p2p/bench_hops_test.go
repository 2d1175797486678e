package p2p_test

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// hopStages is when one node's GossipSub first received the message being
// measured and when it delivered it (to the node's subscription, as it
// forwarded it to its mesh), as Unix ns, zero until it happens. The
// message is the one whose data begins with *want: GossipSub's gossip
// (IHAVE, IWANT) brings older messages again long after, as duplicates.
type hopStages struct {
	recv, deliver atomic.Int64
	want          *atomic.Pointer[[]byte] // the network's, shared
}

func (h *hopStages) reset() {
	h.recv.Store(0)
	h.deliver.Store(0)
}

// measured reports whether data is the message being measured.
func (h *hopStages) measured(data []byte) bool {
	w := h.want.Load()
	return w != nil && bytes.HasPrefix(data, *w)
}

// measure makes the message whose data begins with prefix the one the
// stages time, and clears them.
func (n *gossipNet) measure(prefix []byte) {
	n.want.Store(&prefix)
	for i := range n.stages {
		n.stages[i].reset()
	}
}

func markFirst(a *atomic.Int64) { a.CompareAndSwap(0, time.Now().UnixNano()) }

// RecvRPC times the node's first receipt of the message being measured
// (lightTracer), and replaces meshTracer's count by peer, a lock and a
// map insert on the path being measured. GossipSub calls it from its
// event loop as it takes the RPC off its queue, after the stream's read
// and decoding.
func (l lightTracer) RecvRPC(rpc *pubsub.RPC) {
	for _, m := range rpc.GetPublish() {
		if l.stages.measured(m.GetData()) {
			markFirst(&l.stages.recv)
			return
		}
	}
}

// hopLatencies splits each delivery of GossipPropagation20 into where its
// time went, so that a relay slower than bare GossipSub says whether its
// nodes held the message (hop) or the mesh carried it slower (recv):
//
//	recv  from the publish to the node's first receipt of the message:
//	      the hops before it, the transport, and the node's own read,
//	      decoding and wait in GossipSub's event loop;
//	hop   from that receipt to GossipSub's delivery at the node, which
//	      forwards it: the node's own relay delay, its validator included;
//	lag   (blocks) from that delivery to the end of the node's commit of
//	      the block, as the committing goroutine saw it: how long the
//	      commit trails the forward (protocol.md §16.8).
type hopLatencies struct{ recv, hop, lag latencies }

// add records node's stages of the message published at start; committed
// is the end of its commit (Unix ns), or 0 for a message with none.
func (l *hopLatencies) add(st *hopStages, start time.Time, committed int64) {
	r, d := st.recv.Load(), st.deliver.Load()
	if r == 0 || d == 0 {
		return
	}
	l.recv = append(l.recv, time.Duration(r-start.UnixNano()))
	l.hop = append(l.hop, time.Duration(d-r))
	if committed != 0 {
		l.lag = append(l.lag, time.Duration(committed-d))
	}
}

func (l *hopLatencies) report(b *testing.B) {
	for _, part := range []struct {
		name string
		l    latencies
	}{{"recv", l.recv}, {"hop", l.hop}, {"commit-lag", l.lag}} {
		if len(part.l) == 0 {
			continue
		}
		s := part.l.sorted()
		b.ReportMetric(s.quantile(0.50), part.name+"-p50-ms")
		b.ReportMetric(s.quantile(0.90), part.name+"-p90-ms")
	}
}
