package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gossipchain/gossipchain/chain"
)

// The body download (protocol.md §17.10, rule 10): the headers of a
// heavier branch give the hashes; their bodies come in batches from every
// peer that may have them at once, one request in flight per peer, and
// go through three stages that overlap: fetched, checked on every core
// (signatures through the cache, no lock), connected in order. So the
// next batches arrive and are verified while the chain commits the one
// before them.

// fetchPeers are the peers one download fetches bodies from: the leader,
// whose headers proved the branch, and helpers that claimed more work
// than our tip when it started. A peer whose request fails, or that
// answers short (it lacks the blocks), leaves for the rest of the
// download; its batch goes to another.
type fetchPeers struct {
	leader peer.ID
	live   []peer.ID // the leader first while it stays
	// leaderErr is why the leader left: what the download reports if
	// nobody is left to fetch from.
	leaderErr error
	// join brings peers the loop heard claim more work than our tip
	// after the download started; joined holds every peer that was in
	// it, so one that left does not come back.
	join   <-chan peer.ID
	joined map[peer.ID]bool
	// stalled holds the peers that left because a request of theirs
	// failed without a fault (deadline, reset) or was overtaken (rule
	// 7): the syncer cools them down when the download ends, unless they
	// hung up, so the next download does not hand them a batch at once.
	// A peer that answered short without an error only lacks the blocks
	// (another branch) and is not among them.
	stalled []stall
}

// stall is a peer that left a download without a fault, and the error
// its last request ended with (nil if it ended well, but was overtaken):
// the syncer judges by it whether the peer hung up (hungUpOn).
type stall struct {
	p   peer.ID
	err error
}

func newFetchPeers(leader peer.ID, helpers []peer.ID, join <-chan peer.ID) *fetchPeers {
	fp := &fetchPeers{leader: leader, join: join, joined: make(map[peer.ID]bool)}
	fp.add(leader)
	for _, p := range helpers {
		fp.add(p)
	}
	return fp
}

// add lets p help, unless it was in this download before or the
// download has maxFetchPeers.
func (fp *fetchPeers) add(p peer.ID) {
	if fp.joined[p] || len(fp.live) >= maxFetchPeers {
		return
	}
	fp.joined[p] = true
	fp.live = append(fp.live, p)
}

// drop takes p out of the download.
func (fp *fetchPeers) drop(p peer.ID, err error) {
	for i, q := range fp.live {
		if q == p {
			fp.live = append(fp.live[:i], fp.live[i+1:]...)
			break
		}
	}
	if p == fp.leader && fp.leaderErr == nil {
		fp.leaderErr = err
	}
}

// stallOut takes p out of the download for a request that failed
// without a fault or was overtaken (why), reqErr the request's own error
// (nil if it ended well): the syncer cools p down when the download ends
// unless p hung up, judged by the connection reqErr names, if any
// (hungUpOn). A leader is judged by the error it leaves the download
// (leaderErr), which names that connection too.
func (fp *fetchPeers) stallOut(p peer.ID, why, reqErr error) {
	if _, named := errors.AsType[*connError](why); !named {
		if ce, ok := errors.AsType[*connError](reqErr); ok {
			why = &connError{conn: ce.conn, err: why}
		}
	}
	fp.drop(p, why)
	fp.stalled = append(fp.stalled, stall{p, reqErr})
}

// errStalled: a peer's request was still under way when another peer,
// asked for the same batch because the window could not move without
// it, had delivered the whole batch.
var errStalled = fmt.Errorf("%w: held a batch the window waited for, which another peer delivered first", errNoProgress)

// errHelperBlock ends a download at a block a helper sent whose body
// does not match its header (the merkle root): the helper is punished,
// and the leader, whose header was right, is not; it keeps its claim and
// syncs again. A block that matches its header and fails the rules all
// the same is the leader's fault too: its headers named it.
var errHelperBlock = errors.New("a block from a helper does not match its header")

// bodyBatch is one request's worth of a download.
type bodyBatch struct {
	hashes []chain.Hash
	blocks []*chain.Block // delivered so far, in order
	from   []peer.ID      // who delivered each
	bytes  int            // the encoded size of blocks
	// holders are the peers with a request for the rest in flight: one,
	// or two once the batch is asked again (rule 7).
	holders []peer.ID
	asked   time.Time // when the request of its one holder began
	checked *chain.CheckedBlocks
	failed  bool // a block of checked failed its checks
}

