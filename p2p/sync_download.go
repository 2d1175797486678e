package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol"
)

// errNoProgress: a peer claimed more work than we have but its headers
// and blocks did not get us there. Not proof of a lie: gossip may have
// brought us the same blocks while we asked (they are stored a moment
// before the tip moves), or the peer is slow, so the syncer only passes
// it over until it sends a new status.
var errNoProgress = errors.New("peer claimed more work than it delivered")

// errWorkLie: a peer's headers ended (an answer shorter than asked is the
// end of its main chain) with less work than the status it sent before,
// and a node's work never goes down. A fault: the claim was a lie.
var errWorkLie = errors.New("peer claimed more work than its headers show")

// errUnshown marks a download that failed before the peer's headers
// showed any work beyond our tip: its claim was never backed. A peer
// that fails so for two tips in a row is put aside whatever it claims
// (sync_loop.go), while one whose headers did show the work, and whose
// bodies were slow, is tried again for a new tip: proof of work in
// headers is costly, a claim is free.
var errUnshown = errors.New("no headers beyond our tip")

// errLowWorkRun: a peer's headers from the fork point ran past the
// download's bound (maxSyncHeaders) without beating our tip, or began as
// such a run did. Headers cost their maker work, but a run once made can
// be replayed for free, to every node and by any number of identities;
// so the run is remembered (lowRuns) and its peer put aside whatever tip
// it claims.
var errLowWorkRun = fmt.Errorf("%w: a header run that does not beat our tip", errNoProgress)

// maxLowRuns bounds the runs lowRuns remembers.
const maxLowRuns = 64

// newLowRuns returns the memory of runs of headers that did not beat our
// tip within the download's bound, each by the hash of its
// MaxHeadersPerResponse-th header past the fork point (past the headers
// of ours the peer's answer began with: it may begin at any locator hash
// below the fork point). A run that reaches that hash holds the same
// headers from the fork point (a header's hash commits to all before
// it), and is refused there, at the cost of a few answers rather than
// of the bound. Our tip's work never goes down, so such a run stays
// too light; one that shares those headers and goes on another way is
// refused too, which only a branch built on a failed run's first 2,000
// blocks would meet. No hash of ours is kept: the headers we hold come
// first in a run. Kept in memory only, the oldest forgotten first (a run
// is added once: a remembered one is refused before the bound).
func newLowRuns() *lru.Cache[chain.Hash, struct{}] { return newHashSet(maxLowRuns) }

// newHashSet returns a set of at most n hashes, the least recently used
// forgotten first.
func newHashSet(n int) *lru.Cache[chain.Hash, struct{}] {
	c, err := lru.New[chain.Hash, struct{}](n)
	if err != nil {
		panic(err) // only for a size below one
	}
	return c
}

// syncFrom downloads from p until we have at least the work p claimed
// (protocol.md §17.10): headers first, from the fork point, checked and
// summed until they beat our tip; then their bodies in bounded batches,
// fetched from the peers of fp at once (sync_fetch.go).
func (s *Syncer) syncFrom(ctx context.Context, p peer.ID, claimed *protocol.Status, fp *fetchPeers) (err error) {
	start := time.Now()
	startHeight := s.chain.Tip().Height()
	s.log.Info("sync started", "peer", p, "height", startHeight, "peer_height", claimed.Height)
	connected := 0
	s.stats.started.Add(1)
	s.stats.syncing.Store(true)
	s.emit(SyncEvent{Peer: p, State: SyncStarted, Height: startHeight, PeerHeight: claimed.Height})
	defer func() {
		s.stats.syncing.Store(false)
		s.stats.blocks.Add(uint64(connected))
		ev := SyncEvent{Peer: p, State: SyncFinished, Blocks: connected, Height: s.chain.Tip().Height(),
			PeerHeight: claimed.Height, Duration: time.Since(start), Err: err}
		if err != nil {
			ev.State = SyncFailed
			s.stats.failed.Add(1)
		} else {
			s.stats.finished.Add(1)
		}
		s.emit(ev)
	}()
	// ahead is the last header of p's branch we fetched: should our tip
	// have moved elsewhere meanwhile (gossip brought a rival), our own
	// locator only finds the fork point, and p would send the same
	// headers again. Put first in the locator, it lets p continue from
	// there (Bitcoin's getheaders does the same).
	var ahead chain.Hash
	for s.chain.Tip().Work.Cmp(claimed.Work) < 0 {
		run, hdrs, err := s.heavierHeaders(ctx, p, claimed, ahead)
		if err != nil && ahead.IsZero() {
			return fmt.Errorf("%w: %w", errUnshown, err)
		}
		if err != nil {
			return err
		}
		if hdrs == nil {
			break // gossip got us there meanwhile
		}
		if hdrs[len(hdrs)-1].Hash() == ahead {
			return fmt.Errorf("%w: the same %d headers again at height %d", errNoProgress, len(hdrs), s.chain.Tip().Height())
		}
		hctx, stopHeaders := context.WithCancel(ctx)
		more, done := s.moreHeaders(hctx, p, claimed, run)
		n, last, err := s.fetchBodies(ctx, fp, hdrs, more)
		stopHeaders()
		<-done
		connected += n
		if err != nil {
			return err
		}
		ahead = last
	}
	tip := s.chain.Tip()
	s.log.Info("sync finished", "peer", p, "blocks", connected, "height", tip.Height(), "hash", tip.Hash.Short(),
		"seconds", time.Since(start).Seconds())
	return nil
}

