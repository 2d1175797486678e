package p2p

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// syncService names the sync streams to the resource manager.
const syncService = "gossipchain.sync"

// Syncer keeps the node on the most-work chain its peers know. It
// exchanges status with every peer that connects and every
// statusInterval after, serves headers and blocks from the chain, and,
// when a peer has more work, downloads the missing branch from it,
// headers first, and hands it to the chain in bounded batches.
//
// One goroutine (run, sync_loop.go) owns the table of peers and their due
// times, as GossipSub's router owns its own: connectedness events,
// statuses, RequestSync, Announce and SyncNow reach it on channels; status
// exchanges and the download run on goroutines of their own and report
// back on channels, so status keeps flowing while a download runs, and a
// better peer met meanwhile is acted on. The serving side's per-peer
// allowances (limits, serve_limits.go) lock themselves.
type Syncer struct {
	host  host.Host
	chain Chain
	log   *slog.Logger
	proto lpprotocol.ID
	bans  Bans
	// requestTimeout bounds a GetHeaders exchange and the wait for the
	// first block of a GetBlocks (protocol.RequestTimeout by default).
	requestTimeout time.Duration
	// statusInterval is how often every peer's status is refreshed.
	statusInterval time.Duration
	// maxHeaders bounds the headers a download checks before one run
	// beats our tip (maxSyncHeaders; tests lower it); lowRuns are the
	// runs that did not (sync_download.go).
	maxHeaders int
	lowRuns    *lru.Cache[chain.Hash, struct{}]

	table atomic.Int64 // entries in the loop's table, for PeerEntries
	// limits is what each peer may still ask of the server, kept across
	// its reconnects (serve_limits.go).
	limits *limitTable

	stats  syncCounters
	notify func(SyncEvent)
	// tips mirrors the loop's latest status of each peer for readers
	// outside the loop (the network map).
	tips peerTips

	conns     event.Subscription
	statusC   chan statusEvent
	requestC  chan peer.ID
	announceC chan struct{}
	syncNowC  chan chan struct{}
	doneC     chan downloadResult

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// SyncOption configures a Syncer.
type SyncOption func(*Syncer)

// WithSyncLogger sets the logger.
func WithSyncLogger(l *slog.Logger) SyncOption { return func(s *Syncer) { s.log = l } }

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

// NewSyncer registers the sync protocol on h and starts the loop that
// watches connections; misbehaving peers are banned in bans. ctx bounds
// every goroutine it starts; Close stops them.
func NewSyncer(ctx context.Context, h host.Host, c Chain, bans Bans, opts ...SyncOption) *Syncer {
	ctx, cancel := context.WithCancel(ctx)
	s := &Syncer{
		host:      h,
		chain:     c,
		log:       slog.New(slog.DiscardHandler),
		proto:     lpprotocol.ID(protocol.SyncProtocol(c.Params().NetworkID())),
		bans:      bans,
		limits:    newLimitTable(),
		tips:      peerTips{m: make(map[peer.ID]protocol.Status)},
		statusC:   make(chan statusEvent),
		requestC:  make(chan peer.ID),
		announceC: make(chan struct{}, 1),
		syncNowC:  make(chan chan struct{}),
		doneC:     make(chan downloadResult, 1),
		ctx:       ctx,
		cancel:    cancel,

		requestTimeout: protocol.RequestTimeout,
		statusInterval: statusInterval,
		maxHeaders:     maxSyncHeaders,
		lowRuns:        newLowRuns(),
	}
	for _, o := range opts {
		o(s)
	}
	// Subscribed before the first peer is listed, so no connection
	// falls between the two; the loop drops duplicates.
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(eventBuffer))
	if err != nil {
		// Only a host without an event bus: peers then come to the
		// loop by their status and RequestSync alone.
		s.log.Error("sync cannot watch connections", "reason", err)
	}
	s.conns = sub
	h.SetStreamHandler(s.proto, s.handleStream)
	s.wg.Add(1)
	go s.run()
	return s
}

