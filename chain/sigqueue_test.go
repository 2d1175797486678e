package chain

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// queueTx returns a transfer signed by a key of its own, valid unless
// forged, in which case one byte of its signature is flipped.
func queueTx(p *Params, i int, forged bool) *Transaction {
	seed := sha256.Sum256(fmt.Appendf(nil, "sigqueue %d", i))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := key.Public().(ed25519.PublicKey)
	tx := &Transaction{Version: TxVersion, Sender: AddressFromPublicKey(pub), Recipient: AddressFromPublicKey(pub),
		Amount: 1, Fee: 1, Nonce: uint64(i), PublicKey: pub}
	tx.Signature = ed25519.Sign(key, tx.SigningBytes(p.id))
	if forged {
		tx.Signature[5] ^= 1
	}
	return tx
}

// heldQueue is a cache whose queue's worker stops in every batch until
// released, reporting the batch's size first.
type heldQueue struct {
	c       *SigCache
	sizes   chan int
	release chan struct{}
}

func newHeldQueue(max, workers int) *heldQueue {
	h := &heldQueue{c: NewSigCache(1000), sizes: make(chan int, 100), release: make(chan struct{})}
	h.c.q = newSigQueue(h.c, max)
	h.c.q.maxWorkers = workers
	h.c.q.verify = func(p *Params, jobs []sigJob) {
		h.sizes <- len(jobs)
		<-h.release
		(*SigCache)(nil).verifyChunk(p, jobs)
	}
	return h
}

// queued is the number of checks waiting for a worker.
func (h *heldQueue) queued() int {
	h.c.q.mu.Lock()
	defer h.c.q.mu.Unlock()
	return len(h.c.q.waits)
}

// start runs the check of tx in a goroutine; its result arrives on the
// channel returned.
func (h *heldQueue) start(ctx context.Context, p *Params, tx *Transaction) <-chan error {
	out := make(chan error, 1)
	go func() { out <- checkTxSanityContext(ctx, p, tx, h.c, nil) }()
	return out
}

// TestSigQueueLone: a check with nobody else verifying is verified at
// once, alone, by its caller: no timer, no hand-over to a goroutine that
// would have to be scheduled first.
func TestSigQueueLone(t *testing.T) {
	p := RegTest()
	c := NewSigCache(10)
	var onCaller bool
	c.q.verify = func(p *Params, jobs []sigJob) {
		onCaller = strings.Contains(string(debug.Stack()), "chain.checkTxSanityContext(")
		(*SigCache)(nil).verifyChunk(p, jobs)
	}
	for i, forged := range []bool{false, true} {
		onCaller = false
		err := checkTxSanity(p, queueTx(p, i, forged), c, nil)
		if forged != errors.Is(err, ErrBadSignature) || !forged && err != nil {
			t.Fatalf("forged %v: %v", forged, err)
		}
		if !onCaller {
			t.Fatalf("forged %v: verified on another goroutine than the caller's", forged)
		}
	}
	if s := c.Stats(); s.Verifies != 2 || s.Batches != 0 {
		t.Fatalf("stats %+v, want 2 verifies and no batch", s)
	}
}