// heavierHeaders fetches p's headers after our locator (ahead first, if
// set) and checks them as one run from the fork point: linked, header
// sanity, context at the targets the chain's rules give them
// (chain.HeaderChain). It asks for more, from the run's end, until the
// run's work beats our tip's, and returns the run then. It returns nil if
// p's headers end without beating our tip but we meanwhile have the work
// p claimed or hold the block it claimed; errWorkLie if they end below
// that claim; errLowWorkRun past maxSyncHeaders, or at once for a run
// that failed so before.
func (s *Syncer) heavierHeaders(ctx context.Context, p peer.ID, claimed *protocol.Status, ahead chain.Hash) (*chain.HeaderChain, []chain.Header, error) {
	base, err := s.chain.Locator()
	if err != nil {
		return nil, nil, fmt.Errorf("locator: %w", err)
	}
	withFirst := func(h chain.Hash) []chain.Hash {
		return append([]chain.Hash{h}, base[:min(len(base), protocol.MaxLocatorLen-1)]...)
	}
	loc := base
	if !ahead.IsZero() {
		loc = withFirst(ahead)
	}
	var run *chain.HeaderChain
	var hdrs []chain.Header
	// hashOf is the hash of hdrs[i]: the next one's parent, or the run's
	// last, so no header is hashed again.
	hashOf := func(i int) chain.Hash {
		if i+1 < len(hdrs) {
			return hdrs[i+1].PrevHash
		}
		return run.Last()
	}
	// earlier are the locator hashes listed before the ones the answers
	// followed: an answer could hold none of them (17.6), and neither can
	// the run after it; one that does has rejoined our main chain above
	// where it began (our own headers, replayed).
	earlier := make(map[chain.Hash]bool)
	// older are the hashes of the first locator from the one its answer
	// followed on: the tail of a denser locator (denseLocator).
	var older []chain.Hash
	// fresh counts the leading headers of the run we hold (a peer may
	// answer from an older locator hash than the fork point's), and mark
	// is the run's MaxHeadersPerResponse-th header past them (lowRuns).
	fresh := 0
	var mark chain.Hash
	// dropped counts the headers of ours a restarted run let go: they
	// count towards maxHeaders all the same.
	dropped := 0
	asked := firstHeaders(s.chain.Tip().Height(), claimed.Height)
	for ; ; asked = protocol.MaxHeadersPerResponse {
		batch, err := retryLimited(ctx, func() ([]chain.Header, error) {
			return s.getHeaders(ctx, p, protocol.GetHeaders{Locator: loc, Max: asked})
		})
		if err != nil {
			return nil, nil, err
		}
		if len(batch) > 0 && run != nil && batch[0].PrevHash != run.Last() && len(hdrs) > 0 && fresh == len(hdrs) {
			// The run held only our own headers, and the answer to a
			// denser locator (or of a peer whose chain moved) follows a
			// hash of ours further on: the fork point is there, and the
			// run starts again from it.
			dropped += len(hdrs)
			run, hdrs, fresh = nil, hdrs[:0], 0
		}
		if run == nil && len(batch) > 0 {
			if run, err = s.chain.NewHeaderChain(batch[0].PrevHash); err != nil {
				return nil, nil, fmt.Errorf("fork point: %w", err)
			}
		}
		if run != nil {
			if err := run.Extend(batch); err != nil {
				return nil, nil, fmt.Errorf("headers: %w", err)
			}
		}
		from := len(hdrs)
		hdrs = append(hdrs, batch...)
		for i := from; i < len(hdrs); i++ {
			if h := hashOf(i); earlier[h] {
				// Not a light run to put p aside for every tip: an honest
				// peer's chain may have changed between answers.
				return nil, nil, fmt.Errorf("%w: its headers rejoin our main chain at %s, above the locator hash they began from", errNoProgress, h.Short())
			}
		}
		if len(batch) > 0 {
			at := max(0, slices.Index(loc, batch[0].PrevHash))
			for _, h := range loc[:at] {
				earlier[h] = true
			}
			if older == nil {
				older = loc[at:]
			}
		}
		if ahead.IsZero() && mark.IsZero() {
			for fresh < len(hdrs) && s.chain.Stored(hashOf(fresh)) {
				fresh++
			}
			if n := fresh + protocol.MaxHeadersPerResponse; n <= len(hdrs) {
				mark = hashOf(n - 1)
				if s.lowRuns.Contains(mark) {
					return nil, nil, fmt.Errorf("%w: its first %d headers past the fork point begin a run seen before", errLowWorkRun, protocol.MaxHeadersPerResponse)
				}
			}
		}
		tip := s.chain.Tip()
		switch {
		case run != nil && run.Work().Cmp(tip.Work) > 0:
			return run, hdrs, nil
		case len(batch) < asked:
			// The answer ended at p's tip, and p's branch does not beat
			// ours. Not a lie if we hold the tip p claimed: gossip brought
			// it while we asked, and it may still be committing (our
			// locator already names it, our tip not yet: §16.8), so the
			// tip's work alone cannot tell. Nor, once a commit under way
			// ends, if our tip then has the work p claimed (p moved to a
			// branch of ours since its status).
			held := s.chain.Validated(claimed.Tip)
			if !held && tip.Work.Cmp(claimed.Work) < 0 {
				tip = s.tipAfterCommit(ctx, tip)
			}
			if held && tip.Work.Cmp(claimed.Work) < 0 {
				// A block's work is fixed by its chain: if the one p
				// claimed is stored with less work than p said, the claim
				// was a lie (one being committed is not read yet, and is
				// given the benefit of the doubt).
				if hc, err := s.chain.NewHeaderChain(claimed.Tip); err == nil && hc.Work().Cmp(claimed.Work) < 0 {
					return nil, nil, fmt.Errorf("%w: claimed %s for block %s, which we hold with %s",
						errWorkLie, claimed.Work, claimed.Tip.Short(), hc.Work())
				}
			}
			if held || tip.Work.Cmp(claimed.Work) >= 0 {
				return nil, nil, nil
			}
			shown := tip.Work // no headers: p's tip is a block we hold
			if run != nil {
				shown = run.Work()
			}
			return nil, nil, fmt.Errorf("%w: claimed %s at height %d; its %d headers end with %s, our tip has %s",
				errWorkLie, claimed.Work, claimed.Height, len(hdrs), shown, tip.Work)
		case len(hdrs)+dropped >= s.maxHeaders:
			if !mark.IsZero() {
				s.lowRuns.Add(mark, struct{}{})
			}
			return nil, nil, fmt.Errorf("%w: %d headers without beating it", errLowWorkRun, len(hdrs)+dropped)
		}
		loc = withFirst(run.Last())
		if ahead.IsZero() && fresh == len(hdrs) {
			loc = s.denseLocator(run.Last(), hdrs[len(hdrs)-1].Height, older)
		}
	}
}

