package api

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// The JSON of every answer, in one place, used by the server to write
// and by Client to read. The node's own types (node.Status, node.PeerInfo,
// node.Event) carry no JSON: what the API shows is decided here. Field
// names follow the classic teaching chain where it has them (index,
// previous_hash, block_index, length...), snake_case elsewhere.

// Status is GET /status.
type Status struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"` // full multiaddrs, /p2p/<id> included
	// Network is the network's name; NetworkID its genesis hash.
	Network   string `json:"network"`
	NetworkID string `json:"network_id"`
	Height    uint64 `json:"height"`
	Tip       string `json:"tip"`
	// TotalWork is the main chain's cumulative work, in decimal: it can
	// exceed what a JSON number holds exactly.
	TotalWork string  `json:"total_work"`
	Peers     int     `json:"peers"`
	Mempool   int     `json:"mempool"`
	Wallet    string  `json:"wallet"`
	Mining    bool    `json:"mining"`
	HashRate  float64 `json:"hash_rate"` // hashes per second, over the last few seconds
	Syncing   bool    `json:"syncing"`
	// MinRelayFee is the least fee the node's mempool takes, in coins per
	// 1,000 bytes of a transaction's encoding (chain.FeeRate), rounded
	// up per transaction; 0 on the open network. A client that signs its
	// own transfers pays at least chain.FeeRate(MinRelayFee).Fee(size).
	MinRelayFee uint64 `json:"min_relay_fee"`
	// MempoolMinFee is the least fee per transaction the mempool takes
	// now whatever the size, when a full pool has evicted transactions
	// paying less than that on average: it halves every 10 minutes once
	// a block has come (faster while the pool is emptier); 0 when not
	// raised. A client pays the larger of it and min_relay_fee's fee.
	MempoolMinFee uint64 `json:"mempool_min_fee"`
	// Reachability is what AutoNAT last found of the node from outside:
	// "public", "private" or "unknown".
	Reachability string `json:"reachability"`
	// Announced are the addresses the node tells peers and the DHT
	// (announced, observed and relay addresses), without /p2p/<id>.
	Announced []string `json:"announced"`
}

func statusOf(st node.Status) Status {
	addrs := st.Addrs
	if addrs == nil {
		addrs = []string{}
	}
	announced := st.Announced
	if announced == nil {
		announced = []string{}
	}
	return Status{
		PeerID: st.PeerID, Addrs: addrs, Network: st.Network, NetworkID: st.NetworkID,
		Height: st.Height, Tip: st.Tip, TotalWork: st.TotalWork, Peers: st.Peers,
		Mempool: st.Mempool, Wallet: st.Wallet, Mining: st.Mining, HashRate: st.HashRate, Syncing: st.Syncing,
		MinRelayFee: uint64(st.MinRelayFee), MempoolMinFee: st.MempoolMinFee, Reachability: st.Reachability, Announced: announced,
	}
}

// Peer is one connected peer in GET /peers.
type Peer struct {
	ID string `json:"id"`
	// Addr is the address of the connection; Addrs every address the
	// peer announced.
	Addr   string    `json:"addr"`
	Addrs  []string  `json:"addrs"`
	Source string    `json:"source"` // mdns, dht, bootstrap, register, remembered, inbound or outbound
	Since  time.Time `json:"since"`
	// Direction is "inbound" (the peer dialled us) or "outbound";
	// Transport the connection's (tcp, quic-v1...); Relayed whether it
	// goes through a circuit relay.
	Direction string `json:"direction"`
	Transport string `json:"transport"`
	Relayed   bool   `json:"relayed"`
	// Conn is "direct", or "relayed" through a circuit relay (limited in
	// time and bytes: gossip and sync wait for a direct connection).
	Conn   string     `json:"conn"`
	Gossip PeerGossip `json:"gossip"`
}

