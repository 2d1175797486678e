package chain_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// TestMempoolSenderTailMatchesReplay: a pool that keeps its senders'
// replays between admissions (senderTail) decides exactly as one that
// replays every sender's pending transactions at each admission. Both
// take the same random run of admissions (nonce gaps, repeats and spent
// nonces, overspends that claim credits, self-transfers, local and peer
// transactions), blocks mined from the pool and taken back again, and
// the clock moving past the queue's and the pending TTLs, in a pool
// small enough to evict and a per-sender cap low enough to refuse; some
// blocks change the state before the pools' Reorg runs, and a rich
// recipient's balance overflows if every pending payment to it counts.
// After
// every step both must have given the same answer and hold the same
// transactions, pending and queued.
func TestMempoolSenderTailMatchesReplay(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { tailRun(t, seed, 1500) })
	}
}

func tailRun(t *testing.T, seed uint64, steps int) {
	p := chain.RegTest()
	rng := rand.New(rand.NewPCG(seed, 13))
	wallets := make([]*testwallet.Wallet, 6)
	state := mpState{}
	for i := range wallets {
		wallets[i] = testwallet.New(fmt.Sprintf("tail %d", i))
		// Some senders can pay for little alone: they live on credits.
		state[wallets[i].Addr] = chain.Account{Balance: int64(20 + rng.IntN(4)*200)}
	}
	// A recipient so rich that a few pending payments to it would take
	// its balance past MaxInt64: what a sender's pending transactions
	// paid it (the tail's credits) decides whether the next one may.
	rich := testwallet.New("tail rich").Addr
	state[rich] = chain.Account{Balance: math.MaxInt64 - 400}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	opts := []chain.MempoolOption{chain.WithMaxTxs(24), chain.WithMaxPerSender(6), chain.WithMempoolClock(clock),
		chain.WithPendingTTL(15 * time.Minute), chain.WithQueueTTL(10 * time.Minute), chain.WithMaxQueuedPerSender(3)}
	kept, replayed := chain.NewMempool(p, opts...), chain.NewMempool(p, opts...)
	type mined struct {
		blk    *chain.Block
		before mpState
	}
	var blocks []mined
	// late holds blocks connected to state whose Reorg has not run yet:
	// a node's pool meets the new tip's state before its Reorg.
	var late []*chain.Block
	catchUp := func() {
		kept.Reorg(nil, late, state)
		replayed.Reorg(nil, late, state)
		late = nil
	}
	for step := range steps {
		what := ""
		switch r := rng.IntN(100); {
		case r < 75:
			w := wallets[rng.IntN(len(wallets))]
			to := wallets[rng.IntN(len(wallets))].Addr
			if rng.IntN(8) == 0 {
				to = rich
			}
			next := state[w.Addr].Nonce + uint64(len(kept.Pending(w.Addr)))
			nonce := max(0, int64(next)+int64(rng.IntN(5))-1)
			tx := w.Tx(p, to, uint64(1+rng.IntN(150)), uint64(rng.IntN(4)), uint64(nonce))
			add := (*chain.Mempool).Add
			if rng.IntN(4) == 0 {
				add = (*chain.Mempool).AddLocal
			}
			errKept := add(kept, tx, state)
			chain.DropSenderTails(replayed)
			errReplayed := add(replayed, tx, state)
			if fmt.Sprint(errKept) != fmt.Sprint(errReplayed) {
				t.Fatalf("step %d: admission of %s nonce %d: kept tails say %v, replays say %v", step, w.Addr[:8], nonce, errKept, errReplayed)
			}
			what = fmt.Sprintf("add nonce %d: %v", nonce, errKept)
		case r < 87:
			catchUp() // a node mines on a pool reconciled with its tip
			txs := kept.Select(1+rng.IntN(8), 1<<20)
			if got := replayed.Select(len(txs), 1<<20); !slices.Equal(chain.TxIDs(got), chain.TxIDs(txs)) {
				t.Fatalf("step %d: the pools select different blocks", step)
			}
			v := chain.NewStateView(p, state)
			for _, tx := range txs {
				if err := v.ApplyTx(tx); err != nil {
					t.Fatalf("step %d: the pool selected a transaction that does not apply: %v", step, err)
				}
			}
			blk := &chain.Block{Transactions: txs}
			blocks = append(blocks, mined{blk, state})
			state = withChanges(state, v.Changes())
			late = append(late, blk)
			what = fmt.Sprintf("mined %d, the pools not told yet", len(txs))
			if rng.IntN(2) == 0 {
				catchUp()
				what = fmt.Sprintf("mined %d", len(txs))
			}
		case r < 92 && len(blocks) > 0:
			catchUp()
			last := blocks[len(blocks)-1]
			blocks = blocks[:len(blocks)-1]
			state = last.before
			kept.Reorg([]*chain.Block{last.blk}, nil, state)
			replayed.Reorg([]*chain.Block{last.blk}, nil, state)
			what = "block taken back"
		case r < 95:
			catchUp()
			what = "the pools told of the blocks"
		default:
			now = now.Add(time.Duration(rng.IntN(8)) * time.Minute)
			what = "clock moved"
		}
		if a, b := chain.TxIDs(kept.Txs()), chain.TxIDs(replayed.Txs()); !slices.Equal(a, b) {
			t.Fatalf("step %d (%s): pending %d vs %d transactions, or in another order", step, what, len(a), len(b))
		}
		if a, b := chain.TxIDs(kept.QueuedTxs()), chain.TxIDs(replayed.QueuedTxs()); !sameSet(a, b) {
			t.Fatalf("step %d (%s): queued %d vs %d transactions", step, what, len(a), len(b))
		}
	}
}

