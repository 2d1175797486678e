package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

const testnetDescription = `
Runs a gossipchain network of --nodes full nodes inside this process and
measures it: each node a real libp2p host on 127.0.0.1 (mDNS off) with
its own store in a temporary directory, on the regtest network, joined
by bootstrap addresses in a random graph. For --duration it mines a
block every --block-interval on a random node and has random nodes send
--tx-rate transfers a second to one another (from --senders client
wallets instead, if given, whose transfers are signed before the load
starts, as a real network's senders sign on their own machines), on 16
goroutines, with --fault injected in the middle third; then it stops
the load, mines until the mempools are
empty and prints a report: blocks, reorgs, transactions submitted,
refused, included, pending, lost and no longer valid (they would not
apply to the final chain), the throughput against this machine's
signature-verify rate, the time to converge, block propagation
percentiles and peak memory. Ctrl-C ends the load early and still
reports.

With --mocknet the nodes run on go-libp2p's in-process mocknet instead of
TCP on loopback: the same nodes (chain, mempool, GossipSub, sync), each
link with a latency drawn from --latency and --bandwidth each way, stores
without fsync on tmpfs; up to 2,000 nodes. The report then adds GossipSub
hops against log_D(N), duplicates, bytes and messages per block, the
stale-block rate, CPU and memory per node.`

type testnetOptions struct {
	nodes         int
	duration      time.Duration
	txRate        float64
	blockInterval time.Duration
	fault         string
	seed          uint64
	verbose       bool
	senders       int
	cpuProfile    string // file for a CPU profile of the load window; empty for none
	// The simulation (--mocknet): nodes on go-libp2p's mocknet, each
	// link latency drawn from latency, bandwidth bytes a second each way.
	mocknet   bool
	latency   testnet.Latency
	bandwidth float64
}

var testnetFaults = []string{"none", "partition", "restart"}

// parseTestnetFlags parses the arguments after "testnet"; --help
// returns flag.ErrHelp.
func parseTestnetFlags(args []string, stdout io.Writer) (testnetOptions, error) {
	var o testnetOptions
	err := newApp(os.Getenv, stdout, io.Discard, actions{testnet: func(got testnetOptions) error {
		o = got
		return nil
	}}).run(append([]string{"testnet"}, args...))
	return o, err
}

func (a *app) testnetCommand(do func(testnetOptions) error) *cli.Command {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "nodes", Value: 20, Usage: "`number` of nodes"},
		&cli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "how long the load runs (a Go `duration`: 30s, 2m)"},
		&cli.Float64Flag{Name: "tx-rate", Value: 100, Usage: "transfers submitted per second, across all nodes (`rate`)"},
		&cli.DurationFlag{Name: "block-interval", Value: time.Second, Usage: "time between blocks, each mined on a random node (`duration`)"},
		&cli.StringFlag{Name: "fault", Value: "none", Usage: "`fault` in the middle third of the run: " + strings.Join(testnetFaults, ", ") +
			" or several joined by commas, which then overlap (partition cuts the network in two halves that both mine, then heals it; " +
			"restart stops one node and starts it again on its data directory, inside the partition when both are given)"},
		&cli.StringFlag{Name: "seed", Usage: "`number` seeding the topology, the load and the faults (default random, printed in the report)"},
		&cli.BoolFlag{Name: "verbose", Usage: "print the nodes' own log lines (info level) on stderr"},
		&cli.IntFlag{Name: "senders", Usage: "`number` of funded wallets that send the transfers in turn, each a client of one node, " +
			"their transfers signed before the load starts (0: the nodes' own wallets sign and send; each sender may have 64 transfers pending, which caps what 0 can offer)"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the load window (not setup, not the drain) to `file`, for go tool pprof"},
		&cli.BoolFlag{Name: "mocknet", Usage: "simulate: run the nodes on go-libp2p's mocknet with WAN latencies (see --latency) instead of TCP on loopback"},
		&cli.StringFlag{Name: "latency", Value: "lognormal:20ms-200ms", Usage: "with --mocknet, each link's one-way latency: " +
			"fixed:D, uniform:MIN-MAX or lognormal:MIN-MAX (MIN and MAX its 5th and 95th percentiles) (`distribution`)"},
		&cli.Float64Flag{Name: "bandwidth", Value: 100, Usage: "with --mocknet, each link's bandwidth each way in `Mbit/s` (0: unlimited)"},
	}
	return a.command("testnet", "gossipchain testnet [flags]",
		"run a network of nodes in this process under load and faults, and report", testnetDescription, flags,
		func(_ context.Context, cmd *cli.Command) error {
			o, err := resolveTestnet(cmd)
			if err != nil {
				return err
			}
			return do(o)
		})
}

