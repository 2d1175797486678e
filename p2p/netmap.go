package p2p

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// mapService names the map streams to the resource manager.
const mapService = "gossipchain.netmap"

// MapByDefault reports whether nodes of the named network answer and ask
// map requests unless told otherwise (protocol.md §19.1): the predefined
// networks are for learning and testing, where seeing the network is the
// point; any other network keeps its nodes' connections to itself.
func MapByDefault(network string) bool {
	switch network {
	case "devnet", "open", "regtest":
		return true
	}
	return false
}

// MapAnswer is the latest answer of one peer to a map request.
type MapAnswer struct {
	Peer peer.ID
	At   time.Time // when it was read, by our clock
	List protocol.PeerList
}

// NetMap runs the network-map protocol (protocol.md §19): it answers
// peers' map requests with this node's tip, connections and recently
// seen blocks, and asks each connected peer that speaks it for the same
// every interval. It keeps only the latest answer of each connected peer.
// It owns its loop and the requests' goroutines; Close stops them.
type NetMap struct {
	host     host.Host
	syncer   *Syncer
	gossip   *Gossip
	log      *slog.Logger
	proto    lpprotocol.ID
	interval time.Duration

	mu      sync.Mutex
	answers map[peer.ID]MapAnswer // connected peers only (pruned each round)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NetMapOption configures a NetMap.
type NetMapOption func(*NetMap)

// WithMapInterval changes how often every peer is asked (mapInterval by
// default); tests shorten it.
func WithMapInterval(d time.Duration) NetMapOption {
	return func(m *NetMap) {
		if d > 0 {
			m.interval = d
		}
	}
}

// WithMapLogger sets the logger.
func WithMapLogger(l *slog.Logger) NetMapOption { return func(m *NetMap) { m.log = l } }

// NewNetMap registers the map protocol on h and starts asking peers. The
// syncer gives it our tip, the peers' tips, the per-peer allowances of
// the serving side and the bans; gossip the blocks first seen.
func NewNetMap(ctx context.Context, h host.Host, s *Syncer, g *Gossip, opts ...NetMapOption) *NetMap {
	m := &NetMap{
		host: h, syncer: s, gossip: g, log: slog.New(slog.DiscardHandler),
		proto:    lpprotocol.ID(protocol.MapProtocol(s.chain.Params().NetworkID())),
		interval: mapInterval,
		answers:  make(map[peer.ID]MapAnswer),
	}
	for _, o := range opts {
		o(m)
	}
	ctx, m.cancel = context.WithCancel(ctx)
	h.SetStreamHandler(m.proto, m.handle)
	m.wg.Go(func() { m.run(ctx) })
	return m
}

// Close stops answering and asking, and waits for the requests under way.
func (m *NetMap) Close() {
	m.host.RemoveStreamHandler(m.proto)
	m.cancel()
	m.wg.Wait()
}

// Answers returns the latest answer of each connected peer, by peer ID.
func (m *NetMap) Answers() []MapAnswer {
	m.mu.Lock()
	out := make([]MapAnswer, 0, len(m.answers))
	for p, a := range m.answers {
		if m.host.Network().Connectedness(p) == network.Connected {
			out = append(out, a)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b MapAnswer) int { return cmp.Compare(a.Peer, b.Peer) })
	return out
}

// run asks every peer that speaks the protocol, a first time soon after
// start (once identify has told us who speaks it) and every interval.
func (m *NetMap) run(ctx context.Context) {
	t := time.NewTimer(min(mapFirstRound, m.interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.round(ctx)
		t.Reset(m.interval)
	}
}

// round asks each connected peer that lists the protocol, at most
// mapConcurrency at once, and forgets the answers of peers gone.
func (m *NetMap) round(ctx context.Context) {
	peers := m.host.Network().Peers()
	m.mu.Lock()
	for p := range m.answers {
		if !slices.Contains(peers, p) {
			delete(m.answers, p)
		}
	}
	m.mu.Unlock()
	sem := make(chan struct{}, mapConcurrency)
	var wg sync.WaitGroup
	for _, p := range peers {
		if ok, err := m.host.Peerstore().SupportsProtocols(p, m.proto); err != nil || len(ok) == 0 {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := m.ask(ctx, p); err != nil {
				m.log.Debug("map request failed", "peer", p, "reason", err)
			}
		})
	}
	wg.Wait()
}

// Ask asks p for its map answer now and keeps it; tests use it to step
// without waiting for a round.
func (m *NetMap) Ask(ctx context.Context, p peer.ID) error { return m.ask(ctx, p) }

// ask opens a map stream to p, reads its answer within PeerListTimeout
// and keeps it. An answer that breaks a rule of §19.2 or §19.3 is the peer's fault
// and costs it what a sync fault does: a ban.
func (m *NetMap) ask(ctx context.Context, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, protocol.PeerListTimeout)
	defer cancel()
	st, err := m.host.NewStream(ctx, p, m.proto)
	if err != nil {
		return err
	}
	defer st.Close()
	// The deadline below is the transport's; a stream without one (an
	// in-process mocknet stream, a cut link) is reset when ctx ends, so
	// Close never waits on a round.
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if err := reserve(st, protocol.MaxPeerListSize); err != nil {
		_ = st.Reset()
		return err
	}
	defer st.Scope().ReleaseMemory(protocol.MaxPeerListSize)
	_ = st.CloseWrite() // the request is the stream itself
	_ = st.SetReadDeadline(time.Now().Add(protocol.PeerListTimeout))
	l, err := protocol.NewReader(st).ReadPeerList(p)
	if err != nil {
		_ = st.Reset()
		if isRequestFault(err) {
			m.syncer.punish(p, err)
		}
		return err
	}
	m.mu.Lock()
	m.answers[p] = MapAnswer{Peer: p, At: time.Now(), List: l}
	m.mu.Unlock()
	return nil
}