// TestMempoolSenderTailScenarios drives the two pools of
// TestMempoolSenderTailMatchesReplay through the cases a kept replay
// could get wrong, each ending in an admission that only the right
// view of the sender decides as a replay does.
func TestMempoolSenderTailScenarios(t *testing.T) {
	p := chain.RegTest()
	s := testwallet.New("tail sender")
	other := testwallet.New("tail other").Addr
	rich := testwallet.New("tail rich").Addr
	tests := []struct {
		name string
		run  func(tw *twinPools) (last *chain.Transaction, want error)
	}{
		{
			// A block holding a conflicting second transaction is
			// connected, then taken back: the rebuilt list has the same
			// length and last entry as before, over another middle one.
			name: "conflict returned from an abandoned block",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				a, b, c := s.Tx(p, other, 100, 0, 0), s.Tx(p, other, 300, 0, 1), s.Tx(p, other, 100, 0, 2)
				tw.add(a, b, c) // 500 of 1,000 left
				conflict := s.Tx(p, other, 50, 0, 1)
				blk := &chain.Block{Transactions: []*chain.Transaction{a, conflict}}
				before := tw.state
				tw.connect(blk)
				tw.state = before
				tw.reorg([]*chain.Block{blk}, nil)
				// With the conflict in b's place 750 are left: a kept
				// view of a, b, c would refuse this.
				return s.Tx(p, other, 700, 0, 3), nil
			},
		},
		{
			// The tip moves and the pool has not been told: the sender's
			// account in state is not the one its kept view was built on.
			name: "state moved before the pool's reorg",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				a, b := s.Tx(p, other, 100, 0, 0), s.Tx(p, other, 100, 0, 1)
				tw.add(a, b)
				tw.state = withChanges(tw.state, map[string]chain.Account{s.Addr: {Balance: 900, Nonce: 1}})
				return s.Tx(p, other, 100, 0, 2), errAny
			},
		},
		{
			// The credit a sender's second transaction claimed expires:
			// that transaction leaves, the first stays, and the sender
			// spends the same nonce again on its own funds.
			name: "expiry trims the list",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				payer := testwallet.New("tail payer")
				tw.state = withChanges(tw.state, map[string]chain.Account{payer.Addr: {Balance: 1000}})
				credit := payer.Tx(p, s.Addr, 500, 0, 0)
				tw.addSince(credit, tw.now.Add(-50*time.Minute))
				tw.add(s.Tx(p, other, 900, 0, 0), s.Tx(p, other, 400, 0, 1)) // the second claims the credit
				tw.now = tw.now.Add(11 * time.Minute)
				return s.Tx(p, other, 100, 0, 1), nil
			},
		},
		{
			// A cheaper sender's last transaction is evicted for a
			// better-paying one; the evicted sender sends again.
			name: "eviction",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				rival := testwallet.New("tail rival")
				tw.state = withChanges(tw.state, map[string]chain.Account{rival.Addr: {Balance: 1000}})
				tw.add(s.Tx(p, other, 100, 1, 0), s.Tx(p, other, 100, 1, 1), s.Tx(p, other, 100, 1, 2))
				tw.add(rival.Tx(p, other, 100, 5, 0)) // the pool is full
				tw.add(rival.Tx(p, other, 100, 5, 1)) // s's nonce 2 leaves for it
				if got := len(tw.kept.Pending(s.Addr)); got != 2 {
					tw.t.Fatalf("after the eviction %d pending of the sender, want 2", got)
				}
				// 798 left: paid for by evicting the rival's last.
				return s.Tx(p, other, 750, 6, 2), nil
			},
		},
		{
			// What the sender's pending transactions paid a recipient
			// counts when the next one pays it again.
			name: "credits paid to a recipient near the limit",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				tw.state = withChanges(tw.state, map[string]chain.Account{rich: {Balance: math.MaxInt64 - 250}})
				tw.add(s.Tx(p, rich, 100, 0, 0), s.Tx(p, rich, 100, 0, 1))
				return s.Tx(p, rich, 100, 0, 2), chain.ErrBalanceOverflow
			},
		},
		{
			// Another sender's pending payment to the recipient counts
			// too: a block may hold both.
			name: "two senders paying a recipient near the limit",
			run: func(tw *twinPools) (*chain.Transaction, error) {
				payer := testwallet.New("tail second payer")
				tw.state = withChanges(tw.state, map[string]chain.Account{rich: {Balance: math.MaxInt64 - 150}, payer.Addr: {Balance: 1000}})
				tw.add(payer.Tx(p, rich, 100, 0, 0))
				return s.Tx(p, rich, 100, 0, 0), chain.ErrBalanceOverflow
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTwinPools(t, p, mpState{s.Addr: {Balance: 1000}})
			last, want := tt.run(tw)
			errKept, errReplayed := tw.addOne(last)
			if fmt.Sprint(errKept) != fmt.Sprint(errReplayed) {
				t.Fatalf("kept tails say %v, replays say %v", errKept, errReplayed)
			}
			switch {
			case want == errAny && errKept == nil, want != errAny && !errors.Is(errKept, want):
				t.Fatalf("last admission: %v, want %v", errKept, want)
			}
		})
	}
}