func resolveTestnet(cmd *cli.Command) (testnetOptions, error) {
	o := testnetOptions{nodes: cmd.Int("nodes"), duration: cmd.Duration("duration"), txRate: cmd.Float64("tx-rate"),
		blockInterval: cmd.Duration("block-interval"), fault: cmd.String("fault"), verbose: cmd.Bool("verbose"),
		senders: cmd.Int("senders"), mocknet: cmd.Bool("mocknet"), bandwidth: cmd.Float64("bandwidth") * 1e6 / 8,
		cpuProfile: cmd.String("cpuprofile")}
	maxNodes := 500
	if o.mocknet {
		maxNodes = 2000
	}
	var err error
	if o.latency, err = testnet.ParseLatency(cmd.String("latency")); err != nil {
		return o, usageError{fmt.Errorf("--latency: %w", err)}
	}
	switch {
	case o.nodes < 2 || o.nodes > maxNodes:
		return o, usageError{fmt.Errorf("--nodes %d: want 2 to %d", o.nodes, maxNodes)}
	case o.bandwidth < 0:
		return o, usageError{fmt.Errorf("--bandwidth %g: want 0 or more", cmd.Float64("bandwidth"))}
	case o.mocknet && strings.Contains(o.fault, "restart"):
		return o, usageError{errors.New("--fault restart: not with --mocknet (a simulated node cannot restart)")}
	case o.duration <= 0:
		return o, usageError{fmt.Errorf("--duration %s: want more than 0", o.duration)}
	case o.txRate < 0:
		return o, usageError{fmt.Errorf("--tx-rate %g: want 0 or more", o.txRate)}
	case o.senders < 0 || o.senders > 100_000:
		return o, usageError{fmt.Errorf("--senders %d: want 0 to 100000", o.senders)}
	case o.blockInterval <= 0:
		return o, usageError{fmt.Errorf("--block-interval %s: want more than 0", o.blockInterval)}
	case o.senders > 0 && o.txRate*o.duration.Seconds() > maxPresigned:
		return o, usageError{fmt.Errorf("--senders with --tx-rate %g for %s: the senders sign %d transfers ahead at most",
			o.txRate, o.duration, maxPresigned)}
	}
	for f := range strings.SplitSeq(o.fault, ",") {
		if !slices.Contains(testnetFaults, f) || (f == "none" && o.fault != "none") {
			return o, usageError{fmt.Errorf("--fault %q: want none, or one or more of %s joined by commas",
				o.fault, strings.Join(testnetFaults[1:], ", "))}
		}
	}
	seed := cmd.String("seed")
	if seed == "" {
		o.seed = rand.Uint64()
	} else {
		v, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			return o, usageError{fmt.Errorf("--seed %q: want a non-negative integer", seed)}
		}
		o.seed = v
	}
	return o, nil
}

func runTestnet(o testnetOptions, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep := &testnetReport{opts: o, refusals: map[string]int{}}
	err := driveTestnet(ctx, log, o, rep)
	if rep.done && rep.included > 0 {
		rep.verifyRate = max(rep.verifyRate, verifyLimit()) // the nodes are closed
	}
	if rep.done {
		rep.print(stdout)
	}
	return err
}

