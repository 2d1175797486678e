package protocol

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// The network-map protocol (docs/protocol.md §19): a node asks a peer
// for its tip, its connections and when it first saw its recent blocks,
// so the explorer can draw the network. PeerListFromPB checks every rule
// of §19.2 and §19.3; anything it refuses is the sender's fault.

// PeerList is a node's answer to a map request.
type PeerList struct {
	Height uint64
	Tip    chain.Hash
	Peers  []MapPeer
	Seen   []SeenBlock
}

// MapPeer is one connection of the answering node. Tip and Height are
// the peer's status as the answering node last heard it; HasTip is
// false if it has heard none.
type MapPeer struct {
	ID        peer.ID
	Inbound   bool
	Transport string
	Height    uint64
	Tip       chain.Hash
	HasTip    bool
}

// SeenBlock is when the answering node first saw a block, by its clock.
type SeenBlock struct {
	Hash chain.Hash
	At   time.Time
}

// PeerListFromPB checks an answer: at most MaxMapPeers peers, each a
// valid peer ID of at most MaxPeerIDBytes, none repeated and none the
// sender itself; transports of at most MaxTransportLen characters of
// a-z, 0-9 and '-'; a peer's tip empty with height 0, or 32 bytes; at
// most MaxMapSeen seen blocks with distinct 32-byte hashes and positive
// times; the sender's own tip 32 bytes.
func PeerListFromPB(m *pb.PeerList, sender peer.ID) (PeerList, error) {
	var out PeerList
	if err := hashFromBytes(&out.Tip, m.GetTip(), "peer list tip"); err != nil {
		return PeerList{}, err
	}
	out.Height = m.GetHeight()
	if n := len(m.GetPeers()); n > MaxMapPeers {
		return PeerList{}, badMessage("peer list of %d peers, limit %d", n, MaxMapPeers)
	}
	if n := len(m.GetSeen()); n > MaxMapSeen {
		return PeerList{}, badMessage("peer list of %d seen blocks, limit %d", n, MaxMapSeen)
	}
	ids := make(map[peer.ID]bool, len(m.GetPeers()))
	out.Peers = make([]MapPeer, 0, len(m.GetPeers()))
	for i, p := range m.GetPeers() {
		mp, err := mapPeerFromPB(p)
		if err != nil {
			return PeerList{}, fmt.Errorf("peer %d: %w", i, err)
		}
		if mp.ID == sender || ids[mp.ID] {
			return PeerList{}, badMessage("peer %d: %s listed twice or is the sender", i, mp.ID)
		}
		ids[mp.ID] = true
		out.Peers = append(out.Peers, mp)
	}
	hashes := make(map[chain.Hash]bool, len(m.GetSeen()))
	out.Seen = make([]SeenBlock, 0, len(m.GetSeen()))
	for i, s := range m.GetSeen() {
		var sb SeenBlock
		if err := hashFromBytes(&sb.Hash, s.GetHash(), "seen block"); err != nil {
			return PeerList{}, err
		}
		if hashes[sb.Hash] || s.GetUnixMs() <= 0 {
			return PeerList{}, badMessage("seen block %d: repeated, or at time %d", i, s.GetUnixMs())
		}
		hashes[sb.Hash] = true
		sb.At = time.UnixMilli(s.GetUnixMs())
		out.Seen = append(out.Seen, sb)
	}
	return out, nil
}

func mapPeerFromPB(p *pb.MapPeer) (MapPeer, error) {
	raw := p.GetId()
	if len(raw) == 0 || len(raw) > MaxPeerIDBytes {
		return MapPeer{}, badMessage("peer id of %d bytes, want 1 to %d", len(raw), MaxPeerIDBytes)
	}
	id, err := peer.IDFromBytes(raw)
	if err != nil {
		return MapPeer{}, badMessage("peer id: %w", err)
	}
	t := p.GetTransport()
	if len(t) > MaxTransportLen {
		return MapPeer{}, badMessage("transport of %d bytes, limit %d", len(t), MaxTransportLen)
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return MapPeer{}, badMessage("transport %q: want a-z, 0-9 and '-'", t)
		}
	}
	mp := MapPeer{ID: id, Inbound: p.GetInbound(), Transport: t, Height: p.GetHeight()}
	if len(p.GetTip()) == 0 {
		if mp.Height != 0 {
			return MapPeer{}, badMessage("height %d without a tip", mp.Height)
		}
		return mp, nil
	}
	if err := hashFromBytes(&mp.Tip, p.GetTip(), "peer tip"); err != nil {
		return MapPeer{}, err
	}
	mp.HasTip = true
	return mp, nil
}

// PeerListToPB encodes l. It does not check l: PeerListFromPB on the
// other side does, and the Writer refuses an answer over MaxPeerListSize.
func PeerListToPB(l PeerList) *pb.PeerList {
	m := &pb.PeerList{Height: l.Height, Tip: l.Tip[:]}
	for _, p := range l.Peers {
		mp := &pb.MapPeer{Id: []byte(p.ID), Inbound: p.Inbound, Transport: p.Transport}
		if p.HasTip {
			mp.Tip, mp.Height = p.Tip[:], p.Height
		}
		m.Peers = append(m.Peers, mp)
	}
	for _, s := range l.Seen {
		m.Seen = append(m.Seen, &pb.SeenBlock{Hash: s.Hash[:], UnixMs: s.At.UnixMilli()})
	}
	return m
}

// ReadPeerList reads one PeerList of at most MaxPeerListSize bytes from
// sender and checks it (PeerListFromPB).
func (r *Reader) ReadPeerList(sender peer.ID) (PeerList, error) {
	m := new(pb.PeerList)
	if err := r.read(m, MaxPeerListSize); err != nil {
		return PeerList{}, err
	}
	return PeerListFromPB(m, sender)
}

// WritePeerList writes one PeerList of at most MaxPeerListSize bytes.
func (w *Writer) WritePeerList(l PeerList) error { return w.write(PeerListToPB(l), MaxPeerListSize) }