// errAny is a want that any error meets.
var errAny = errors.New("any error")

// twinPools is a pool that keeps its senders' replays and one made to
// replay at every admission, fed the same transactions and blocks.
type twinPools struct {
	t              *testing.T
	p              *chain.Params
	state          mpState
	now            time.Time
	kept, replayed *chain.Mempool
}

// newTwinPools returns twin pools of four transactions at most, whose
// pending transactions expire after an hour by tw.now.
func newTwinPools(t *testing.T, p *chain.Params, state mpState) *twinPools {
	tw := &twinPools{t: t, p: p, state: state, now: time.Unix(1_700_000_000, 0)}
	opts := []chain.MempoolOption{chain.WithMaxTxs(4), chain.WithPendingTTL(time.Hour),
		chain.WithMempoolClock(func() time.Time { return tw.now })}
	tw.kept, tw.replayed = chain.NewMempool(p, opts...), chain.NewMempool(p, opts...)
	return tw
}

// addSince offers tx to both pools as admitted at admitted; both must
// take it.
func (tw *twinPools) addSince(tx *chain.Transaction, admitted time.Time) {
	tw.t.Helper()
	errKept := tw.kept.AddVerifiedSince(tx, tw.state, admitted)
	chain.DropSenderTails(tw.replayed)
	if errReplayed := tw.replayed.AddVerifiedSince(tx, tw.state, admitted); errKept != nil || errReplayed != nil {
		tw.t.Fatalf("refused: kept %v, replayed %v", errKept, errReplayed)
	}
}

// addOne offers tx to both pools and returns their answers.
func (tw *twinPools) addOne(tx *chain.Transaction) (errKept, errReplayed error) {
	errKept = tw.kept.Add(tx, tw.state)
	chain.DropSenderTails(tw.replayed)
	return errKept, tw.replayed.Add(tx, tw.state)
}

// add offers txs, each of which both pools must take.
func (tw *twinPools) add(txs ...*chain.Transaction) {
	tw.t.Helper()
	for _, tx := range txs {
		if errKept, errReplayed := tw.addOne(tx); errKept != nil || errReplayed != nil {
			tw.t.Fatalf("nonce %d refused: kept %v, replayed %v", tx.Nonce, errKept, errReplayed)
		}
	}
}

// connect applies blk to the state and tells both pools.
func (tw *twinPools) connect(blk *chain.Block) {
	tw.t.Helper()
	v := chain.NewStateView(tw.p, tw.state)
	for _, tx := range blk.Transactions {
		if err := v.ApplyTx(tx); err != nil {
			tw.t.Fatal(err)
		}
	}
	tw.state = withChanges(tw.state, v.Changes())
	tw.reorg(nil, []*chain.Block{blk})
}

func (tw *twinPools) reorg(disconnected, connected []*chain.Block) {
	tw.kept.Reorg(disconnected, connected, tw.state)
	tw.replayed.Reorg(disconnected, connected, tw.state)
}

func sameSet(a, b []chain.Hash) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	cmpHash := func(x, y chain.Hash) int { return slices.Compare(x[:], y[:]) }
	slices.SortFunc(a, cmpHash)
	slices.SortFunc(b, cmpHash)
	return slices.Equal(a, b)
}

func withChanges(s mpState, changes map[string]chain.Account) mpState {
	out := make(mpState, len(s)+len(changes))
	maps.Copy(out, s)
	maps.Copy(out, changes)
	return out
}
