package chain

import (
	"context"
	"runtime"
	"slices"
	"sync"
)

// CheckTxSanityContext is Chain.CheckTxSanity for a caller that can
// give up: the signature, if not in the cache, is verified in a batch
// with the checks concurrent with it, and if ctx ends first the error
// wraps ctx's (not a *RuleError: the transaction was not judged).
func (c *Chain) CheckTxSanityContext(ctx context.Context, tx *Transaction) error {
	return checkTxSanityContext(ctx, c.p, tx, c.sigs, nil)
}

// CheckTxSanityIDContext is CheckTxSanityContext for a caller that has
// tx's id (tx.ID(), computed by the caller from tx as it is), so the
// signature cache's key is not hashed again. The id is trusted: a wrong
// one that the cache holds skips tx's signature check, so it must never
// come from a peer or from anything but tx's own bytes.
func (c *Chain) CheckTxSanityIDContext(ctx context.Context, tx *Transaction, id Hash) error {
	return checkTxSanityContext(ctx, c.p, tx, c.sigs, &id)
}

// sigQueue gathers the signature checks of concurrent single admissions
// (the HTTP API's requests, the node's wallet; a gossiped batch verifies
// its own signatures together through CheckTxsSanity) so that those
// arriving together are verified as one batch, at less CPU than checking
// them one by one (BenchmarkVerifyBatch, batch-us/sig against the
// chain's single check, zip215-us/sig: about even at 4 – 5, 1.1× less at
// 6, 1.2× at 8, 1.6× at 64). Prysm gathers its gossip signature checks the same way.
//
// Nothing waits for a timer. A caller that finds no worker verifying
// becomes the worker itself: it yields the processor once, takes what
// is queued then (its own check at least), verifies it as one batch, and
// repeats until its own verdict is in. So a lone check is verified at once, on its caller's goroutine,
// and checks that arrive while a batch is being verified wait for the
// next one, which takes them all. Another caller becomes a worker too,
// up to GOMAXPROCS, only when more than gatherMin checks per worker are
// waiting.
// A worker whose own verdict is in hands what is still queued to a new
// goroutine rather than serving others' checks before returning.
//
// The queue is bounded (slots): a caller waits for room, or for its
// context. A caller whose context ends while its check is queued takes
// the check out and returns the context's error; a check already taken
// is verified, and its verdict kept in the cache, for nobody.
type sigQueue struct {
	c *SigCache
	// slots holds one token per queued check: its capacity is the bound.
	slots      chan struct{}
	maxWorkers int
	// verify sets the verdicts of one batch of a network: c.verifyChunk;
	// tests replace it to hold a worker.
	verify func(p *Params, jobs []sigJob)

	mu      sync.Mutex
	waits   []*sigWait // queued, oldest first
	workers int        // goroutines verifying now
}

// sigWait is one queued check. ok is its verdict, set before done is
// closed; taken is set, under sigQueue.mu, when a worker takes it.
type sigWait struct {
	p     *Params
	job   sigJob
	done  chan struct{}
	taken bool
}

// gatherMin is the checks waiting per worker past which another caller
// becomes a worker. One: a core left idle while checks wait costs more
// than batching saves. At 16, eight HTTP connections kept the second
// core a fifth idle and took 8,194–9,649 requests a second against
// 9,245–11,441 at 1, alternating on a quiet machine (docs/benchmarks.md,
// "The second verifying worker"); batches still gather, 2.1 signatures a
// call against 2.4.
const gatherMin = 1

// sigQueueMax bounds the checks waiting at once: 16 batches, so the
// workers always have a full batch to take when admissions are many,
// and memory stays a few hundred KiB.
const sigQueueMax = 16 * batchMax

func newSigQueue(c *SigCache, max int) *sigQueue {
	return &sigQueue{c: c, slots: make(chan struct{}, max), maxWorkers: runtime.GOMAXPROCS(0), verify: c.verifyChunk}
}

