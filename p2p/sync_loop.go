package p2p

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// The syncer's loop (protocol.md §17.5, §17.10): one goroutine owns the
// peer table and every due time in it. Nothing it does blocks: status
// exchanges and the download run on goroutines of their own and report
// back on channels.

// syncPeer is what the loop knows of a connected peer.
type syncPeer struct {
	status  *protocol.Status // the latest it told us; nil before, or once spent
	asking  bool             // a status exchange with it is under way
	askedAt time.Time        // when the last one started
	// again: a RequestSync came while an exchange was under way or less
	// than requestSyncGap after one started; the answer may predate the
	// block that made us ask, so we ask again requestSyncGap after.
	again    bool
	due      time.Time       // the next exchange: the refresh, or an again
	coolDown                 // after a download from it that failed (sync_cool.go)
	waiters  []chan struct{} // SyncNow calls waiting for this exchange
	// later: SyncNow calls that came while an exchange was under way.
	// Its answer may predate the call, so they wait for the next one
	// (the again exchange), not for this one.
	later []chan struct{}
	heard bool // it has told us its status at least once
}

// statusEvent is a status a peer told us (st), or the end of an exchange
// we started (done).
type statusEvent struct {
	p    peer.ID
	st   *protocol.Status
	done bool
}

// download is the download under way.
type download struct {
	p         peer.ID
	st        *protocol.Status
	cancel    context.CancelFunc
	preempted bool // cancelled for a peer that claims more
	// gone: cancelled because p disconnected. p is not cooled down
	// whatever the error (a request that redialled p may have failed on
	// the new connection, open by the end).
	gone bool
	// conns are p's connections when the download started: unless the
	// download's error names the connection it failed on, p hung up on
	// it once all of them are closed, even if it is back on a new one by
	// the end (hungUpOn).
	conns []network.Conn
	// join offers the download peers that claim more work than our tip
	// after it started, to fetch bodies from (sync_fetch.go).
	join chan peer.ID
	// helpers holds, for each helper offered to the download, the tip it
	// claimed then (one that leaves is cooled down for that tip only) and
	// its connections then (hungUpOn).
	helpers map[peer.ID]joined
}

// joined is a helper as it was offered to a download.
type joined struct {
	tip   chain.Hash
	conns []network.Conn
}

// downloadResult is how a download ended.
type downloadResult struct {
	p   peer.ID
	st  *protocol.Status
	err error
	// stalled are the helpers that failed or stalled their part of the
	// download without a fault (sync_fetch.go): each is cooled down,
	// unless it hung up.
	stalled []stall
}

// loop is the state run owns.
type loop struct {
	peers map[peer.ID]*syncPeer
	dl    *download
	// tried holds the peers that had their turn in this pass: each gets
	// one, so a peer that keeps sending fresh claims it never honours
	// cannot keep the turn from the rest. A pass ends when no peer is
	// left to try; then tried empties.
	tried map[peer.ID]bool
	// failed holds the tried peers whose turn in this pass failed (they
	// are cooling down) or ended short of their claim; it empties with
	// tried.
	failed    map[peer.ID]bool
	passStart chain.Hash      // our tip when the pass began
	waiters   []chan struct{} // SyncNow calls waiting for the pass to end
	// cooled keeps the cool-down of peers that hung up while cooling,
	// so that one that reconnects finds it as it left it, not a clean
	// slate (at most maxCooledGone, each until its cool-down ends).
	cooled map[peer.ID]coolDown
}

func (s *Syncer) run() {
	defer s.wg.Done()
	l := &loop{peers: make(map[peer.ID]*syncPeer), tried: make(map[peer.ID]bool), failed: make(map[peer.ID]bool),
		cooled: make(map[peer.ID]coolDown)}
	defer func() {
		if l.dl != nil {
			l.dl.cancel()
		}
	}()
	var conns <-chan any
	if s.conns != nil {
		// Closed here, as the loop stops reading: an emitter blocks on
		// a subscriber whose buffer is full.
		defer s.conns.Close()
		conns = s.conns.Out()
	}
	for _, p := range s.host.Network().Peers() {
		s.connectedPeer(l, p)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.step(l, timer)
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-conns:
			if !ok {
				conns = nil
				continue
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			switch ev.Connectedness {
			case network.Connected, network.Limited:
				s.connectedPeer(l, ev.Peer)
			default:
				s.disconnectedPeer(l, ev.Peer)
			}
		case ev := <-s.statusC:
			s.onStatus(l, ev)
		case p := <-s.requestC:
			s.onRequestSync(l, p)
		case <-s.announceC:
			s.exchangeAll(l, nil)
		case done := <-s.syncNowC:
			l.waiters = append(l.waiters, done)
			s.exchangeAll(l, done)
		case r := <-s.doneC:
			s.downloadEnded(l, r)
		case <-timer.C:
		}
		s.table.Store(int64(len(l.peers)))
		s.countPeers(l)
	}
}

