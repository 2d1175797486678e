package testnet_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestFaultsCompose is the run that failed in issue 14 ("GossipSub
// meshes joining every node: no result after 30s" right after a
// partition under load, then "no common tip" once the tie stayed), at a
// size for go test: transfers keep coming from the nodes' wallets while
// the network is cut in two, a node on one side is stopped and
// restarted inside the cut, both sides mine, and the cut heals.
// Partition and Stop return once the links are up, without waiting for
// meshes that GossipSub's prune backoff may keep apart; the network
// then reaches one tip with mining going on, and every transfer
// accepted is on that chain or still pending, none lost.
func TestFaultsCompose(t *testing.T) { faultsUnderLoad(t, 8, stepTimeout, testnet.WithSeed(14)) }

// faultsUnderLoad is TestFaultsCompose at n nodes, the side of n/2 that
// mines less losing; timeout bounds each wait.
func faultsUnderLoad(t *testing.T, n int, timeout time.Duration, opts ...testnet.Option) {
	nt := newNet(t, n, opts...)
	ctx := t.Context()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	funded := min(n, 8) // wallets that send; the others receive
	// mineRound with this run's timeout: at 1,000 simulated nodes a
	// block takes longer than stepTimeout to reach every node.
	mine := func(nodes []int, k int) {
		t.Helper()
		for j := range k {
			i := nodes[j%len(nodes)]
			nt.Mine(i, 1)
			if _, err := nt.Net.WaitConverged(ctx, timeout, nt.Side(i)...); err != nil {
				t.Fatal(err)
			}
		}
	}
	mine(all[:funded], funded)

	var (
		mu       sync.Mutex
		accepted []chain.Hash
	)
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for k := 0; load.Err() == nil; k++ {
			from, to := nt.Node(k%funded), nt.Node((k*7+3)%n)
			if from == nil || to == nil {
				continue
			}
			tx, err := from.Send(load, to.WalletAddress(), 1, 0)
			if err == nil {
				mu.Lock()
				accepted = append(accepted, tx.ID())
				mu.Unlock()
			}
			select {
			case <-load.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() { stopLoad(); wg.Wait() }()

	a, b := all[:n/2], all[n/2:]
	nt.Partition(a, b)
	restarted := b[1]
	if !nt.Simulated() {
		nt.Stop(restarted)
	}
	mine(a, 2)
	mine([]int{b[0], b[2]}, 1)
	if !nt.Simulated() {
		nt.Restart(restarted)
		if _, err := nt.Net.WaitConverged(ctx, timeout, nt.Side(restarted)...); err != nil {
			t.Fatal(err)
		}
	}
	nt.Heal()
	stopLoad()
	wg.Wait()

	took, mined, err := nt.ConvergeMining(ctx, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes: one tip %s after the heal, %d blocks mined to break ties", n, took.Round(time.Millisecond), mined)
	tip := nt.Node(0).Chain().Tip()
	if want := uint64(funded + 2); tip.Height() < want {
		t.Fatalf("converged at height %d, want at least the heavier side's %d", tip.Height(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) == 0 {
		t.Fatal("no transfer accepted during the faults")
	}
	for _, id := range accepted {
		if _, err := nt.Node(0).Chain().TxLocation(id); err == nil {
			continue
		}
		pending := false
		for _, n := range nt.Nodes() {
			pending = pending || n.Mempool().Has(id)
		}
		if !pending {
			t.Errorf("transfer %s lost: neither on the main chain nor in a mempool", id.Short())
		}
	}
	audit, err := testnet.AuditChain(nt.Node(0).Chain())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nt.Nodes() {
		if err := audit.Check(n.Chain()); err != nil {
			t.Error(err)
		}
	}
}

// TestWaitErrorSummarises: a wait that runs out says what it saw in a
// few lines whatever the size, as issue 14's reports needed (88 nodes on
// one block and 12 on its sibling): the tips with how many nodes sit on
// each, the heaviest first, the sides of a partition, the spread of
// peers and mesh sizes; not a line per node.
func TestWaitErrorSummarises(t *testing.T) {
	nt := newNet(t, 5)
	nt.Partition([]int{0, 1, 2}, []int{3, 4})
	mineRound(nt, []int{0}, 2)
	mineRound(nt, []int{3}, 1)
	_, err := nt.Net.Wait(t.Context(), 50*time.Millisecond, "the impossible", func() bool { return false })
	var we *testnet.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a *WaitError wrapping DeadlineExceeded", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, re := range []string{
		`the impossible: no result after`,
		`5 running, 0 stopped; 2 tips: 3 on 2/[0-9a-f]+ \(work \d+\) \[n0 n1 n2\]; 2 on 1/[0-9a-f]+ \(work \d+\) \[n3 n4\];`,
		`partitioned into sides of 3/2;`,
		`peers per node min \d+ median \d+ max \d+; block mesh per node min \d+ median \d+ max \d+`,
	} {
		if !regexp.MustCompile(re).MatchString(msg) {
			t.Errorf("error lacks %q", re)
		}
	}
	if strings.Count(msg, "\n") > 0 {
		t.Error("the summary spans lines")
	}
}