// Close stops the syncer and waits for its goroutines.
func (s *Syncer) Close() {
	s.host.RemoveStreamHandler(s.proto)
	s.cancel()
	s.wg.Wait()
}

// RequestSync asks the syncer to look at p's chain: used when p gossips
// a block whose parent we lack. The status exchange tells us how much
// work p has; the download then finds the missing blocks from our
// locator, so the orphan's own hash is not needed. A peer that is not
// connected is not asked (and leaves no state).
func (s *Syncer) RequestSync(p peer.ID) { s.send(s.requestC, p) }

// Announce sends our status to every peer soon, so that peers behind us
// sync: for a tip that moved to blocks gossip did not forward (blocks
// that waited in the orphan pool for a parent, and connected with it).
// Announcements made while one is under way coalesce into the next.
func (s *Syncer) Announce() {
	select {
	case s.announceC <- struct{}{}:
	default:
	}
}

// SyncNow asks every connected peer for its status and waits until the
// syncer has downloaded from every peer that claims more work, or
// passed it over: the API's /sync-chain. It reports whether the tip
// moved.
func (s *Syncer) SyncNow(ctx context.Context) bool {
	start := s.chain.Tip().Hash
	done := make(chan struct{})
	if !send(ctx, s.ctx, s.syncNowC, done) {
		return false
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	return s.chain.Tip().Hash != start
}

// send hands v to the loop, unless the syncer or the caller stops first.
func send[T any](caller, syncer context.Context, c chan<- T, v T) bool {
	select {
	case c <- v:
		return true
	case <-caller.Done():
	case <-syncer.Done():
	}
	return false
}

func (s *Syncer) send(c chan<- peer.ID, p peer.ID) { send(s.ctx, s.ctx, c, p) }

// connected reports whether p has a connection to us, a limited (relayed)
// one included.
func (s *Syncer) connected(p peer.ID) bool {
	switch s.host.Network().Connectedness(p) {
	case network.Connected, network.Limited:
		return true
	}
	return false
}

// setStatus hands a status p told us to the loop.
func (s *Syncer) setStatus(p peer.ID, st *protocol.Status) {
	send(s.ctx, s.ctx, s.statusC, statusEvent{p: p, st: st})
}

// peerTips is the latest status of each peer in the loop's table: the
// loop writes it as statuses arrive and peers leave, so it holds no more
// peers than the table. Safe for concurrent use.
type peerTips struct {
	mu sync.Mutex
	m  map[peer.ID]protocol.Status
}

func (t *peerTips) set(p peer.ID, st protocol.Status) {
	t.mu.Lock()
	t.m[p] = st
	t.mu.Unlock()
}

func (t *peerTips) drop(p peer.ID) {
	t.mu.Lock()
	delete(t.m, p)
	t.mu.Unlock()
}

// PeerTip returns the tip p last told us, if it has told one since it
// connected.
func (s *Syncer) PeerTip(p peer.ID) (protocol.Status, bool) {
	s.tips.mu.Lock()
	defer s.tips.mu.Unlock()
	st, ok := s.tips.m[p]
	return st, ok
}

// punish disconnects a peer that broke the protocol or sent invalid data
// and refuses it for banTime. The loop drops its entry when the
// disconnect arrives, and passes over banned peers until then.
func (s *Syncer) punish(p peer.ID, err error) {
	s.log.Info("peer dropped", "peer", p, "reason", err)
	// Banned first, so no connection the peer makes from now on is
	// served or given a new entry.
	s.bans.Ban(p, banTime)
	_ = s.host.Network().ClosePeer(p) // Host.Ban has; a bare Gater has not
}

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
// It runs on the download's goroutine and must not block.
func WithSyncNotify(f func(SyncEvent)) SyncOption { return func(s *Syncer) { s.notify = f } }

func (s *Syncer) emit(ev SyncEvent) {
	if s.notify != nil {
		s.notify(ev)
	}
}
