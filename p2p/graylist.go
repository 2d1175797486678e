package p2p

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// onScores takes GossipSub's scores at each inspection: the peer stats
// keep them for PeerGossip, and a connected peer below the graylist
// threshold is banned through the syncer (protocol.md §16.5). GossipSub
// drops a graylisted peer's messages unread, but it still decrypts and
// decodes every RPC before it looks at the score, and the peer can go on
// sending for as long as it is connected; refused at the gate, its later
// messages cost nothing, and its IP counts towards the gate's per-IP
// bound (gater.go). A Gossip beside no Syncer (tests) bans no one.
func (g *Gossip) onScores(scores map[peer.ID]float64) {
	g.peers.setScores(scores)
	s, ok := g.sync.(*Syncer)
	if !ok {
		return
	}
	for p, score := range scores {
		if score >= graylistThreshold || g.host.Network().Connectedness(p) != network.Connected || s.bans.Banned(p) {
			continue
		}
		g.log.Info("peer dropped", "peer", p, "reason", "gossip score below the graylist threshold", "score", score)
		s.bans.Ban(p, graylistBanTime)
	}
}