// driveTestnet runs the network and the load and fills rep; an error
// ends it early, and then no report is printed, only the error.
func driveTestnet(ctx context.Context, log *slog.Logger, o testnetOptions, rep *testnetReport) error {
	// The ceiling first, while nothing else of the run takes a core;
	// only a run with transfers reports against it.
	if o.txRate > 0 {
		rep.verifyRate = verifyLimit()
	}
	start := time.Now()
	rep.rssBefore = currentRSS()
	opts := []testnet.Option{testnet.WithSeed(o.seed), testnet.WithLogger(log)}
	if o.mocknet {
		// Degree about 8, so GossipSub fills its mesh of 6 (Dlo 5).
		opts = append(opts, testnet.WithMocknet(o.latency, o.bandwidth), testnet.WithTopology(testnet.Random(4)))
	}
	if !o.verbose {
		// The nodes' own lines only with --verbose; the Net's notes always.
		opts = append(opts, testnet.WithNodeLogger(slog.New(slog.DiscardHandler)))
	}
	nt, err := testnet.New(ctx, o.nodes, opts...)
	if err != nil {
		return err
	}
	defer func() {
		// A node that fails to close does not spoil the report.
		if err := nt.Close(); err != nil {
			log.Error(err.Error())
		}
	}()
	// Memory per node: the nodes alone, before the harness's own event
	// buffers, after a collection so that setup's garbage is not counted.
	debug.FreeOSMemory()
	rep.rssNodes = currentRSS()
	w := newWatcher(o.nodes)
	for i := range o.nodes {
		w.watch(ctx, nt.Node(i))
	}
	// Every node's wallet gets a block reward to send from, when the
	// nodes' wallets are to send.
	for i := range o.nodes {
		if o.txRate == 0 || o.senders > 0 {
			break
		}
		if _, err := nt.Mine(ctx, i, 1); err != nil {
			return err
		}
		if _, err := nt.WaitConverged(ctx, time.Minute); err != nil {
			return err
		}
	}
	var senders []*sender
	wallets := make([]*testnet.Wallet, o.nodes) // recipients: one per node
	for i := range wallets {
		wallets[i] = testnet.NewWallet(fmt.Sprintf("recipient %d", i))
	}
	if o.senders > 0 {
		if senders, err = fundSenders(ctx, log, nt, o, wallets); err != nil {
			return err
		}
	}
	rep.setup = time.Since(start)
	before := sumWork(nt)
	nt.ResetGossipStats()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile() // an error return; the normal path stops it with the load
	cpuStart := cpuTime()
	log.Info("network up", "nodes", o.nodes, "links", len(nt.Links()), "seconds", rep.setup.Seconds())

	rng := rand.New(rand.NewPCG(o.seed, 0x10ad))
	var rngMu sync.Mutex
	pick := func(n int) int { rngMu.Lock(); defer rngMu.Unlock(); return rng.IntN(n) }
	loadStart := time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	var wg sync.WaitGroup
	// Also when a fault's error returns before the wait below: the load
	// must be over before Close stops the nodes under it.
	defer func() {
		stopLoad()
		wg.Wait()
	}()
	ld := &load{nt: nt, rep: rep, submitted: map[chain.Hash]submission{}}
	wg.Go(func() { // blocks
		t := time.NewTicker(o.blockInterval)
		defer t.Stop()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-t.C:
			}
			if n := nt.Node(pick(o.nodes)); n != nil {
				_, _ = n.MineOne(loadCtx) // a stale tip or a stopped node: the next tick mines
			}
		}
	})
	if o.txRate > 0 {
		wg.Go(func() { ld.run(loadCtx, o, senders, pick) })
	}
	if err := runFault(loadCtx, ctx, log, nt, o, pick, w, rep); err != nil {
		return err
	}
	<-loadCtx.Done()
	// The load ran o.duration unless a Ctrl-C ended it (a fault may
	// return after the load has ended).
	rep.loadWall = o.duration
	if ctx.Err() != nil {
		rep.loadWall = min(time.Since(loadStart), o.duration)
	}
	wg.Wait()
	rep.loadCPU, rep.gossip = cpuTime()-cpuStart, nt.GossipFigures()
	stopProfile()
	log.Info("load stopped", "submitted", rep.submitted, "refused", rep.refused)

	// Drain: mine until no running node holds a transaction, each block
	// on a node that holds some. Each wait for a common tip mines on
	// while nodes sit on tied tips (ConvergeMining), as a real network
	// would: a tie between blocks of equal work lasts until the next. After a partition the transactions of a
	// side are in that side's mempools only (gossip does not replay a
	// mempool to a new peer), so mining on one fixed node would not do.
	drainStart := time.Now()
	for round := 0; round < 200 && ctx.Err() == nil; round++ {
		if _, _, err := nt.ConvergeMining(ctx, 2*time.Minute); err != nil {
			return err
		}
		i, ok := withPending(nt)
		if !ok {
			break
		}
		if _, err := nt.Mine(ctx, i, 1); err != nil {
			return err
		}
	}
	if _, _, err := nt.ConvergeMining(ctx, 2*time.Minute); err != nil {
		return err
	}
	rep.converge = time.Since(drainStart)
	rep.work = sumWork(nt).minus(before)
	tipNode := nt.Node(0)
	rep.height = tipNode.Chain().Tip().Height()
	var left []submission // pending or gone
	for _, id := range ld.ids {
		switch {
		case onMainChain(tipNode.Chain(), id):
			rep.included++
		case inSomeMempool(nt, id):
			rep.pending++
			left = append(left, ld.submitted[id])
		default:
			s := ld.submitted[id]
			s.gone = true
			left = append(left, s)
		}
	}
	classifyGone(log, tipNode.Chain().Params(), tipNode.Chain(), left, rep)
	audit, err := testnet.AuditChain(tipNode.Chain())
	if err == nil {
		for _, i := range nt.Running() {
			if err = audit.Check(nt.Node(i).Chain()); err != nil {
				break
			}
		}
	}
	rep.audit = "every node's ledger matches an independent replay of the chain"
	if err != nil {
		rep.audit = "FAILED: " + err.Error()
	}
	rep.blocks, rep.reorgs, rep.droppedStreams, rep.propagation = w.results()
	rep.stale = w.stale(tipNode.Chain())
	rep.peakRSS = peakRSS()
	rep.done = true
	return nil
}

