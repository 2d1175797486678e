package p2p

import (
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// peerTable is the host's record of its connections as it logged them:
// who is connected, since when, through which address, and why (the
// source of the dial, or inbound). It also holds the sources of dials in
// flight, so a connect event that overtakes its dial's return is still
// credited to the right source, the channels the dial loops wait on for
// a peer to disconnect, and those AddPeer waits on for a connection to be
// logged. The host's event loop writes it; Dial, AddPeer and the dial
// loops read and annotate it. Its own mutex guards it: while it is held,
// nothing else of ours is, and only the network's connectedness is read.
type peerTable struct {
	mu      sync.Mutex
	peers   map[peer.ID]*connState    // connected peers, as logged
	dialing map[peer.ID]string        // sources of dials in flight
	waiters map[peer.ID]chan struct{} // closed when the peer disconnects
	// loggers are closed when the peer's connection is logged, or when
	// it is gone before it was: AddPeer waits on them (recordWaiter).
	loggers map[peer.ID]chan struct{}
}

// connState is what the host logged when a peer connected.
type connState struct {
	source string
	addr   multiaddr.Multiaddr
	since  time.Time
	kind   string // ConnDirect or ConnRelayed
}

func newPeerTable() *peerTable {
	return &peerTable{
		peers:   make(map[peer.ID]*connState),
		dialing: make(map[peer.ID]string),
		waiters: make(map[peer.ID]chan struct{}),
		loggers: make(map[peer.ID]chan struct{}),
	}
}

// dialStarted records why p is being dialled.
func (t *peerTable) dialStarted(p peer.ID, source string) {
	t.mu.Lock()
	t.dialing[p] = source
	t.mu.Unlock()
}

// dialEnded settles a dial's source. A failed dial, or one whose connect
// event was logged already, forgets it; a successful one whose event is
// still queued leaves it for connected to take. A connection already
// logged as "outbound" (a dial that gave no source) is credited to this
// dial's source.
func (t *peerTable) dialEnded(p peer.ID, source string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, logged := t.peers[p]
	if err != nil || logged {
		delete(t.dialing, p)
	}
	if err == nil && logged && st.source == SourceOutbound {
		st.source = source
	}
}

// connected records p's connection, wakes whoever waits for it to be
// logged, and reports its source, or false if p was recorded already. A
// dial in flight names the source; otherwise a bootstrap peer is
// "bootstrap" whichever side dialled, and the others are "inbound" or
// "outbound" by the connection's direction.
func (t *peerTable) connected(p peer.ID, addr multiaddr.Multiaddr, dir network.Direction, bootstrap bool, kind string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wake(t.loggers, p)
	if _, ok := t.peers[p]; ok {
		return "", false
	}
	source, ok := t.dialing[p]
	delete(t.dialing, p)
	switch {
	case ok:
	case bootstrap:
		// The operator named this peer; that is what matters about it,
		// whichever side happened to dial.
		source = SourceBootstrap
	case dir == network.DirInbound:
		source = SourceInbound
	default:
		source = SourceOutbound
	}
	t.peers[p] = &connState{source: source, addr: addr, since: time.Now(), kind: kind}
	return source, true
}

// upgraded records that p, recorded as relayed, now has a direct
// connection at addr. It reports whether that is news.
func (t *peerTable) upgraded(p peer.ID, addr multiaddr.Multiaddr, kind string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.peers[p]
	if !ok || kind != ConnDirect || st.kind == ConnDirect {
		return false
	}
	st.kind, st.addr = ConnDirect, addr
	return true
}

// disconnected forgets p and wakes whoever waits for it to leave or for
// its connection to be logged. It returns what was recorded of p, if
// anything.
func (t *peerTable) disconnected(p peer.ID) (*connState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.peers[p]
	delete(t.peers, p)
	wake(t.waiters, p)
	wake(t.loggers, p)
	return st, ok
}

// recordWaiter returns a channel closed once p's connection is logged,
// or p is gone before it was; nil if it is logged already or p is not
// connected. The event loop logs a connection from the swarm's event,
// which can come after the dial that made it returned. The check and
// the registration are one critical section with connected and
// disconnected, as in waiter.
func (t *peerTable) recordWaiter(p peer.ID, net network.Network) chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.peers[p]; ok || !linked(net.Connectedness(p)) {
		return nil
	}
	return chanFor(t.loggers, p)
}

// chanFor returns m's channel for p, made if it has none.
func chanFor(m map[peer.ID]chan struct{}, p peer.ID) chan struct{} {
	w, ok := m[p]
	if !ok {
		w = make(chan struct{})
		m[p] = w
	}
	return w
}

// wake closes and forgets m's channel for p, if any.
func wake(m map[peer.ID]chan struct{}, p peer.ID) {
	if w, ok := m[p]; ok {
		close(w)
		delete(m, p)
	}
}

// waiter returns a channel closed when p disconnects, or nil if p is not
// connected. The check and the registration are one critical section
// with disconnected, so no disconnect falls between them.
func (t *peerTable) waiter(p peer.ID, net network.Network) chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !linked(net.Connectedness(p)) {
		return nil
	}
	return chanFor(t.waiters, p)
}

// source is PeerSource.
func (t *peerTable) source(p peer.ID) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.peers[p]; ok {
		return st.source
	}
	return t.dialing[p]
}

// list returns the connected peers, oldest connection first, without
// their announced addresses (the peerstore has those).
func (t *peerTable) list() []PeerInfo {
	t.mu.Lock()
	out := make([]PeerInfo, 0, len(t.peers))
	for p, st := range t.peers {
		out = append(out, PeerInfo{ID: p, Addr: st.addr, Source: st.source, Since: st.since, Conn: st.kind})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerInfo) int { return a.Since.Compare(b.Since) })
	return out
}
