package p2p_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/p2p"
)

// TestProcessEarlyForwardsBeforeCommit: once process reports the block
// validated, ProcessEarly's caller (gossip's validator, which forwards
// the block when it returns) runs before process goes on to its commit,
// even with a single processor for both. Otherwise the validator waits,
// runnable, until the commit gives the processor up, and every hop
// forwards one commit late whenever the cores are busy.
//
// For fairness the scheduler looks at its global queue, where a
// yielding goroutine goes, before its own one time in 61, and the race
// detector shuffles its queues, so the order is counted over many
// rounds: without the yield the commit comes first in every one.
func TestProcessEarlyForwardsBeforeCommit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const rounds = 200
	forwardFirst := 0
	for range rounds {
		var mu sync.Mutex
		var order []string
		note := func(s string) {
			mu.Lock()
			order = append(order, s)
			mu.Unlock()
		}
		committed := make(chan struct{})
		_, err := p2p.ProcessEarly(chain.Hash{}, func(validated func(*chain.Change)) (*chain.Change, error) {
			defer close(committed)
			validated(&chain.Change{})
			note("commit")
			return &chain.Change{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		note("forward")
		<-committed
		mu.Lock()
		if order[0] == "forward" {
			forwardFirst++
		}
		mu.Unlock()
	}
	if forwardFirst < rounds*9/10 {
		t.Fatalf("the caller ran before the commit in %d of %d rounds, want at least 90%%", forwardFirst, rounds)
	}
}