// countPeers publishes how many peers told us their status and how many
// of those are ahead of us and worth syncing from (SyncStats).
func (s *Syncer) countPeers(l *loop) {
	ours := s.chain.Tip().Work
	now := time.Now()
	var heard, ahead int64
	for p, sp := range l.peers {
		if !sp.heard {
			continue
		}
		heard++
		st := sp.status
		if st == nil || st.Work.Cmp(ours) <= 0 || s.bans.Banned(p) || sp.cooling(now, st.Tip) {
			continue
		}
		ahead++
	}
	s.stats.heard.Store(heard)
	s.stats.ahead.Store(ahead)
}

// step starts the exchanges that are due, starts or preempts a
// download, ends the pass when nobody is left to try, and sets the timer
// to the next due time.
func (s *Syncer) step(l *loop, timer *time.Timer) {
	now := time.Now()
	for p, sp := range l.peers {
		if !sp.asking && !now.Before(sp.due) {
			s.startExchange(l, p, sp, nil)
		}
	}
	s.maybeDownload(l, now)
	next := now.Add(time.Hour)
	ours := s.chain.Tip().Work
	for _, sp := range l.peers {
		if !sp.asking && sp.due.Before(next) {
			next = sp.due
		}
		// A cooled peer still ahead of us is worth a look when its
		// cool-down ends, even before its next status.
		if sp.status != nil && sp.status.Work.Cmp(ours) > 0 && now.Before(sp.coolUntil) && sp.coolUntil.Before(next) {
			next = sp.coolUntil
		}
	}
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	timer.Reset(max(time.Until(next), time.Millisecond))
}

func (s *Syncer) connectedPeer(l *loop, p peer.ID) {
	if _, ok := l.peers[p]; ok {
		return
	}
	if s.bans.Banned(p) {
		s.log.Info("refusing banned peer", "peer", p)
		_ = s.host.Network().ClosePeer(p)
		return
	}
	if !s.connected(p) {
		return // the event is older than a disconnect
	}
	sp := &syncPeer{} // due now: the exchange every new peer gets
	if c, ok := l.cooled[p]; ok {
		delete(l.cooled, p)
		sp.coolDown = c
	}
	l.peers[p] = sp
}

func (s *Syncer) disconnectedPeer(l *loop, p peer.ID) {
	if s.connected(p) {
		return // another connection remains
	}
	if sp := l.peers[p]; sp != nil && time.Now().Before(sp.coolUntil) {
		l.keepCoolDown(p, sp.coolDown)
	}
	delete(l.peers, p) // with the SyncNow calls that waited for it
	s.tips.drop(p)
	if l.dl != nil && l.dl.p == p {
		l.dl.gone = true
		l.dl.cancel() // it cannot deliver any more
	}
}

// startExchange runs a status exchange with p on a goroutine of its own;
// waiter, if set, is a SyncNow call that waits for it.
func (s *Syncer) startExchange(l *loop, p peer.ID, sp *syncPeer, waiter chan struct{}) {
	if sp.asking {
		// The answer under way may predate what made us ask.
		sp.again = true
		if waiter != nil {
			sp.later = append(sp.later, waiter)
		}
		return
	}
	if waiter != nil {
		sp.waiters = append(sp.waiters, waiter)
	}
	now := time.Now()
	sp.asking, sp.askedAt, sp.due = true, now, now.Add(s.statusInterval)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.exchangeStatus(s.ctx, p); err != nil {
			s.log.Debug("status exchange failed", "peer", p, "reason", err)
		}
		send(s.ctx, s.ctx, s.statusC, statusEvent{p: p, done: true})
	}()
}

// exchangeAll exchanges status with every peer now: after the tip moved,
// on Announce, and for SyncNow (waiter).
func (s *Syncer) exchangeAll(l *loop, waiter chan struct{}) {
	for p, sp := range l.peers {
		s.startExchange(l, p, sp, waiter)
	}
}

