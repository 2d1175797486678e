package p2p

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// syncService names the sync streams to the resource manager.
const syncService = "gossipchain.sync"

// Syncer keeps the node on the most-work chain its peers know. It
// exchanges status with every peer that connects, serves headers and
// blocks from the chain, and, when a peer has more work, downloads the
// missing branch from it in bounded batches and hands it to the chain.
//
// One goroutine (run) does all downloading, so two syncs never race; mu
// guards the peer table the handlers and notifications share with it.
type Syncer struct {
	host  host.Host
	chain Chain
	log   *slog.Logger
	proto lpprotocol.ID
	bans  Bans
	// requestTimeout bounds a GetHeaders exchange and the wait for the
	// first block of a GetBlocks (protocol.RequestTimeout by default).
	requestTimeout time.Duration

	mu    sync.Mutex
	peers map[peer.ID]*peerState

	notifee *network.NotifyBundle
	closed  bool // set under mu by Close: no goroutine starts after it

	stats  syncCounters
	notify func(SyncEvent)
	// statusInterval is how often every peer's status is refreshed.
	statusInterval time.Duration
	announce       atomic.Bool // Announce was called since the last exchange

	syncMu sync.Mutex // held by whoever is downloading: run or SyncNow
	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type peerState struct {
	status  *protocol.Status // last one the peer told us; nil before
	limiter *rate.Limiter    // the peer's requests to us
	blocks  *rate.Limiter    // the blocks we serve the peer
	asking  bool             // a status exchange with the peer is under way
	asked   time.Time        // when the last one started
	again   bool             // a RequestSync came too soon after it: ask again
	// A download from the peer that stalled or made no progress puts it
	// aside until coolUntil, unless it reports a tip other than coolTip:
	// a fresh status with the same claim must not win it the next turn.
	coolUntil time.Time
	coolTip   chain.Hash
}

// SyncOption configures a Syncer.
type SyncOption func(*Syncer)

// WithSyncLogger sets the logger.
func WithSyncLogger(l *slog.Logger) SyncOption { return func(s *Syncer) { s.log = l } }

func newPeerState() *peerState {
	return &peerState{
		limiter: rate.NewLimiter(serverRate, serverBurst),
		blocks:  rate.NewLimiter(serverBlockRate, serverBlockBurst),
	}
}

// Bans is where the syncer keeps the peers it refuses: the host's gater,
// so that one store decides both who may connect and whom the syncer
// serves. The node passes its *Host, whose Ban also closes the peer's
// connections and keeps its dial loops from redialling it; a host without
// a gater uses a *Gater of its own.
type Bans interface {
	Ban(p peer.ID, d time.Duration)
	Banned(p peer.ID) bool
}

// WithRequestTimeout changes how long the syncer waits for a peer to
// start answering a headers or blocks request (protocol.RequestTimeout by
// default): shorter in tests, longer on a slow link.
func WithRequestTimeout(d time.Duration) SyncOption {
	return func(s *Syncer) { s.requestTimeout = d }
}

// WithStatusInterval changes how often the syncer refreshes every peer's
// status (statusInterval by default); tests lengthen it to show that
// nothing else is waiting on the refresh.
func WithStatusInterval(d time.Duration) SyncOption {
	return func(s *Syncer) {
		if d > 0 {
			s.statusInterval = d
		}
	}
}

// NewSyncer registers the sync protocol on h and starts watching
// connections; misbehaving peers are banned in bans. ctx bounds every
// goroutine it starts; Close stops them.
func NewSyncer(ctx context.Context, h host.Host, c Chain, bans Bans, opts ...SyncOption) *Syncer {
	ctx, cancel := context.WithCancel(ctx)
	s := &Syncer{
		host:   h,
		chain:  c,
		log:    slog.New(slog.DiscardHandler),
		proto:  lpprotocol.ID(protocol.SyncProtocol(c.Params().NetworkID())),
		bans:   bans,
		peers:  make(map[peer.ID]*peerState),
		kick:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,

		requestTimeout: protocol.RequestTimeout,
		statusInterval: statusInterval,
	}
	for _, o := range opts {
		o(s)
	}
	h.SetStreamHandler(s.proto, s.handleStream)
	s.notifee = &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) { s.onConnected(c.RemotePeer()) },
		DisconnectedF: func(n network.Network, c network.Conn) {
			if p := c.RemotePeer(); n.Connectedness(p) != network.Connected {
				s.mu.Lock()
				delete(s.peers, p)
				s.mu.Unlock()
			}
		},
	}
	h.Network().Notify(s.notifee)
	for _, p := range h.Network().Peers() {
		s.onConnected(p)
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// Close stops the syncer and waits for its goroutines.
func (s *Syncer) Close() {
	s.host.RemoveStreamHandler(s.proto)
	s.host.Network().StopNotify(s.notifee)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

func (s *Syncer) onConnected(p peer.ID) {
	if s.bans.Banned(p) {
		s.log.Info("refusing banned peer", "peer", p)
		_ = s.host.Network().ClosePeer(p)
		return
	}
	// A notification may race Close: Add only while not closed, under
	// the same lock Close sets the flag with, so Wait never misses one.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if err := s.exchangeStatus(s.ctx, p); err != nil {
			s.log.Debug("status exchange failed", "peer", p, "reason", err)
		}
	}()
}