// TestSigQueueGathers: checks that arrive while a batch is being verified
// are verified together in the next batch, and each gets its own verdict
// (a forged one among them fails the batch, and only itself).
func TestSigQueueGathers(t *testing.T) {
	p := RegTest()
	h := newHeldQueue(sigQueueMax, 1)
	first := h.start(context.Background(), p, queueTx(p, 0, false))
	if n := <-h.sizes; n != 1 {
		t.Fatalf("first batch of %d, want 1", n)
	}
	const n = 6
	var results []<-chan error
	for i := 1; i <= n; i++ {
		results = append(results, h.start(context.Background(), p, queueTx(p, i, i == 3)))
	}
	testutil.Eventually(t, 10*time.Second, "the checks queued", func() bool { return h.queued() == n })
	close(h.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := <-h.sizes; got != n {
		t.Fatalf("second batch of %d, want all %d queued", got, n)
	}
	for i, r := range results {
		err := <-r
		if forged := i+1 == 3; forged != errors.Is(err, ErrBadSignature) || !forged && err != nil {
			t.Errorf("check %d: %v", i+1, err)
		}
	}
	if s := h.c.Stats(); s.Verifies != n+1 || s.Batches != 1 || s.Batched != n {
		t.Fatalf("stats %+v, want %d verifies in one batch and one alone", s, n+1)
	}
}

// TestSigQueueBound: the queue holds at most its bound; a check that
// finds it full waits for room or for its context, and a queued check
// whose context ends leaves the queue unverified.
func TestSigQueueBound(t *testing.T) {
	p := RegTest()
	h := newHeldQueue(2, 1)
	lead := h.start(context.Background(), p, queueTx(p, 0, false))
	<-h.sizes // the worker holds the first check; the queue is empty
	ctx, cancel := context.WithCancel(context.Background())
	queued := h.start(ctx, p, queueTx(p, 1, false))
	kept := h.start(context.Background(), p, queueTx(p, 2, false))
	testutil.Eventually(t, 10*time.Second, "two checks queued", func() bool { return h.queued() == 2 })

	// Full: a check waits for room; one whose context has ended is
	// refused at once (with room it would have been queued first).
	after := h.start(context.Background(), p, queueTx(p, 3, false))
	testutil.Eventually(t, 10*time.Second, "a check waiting for room", func() bool { return h.c.Stats().QueueFull == 1 })
	if n := h.queued(); n != 2 {
		t.Fatalf("%d queued, want the bound, 2", n)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := checkTxSanityContext(done, p, queueTx(p, 4, false), h.c, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("check on a full queue with an ended context: %v", err)
	}
	// A queued check whose context ends leaves, unverified, and makes
	// room for the waiting one.
	var re *RuleError
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) || errors.As(err, &re) {
		t.Fatalf("queued check whose context ended: %v, want context.Canceled and no rule error", err)
	}
	testutil.Eventually(t, 10*time.Second, "the waiting check in the freed slot", func() bool {
		h.c.q.mu.Lock()
		defer h.c.q.mu.Unlock()
		return len(h.c.q.waits) == 2 && h.c.q.waits[1].job.tx.Nonce == 3
	})
	close(h.release)
	for _, r := range []<-chan error{lead, kept, after} {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if s := h.c.Stats(); s.Verifies != 3 {
		t.Fatalf("stats %+v: want 3 verifies, the cancelled check not among them", s)
	}
}

// TestSigQueueSecondWorker: a second worker starts when more than
// gatherMin checks wait for the first, and not before.
func TestSigQueueSecondWorker(t *testing.T) {
	p := RegTest()
	h := newHeldQueue(sigQueueMax, 2)
	var results []<-chan error
	results = append(results, h.start(context.Background(), p, queueTx(p, 0, false)))
	<-h.sizes
	for i := 1; i <= gatherMin; i++ {
		results = append(results, h.start(context.Background(), p, queueTx(p, i, false)))
	}
	testutil.Eventually(t, 10*time.Second, "gatherMin checks queued", func() bool { return h.queued() == gatherMin })
	select {
	case n := <-h.sizes:
		t.Fatalf("a second worker took %d checks with only gatherMin waiting", n)
	default:
	}
	results = append(results, h.start(context.Background(), p, queueTx(p, gatherMin+1, false)))
	select {
	case n := <-h.sizes:
		if n != gatherMin+1 {
			t.Fatalf("the second worker took %d, want all %d waiting", n, gatherMin+1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no second worker with more than a batch waiting")
	}
	close(h.release)
	for _, r := range results {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSigQueueConcurrent runs many checks at once, valid and forged, for
// the race detector, each against its own verdict, and then the cache:
// every valid one a hit, each verified once.
func TestSigQueueConcurrent(t *testing.T) {
	p := RegTest()
	c := NewSigCache(1000)
	const n = 300
	txs := make([]*Transaction, n)
	for i := range txs {
		txs[i] = queueTx(p, i, i%7 == 0)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, tx := range txs {
		wg.Go(func() { errs[i] = checkTxSanityContext(context.Background(), p, tx, c, nil) })
	}
	wg.Wait()
	forged := 0
	for i, err := range errs {
		if i%7 == 0 {
			forged++
		}
		if bad := i%7 == 0; bad != errors.Is(err, ErrBadSignature) || !bad && err != nil {
			t.Errorf("check %d: %v", i, err)
		}
	}
	for i, tx := range txs {
		if i%7 != 0 && !c.cached(tx.ID()) {
			t.Errorf("check %d verified but not kept", i)
		}
	}
	if s := c.Stats(); s.Verifies != n || s.Hits != n-uint64(forged) {
		t.Fatalf("stats %+v, want %d verifies and %d hits", s, n, n-forged)
	}
}
