package node

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// Subscribe returns a subscription to the node's events with a buffer of
// size; see Events.
func (n *Node) Subscribe(size int) *Subscription { return n.events.Subscribe(size) }

func (n *Node) onPeer(ev p2p.PeerEvent) {
	d := PeerEventData{Peer: ev.Peer.String(), State: "disconnected", Source: ev.Source}
	if ev.Connected {
		d.State = "connected"
	}
	if ev.Addr != nil {
		d.Addr = ev.Addr.String()
	}
	n.events.publish(EventPeer, d)
}

func (n *Node) onSync(ev p2p.SyncEvent) {
	d := SyncEventData{Peer: ev.Peer.String(), State: ev.State, Height: ev.Height, PeerHeight: ev.PeerHeight,
		Blocks: ev.Blocks, Seconds: ev.Duration.Seconds()}
	if ev.Err != nil {
		d.Reason = ev.Err.Error()
	}
	n.events.publish(EventSync, d)
}

// Status is a summary of the node (the API shows it as GET /status).
type Status struct {
	PeerID string
	Addrs  []string // full multiaddrs, /p2p/<id> included
	// Network is the network's name; NetworkID its genesis hash.
	Network   string
	NetworkID string
	Height    uint64
	Tip       string
	// TotalWork is the main chain's cumulative work, in decimal: it can
	// exceed what a JSON number holds exactly.
	TotalWork string
	Peers     int
	Mempool   int
	Wallet    string
	Mining    bool
	HashRate  float64 // hashes per second, over the last few seconds
	Syncing   bool
	// Reachability is what AutoNAT last found: public, private or
	// unknown (also before Start).
	Reachability string
	// Announced are the addresses the node tells peers and the DHT:
	// announced, observed and relay addresses, as identify sends them.
	Announced []string
	// MinRelayFee is the least fee per 1,000 bytes of a transaction's
	// encoding the mempool takes (zero on the open network): a client
	// signing a transfer pays MinRelayFee.Fee(size) at least.
	MinRelayFee chain.FeeRate
	// MempoolMinFee is the least fee per transaction the mempool takes
	// now beside MinRelayFee: raised when a full pool evicts, decaying
	// after (chain.Mempool.RollingMinFee); zero when not raised.
	MempoolMinFee uint64
}

// Status returns the node's summary. Before Start it has no peer ID or
// addresses.
func (n *Node) Status() Status {
	tip := n.chain.Tip()
	st := Status{
		Network:   n.cfg.Params.Name,
		NetworkID: n.cfg.Params.NetworkID().String(),
		Height:    tip.Height(),
		Tip:       tip.Hash.String(),
		TotalWork: tip.Work.String(),
		Mempool:   n.mempool.Len(),
		Wallet:    n.WalletAddress(),
		Mining:    n.cfg.Mine,
		HashRate:  n.miner.hashRate(),
		Addrs:     []string{},
		Announced: []string{},

		Reachability:  "unknown",
		MinRelayFee:   n.mempool.MinRelayFee(),
		MempoolMinFee: n.mempool.RollingMinFee(),
	}
	if n.host != nil {
		st.PeerID = n.host.ID().String()
		for _, a := range n.host.FullAddrs() {
			st.Addrs = append(st.Addrs, a.String())
		}
		st.Peers = len(n.host.Network().Peers())
		st.Reachability = n.host.Reachability()
		for _, a := range n.host.Addrs() {
			st.Announced = append(st.Announced, a.String())
		}
	}
	if n.syncer != nil {
		st.Syncing = n.syncer.Stats().Syncing
	}
	return st
}

// PeerInfo describes a connected peer (the API lists them as GET /peers).
type PeerInfo struct {
	ID string
	// Addr is the address of the connection; Addrs every address the
	// peer announced.
	Addr   string
	Addrs  []string
	Source string // mdns, dht, bootstrap, register, remembered, inbound or outbound
	Since  time.Time
	// Inbound, Transport and Relayed describe the connection (see
	// p2p.PeerInfo); Gossip is what the peer sent us and we sent it.
	Inbound   bool
	Transport string
	Relayed   bool
	Conn      string // direct, or relayed (through a circuit relay, limited)
	Gossip    p2p.PeerGossip
}

// Peers lists the connected peers, longest connected first.
func (n *Node) Peers() []PeerInfo {
	out := []PeerInfo{}
	if n.host == nil {
		return out
	}
	for _, p := range n.host.Peers() {
		pi := PeerInfo{ID: p.ID.String(), Source: p.Source, Since: p.Since.UTC(), Addrs: []string{},
			Inbound: p.Inbound, Transport: p.Transport, Relayed: p.Relayed, Conn: p.Conn}
		if n.gossip != nil {
			pi.Gossip = n.gossip.PeerGossip(p.ID)
		}
		if p.Addr != nil {
			pi.Addr = p.Addr.String()
		}
		for _, a := range p.Addrs {
			pi.Addrs = append(pi.Addrs, a.String())
		}
		out = append(out, pi)
	}
	return out
}

// ErrNotStarted is returned by what needs the network before Start.
var ErrNotStarted = fmt.Errorf("node: network not started")

// AddPeer dials the peer at addrs (full multiaddrs of one peer, ending in
// /p2p/<id>) now and keeps it connected: POST /register-node.
func (n *Node) AddPeer(ctx context.Context, addrs []multiaddr.Multiaddr) (peer.ID, error) {
	if n.host == nil {
		return "", ErrNotStarted
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPeerAddr, err)
	}
	if len(infos) != 1 {
		return "", fmt.Errorf("%w: the addresses name %d peers, want one", ErrBadPeerAddr, len(infos))
	}
	ai := infos[0]
	if ai.ID == n.host.ID() {
		return "", fmt.Errorf("%w: that is this node", ErrBadPeerAddr)
	}
	if err := n.host.AddPeer(ctx, ai, p2p.SourceRegister); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return ai.ID, nil
}

// Errors of AddPeer that callers tell apart.
var (
	ErrBadPeerAddr = fmt.Errorf("bad peer address")
	ErrUnreachable = fmt.Errorf("peer unreachable")
)

// Stats is a snapshot of the node's counters, for metrics.
type Stats struct {
	Status Status
	Gossip p2p.GossipStats
	Sync   p2p.SyncStats
	// Hashes is the number of block hashes the miner has tried.
	Hashes uint64
	// Subscribers is the number of open event subscriptions.
	Subscribers int
	// Queued is the number of transactions the mempool holds for a
	// nonce gap to close (not in Status.Mempool).
	Queued int
	// Sigs counts signature verifications and cache hits.
	Sigs chain.SigStats
}

// Metrics gathers the metrics go-libp2p registers for this node's host
// (none before Start). See p2p.HostConfig.Metrics: in a process of
// several nodes they are the sum of all.
func (n *Node) Metrics() prometheus.Gatherer { return n.metrics }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := Stats{Status: n.Status(), Hashes: n.miner.hashes.Load(), Subscribers: n.events.subscribers(), Queued: n.mempool.Queued(),
		Sigs: n.chain.SigCache().Stats()}
	if n.gossip != nil {
		s.Gossip = n.gossip.Stats()
	}
	if n.syncer != nil {
		s.Sync = n.syncer.Stats()
	}
	return s
}