// RequestSync asks the syncer to look at p's chain: used when p gossips
// a block whose parent we lack. The status exchange tells us how much
// work p has; the download then finds the missing blocks from our
// locator, so the orphan's own hash is not needed.
func (s *Syncer) RequestSync(p peer.ID) {
	if !s.connected(p) {
		return // hung up since: nobody to ask, and no reason to dial it
	}
	ps := s.state(p)
	s.mu.Lock()
	since := time.Since(ps.asked)
	switch {
	case ps.asking:
		// The answer under way may predate the block that made us ask:
		// exchangeStatus asks again, a gap after it ends.
		ps.again = true
		s.mu.Unlock()
		s.wake()
		return
	case since < requestSyncGap:
		// The same, for an answer that came a moment ago: ask again
		// once the gap has passed, or the tip p has would wait for the
		// next refresh, seconds away.
		schedule := !ps.again
		ps.again = true
		s.mu.Unlock()
		s.wake() // what p told us may already be enough
		if schedule {
			s.askAgain(p, ps, requestSyncGap-since)
		}
		return
	}
	s.mu.Unlock()
	s.onConnected(p)
}

// askAgain calls RequestSync for p after d (more than zero, so a slow
// exchange cannot make this spin).
func (s *Syncer) askAgain(p peer.ID, ps *peerState, d time.Duration) {
	time.AfterFunc(max(d, time.Millisecond), func() {
		s.mu.Lock()
		ps.again = false
		s.mu.Unlock()
		if s.ctx.Err() == nil {
			s.RequestSync(p)
		}
	})
}

// state returns p's entry in the peer table. An entry is made only for a
// peer that is connected: one that hung up before its gossip was
// validated or its stream served gets a state that is not kept, since
// the disconnect notification that removes entries has already run for
// it (see TestSyncGoneGossiperLeavesNoState).
func (s *Syncer) state(p peer.ID) *peerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, ok := s.peers[p]
	if !ok {
		ps = newPeerState()
		if s.connected(p) {
			s.peers[p] = ps
		}
	}
	return ps
}

// connected reports whether p has a connection to us, a limited (relayed)
// one included.
func (s *Syncer) connected(p peer.ID) bool {
	switch s.host.Network().Connectedness(p) {
	case network.Connected, network.Limited:
		return true
	}
	return false
}

func (s *Syncer) setStatus(p peer.ID, st *protocol.Status) {
	// One critical section for lookup and write: a disconnect may delete
	// the entry at any moment, and an entry is only made for a peer that
	// is still connected, so none outlives its peer.
	s.mu.Lock()
	ps := s.peers[p]
	if ps == nil && s.host.Network().Connectedness(p) == network.Connected {
		ps = newPeerState()
		s.peers[p] = ps
	}
	if ps != nil {
		ps.status = st
	}
	s.mu.Unlock()
	if st != nil && st.Work.Cmp(s.chain.Tip().Work) > 0 {
		s.wake()
	}
}

// coolDown puts p aside for cooldown while it claims st's tip.
func (s *Syncer) coolDown(p peer.ID, st *protocol.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps := s.peers[p]; ps != nil {
		ps.coolUntil, ps.coolTip = time.Now().Add(cooldown), st.Tip
	}
}

// clearStatus forgets p's status if it is still st.
func (s *Syncer) clearStatus(p peer.ID, st *protocol.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps, ok := s.peers[p]; ok && ps.status == st {
		ps.status = nil
	}
}

func (s *Syncer) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// punish disconnects a peer that broke the protocol or sent invalid data
// and refuses it for banTime.
func (s *Syncer) punish(p peer.ID, err error) {
	s.log.Info("peer dropped", "peer", p, "reason", err)
	// Banned first, so no connection the peer makes from now on is
	// served or given a new entry.
	s.bans.Ban(p, banTime)
	s.mu.Lock()
	delete(s.peers, p)
	s.mu.Unlock()
	_ = s.host.Network().ClosePeer(p) // Host.Ban has; a bare Gater has not
}