func (b *bodyBatch) busy() bool { return len(b.holders) > 0 }

func (b *bodyBatch) release(p peer.ID) {
	if i := slices.Index(b.holders, p); i >= 0 {
		b.holders = slices.Delete(b.holders, i, i+1)
	}
}

func (b *bodyBatch) complete() bool { return len(b.blocks) == len(b.hashes) }

type fetchResult struct {
	p      peer.ID
	i      int
	off    int // the batch's first hash asked for
	blocks []*chain.Block
	err    error
}

type checkResult struct {
	i  int
	cb *chain.CheckedBlocks
}

type connectResult struct {
	n   int
	err error
}

// fetchBodies downloads the blocks of hdrs, and of the headers that
// come on more (until it closes; nil for none), that we do not store
// from the peers of fp and hands them to the chain in order. It returns
// how many blocks connected and the hash of the last header it took, and
// an error if a block failed or nobody was left to fetch from (the
// leader's error then, if it left with one).
func (s *Syncer) fetchBodies(ctx context.Context, fp *fetchPeers, hdrs []chain.Header, more <-chan []chain.Header) (int, chain.Hash, error) {
	var batches []*bodyBatch
	var last chain.Hash
	// cut is the download's failure once a batch nobody would complete
	// was cut to what came (rule 6 of protocol.md 17.10.1).
	var cut error
	take := func(hdrs []chain.Header) {
		var want []chain.Hash
		for i := range hdrs {
			h := hdrs[i].Hash()
			last = h
			if s.chain.Stored(h) {
				continue
			}
			want = append(want, h)
			if len(want) == blocksPerRequest {
				batches = append(batches, &bodyBatch{hashes: want})
				want = nil
			}
		}
		if len(want) > 0 {
			batches = append(batches, &bodyBatch{hashes: want})
		}
	}
	take(hdrs)
	if len(batches) == 0 && more == nil {
		return 0, last, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: a request resets its stream, a check ends by itself
	defer cancel()
	// Buffered for every sender, so none blocks once we return: at most
	// one request per peer, one check per batch of the window.
	results := make(chan fetchResult, maxFetchPeers)
	checks := make(chan checkResult, maxBatchesAhead)
	conns := make(chan connectResult, 1)

	held := 0 // bytes delivered and not connected yet
	// inflight holds each request's cancel. A request whose batch
	// another peer completed is cancelled: overtaken holds the peers
	// whose own request was so (they leave the download), overtook
	// is true for a peer asked for a batch someone else held (rule 7),
	// false once that request was cancelled (it stays in the download).
	inflight := make(map[peer.ID]context.CancelFunc)
	overtaken := make(map[peer.ID]bool)
	overtook := make(map[peer.ID]bool)
	stallTick := time.NewTicker(stallGrace / 4)
	defer stallTick.Stop()
	checking := 0
	connecting := 0         // batches from next in the commit under way
	next, connected := 0, 0 // the first batch not connected yet
	for {
		// Give every idle peer the first batch of the window nobody
		// fetches.
		for _, q := range fp.live {
			if inflight[q] != nil {
				continue
			}
			i := s.nextBatch(batches, next, held)
			if i < 0 {
				// Nothing left to fetch in the window: ask for the
				// batch it waits on again if another peer holds it.
				if i = stalledBatch(batches, next, time.Now()); i < 0 {
					continue
				}
				overtook[q] = true
			}
			b := batches[i]
			off := len(b.blocks)
			hashes := b.hashes[off:]
			rctx, rcancel := context.WithCancel(ctx)
			if len(b.holders) == 0 {
				b.asked = time.Now()
			}
			b.holders, inflight[q] = append(b.holders, q), rcancel
			wg.Go(func() {
				defer rcancel()
				blocks, err := retryLimited(rctx, func() ([]*chain.Block, error) { return s.getBlocks(rctx, q, hashes) })
				results <- fetchResult{p: q, i: i, off: off, blocks: blocks, err: err}
			})
		}
		if connecting == 0 {
			if n := s.commitNow(batches, next, held); n > 0 {
				ready := make([]*chain.CheckedBlocks, n)
				for i := range ready {
					ready[i] = batches[next+i].checked
				}
				connecting = n
				cb := chain.JoinChecked(ready...)
				wg.Go(func() {
					n, err := s.chain.ProcessCheckedBlocks(ctx, cb)
					conns <- connectResult{n: n, err: err}
				})
			}
		}
		if next == len(batches) && (more == nil || cut != nil) {
			// A batch cut short (below) connected what came, and the
			// download fails as rule 6 says: a success would have the
			// caller continue from a last header never stored, and judge
			// the leader's claim against it.
			return connected, last, cut
		}
		if len(fp.live) == 0 && len(inflight) == 0 && checking == 0 && connecting == 0 {
			if next == len(batches) {
				return connected, last, nil // the headers still to come are the next download's
			}
			if b := batches[next]; b.checked == nil && len(b.blocks) > 0 {
				// Nobody will bring the rest: what came connects, and
				// the download fails after it.
				cut = fp.leaderErr
				if cut == nil {
					cut = fmt.Errorf("%w: every peer left with %d of %d batches to fetch, one of them in part",
						errNoProgress, len(batches)-next, len(batches))
				}
				b.hashes = b.hashes[:len(b.blocks)]
				checking++
				wg.Go(func() { checks <- checkResult{i: next, cb: s.chain.CheckBlocks(b.blocks)} })
				continue
			}
			if fp.leaderErr != nil {
				return connected, last, fp.leaderErr
			}
			return connected, last, fmt.Errorf("%w: every peer left with %d of %d batches to fetch", errNoProgress, len(batches)-next, len(batches))
		}
		// The next headers are taken only once the batches left fit in
		// the window: the download, and the run behind it, hold a
		// window and one answer of headers ahead, however long the
		// chain.
		moreNow := more
		if len(batches)-next > maxBatchesAhead {
			moreNow = nil
		}
		select {
		case <-ctx.Done():
			return connected, last, ctx.Err()
		case <-stallTick.C:
			// Nothing came: look again for a batch stalled past its
			// grace (rule 7).
		case q := <-fp.join:
			fp.add(q)
		case hs, ok := <-moreNow:
			if !ok {
				more = nil
				continue
			}
			take(hs)
		case r := <-results:
			delete(inflight, r.p)
			b := batches[r.i]
			b.release(r.p)
			second, wasSecond := overtook[r.p]
			delete(overtook, r.p)
			if wasSecond && !second {
				continue // asked again, beaten by the peer it was to overtake
			}
			if overtaken[r.p] {
				delete(overtaken, r.p)
				s.log.Debug("sync peer left the download", "peer", r.p, "leader", r.p == fp.leader, "reason", errStalled)
				fp.stallOut(r.p, errStalled, r.err)
				continue
			}
			asked := len(b.hashes) - r.off
			// Two requests for one batch may have started at different
			// blocks: keep what extends the batch.
			if skip := len(b.blocks) - r.off; skip >= 0 && skip < len(r.blocks) {
				for _, blk := range r.blocks[skip:] {
					b.blocks = append(b.blocks, blk)
					b.from = append(b.from, r.p)
					b.bytes += blk.EncodedSize()
					held += blk.EncodedSize()
				}
			}
			if b.complete() {
				checking++
				blocks, i := b.blocks, r.i
				wg.Go(func() { checks <- checkResult{i: i, cb: s.chain.CheckBlocks(blocks)} })
				for _, q := range b.holders {
					if overtook[q] {
						overtook[q] = false
					} else {
						overtaken[q] = true
					}
					inflight[q]()
				}
			}
			s.fetchFailed(fp, r, len(r.blocks) < asked)
		case c := <-checks:
			checking--
			batches[c.i].checked, batches[c.i].failed = c.cb, c.cb.Failed()
		case c := <-conns:
			connected += c.n
			if c.err != nil {
				// Find who sent the block that failed.
				k := c.n
				for _, b := range batches[next : next+connecting] {
					if k < len(b.from) {
						if from := b.from[k]; isFault(c.err) && from != fp.leader {
							s.punish(from, c.err) // it sent the block
							if !chain.BodyCommitted(c.err) {
								// Not wrapped: the body does not match the
								// leader's header (an empty one fails
								// before its merkle root is compared), so
								// the fault is the helper's alone.
								return connected, last, fmt.Errorf("block %d of the commit, from %s: %w: %v", c.n, from, errHelperBlock, c.err)
							}
						}
						break
					}
					k -= len(b.from)
				}
				return connected, last, fmt.Errorf("block %d of the commit: %w", c.n, c.err)
			}
			for _, b := range batches[next : next+connecting] {
				held -= b.bytes
				b.blocks, b.checked, b.bytes = nil, nil, 0 // connected: let them go
			}
			next += connecting
			connecting = 0
		}
	}
}

// commitNow returns how many checked batches from next go into a commit
// now, or 0 to wait. Every checked batch from next on goes into one
// commit: the store's fsync, not the CPU, sets how many commits a second
// there can be, so a slow commit makes the next one larger instead of
// the download slower. And a commit waits for minCommitBatches (or
// minCommitBytes) while the batch after the checked ones is on its way:
// each commit's fdatasyncs keep a core's share of the process (its P)
// in the system call until the runtime takes it back, milliseconds in
// which the checks of later batches wait for the other core, and the
// commit's fixed pages and syncs are paid once for more blocks. It does
// not wait for a batch nobody fetches (every peer left, or the bytes
// bound holds it back), nor past a window with no room for another
// request, so it never holds the download up; nor past a batch with a
// block that failed its checks, at which the commit and the download
// stop: its sender is judged at once, not after more batches' checks.
func (s *Syncer) commitNow(batches []*bodyBatch, next, held int) int {
	n, bytes := 0, 0
	for i := next; i < len(batches) && batches[i].checked != nil; i++ {
		n++
		bytes += batches[i].bytes
		if batches[i].failed {
			return n
		}
	}
	if n == 0 || n >= minCommitBatches || bytes >= minCommitBytes || next+n == len(batches) {
		return n
	}
	switch b := batches[next+n]; {
	case b.complete():
		return 0 // being checked
	case b.busy() && s.nextBatch(batches, next, held) >= 0:
		return 0 // being fetched, and the window has room for more
	}
	return n
}

// nextBatch returns the first batch of the window from next that is
// neither fetched nor being fetched, or -1. Past maxBytesAhead of
// blocks held only the batch connected next may still be fetched: the
// download cannot go on without it.
func (s *Syncer) nextBatch(batches []*bodyBatch, next, held int) int {
	for i := next; i < min(len(batches), next+maxBatchesAhead); i++ {
		if i > next && held >= maxBytesAhead {
			return -1
		}
		if b := batches[i]; !b.busy() && !b.complete() {
			return i
		}
	}
	return -1
}

// stalledBatch returns next, the batch the window waits on, if one
// peer alone has been fetching it for stallGrace or longer, or -1: with
// nothing else to fetch in the window (or the bytes held at their bound),
// an idle peer is asked for it too. Only that batch, and only after the
// grace: a request that began a moment ago is not a stall, and asking
// a later batch twice would not move the window.
func stalledBatch(batches []*bodyBatch, next int, now time.Time) int {
	if next >= len(batches) {
		return -1
	}
	if b := batches[next]; len(b.holders) == 1 && !b.complete() && now.Sub(b.asked) >= stallGrace {
		return next
	}
	return -1
}

// fetchFailed takes a peer whose request failed, or came short, out of
// the download: a fault costs it its ban, a failure without one (a
// deadline, a reset, a rate limit past its retries) its place in this
// download and a cool-down (stallOut), however many blocks came before
// it; a short answer without an error (it lacks the blocks: another
// branch) only its place.
func (s *Syncer) fetchFailed(fp *fetchPeers, r fetchResult, short bool) {
	err := r.err
	switch {
	case err == nil && !short:
		return
	case err == nil:
		err = fmt.Errorf("%w: answered %d blocks, fewer than asked", errNoProgress, len(r.blocks))
		s.log.Debug("sync peer left the download", "peer", r.p, "leader", r.p == fp.leader, "reason", err)
		fp.drop(r.p, err)
	case errors.Is(err, context.Canceled):
		// The download ends anyway.
	case isFault(err):
		// The leader too, at once: helpers may finish the download, and
		// a download that ends well punishes nobody.
		s.punish(r.p, err)
		fp.drop(r.p, err)
	default:
		s.log.Debug("sync peer left the download", "peer", r.p, "leader", r.p == fp.leader, "reason", err)
		fp.stallOut(r.p, err, err)
	}
}