// runFault injects the fault in the middle third of the load: its
// waits end with loadCtx, the Net's operations only with ctx, so a fault
// begun is undone however the load ends.
func runFault(loadCtx, ctx context.Context, log *slog.Logger, nt *testnet.Net, o testnetOptions, pick func(int) int, w *watcher, rep *testnetReport) error {
	if o.fault == "none" {
		return nil
	}
	wait := func(d time.Duration) bool {
		select {
		case <-loadCtx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(o.duration / 3) {
		return nil
	}
	faults := strings.Split(o.fault, ",")
	partition, restart := slices.Contains(faults, "partition"), slices.Contains(faults, "restart")
	if partition {
		half := o.nodes / 2
		var a, b []int
		for i := range o.nodes {
			if i < half {
				a = append(a, i)
			} else {
				b = append(b, i)
			}
		}
		log.Info("fault: partition", "sides", fmt.Sprintf("%d/%d", len(a), len(b)))
		if err := nt.Partition(ctx, a, b); err != nil {
			return err
		}
	}
	stopped := -1
	if restart {
		stopped = 1 + pick(o.nodes-1)
		log.Info("fault: stop", "node", stopped)
		if err := nt.Stop(ctx, stopped); err != nil {
			return err
		}
	}
	wait(o.duration / 3)
	// Undone in the reverse order: the node restarts on its side of the
	// cut, then the cut heals.
	if restart {
		if err := nt.Restart(ctx, stopped); err != nil {
			return err
		}
		w.watch(ctx, nt.Node(stopped))
		log.Info("fault: restarted", "node", stopped)
	}
	if partition {
		// Timed from the heal's start: nodes sync as each link comes up,
		// and on busy cores the last links can take seconds.
		healed := time.Now()
		if err := nt.Heal(ctx); err != nil {
			return err
		}
		log.Info("fault: healed")
		// One tip with mining going on: the load's blocks break ties.
		if err := nt.Await(loadCtx, func() bool { return nt.Converged() }); err == nil {
			rep.healConverge = time.Since(healed)
		}
	}
	return nil
}

func refusalKind(err error) string {
	switch {
	case errors.Is(err, chain.ErrSenderLimit):
		return "sender limit"
	case errors.Is(err, chain.ErrMempoolFull):
		return "mempool full"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "load ended"
	}
	if c := chain.CodeOf(err); c != 0 {
		return c.String()
	}
	return "other"
}

// withPending returns a running node whose mempool is not empty.
func withPending(nt *testnet.Net) (int, bool) {
	for _, i := range nt.Running() {
		if nt.Node(i).Mempool().Len() > 0 {
			return i, true
		}
	}
	return 0, false
}

// classifyGone counts the submitted transfers of left (those not on the
// main chain) that are in no mempool either: lost if they would still
// apply to the main chain's state, each sender's in nonce order after
// its earlier ones, pending ones included, so a loss is the network's;
// invalid if they would not. On a chain without coinbase maturity that
// happens when a node's wallet spent block rewards a reorganisation took
// back: the transfer leaves the pools, and the wallet may use its nonce
// again.
func classifyGone(log *slog.Logger, p *chain.Params, state chain.AccountReader, left []submission, rep *testnetReport) {
	slices.SortFunc(left, func(a, b submission) int {
		return cmp.Or(strings.Compare(a.tx.Sender, b.tx.Sender), cmp.Compare(a.tx.Nonce, b.tx.Nonce))
	})
	v := chain.NewStateView(p, state)
	for _, s := range left {
		err := v.ApplyTx(s.tx)
		switch {
		case !s.gone:
		case err != nil:
			rep.invalid++
			log.Info("transaction no longer valid on the main chain", "id", s.id.Short(), "submitted_to", s.to, "reason", err)
		default:
			rep.lost++
			log.Warn("transaction lost", "id", s.id.Short(), "submitted_to", s.to)
		}
	}
}

func onMainChain(c *chain.Chain, id chain.Hash) bool {
	_, err := c.TxLocation(id)
	return err == nil
}

func inSomeMempool(nt *testnet.Net, id chain.Hash) bool {
	for _, i := range nt.Running() {
		if nt.Node(i).Mempool().Has(id) {
			return true
		}
	}
	return false
}
