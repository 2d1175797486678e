package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// NetMap is what the node knows of the network's shape (GET /netmap):
// itself and its connections, and each peer's latest answer to the map
// protocol (p2p.NetMap). Enabled is false when the map is off; then Nodes
// is empty and Self still describes this node.
type NetMap struct {
	Enabled bool
	Self    MapNode
	Nodes   []MapNode
}

// MapNode is one node of the map: its tip and its connections. Updated
// is when its answer was read (now, for Self).
type MapNode struct {
	ID      string
	Height  uint64
	Tip     string
	Updated time.Time
	Peers   []MapEdge
}

// MapEdge is one connection of a map node: the peer at the other end,
// the kind of the connection as that node sees it, and the peer's tip as
// that node last heard it (Tip empty if it has not).
type MapEdge struct {
	ID        string
	Inbound   bool
	Transport string
	Height    uint64
	Tip       string
}

// NetMap returns the network map as the node knows it now.
func (n *Node) NetMap() NetMap {
	tip := n.chain.Tip()
	out := NetMap{Enabled: n.netmap != nil, Nodes: []MapNode{},
		Self: MapNode{Height: tip.Height(), Tip: tip.Hash.String(), Updated: time.Now().UTC(), Peers: []MapEdge{}}}
	if n.host == nil {
		return out
	}
	out.Self.ID = n.host.ID().String()
	for _, p := range n.host.Peers() {
		e := MapEdge{ID: p.ID.String(), Inbound: p.Inbound, Transport: p.Transport}
		if st, ok := n.syncer.PeerTip(p.ID); ok {
			e.Height, e.Tip = st.Height, st.Tip.String()
		}
		out.Self.Peers = append(out.Self.Peers, e)
	}
	if n.netmap == nil {
		return out
	}
	for _, a := range n.netmap.Answers() {
		mn := MapNode{ID: a.Peer.String(), Height: a.List.Height, Tip: a.List.Tip.String(), Updated: a.At.UTC(),
			Peers: make([]MapEdge, 0, len(a.List.Peers))}
		for _, p := range a.List.Peers {
			e := MapEdge{ID: p.ID.String(), Inbound: p.Inbound, Transport: p.Transport}
			if p.HasTip {
				e.Height, e.Tip = p.Height, p.Tip.String()
			}
			mn.Peers = append(mn.Peers, e)
		}
		out.Nodes = append(out.Nodes, mn)
	}
	return out
}

// BlockSeen is when this node first saw a recent block and from whom
// (GET /propagation); see p2p.BlockSeen. From is this node's own ID for
// a block it mined. Earliest and Latest are the first and last first-seen
// times of the block among this node and the peers whose map answers
// report it (Reports of them, this node included): Seen minus Earliest is
// how far behind the first node this one was, by clocks that agree to
// the millisecond on one machine and to NTP's accuracy on a LAN, rather
// than the header's timestamp, which the miner set when it began the
// block (before solving it).
type BlockSeen struct {
	Hash             string
	Height           uint64
	From             string
	Seen, Timestamp  time.Time
	Earliest, Latest time.Time
	Reports          int
}

// Propagation lists the recent blocks this node first saw by gossip or
// mined, newest first (at most 100).
func (n *Node) Propagation() []BlockSeen {
	out := []BlockSeen{}
	if n.gossip == nil {
		return out
	}
	reports := map[chain.Hash][]time.Time{}
	if n.netmap != nil {
		for _, a := range n.netmap.Answers() {
			for _, s := range a.List.Seen {
				reports[s.Hash] = append(reports[s.Hash], s.At)
			}
		}
	}
	for _, s := range n.gossip.Seen() {
		b := BlockSeen{Hash: s.Hash.String(), Height: s.Height, From: peerString(s.From),
			Seen: s.Seen.UTC(), Timestamp: s.Timestamp.UTC(), Earliest: s.Seen.UTC(), Latest: s.Seen.UTC(), Reports: 1}
		for _, at := range reports[s.Hash] {
			at = at.UTC()
			if at.Before(b.Earliest) {
				b.Earliest = at
			}
			if at.After(b.Latest) {
				b.Latest = at
			}
			b.Reports++
		}
		out = append(out, b)
	}
	return out
}

func peerString(p peer.ID) string {
	if p == "" {
		return ""
	}
	return p.String()
}

// netMapOn says whether the node runs the map: the config's choice, or
// the network's default (p2p.MapByDefault).
func (c Config) netMapOn() bool {
	if c.NetMap != nil {
		return *c.NetMap
	}
	return p2p.MapByDefault(c.Params.Name)
}