// PeerGossip is one peer's gossip counters in GET /peers, both topics
// together. Received messages reached the node's validator and ended as
// accepted (forwarded on), rejected (invalid: the peer lost score) or
// ignored; duplicates are copies of messages the node already had; sent
// counts messages queued to the peer. Score is GossipSub's score of the
// peer, null until GossipSub has reported one.
type PeerGossip struct {
	Received   uint64   `json:"received"`
	Accepted   uint64   `json:"accepted"`
	Rejected   uint64   `json:"rejected"`
	Ignored    uint64   `json:"ignored"`
	Duplicates uint64   `json:"duplicates"`
	Sent       uint64   `json:"sent"`
	Score      *float64 `json:"score"`
}

// Peers is GET /peers.
type Peers struct {
	Peers []Peer `json:"peers"`
	Count int    `json:"count"`
}

func peersOf(ps []node.PeerInfo) Peers {
	out := Peers{Peers: make([]Peer, 0, len(ps)), Count: len(ps)}
	for _, p := range ps {
		addrs := p.Addrs
		if addrs == nil {
			addrs = []string{}
		}
		g := p.Gossip
		pg := PeerGossip{Received: g.Received, Accepted: g.Accepted, Rejected: g.Rejected, Ignored: g.Ignored,
			Duplicates: g.Duplicates, Sent: g.Sent}
		if g.HasScore && !math.IsNaN(g.Score) && !math.IsInf(g.Score, 0) { // JSON has neither
			pg.Score = &g.Score
		}
		out.Peers = append(out.Peers, Peer{ID: p.ID, Addr: p.Addr, Addrs: addrs, Source: p.Source, Since: p.Since,
			Direction: direction(p.Inbound), Transport: p.Transport, Relayed: p.Relayed, Conn: p.Conn, Gossip: pg})
	}
	return out
}

// NetMap is GET /netmap: this node and its connections (Self), and each
// peer's latest answer to the network-map protocol (Nodes; empty when
// Enabled is false, by --netmap or the network's default).
type NetMap struct {
	Enabled bool      `json:"enabled"`
	Self    MapNode   `json:"self"`
	Nodes   []MapNode `json:"nodes"`
}

// MapNode is one node of the map; Updated is when its answer was read.
type MapNode struct {
	ID      string    `json:"id"`
	Height  uint64    `json:"height"`
	Tip     string    `json:"tip"`
	Updated time.Time `json:"updated"`
	Peers   []MapEdge `json:"peers"`
}

// MapEdge is one connection of a map node, as that node sees it: the
// peer's ID, "inbound" or "outbound", the transport, and the peer's tip
// as that node last heard it (tip "" and height 0 if it has not).
type MapEdge struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	Transport string `json:"transport"`
	Height    uint64 `json:"height"`
	Tip       string `json:"tip"`
}

func netMapOf(m node.NetMap) NetMap {
	out := NetMap{Enabled: m.Enabled, Self: mapNodeOf(m.Self), Nodes: make([]MapNode, 0, len(m.Nodes))}
	for _, n := range m.Nodes {
		out.Nodes = append(out.Nodes, mapNodeOf(n))
	}
	return out
}

func mapNodeOf(n node.MapNode) MapNode {
	out := MapNode{ID: n.ID, Height: n.Height, Tip: n.Tip, Updated: n.Updated, Peers: make([]MapEdge, 0, len(n.Peers))}
	for _, e := range n.Peers {
		out.Peers = append(out.Peers, MapEdge{ID: e.ID, Direction: direction(e.Inbound), Transport: e.Transport,
			Height: e.Height, Tip: e.Tip})
	}
	return out
}

func direction(inbound bool) string {
	if inbound {
		return "inbound"
	}
	return "outbound"
}

// Propagation is GET /propagation: the recent blocks this node first saw
// by gossip or mined, newest first.
type Propagation struct {
	Blocks []BlockSeen `json:"blocks"`
	Count  int         `json:"count"`
}