func (s *Syncer) onStatus(l *loop, ev statusEvent) {
	sp := l.peers[ev.p]
	if sp == nil {
		return // hung up since, or never connected: keep nothing
	}
	if ev.st != nil {
		sp.status, sp.heard = ev.st, true
		s.tips.set(ev.p, *ev.st)
		if dl := l.dl; dl != nil && ev.p != dl.p && s.canHelp(ev.p, sp, s.chain.Tip().Work, time.Now()) {
			select {
			case dl.join <- ev.p:
				if _, ok := dl.helpers[ev.p]; !ok {
					dl.helpers[ev.p] = joined{tip: ev.st.Tip, conns: s.host.Network().ConnsToPeer(ev.p)}
				}
			default: // the download has enough on offer
			}
		}
		return
	}
	sp.asking = false
	if sp.again {
		sp.again = false
		sp.due = earlier(sp.due, sp.askedAt.Add(requestSyncGap))
	}
	// A SyncNow call is released at the end of the pass, once none of
	// its exchanges is left (endPass); one that came during this
	// exchange waits for the next.
	sp.waiters, sp.later = sp.later, nil
}

func (s *Syncer) onRequestSync(l *loop, p peer.ID) {
	sp := l.peers[p]
	if sp == nil {
		return // hung up since: nobody to ask, and no reason to dial it
	}
	switch since := time.Since(sp.askedAt); {
	case sp.asking:
		sp.again = true
	case since < requestSyncGap:
		// An answer from a moment ago: ask again once the gap has
		// passed; what p told us may already be enough meanwhile.
		sp.due = earlier(sp.due, sp.askedAt.Add(requestSyncGap))
	default:
		s.startExchange(l, p, sp, nil)
	}
}

// best returns the connected peer with the most work above ours, leaving
// out those tried in this pass, cooling down, or banned.
func (s *Syncer) best(l *loop, now time.Time) (peer.ID, *protocol.Status) {
	ours := s.chain.Tip().Work
	var bp peer.ID
	var bs *protocol.Status
	for p, sp := range l.peers {
		st := sp.status
		if st == nil || st.Work.Cmp(ours) <= 0 || l.tried[p] || s.bans.Banned(p) {
			continue
		}
		if sp.cooling(now, st.Tip) {
			continue
		}
		if bs == nil || st.Work.Cmp(bs.Work) > 0 {
			bp, bs = p, st
		}
	}
	return bp, bs
}

// helpers returns the peers besides leader that bodies may also come
// from: those that claim more work than ours, are not banned and not
// cooling down, the most work first, at most maxFetchPeers-1. A helper
// on another branch lacks the blocks, answers short and leaves the
// download at the cost of one request.
func (s *Syncer) helpers(l *loop, leader peer.ID, now time.Time) []peer.ID {
	ours := s.chain.Tip().Work
	var out []peer.ID
	for p, sp := range l.peers {
		if p != leader && s.canHelp(p, sp, ours, now) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b peer.ID) int { return l.peers[b].status.Work.Cmp(l.peers[a].status.Work) })
	return out[:min(len(out), maxFetchPeers-1)]
}

// canHelp reports whether p may have the blocks of a download: it
// claims more work than ours, and is neither banned nor cooling down
// for the tip it claims.
func (s *Syncer) canHelp(p peer.ID, sp *syncPeer, ours *big.Int, now time.Time) bool {
	return sp.status != nil && sp.status.Work.Cmp(ours) > 0 && !s.bans.Banned(p) &&
		!sp.cooling(now, sp.status.Tip)
}

// maybeDownload starts a download from the best peer, or, while one
// runs, preempts it for a peer that claims more work than the one
// downloading (the blocks stored so far stay); with nobody left to try it
// ends the pass.
func (s *Syncer) maybeDownload(l *loop, now time.Time) {
	p, st := s.best(l, now)
	if l.dl != nil {
		// A peer cooling down after failing to deliver does not preempt,
		// whatever tip it now claims: one that answers each turn with a
		// fresh claim and nothing else would cut every honest download
		// short, and keep SyncNow waiting, for ever.
		if sp := l.peers[p]; st != nil && !l.dl.preempted && st.Work.Cmp(l.dl.st.Work) > 0 && sp != nil && !now.Before(sp.coolUntil) {
			s.log.Info("sync preempted by a peer with more work", "peer", l.dl.p, "better", p)
			l.dl.preempted = true
			l.dl.cancel()
		}
		return
	}
	if st == nil {
		if s.endPass(l, now) {
			s.maybeDownload(l, now) // the next pass's first turn, now
		}
		return
	}
	if len(l.tried) == 0 {
		l.passStart = s.chain.Tip().Hash
	}
	l.tried[p] = true
	ctx, cancel := context.WithCancel(s.ctx)
	l.dl = &download{p: p, st: st, cancel: cancel, join: make(chan peer.ID, maxFetchPeers), helpers: make(map[peer.ID]joined),
		conns: s.host.Network().ConnsToPeer(p)}
	helpers := s.helpers(l, p, now)
	for _, q := range helpers {
		l.dl.helpers[q] = joined{tip: l.peers[q].status.Tip, conns: s.host.Network().ConnsToPeer(q)}
	}
	fp := newFetchPeers(p, helpers, l.dl.join)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		err := s.syncFrom(ctx, p, st, fp)
		send(s.ctx, s.ctx, s.doneC, downloadResult{p: p, st: st, err: err, stalled: fp.stalled})
	}()
}

