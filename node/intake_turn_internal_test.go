package node

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// waitingOnLock counts the goroutines blocked on a mutex (or a
// read-write one), or on a block's release of intake (a channel), whose
// stack holds frame.
func waitingOnLock(frame string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		waiting := bytes.Contains(g, []byte("sync.(*Mutex).Lock")) || bytes.Contains(g, []byte("sync.(*RWMutex).")) ||
			bytes.Contains(g, []byte("[chan receive"))
		if waiting && bytes.Contains(g, []byte(frame)) {
			count++
		}
	}
	return count
}

// TestBlockWaitsBehindOneAdmission: with many admissions queued on
// intake while a block is being connected (mu held here), the next block
// gets intake after at most one of them, not after all: admissions take
// their turn (txTurn) before mu and none takes mu while a block waits
// for it.
func TestBlockWaitsBehindOneAdmission(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	in, p := n.intake, n.chain.Params()
	ctx := context.Background()
	const admissions = 64
	txs := make([]*chain.Transaction, admissions)
	to := testwallet.New("bob").Addr
	for i := range txs {
		// Unfunded senders: each signature verifies before intake, and
		// each is refused under mu, which is all this test needs of them.
		txs[i] = testwallet.New("sender "+string(rune('a'+i))).Tx(p, to, 1, n.mempool.MinFee(300), 0)
	}

	// before counts the admissions that were through before the block
	// connected: under mu, before the block lets go of it, its coinbase
	// pays the miner, as the chain's Account reads it from then on (the
	// tip moves only with the commit, after mu is released).
	var before atomic.Int64
	var wg sync.WaitGroup
	in.mu.Lock() // a block being connected
	for _, tx := range txs {
		wg.Go(func() {
			if err := in.admit(ctx, tx, OriginAPI, time.Time{}); err == nil {
				t.Errorf("unfunded transfer %s admitted", tx.ID().Short())
			}
			if acct, err := n.chain.Account(n.miner.address); err == nil && acct.Balance == 0 {
				before.Add(1)
			}
		})
	}
	testutil.Eventually(t, 10*time.Second, "every admission waiting on intake", func() bool {
		return waitingOnLock("node.(*intake).admit(") == admissions
	})
	wg.Go(func() {
		if _, err := n.miner.mineOne(ctx); err != nil {
			t.Errorf("mine: %v", err)
		}
	})
	testutil.Eventually(t, 10*time.Second, "the block waiting on intake", func() bool {
		return waitingOnLock("node.(*intake).processCheckedLocked(") == 1
	})
	in.mu.Unlock()
	wg.Wait()
	// mu wakes its waiters in order of arrival, so the block comes after
	// every admission that waits on mu: all of them without the turn,
	// the one holding it with.
	t.Logf("%d of %d queued admissions before the block", before.Load(), admissions)
	if got := before.Load(); got > 1 {
		t.Fatalf("the block connected after %d of %d queued admissions, want at most the one waiting on mu", got, admissions)
	}
	if h := n.chain.Tip().Height(); h != 1 {
		t.Fatalf("tip at height %d, want the block at 1", h)
	}
}