// firstHeaders is the max of the first GetHeaders of a search for a
// heavier branch (heavierHeaders: each round of a download begins with
// one), for a peer that claims height when our tip is at ours: the
// claim's heights above our tip and headerSlack, or
// MaxHeadersPerResponse if that is more or the claim is not above us (a
// heavier branch may be shorter). A claim that understates its height
// costs us requests, not headers.
func firstHeaders(ours, height uint64) int {
	if height <= ours || height-ours >= protocol.MaxHeadersPerResponse-headerSlack {
		return protocol.MaxHeadersPerResponse
	}
	return int(height-ours) + headerSlack
}

// denseLocator is the locator to send after an answer that held only our
// own headers, up to last at height: main-chain hashes from our tip down
// to MaxHeadersPerResponse above last, at most maxDense of them evenly
// spaced (at least MaxHeadersPerResponse apart) and the lowest exactly
// there, then last, then older. The peer answers from the highest it
// holds, so the fork point between last and the next
// hash of our usual locator (thousands of blocks apart far down the
// chain) is found in a few answers rather than 2,000 of our own headers
// at a time; and a peer replaying our own headers must answer after our
// tip, or pass a hash listed before the one it follows.
func (s *Syncer) denseLocator(last chain.Hash, height uint64, older []chain.Hash) []chain.Hash {
	const maxDense = protocol.MaxLocatorLen / 2
	tip := s.chain.Tip().Height()
	loc := make([]chain.Hash, 0, protocol.MaxLocatorLen)
	if tip > height {
		// The lowest is 2,000 above last whatever the spacing: a replay
		// answering from last then passes it in its next answer.
		lowest := height + protocol.MaxHeadersPerResponse
		step := max(uint64(protocol.MaxHeadersPerResponse), (tip-height+maxDense-1)/maxDense)
		for h := tip; h > lowest && len(loc) < maxDense-1; h -= min(step, h) {
			if hash, err := s.chain.MainHash(h); err == nil && hash != last {
				loc = append(loc, hash)
			}
		}
		if lowest <= tip {
			if hash, err := s.chain.MainHash(lowest); err == nil && hash != last {
				loc = append(loc, hash)
			}
		}
	}
	loc = append(loc, last)
	for _, h := range older {
		if len(loc) == protocol.MaxLocatorLen {
			break
		}
		if h != last && !slices.Contains(loc, h) {
			loc = append(loc, h)
		}
	}
	return loc
}