func (s *Syncer) downloadEnded(l *loop, r downloadResult) {
	preempted := l.dl != nil && l.dl.preempted
	gone := l.dl != nil && l.dl.gone
	var conns []network.Conn // the leader's as the download began
	if l.dl != nil {
		conns = l.dl.conns
		// A helper that failed or stalled its part is passed over for a
		// while, as the leader is below, while it claims the tip it had
		// then: it is not handed a batch of the next download at once.
		for _, h := range r.stalled {
			q := h.p
			if sp, j := l.peers[q], l.dl.helpers[q]; sp != nil && q != r.p && !j.tip.IsZero() && !hungUpOn(j.conns, h.err) {
				sp.cool(time.Now(), j.tip, false) // a helper showed no claim of its own
			}
		}
	}
	l.dl = nil
	err := r.err
	switch {
	case err == nil:
		if s.chain.Tip().Work.Cmp(r.st.Work) < 0 {
			// Done short of p's claim (gossip took us elsewhere, or the
			// claim named a block we hold): not a failure to cool p for,
			// but no reason to hold the pass open for p either.
			l.failed[r.p] = true
		}
	case preempted && !isFault(err):
		// Its turn ends, not its claim: the status stays.
		return
	case errors.Is(err, errHelperBlock):
		// A helper's body, punished already: the leader's claim stands,
		// and its status stays for the next download.
		s.log.Info("sync stopped", "peer", r.p, "reason", err)
		return
	case isFault(err):
		s.punish(r.p, err)
	default:
		s.log.Info("sync stopped", "peer", r.p, "reason", err)
		l.failed[r.p] = true
		// A peer that hung up is not cooled down, whichever reached
		// the loop first: its disconnect (gone), or the download's error
		// (hungUpOn: even if it is connected again by now, on a new
		// connection).
		if sp := l.peers[r.p]; sp != nil && !gone && !hungUpOn(conns, err) {
			sp.cool(time.Now(), r.st.Tip, errors.Is(err, errUnshown))
			// A run of headers too light to win is a replay's cost to us,
			// not the peer's: not for another tip it claims either.
			sp.coolAny = sp.coolAny || errors.Is(err, errLowWorkRun)
		}
	}
	// Whatever happened, what p told us is spent: a new status or gossip
	// from it brings it back. A newer status that arrived during the
	// download stays.
	if sp := l.peers[r.p]; sp != nil && sp.status == r.st {
		sp.status = nil
	}
}

// endPass ends a pass: the tried peers may have a turn again, peers
// behind us hear of a tip that moved now rather than at their next
// refresh, and SyncNow calls whose exchanges are all done return, unless
// the next pass begins at once (it reports so).
func (s *Syncer) endPass(l *loop, now time.Time) (again bool) {
	if len(l.tried) > 0 {
		clear(l.tried)
		if s.chain.Tip().Hash != l.passStart {
			s.exchangeAll(l, nil)
		}
		// A peer that had its turn but still claims more work (it mined
		// on while we downloaded, or a helper's bad block ended its
		// download) starts the next pass at once, rather than at the
		// next event or refresh: SyncNow calls wait for that one too, or
		// they would return short of a tip the node already knows of.
		// Not one whose turn failed: its fresh claim is worth a later
		// pass, not holding SyncNow for as long as it keeps making
		// claims.
		ours := s.chain.Tip().Work
		for p, sp := range l.peers {
			if again = s.canHelp(p, sp, ours, now) && !l.failed[p]; again {
				break
			}
		}
		clear(l.failed)
		if again {
			return true
		}
	}
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if s.waiting(l, w) {
			kept = append(kept, w)
			continue
		}
		close(w)
	}
	l.waiters = kept
	return false
}

// waiting reports whether an exchange SyncNow call w waits for is under
// way.
func (s *Syncer) waiting(l *loop, w chan struct{}) bool {
	for _, sp := range l.peers {
		if slices.Contains(sp.waiters, w) || slices.Contains(sp.later, w) {
			return true
		}
	}
	return false
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