// TestBatchAfterBlockAtIntake: a gossiped batch that spends a block's
// coinbase arrives while that block waits for intake (another block
// being connected holds it). It is not judged on the ledger before the
// block (its funds are checked before its signatures only when no block
// is at intake: Mempool.Hopeless), and its admissions wait for the
// block, so they are judged on the new tip: the first is admitted and
// the others conflict with it, none unfunded.
func TestBatchAfterBlockAtIntake(t *testing.T) {
	alice := testwallet.New("alice")
	n := newMiningNode(t, alice.Addr)
	in, p := n.intake, n.chain.Params()
	const size = 32
	txs := make([]*chain.Transaction, size)
	to := testwallet.New("bob").Addr
	for i := range txs {
		// One nonce, so that after the block the first is admitted and
		// the others conflict with it: either way not unfunded.
		txs[i] = alice.Tx(p, to, uint64(1+i), n.mempool.MinFee(300), 0)
	}

	var errs []error
	var wg sync.WaitGroup
	in.mu.Lock() // the block before, being connected
	held := true
	t.Cleanup(func() { // a failure below must not leave Close waiting for mu
		if held {
			in.mu.Unlock()
			wg.Wait() // before Close: what it releases runs on the node
		}
	})
	wg.Go(func() {
		if _, err := n.miner.mineOne(context.Background()); err != nil {
			t.Errorf("mine: %v", err)
		}
	})
	testutil.Eventually(t, 10*time.Second, "the block waiting on intake", func() bool {
		return waitingOnLock("node.(*intake).processCheckedLocked(") == 1
	})
	wg.Go(func() { errs = in.addTxs(txs, chain.TxIDs(txs), OriginGossip) })
	testutil.Eventually(t, 10*time.Second, "the batch waiting on intake", func() bool {
		return waitingOnLock("node.(*intake).addTxs(") == 1
	})
	held = false
	in.mu.Unlock()
	wg.Wait()
	unfunded := 0
	for _, err := range errs {
		if chain.CodeOf(err) == chain.ErrInsufficientFunds {
			unfunded++
		}
	}
	if unfunded > 0 {
		t.Fatalf("%d of the batch's %d transfers judged unfunded, as before the block: %v", unfunded, size, errs)
	}
	if !n.mempool.Has(txs[0].ID()) {
		t.Fatalf("the first transfer was not admitted after the block: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if chain.CodeOf(err) != chain.ErrBadNonce {
			t.Errorf("transfer %d: %v, want a conflict with the first (ErrBadNonce)", i+1, err)
		}
	}
}

// TestAdmissionNotStarvedByBlocks: blocks that keep intake busy back to
// back (a sync's batches) let a waiting admission in after the first of
// them, not only once none waits.
func TestAdmissionNotStarvedByBlocks(t *testing.T) {
	n, err := New(Config{Params: chain.RegTest(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() }) // after the holds' releases: cleanups run last first
	in, p := n.intake, n.chain.Params()
	tx := testwallet.New("carol").Tx(p, testwallet.New("bob").Addr, 1, n.mempool.MinFee(300), 0)

	// hold runs a block's hold of intake on a goroutine of its own, from
	// when it gets intake (held closed) until release is called.
	var wg sync.WaitGroup
	hold := func() (<-chan struct{}, func()) {
		h, done := make(chan struct{}), make(chan struct{})
		wg.Go(func() {
			in.lockBlock()
			close(h)
			<-done
			in.unlockBlock()
		})
		var once sync.Once
		release := func() { once.Do(func() { close(done) }) }
		t.Cleanup(release) // so that a failed test does not hang in Close
		return h, release
	}
	held, first := hold()
	<-held
	admitted := make(chan error, 1)
	wg.Go(func() { admitted <- in.admit(context.Background(), tx, OriginAPI, time.Time{}) })
	testutil.Eventually(t, 10*time.Second, "the admission waiting for the block", func() bool {
		return waitingOnChan("node.(*intake).lockTx(") == 1
	})
	_, second := hold()
	testutil.Eventually(t, 10*time.Second, "the second block waiting", func() bool {
		return waitingOnLock("node.(*intake).lockBlock(") == 1
	})
	first()
	// Woken by the first block, the admission takes mu next or right
	// after the second block, whichever gets it first. Parked on mu, not
	// in the receive the first block's release ends (its stack shows
	// that until it runs): else the third block could come before the
	// first let go, a block then waiting, which may go first.
	testutil.Eventually(t, 10*time.Second, "the admission through, or waiting on mu", func() bool {
		return len(admitted) == 1 || blockedIn("[sync.Mutex.Lock", "node.(*intake).lockTx(") == 1
	})
	_, third := hold()
	testutil.Eventually(t, 10*time.Second, "the third block waiting", func() bool {
		return waitingOnLock("node.(*intake).lockBlock(") == 1
	})
	second()
	select {
	case err := <-admitted:
		if chain.CodeOf(err) != chain.ErrInsufficientFunds {
			t.Errorf("admission: %v, want the unfunded sender refused", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the admission still waits while a third block waits for intake")
	}
	third()
	wg.Wait()
}

// waitingOnChan counts the goroutines blocked receiving from a channel
// whose stack holds frame.
func waitingOnChan(frame string) int { return blockedIn("[chan receive", frame) }
