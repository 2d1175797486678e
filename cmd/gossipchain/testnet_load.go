package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// The load of --senders: wallets that are clients of the nodes, their
// transfers signed before the load starts, as a real network's senders
// sign on their own machines: the measured window is the nodes' work.

// loadWorkers is how many goroutines submit the nodes' own wallets'
// transfers at once (the load without --senders). One submitting
// synchronously could not offer more than one admission at a time, and
// waited out every block connect behind the node's intake lock; a few
// per core keep the nodes busy without a queue of goroutines of their
// own.
const loadWorkers = 16

// maxSenderWorkers bounds the goroutines of a --senders load, one per
// sender (loadWorkersFor).
const maxSenderWorkers = 4096

// loadWorkersFor is how many submissions the load keeps in flight: with
// --senders, one per sender, as that many wallets would each wait for
// their own node's answer and no other's. A fixed pool made the load a
// closed loop: while a node connects a block under its intake lock
// (store commit included), every worker waiting on that node stops
// offering to all the others, so the load, not the nodes, set the rate
// (docs/benchmarks.md, "The load's submitters").
func loadWorkersFor(senders int) int {
	return min(max(senders, loadWorkers), maxSenderWorkers)
}

// maxPresigned bounds what --senders signs ahead (tx-rate × duration, a
// few hundred bytes each): a million transfers is about 400 MiB.
const maxPresigned = 1_000_000

// errSenderDone is a sender that has sent every transfer signed for it.
var errSenderDone = errors.New("sender has no transfer signed left")

// sender is a funded wallet that is a client of one node: it sends the
// transfers signed for it in nonce order to that node, as a user's
// wallet would, and offers a refused one again at its next turn.
type sender struct {
	w    *testnet.Wallet
	node int

	mu    sync.Mutex
	txs   []*chain.Transaction // txs[i] has nonce i
	nonce uint64
}

func (s *sender) send(ctx context.Context, nt *testnet.Net) (*chain.Transaction, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := nt.Node(s.node)
	if n == nil {
		return nil, s.node, errors.New("node stopped")
	}
	if s.nonce >= uint64(len(s.txs)) {
		return nil, s.node, errSenderDone
	}
	tx := s.txs[s.nonce]
	err := n.SubmitTx(ctx, tx)
	if err == nil || errors.Is(err, chain.ErrTxQueued) {
		s.nonce++
		return tx, s.node, nil
	}
	return nil, s.node, err
}

// perSender is how many transfers each of o.senders signs ahead: its
// share of tx-rate × duration (senders take turns), and a few more.
func perSender(o testnetOptions) int {
	return int(o.txRate*o.duration.Seconds())/o.senders + 16
}

// presign signs each sender's transfers, one coin each to a recipient
// drawn from recipients, with the node's minimum fee, on every core.
func presign(p *chain.Params, senders []*sender, recipients []*testnet.Wallet, fee uint64, seed uint64) {
	count := 0
	if len(senders) > 0 {
		count = cap(senders[0].txs)
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				s := senders[i]
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				for nonce := range count {
					to := recipients[rng.IntN(len(recipients))].Addr
					s.txs = append(s.txs, s.w.Transfer(p, to, 1, fee, uint64(nonce)))
				}
			}
		})
	}
	for i := range senders {
		work <- i
	}
	close(work)
	wg.Wait()
}