// tipAfterCommit returns the tip once a commit under way when it was
// tip has ended, waiting at most commitWait for the next tip change.
func (s *Syncer) tipAfterCommit(ctx context.Context, tip *chain.BlockMeta) *chain.BlockMeta {
	changed := s.chain.TipChanged()
	if now := s.chain.Tip(); now != tip {
		return now
	}
	t := time.NewTimer(commitWait)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
	}
	return s.chain.Tip()
}

// moreHeaders asks p, on a goroutine of its own, for the headers after
// run's last while the bodies before them download, and hands each
// answer that extends run to the download: without it the download
// drains at the end of every 2,000 headers, its window empty while the
// next headers come. It stops at the first answer shorter than asked (p's
// tip), once run has the work p claimed, or at any failure, which it
// leaves to the next heavierHeaders to judge: the headers it would have
// brought are asked again from the last one the download took. At most
// one answer waits for the download, so run grows by no more than that
// past what the download holds. done closes when the goroutine ended.
func (s *Syncer) moreHeaders(ctx context.Context, p peer.ID, claimed *protocol.Status, run *chain.HeaderChain) (more <-chan []chain.Header, done <-chan struct{}) {
	out, end := make(chan []chain.Header), make(chan struct{})
	go func() {
		defer close(end)
		defer close(out)
		base, err := s.chain.Locator()
		if err != nil {
			return
		}
		for run.Work().Cmp(claimed.Work) < 0 {
			loc := append([]chain.Hash{run.Last()}, base[:min(len(base), protocol.MaxLocatorLen-1)]...)
			batch, err := retryLimited(ctx, func() ([]chain.Header, error) {
				return s.getHeaders(ctx, p, protocol.GetHeaders{Locator: loc, Max: protocol.MaxHeadersPerResponse})
			})
			if err != nil || len(batch) == 0 {
				s.log.Debug("headers ahead of the download stopped", "peer", p, "reason", err)
				return
			}
			run.ForgetStored()
			if err := run.Extend(batch); err != nil {
				s.log.Debug("headers ahead of the download stopped", "peer", p, "reason", err)
				return
			}
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
			if len(batch) < protocol.MaxHeadersPerResponse {
				return
			}
		}
	}()
	return out, end
}