// BlockSeen is one block of GET /propagation. FirstSeen is when this
// node first saw it (its clock), From the peer it came from (this node's
// own ID for a block it mined). DelayMS is FirstSeen minus the header's
// timestamp, which the miner set when it began the block, so it includes
// the solve and the two clocks' difference. LagMS is FirstSeen minus the
// earliest first-seen time that this node and its peers' map answers
// report for the block (Reports nodes, this one included), and SpreadMS
// the latest minus the earliest: the network's own figures, free of the
// solve time.
type BlockSeen struct {
	Height    uint64    `json:"height"`
	Hash      string    `json:"hash"`
	From      string    `json:"from"`
	FirstSeen time.Time `json:"first_seen"`
	Timestamp time.Time `json:"timestamp"`
	DelayMS   int64     `json:"delay_ms"`
	LagMS     int64     `json:"lag_ms"`
	SpreadMS  int64     `json:"spread_ms"`
	Reports   int       `json:"reports"`
}

func propagationOf(bs []node.BlockSeen) Propagation {
	out := Propagation{Blocks: make([]BlockSeen, 0, len(bs)), Count: len(bs)}
	for _, b := range bs {
		out.Blocks = append(out.Blocks, BlockSeen{Height: b.Height, Hash: b.Hash, From: b.From,
			FirstSeen: b.Seen, Timestamp: b.Timestamp,
			DelayMS: b.Seen.Sub(b.Timestamp).Milliseconds(), LagMS: b.Seen.Sub(b.Earliest).Milliseconds(),
			SpreadMS: b.Latest.Sub(b.Earliest).Milliseconds(), Reports: b.Reports})
	}
	return out
}

// ChainPage is GET /chain: up to the limit asked of main-chain blocks
// from the height asked, and the whole chain's length. /sync-chain adds
// a message (SyncResult). The server streams it (lists.go) in this shape.
type ChainPage struct {
	Blocks []*chain.Block `json:"chain"`
	Length uint64         `json:"length"`
}

// SyncResult is GET /sync-chain.
type SyncResult struct {
	Message string         `json:"message"`
	Blocks  []*chain.Block `json:"chain"`
	Length  uint64         `json:"length"`
}

// MempoolPage is GET /mempool; Count is the whole mempool's, which may
// be more than the transactions one answer holds.
type MempoolPage struct {
	Transactions []*chain.Transaction `json:"transactions"`
	Count        int                  `json:"count"`
}

// Submitted is the answer to POST /create-transaction.
type Submitted struct {
	Message string `json:"message"`
	// BlockIndex is the height of the next block, where the node expects
	// the transaction to be mined.
	BlockIndex  uint64             `json:"block_index"`
	Transaction *chain.Transaction `json:"transaction"`
}

// appender is an answer that writes its own JSON, byte for byte what
// encoding/json writes for it: the answers to create-transaction and
// /mine, where reflection and re-checking the transaction's or block's
// own JSON were a tenth of a request's CPU.
type appender interface {
	appendJSON(dst []byte) ([]byte, error)
}