// fundSenders makes o.senders wallets, each a client of node i mod N,
// funds them from node 0's block rewards with enough for their signed
// transfers (one coin each, plus the minimum fee), and signs those.
func fundSenders(ctx context.Context, log *slog.Logger, nt *testnet.Net, o testnetOptions, recipients []*testnet.Wallet) ([]*sender, error) {
	p := nt.Params()
	unsigned := &chain.Transaction{Version: chain.TxVersion, Sender: testnet.NewWallet("size").Addr,
		Recipient: testnet.NewWallet("size").Addr, Amount: 1}
	fee := nt.Node(0).Mempool().MinFee(chain.SignedSize(p, unsigned))
	each := perSender(o)
	per := uint64(each) * (1 + fee)
	need := per * uint64(o.senders)
	blocks := int(need/p.Reward) + 1
	log.Info("funding senders", "senders", o.senders, "coins_each", per, "blocks", blocks)
	if _, err := nt.Mine(ctx, 0, blocks); err != nil {
		return nil, err
	}
	if _, _, err := nt.ConvergeMining(ctx, 2*time.Minute); err != nil {
		return nil, err
	}
	out := make([]*sender, o.senders)
	n0 := nt.Node(0)
	for i := range out {
		out[i] = &sender{w: testnet.NewWallet(fmt.Sprintf("sender %d", i)), node: i % o.nodes, txs: make([]*chain.Transaction, 0, each)}
		if _, err := n0.Send(ctx, out[i].w.Addr, per, 0); err != nil {
			if !errors.Is(err, chain.ErrSenderLimit) {
				return nil, fmt.Errorf("testnet: fund sender %d: %w", i, err)
			}
			// Node 0's own pending cap: mine, then go on.
			if _, err := nt.Mine(ctx, 0, 1); err != nil {
				return nil, err
			}
			if _, err := n0.Send(ctx, out[i].w.Addr, per, 0); err != nil {
				return nil, fmt.Errorf("testnet: fund sender %d: %w", i, err)
			}
		}
	}
	for nt.Node(0).Mempool().Len() > 0 {
		if _, err := nt.Mine(ctx, 0, 1); err != nil {
			return nil, err
		}
	}
	if _, _, err := nt.ConvergeMining(ctx, 2*time.Minute); err != nil {
		return nil, err
	}
	signStart := time.Now()
	presign(p, out, recipients, fee, o.seed)
	log.Info("transfers signed", "transfers", each*o.senders, "seconds", time.Since(signStart).Seconds())
	return out, nil
}

// transfer is one transfer the load offers: from a sender (with
// --senders), or between the wallets of nodes from and to.
type transfer struct {
	s        *sender
	from, to int
}

// offer submits one transfer and counts the outcome in rep.
func (l *load) offer(ctx context.Context, t transfer) {
	var tx *chain.Transaction
	var err error
	from := t.from
	if t.s != nil {
		tx, from, err = t.s.send(ctx, l.nt)
	} else {
		n, dst := l.nt.Node(t.from), l.nt.Node(t.to)
		if n == nil || dst == nil {
			return
		}
		tx, err = n.Send(ctx, dst.WalletAddress(), 1, 0)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.rep.refused++
		l.rep.refusals[refusalKind(err)]++
		return
	}
	l.rep.submitted++
	id := tx.ID()
	l.ids = append(l.ids, id)
	l.submitted[id] = submission{tx: tx, id: id, to: from}
}

// submission is a transfer a node took, and which node; gone, once the
// run is over, if it is neither on the main chain nor in any mempool.
type submission struct {
	tx   *chain.Transaction
	id   chain.Hash
	to   int
	gone bool
}

// load is the transfers' side of a run: what was submitted where.
type load struct {
	nt  *testnet.Net
	rep *testnetReport

	// submit offers one transfer; nil means offer. Tests replace it to
	// watch how many submissions the load keeps in flight.
	submit func(context.Context, transfer)

	mu        sync.Mutex // guards rep's transaction counts and what follows
	ids       []chain.Hash
	submitted map[chain.Hash]submission
}

// run offers o.txRate transfers a second until ctx ends, caught up
// every 10 ms to rate × elapsed, on loadWorkersFor goroutines. Senders
// take turns, so each gets its share of the load; pick draws the nodes
// of the nodes' own wallets.
func (l *load) run(ctx context.Context, o testnetOptions, senders []*sender, pick func(int) int) {
	submit := l.submit
	if submit == nil {
		submit = l.offer
	}
	workers := loadWorkers
	if len(senders) > 0 {
		workers = loadWorkersFor(len(senders))
	}
	jobs := make(chan transfer, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for t := range jobs {
				if ctx.Err() == nil {
					submit(ctx, t)
				}
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	begin, sent := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for due := int(o.txRate * time.Since(begin).Seconds()); sent < due; sent++ {
			t := transfer{from: pick(o.nodes), to: pick(o.nodes)}
			if len(senders) > 0 {
				t.s = senders[sent%len(senders)]
			}
			select {
			case <-ctx.Done():
				return
			case jobs <- t:
			}
		}
	}
}

// startCPUProfile starts a CPU profile into path (none when empty) and
// returns what stops it; stopping twice is harmless.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}
