package chain_test

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// accountReadStore counts the store's account reads, and fails Apply while
// fail is set.
type accountReadStore struct {
	chain.Store
	reads atomic.Int64
	fail  atomic.Bool
}

func (s *accountReadStore) Account(addr string) (chain.Account, error) {
	s.reads.Add(1)
	return s.Store.Account(addr)
}

// View counts the view's account reads too: connecting a block reads
// its accounts through one.
func (s *accountReadStore) View(fn func(chain.StoreView) error) error {
	return s.Store.View(func(v chain.StoreView) error { return fn(countedView{v, &s.reads}) })
}

type countedView struct {
	chain.StoreView
	reads *atomic.Int64
}

func (v countedView) Account(addr string) (chain.Account, error) {
	v.reads.Add(1)
	return v.StoreView.Account(addr)
}

func (s *accountReadStore) Apply(b *chain.Batch) error {
	if s.fail.Load() {
		return syscall.EIO
	}
	return s.Store.Apply(b)
}

// TestAccountCache: Chain.Account answers a repeated read without the
// store, and after every kind of commit (a block, a reorganisation that
// takes a block's payment back, a failed commit) answers what the store
// holds.
func TestAccountCache(t *testing.T) {
	other := testwallet.New("account cache other")
	payOther := func(b *chain.Block) {
		b.Transactions[0].Recipient = other.Addr
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	}
	tests := []struct {
		name string
		// change commits something (or fails to) after both addresses
		// were read once.
		change func(t *testing.T, h *harness, c *chain.Chain, st *accountReadStore)
	}{
		{"a block paying the miner", func(t *testing.T, h *harness, c *chain.Chain, _ *accountReadStore) {
			processOn(t, c, h.build(c.Tip().Hash, nil, nil))
		}},
		{"a reorganisation taking back a payment", func(t *testing.T, h *harness, c *chain.Chain, _ *accountReadStore) {
			side := h.build(c.Tip().Header.PrevHash, nil, nil)
			// Stored as a requested block, whatever its work, then a
			// child makes its branch the heavier one.
			if _, _, err := c.ProcessBlocks(context.Background(), []*chain.Block{side}); err != nil {
				t.Fatal(err)
			}
			processOn(t, c, h.build(side.Hash(), nil, nil))
		}},
		{"a failed commit", func(t *testing.T, h *harness, c *chain.Chain, st *accountReadStore) {
			st.fail.Store(true)
			if _, err := c.ProcessBlock(context.Background(), h.build(c.Tip().Hash, nil, payOther)); err == nil {
				t.Fatal("the commit did not fail")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, st, c := countedChain(t)
			processOn(t, c, h.build(c.Tip().Hash, nil, payOther)) // the reorg takes this one back
			for _, addr := range []string{h.miner.Addr, other.Addr} {
				read(t, c, addr)
			}
			reads := st.reads.Load()
			for _, addr := range []string{h.miner.Addr, other.Addr} {
				read(t, c, addr)
			}
			if n := st.reads.Load() - reads; n != 0 {
				t.Errorf("a second read of two accounts read the store %d times, want 0", n)
			}
			tt.change(t, h, c, st)
			for _, addr := range []string{h.miner.Addr, other.Addr} {
				want, err := h.st.Account(addr)
				if err != nil {
					t.Fatal(err)
				}
				if got := read(t, c, addr); got != want {
					t.Errorf("%s after the change: %+v, the store holds %+v", addr, got, want)
				}
			}
		})
	}
}

// TestAccountCacheRacingCommits: readers hammering Account while blocks
// commit never leave a state in the cache that a commit replaced: once a
// block is in, every read answers its state.
func TestAccountCacheRacingCommits(t *testing.T) {
	h := newHarness(t, nil)
	c := h.c
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := c.Account(h.miner.Addr); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer wg.Wait()
	defer cancel()
	for i := range 40 {
		processOn(t, c, h.build(c.Tip().Hash, nil, nil))
		want := int64(i+1) * int64(h.p.Reward)
		if got := read(t, c, h.miner.Addr).Balance; got != want {
			t.Fatalf("after block %d the miner has %d, want %d", i+1, got, want)
		}
	}
}

// TestConnectReadsAccountCache: connecting a block takes the states the
// account cache holds instead of reading the store, and they are the
// committed ones: blocks that each spend from the same sender (its nonce
// and balance read by every connect) connect one after another while
// readers race the commits, and the chain then answers what the store
// holds. A cache left stale by a commit would fail the next block's
// nonce check.
func TestConnectReadsAccountCache(t *testing.T) {
	payee := testwallet.New("account cache payee")
	tests := []struct {
		name string
		// cached lists the block's addresses read before it connects:
		// the miner (coinbase recipient and sender) and the payee.
		cached    func(h *harness) []string
		wantReads int64 // the store's account reads while it connects
	}{
		{"every address cached", func(h *harness) []string { return []string{h.miner.Addr, payee.Addr} }, 0},
		{"the payee not cached", func(h *harness) []string { return []string{h.miner.Addr} }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, st, c := countedChain(t)
			for _, addr := range tt.cached(h) {
				read(t, c, addr)
			}
			transfer := func() *chain.Block {
				a, err := h.st.Account(h.miner.Addr) // past the cache
				if err != nil {
					t.Fatal(err)
				}
				return h.build(c.Tip().Hash, []*chain.Transaction{h.miner.Tx(h.p, payee.Addr, 1, 0, a.Nonce)}, nil)
			}
			blk := transfer()
			reads := st.reads.Load()
			processOn(t, c, blk)
			if n := st.reads.Load() - reads; n != tt.wantReads {
				t.Errorf("connecting the block read %d accounts from the store, want %d", n, tt.wantReads)
			}

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, addr := range []string{h.miner.Addr, payee.Addr} {
				wg.Go(func() {
					for ctx.Err() == nil {
						if _, err := c.Account(addr); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			defer wg.Wait()
			defer cancel()
			for i := range 30 {
				blk := transfer()
				if _, err := c.ProcessBlock(context.Background(), blk); err != nil {
					t.Fatalf("block %d of 30: %v", i+1, err)
				}
				for _, addr := range []string{h.miner.Addr, payee.Addr} {
					want, err := h.st.Account(addr)
					if err != nil {
						t.Fatal(err)
					}
					if got := read(t, c, addr); got != want {
						t.Fatalf("after block %d, %s: %+v, the store holds %+v", i+1, addr, got, want)
					}
				}
			}
		})
	}
}

// TestCommitKeepsBlockAccounts: the commit of one block keeps the states
// it writes, so the next block that names the same addresses (a payee no
// admission read, the coinbase recipient) connects without reading them
// from the store; a batch of several blocks (a sync's) keeps only those
// the cache held.
func TestCommitKeepsBlockAccounts(t *testing.T) {
	tests := []struct {
		name      string
		batch     int   // blocks per ProcessBlocks call
		wantReads int64 // store reads while the next block connects
	}{
		{"one block", 1, 0},
		{"a batch of two", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payee := testwallet.New("kept payee")
			// hb builds the blocks on its own chain; c, counted, takes them.
			hb, ht := newHarness(t, nil), newHarness(t, nil)
			st := &accountReadStore{Store: ht.st}
			c, err := chain.New(ht.p, st, chain.WithClock(func() time.Time { return testNow }))
			if err != nil {
				t.Fatal(err)
			}
			var nonce uint64
			next := func() *chain.Block {
				blk := hb.build(hb.tipHash(), []*chain.Transaction{hb.miner.Tx(hb.p, payee.Addr, 1, 0, nonce)}, nil)
				if _, err := hb.process(blk); err != nil {
					t.Fatal(err)
				}
				nonce++
				return blk
			}
			funding := hb.build(hb.tipHash(), nil, nil)
			if _, err := hb.process(funding); err != nil {
				t.Fatal(err)
			}
			processOn(t, c, funding)
			read(t, c, hb.miner.Addr)
			var blocks []*chain.Block
			for range tt.batch {
				blocks = append(blocks, next())
			}
			if _, _, err := c.ProcessBlocks(context.Background(), blocks); err != nil {
				t.Fatal(err)
			}
			blk := next()
			reads := st.reads.Load()
			processOn(t, c, blk)
			if n := st.reads.Load() - reads; n != tt.wantReads {
				t.Errorf("connecting the next block read %d accounts from the store, want %d", n, tt.wantReads)
			}
			want, err := ht.st.Account(payee.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, c, payee.Addr); got != want {
				t.Errorf("payee: %+v, the store holds %+v", got, want)
			}
		})
	}
}

// TestReorgDoesNotFillAccountCache: a reorganisation that stores one
// block writes the accounts of every block it moves; it updates those the
// cache holds but puts none it does not (they are not the next blocks'
// working set, and a deep one would push that out).
func TestReorgDoesNotFillAccountCache(t *testing.T) {
	third := testwallet.New("reorg third")
	h, st, c := countedChain(t)
	processOn(t, c, h.build(c.Tip().Hash, nil, nil))
	side := h.build(c.Tip().Header.PrevHash, nil, func(b *chain.Block) {
		b.Transactions[0].Recipient = third.Addr
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	})
	if _, _, err := c.ProcessBlocks(context.Background(), []*chain.Block{side}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.ProcessBlock(context.Background(), h.build(side.Hash(), nil, nil))
	if err != nil || ch == nil || !ch.Reorg() {
		t.Fatalf("the side branch's child: change %v, %v; want a reorganisation", ch, err)
	}
	reads := st.reads.Load()
	got := read(t, c, third.Addr)
	if n := st.reads.Load() - reads; n != 1 {
		t.Errorf("reading the side block's coinbase recipient read the store %d times, want 1", n)
	}
	if want, err := h.st.Account(third.Addr); err != nil || got != want {
		t.Errorf("%+v, the store holds %+v (%v)", got, want, err)
	}
}

// countedChain is a harness and a chain on its store, counted, holding
// one block that pays the harness's miner.
func countedChain(t *testing.T) (*harness, *accountReadStore, *chain.Chain) {
	t.Helper()
	h := newHarness(t, nil)
	st := &accountReadStore{Store: h.st}
	c, err := chain.New(h.p, st, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	processOn(t, c, h.build(c.Tip().Hash, nil, nil))
	return h, st, c
}

func processOn(t *testing.T, c *chain.Chain, b *chain.Block) {
	t.Helper()
	if _, err := c.ProcessBlock(context.Background(), b); err != nil {
		t.Fatalf("process %s: %v", b.Hash().Short(), err)
	}
}

func read(t *testing.T, c *chain.Chain, addr string) chain.Account {
	t.Helper()
	a, err := c.Account(addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAccountDuringValidatedWrite: while a validated block waits for its
// commit, Account answers an address the block changes with the state it
// leaves, and one it does not change from the cache, as at the tip: the
// mempool's update reads every sender in the pool then.
func TestAccountDuringValidatedWrite(t *testing.T) {
	other := testwallet.New("account during write other")
	h, st, c := countedChain(t)
	processOn(t, c, h.build(c.Tip().Hash, nil, func(b *chain.Block) {
		b.Transactions[0].Recipient = other.Addr
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	}))
	miner, kept := read(t, c, h.miner.Addr), read(t, c, other.Addr)
	cb, err := c.CheckBlock(h.build(c.Tip().Hash, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	var during, duringOther chain.Account
	var storeReads int64
	if _, err := c.ProcessCheckedValidated(context.Background(), cb, func(*chain.Change) {
		reads := st.reads.Load()
		during, duringOther = read(t, c, h.miner.Addr), read(t, c, other.Addr)
		storeReads = st.reads.Load() - reads
	}); err != nil {
		t.Fatal(err)
	}
	if want := miner.Balance + int64(h.p.Reward); during.Balance != want {
		t.Errorf("the miner during the write: %d, want %d", during.Balance, want)
	}
	if duringOther != kept || storeReads != 0 {
		t.Errorf("an address the write leaves alone: %+v with %d store reads, want %+v from the cache", duringOther, storeReads, kept)
	}
}

// TestAccountDuringValidatedReorg: while a reorganisation waits for its
// commit, an address whose only payment it takes back reads as never
// seen, and NextHeight is past the new branch's tip.
func TestAccountDuringValidatedReorg(t *testing.T) {
	other := testwallet.New("account during reorg other")
	h, _, c := countedChain(t)
	fork := c.Tip().Hash
	processOn(t, c, h.build(fork, nil, func(b *chain.Block) {
		b.Transactions[0].Recipient = other.Addr
		b.Header.MerkleRoot = chain.MerkleRoot(chain.TxIDs(b.Transactions))
	}))
	if read(t, c, other.Addr).Balance == 0 {
		t.Fatal("the first branch did not pay other")
	}
	side := h.build(fork, nil, nil)
	// Stored as a requested block, whatever its work; its child makes
	// the side branch the heavier one.
	if _, _, err := c.ProcessBlocks(context.Background(), []*chain.Block{side}); err != nil {
		t.Fatal(err)
	}
	child := h.build(side.Hash(), nil, nil)
	cb, err := c.CheckBlock(child)
	if err != nil {
		t.Fatal(err)
	}
	var during chain.Account
	var next uint64
	var reorg bool
	if _, err := c.ProcessCheckedValidated(context.Background(), cb, func(ch *chain.Change) {
		reorg = ch.Reorg()
		during, next = read(t, c, other.Addr), c.NextHeight()
	}); err != nil {
		t.Fatal(err)
	}
	if !reorg || during != (chain.Account{}) || next != child.Header.Height+1 {
		t.Errorf("during the write: reorg %v, other %+v, next height %d; want a reorg, never seen, %d", reorg, during, next, child.Header.Height+1)
	}
	if got := read(t, c, other.Addr); got != (chain.Account{}) {
		t.Errorf("other after the commit: %+v, want never seen", got)
	}
}