// appendAnswer appends {"message": msg, then the members in middle, then
// the last member's value: what value appends, or null when it is nil}.
func appendAnswer(dst []byte, msg string, middle []byte, value func([]byte) ([]byte, error)) ([]byte, error) {
	dst = append(dst, `{"message":`...)
	dst = append(chain.AppendJSONString(dst, msg), middle...)
	if value == nil {
		dst = append(dst, "null"...)
	} else {
		var err error
		if dst, err = value(dst); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (sub *Submitted) appendJSON(dst []byte) ([]byte, error) {
	var buf [64]byte
	middle := strconv.AppendUint(append(buf[:0], `,"block_index":`...), sub.BlockIndex, 10)
	var value func([]byte) ([]byte, error)
	if sub.Transaction != nil {
		value = sub.Transaction.AppendJSON
	}
	return appendAnswer(dst, sub.Message, append(middle, `,"transaction":`...), value)
}

func (m *Mined) appendJSON(dst []byte) ([]byte, error) {
	var value func([]byte) ([]byte, error)
	if m.BlockData != nil {
		value = m.BlockData.AppendJSON
	}
	return appendAnswer(dst, m.Message, []byte(`,"block_data":`), value)
}

// Mined is the answer to /mine.
type Mined struct {
	Message   string       `json:"message"`
	BlockData *chain.Block `json:"block_data"`
}

// TxStatus is GET /transaction/{id}: a transaction and where it is.
type TxStatus struct {
	Transaction *chain.Transaction `json:"transaction"`
	Status      string             `json:"status"` // "pending" or "confirmed"
	BlockHash   *chain.Hash        `json:"block_hash,omitempty"`
	BlockIndex  *uint64            `json:"block_index,omitempty"`
}

// Balance is GET /balance/{address}.
type Balance struct {
	Address string `json:"address"`
	Balance int64  `json:"balance"`
	// Nonce is the count of the address's confirmed transactions: its
	// next transaction's nonce, when none is pending.
	Nonce uint64 `json:"nonce"`
}

// Registered is the classic app's answer to /register-node, with the
// peer it connected to. Nodes are the connected peers, each as the full
// multiaddr of its connection: in gossipchain the peer set is what a
// registered node joins.
type Registered struct {
	Message   string   `json:"message"`
	PeerID    string   `json:"peer_id"`
	NodeCount int      `json:"node_count"`
	Nodes     []string `json:"nodes"`
}

// Event is one message of GET /events; Data is one of the *Event types
// below, by Type.
type Event struct {
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Data any       `json:"data"`
}

// PeerEvent: a peer connected or disconnected.
type PeerEvent struct {
	Peer   string `json:"peer"`
	State  string `json:"state"` // "connected" or "disconnected"
	Source string `json:"source"`
	Addr   string `json:"addr,omitempty"`
}

// TxEvent: a transaction entered the mempool.
type TxEvent struct {
	ID        string `json:"id"`
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Amount    uint64 `json:"amount"`
	Fee       uint64 `json:"fee"`
	Origin    string `json:"origin"`
}

// BlockEvent: a block joined the main chain; Count is how many did with
// it (a sync batch, a reorg).
type BlockEvent struct {
	Height uint64 `json:"height"`
	Hash   string `json:"hash"`
	Txs    int    `json:"txs"`
	Miner  string `json:"miner"`
	Origin string `json:"origin"`
	Count  int    `json:"count"`
}

// ReorgEvent: the main chain moved to another branch.
type ReorgEvent struct {
	OldTip string `json:"old_tip"`
	NewTip string `json:"new_tip"`
	Height uint64 `json:"height"`
	Depth  int    `json:"depth"` // blocks disconnected
}

// SyncEvent: a download from a peer started, finished or failed.
type SyncEvent struct {
	Peer       string  `json:"peer"`
	State      string  `json:"state"` // "started", "finished" or "failed"
	Height     uint64  `json:"height"`
	PeerHeight uint64  `json:"peer_height"`
	Blocks     int     `json:"blocks"`
	Seconds    float64 `json:"seconds"`
	Reason     string  `json:"reason,omitempty"`
}

// eventOf is the wire form of a node event.
func eventOf(ev node.Event) (Event, error) {
	out := Event{Seq: ev.Seq, Type: ev.Kind, Time: ev.Time}
	switch d := ev.Data.(type) {
	case node.PeerEventData:
		out.Data = PeerEvent{Peer: d.Peer, State: d.State, Source: d.Source, Addr: d.Addr}
	case node.TxEventData:
		out.Data = TxEvent{ID: d.ID, Sender: d.Sender, Recipient: d.Recipient, Amount: d.Amount, Fee: d.Fee, Origin: d.Origin}
	case node.BlockEventData:
		out.Data = BlockEvent{Height: d.Height, Hash: d.Hash, Txs: d.Txs, Miner: d.Miner, Origin: d.Origin, Count: d.Count}
	case node.ReorgEventData:
		out.Data = ReorgEvent{OldTip: d.OldTip, NewTip: d.NewTip, Height: d.Height, Depth: d.Depth}
	case node.SyncEventData:
		out.Data = SyncEvent{Peer: d.Peer, State: d.State, Height: d.Height, PeerHeight: d.PeerHeight,
			Blocks: d.Blocks, Seconds: d.Seconds, Reason: d.Reason}
	default:
		return Event{}, fmt.Errorf("event %q: no wire form for %T", ev.Kind, ev.Data)
	}
	return out, nil
}

// Health is GET /healthz, and GET /readyz when the node is ready.
type Health struct {
	Status string `json:"status"` // "ok" or "ready"
}