// check returns whether tx's signature verifies on network p (id is
// tx's id, for the cache), verified in a batch with whatever other
// checks are queued with it. The error is ctx's, when it ended first.
func (q *sigQueue) check(ctx context.Context, p *Params, tx *Transaction, id Hash) (bool, error) {
	select {
	case q.slots <- struct{}{}:
	default:
		q.c.full.Add(1)
		select {
		case q.slots <- struct{}{}:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	w := &sigWait{p: p, job: sigJob{tx: tx, id: id}, done: make(chan struct{})}
	q.mu.Lock()
	q.waits = append(q.waits, w)
	lead := q.workers == 0 || q.workers < q.maxWorkers && len(q.waits) > q.workers*gatherMin
	if lead {
		q.workers++
	}
	q.mu.Unlock()
	if lead {
		if err := q.lead(ctx, w); err != nil {
			return false, err
		}
	}
	select {
	case <-w.done:
		return w.job.ok, nil
	case <-ctx.Done():
		q.mu.Lock()
		q.remove(w)
		q.mu.Unlock()
		return false, ctx.Err()
	}
}

// lead runs batches as a worker until own's verdict is in or ctx ends,
// then stops being one. It returns ctx's error if ctx ended first and
// own was not taken; otherwise own's verdict is in or on its way.
func (q *sigQueue) lead(ctx context.Context, own *sigWait) error {
	for {
		// Admissions already runnable reach the queue before the batch
		// is taken (about three checks a batch at eight concurrent
		// requests, against 1.1 without); with nothing else runnable
		// this returns at once, so a lone check still waits for nothing.
		runtime.Gosched()
		q.mu.Lock()
		if own.taken {
			// Taken by another worker: its verdict is on its way.
			q.leave()
			q.mu.Unlock()
			return nil
		}
		if err := ctx.Err(); err != nil {
			q.remove(own)
			q.leave()
			q.mu.Unlock()
			return err
		}
		batch := q.take()
		q.mu.Unlock()
		q.run(batch)
		if slices.Contains(batch, own) {
			q.mu.Lock()
			q.leave()
			q.mu.Unlock()
			return nil
		}
	}
}

// drain runs batches as a worker until the queue is empty.
func (q *sigQueue) drain() {
	for {
		q.mu.Lock()
		batch := q.take()
		if len(batch) == 0 {
			q.workers--
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.run(batch)
	}
}

// leave ends a caller's turn as a worker: what is still queued goes to
// a goroutine that keeps the worker's place. q.mu is held.
func (q *sigQueue) leave() {
	if len(q.waits) == 0 {
		q.workers--
		return
	}
	go q.drain()
}

// remove takes w out of the queue if no worker took it. q.mu is held.
func (q *sigQueue) remove(w *sigWait) {
	if w.taken {
		return
	}
	if i := slices.Index(q.waits, w); i >= 0 {
		q.waits = slices.Delete(q.waits, i, i+1)
		w.taken = true
		<-q.slots
	}
}

// take removes the next batch from the queue: up to batchMax checks,
// oldest first, of the network of the first. q.mu is held.
func (q *sigQueue) take() []*sigWait {
	n := 0
	for n < len(q.waits) && n < batchMax && q.waits[n].p.id == q.waits[0].p.id {
		n++
	}
	batch := slices.Clone(q.waits[:n])
	q.waits = slices.Delete(q.waits, 0, n)
	for _, w := range batch {
		w.taken = true
		<-q.slots
	}
	return batch
}

// run verifies a batch, keeps what verified in the cache and hands each
// check its verdict.
func (q *sigQueue) run(batch []*sigWait) {
	if len(batch) == 0 {
		return
	}
	jobs := make([]sigJob, len(batch))
	for i, w := range batch {
		jobs[i] = w.job
	}
	q.verify(batch[0].p, jobs)
	q.c.countChunk(len(jobs))
	q.c.keep(jobs)
	for i, w := range batch {
		w.job.ok = jobs[i].ok
		close(w.done)
	}
}