// reserve names the stream's service and reserves the memory of its
// largest message with the resource manager.
func reserve(st network.Stream, size int) error {
	if err := st.Scope().SetService(mapService); err != nil {
		return err
	}
	return st.Scope().ReserveMemory(size, network.ReservationPriorityAlways)
}

// errMapRateLimited: a peer asked for the map more often than its
// allowance (serve_limits.go) lets it.
var errMapRateLimited = errors.New("over the peer's map rate limit")

// handle answers one map request: our tip, up to MaxMapPeers of our
// connections with their kind and tips, and the blocks we first saw most
// recently. A banned peer, or one over its allowance, gets its stream
// reset and no answer.
func (m *NetMap) handle(st network.Stream) {
	defer st.Close()
	p := st.Conn().RemotePeer()
	if m.syncer.bans.Banned(p) {
		_ = st.Reset()
		return
	}
	lim := m.syncer.serveLimits()
	if !lim.peer(p).netmap.AllowN(lim.now(), 1) {
		m.log.Debug("map request refused", "peer", p, "reason", errMapRateLimited)
		_ = st.Reset()
		return
	}
	if err := reserve(st, protocol.MaxPeerListSize); err != nil {
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(protocol.MaxPeerListSize)
	_ = st.SetWriteDeadline(time.Now().Add(protocol.PeerListTimeout))
	if err := protocol.NewWriter(st).WritePeerList(m.list()); err != nil {
		m.log.Debug("map answer failed", "peer", p, "reason", err)
		_ = st.Reset()
	}
}

// list is this node's answer.
func (m *NetMap) list() protocol.PeerList {
	tip := m.syncer.chain.Tip()
	l := protocol.PeerList{Height: tip.Height(), Tip: tip.Hash}
	for _, p := range m.host.Network().Peers() {
		if len(l.Peers) == protocol.MaxMapPeers {
			break
		}
		conns := m.host.Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue // gone since Peers
		}
		mp := protocol.MapPeer{ID: p, Inbound: conns[0].Stat().Direction == network.DirInbound}
		if t, _ := connTransport(conns[0].RemoteMultiaddr()); len(t) <= protocol.MaxTransportLen {
			mp.Transport = t
		}
		if st, ok := m.syncer.PeerTip(p); ok {
			mp.Tip, mp.Height, mp.HasTip = st.Tip, st.Height, true
		}
		l.Peers = append(l.Peers, mp)
	}
	seen := map[chain.Hash]bool{}
	for _, s := range m.gossip.Seen() {
		if len(l.Seen) == protocol.MaxMapSeen {
			break
		}
		if !seen[s.Hash] && s.Seen.UnixMilli() > 0 {
			seen[s.Hash] = true
			l.Seen = append(l.Seen, protocol.SeenBlock{Hash: s.Hash, At: s.Seen})
		}
	}
	return l
}