// best returns the connected peer with the most work above our tip,
// leaving out those tried in this pass and those cooling down.
func (s *Syncer) best(tried map[peer.ID]bool) (peer.ID, *protocol.Status) {
	ours := s.chain.Tip().Work
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var bp peer.ID
	var bs *protocol.Status
	for p, ps := range s.peers {
		st := ps.status
		if st == nil || st.Work.Cmp(ours) <= 0 || tried[p] || s.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		if now.Before(ps.coolUntil) && st.Tip == ps.coolTip {
			continue
		}
		if bs == nil || st.Work.Cmp(bs.Work) > 0 {
			bp, bs = p, st
		}
	}
	return bp, bs
}

// run downloads from the best peer whenever one has more work, and
// refreshes every peer's status on a timer.
func (s *Syncer) run() {
	defer s.wg.Done()
	t := time.NewTicker(s.statusInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
			if s.announce.Swap(false) {
				s.exchangeAll(s.ctx)
			}
		case <-t.C:
			s.exchangeAll(s.ctx)
		}
		s.syncBest(s.ctx)
	}
}

// Announce sends our status to every peer soon, so that peers behind us
// sync: for a tip that moved to blocks gossip did not forward (blocks
// that waited in the orphan pool for a parent, and connected with it).
// Announcements made while one is under way coalesce into the next.
func (s *Syncer) Announce() {
	s.announce.Store(true)
	s.wake()
}

// exchangeAll exchanges status with every connected peer at once.
func (s *Syncer) exchangeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range s.host.Network().Peers() {
		wg.Go(func() {
			if err := s.exchangeStatus(ctx, p); err != nil {
				s.log.Debug("status exchange failed", "peer", p, "reason", err)
			}
		})
	}
	wg.Wait()
}

// syncBest syncs from the best peer, then the next, until no connected
// peer claims more work than we have. It reports whether the tip moved.
func (s *Syncer) syncBest(ctx context.Context) bool {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	start := s.chain.Tip().Hash
	// Each peer gets one turn per pass, so a peer that keeps sending
	// fresh claims it never honours cannot keep the turn from the rest.
	tried := make(map[peer.ID]bool)
	for ctx.Err() == nil {
		p, st := s.best(tried)
		if st == nil {
			break
		}
		tried[p] = true
		err := s.syncFrom(ctx, p, st)
		switch {
		case err == nil:
		case isFault(err):
			s.punish(p, err)
		default:
			s.log.Info("sync stopped", "peer", p, "reason", err)
			s.coolDown(p, st)
		}
		// Whatever happened, what p told us is spent: a new status or
		// gossip from it brings it back. A newer status that arrived
		// during the download stays.
		s.clearStatus(p, st)
	}
	if s.chain.Tip().Hash == start {
		return false
	}
	// Peers that were behind us with us hear of it now, not at the next
	// refresh: the status we send them says how much work we have.
	s.exchangeAll(ctx)
	return true
}

// SyncNow asks every connected peer for its status and syncs from the
// best: the API's /sync-chain. It reports whether the tip moved.
func (s *Syncer) SyncNow(ctx context.Context) bool {
	s.exchangeAll(ctx)
	return s.syncBest(ctx)
}

// errNoProgress: a peer claimed more work than we have but its headers
// and blocks did not get us there. Not proof of a lie: gossip may have
// brought us the same blocks while we asked (they are stored a moment
// before the tip moves), so the syncer only stops using the peer until
// it sends a new status.
var errNoProgress = errors.New("peer claimed more work than it delivered")

// Sync event states.
const (
	SyncStarted  = "started"
	SyncFinished = "finished"
	SyncFailed   = "failed"
)

// SyncEvent reports a download from one peer starting or ending.
type SyncEvent struct {
	Peer  peer.ID
	State string // SyncStarted, SyncFinished or SyncFailed
	// Height is ours: at the start, or when the download ended.
	Height     uint64
	PeerHeight uint64        // what the peer claimed
	Blocks     int           // blocks connected (at the end)
	Duration   time.Duration // at the end
	Err        error         // why it failed
}

// WithSyncNotify sets a function told of every download's start and end.
// It runs on the syncing goroutine and must not block.
func WithSyncNotify(f func(SyncEvent)) SyncOption { return func(s *Syncer) { s.notify = f } }

func (s *Syncer) emit(ev SyncEvent) {
	if s.notify != nil {
		s.notify(ev)
	}
}
