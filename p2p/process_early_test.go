package p2p_test

import (
	"bytes"
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

// TestProcessEarlyReusesWorkers: blocks processed one after another run
// on the same goroutine (its stack grown once, not copied up for every
// block), and a block that comes while another is still committing gets
// a goroutine of its own rather than waiting for the first.
func TestProcessEarlyReusesWorkers(t *testing.T) {
	goroutine := func() uint64 {
		// The goroutine's id, from the first line of its stack trace
		// ("goroutine 42 [running]:").
		buf := make([]byte, 64)
		buf = buf[:runtime.Stack(buf, false)]
		var id uint64
		for _, c := range bytes.TrimPrefix(buf, []byte("goroutine ")) {
			if c < '0' || c > '9' {
				break
			}
			id = id*10 + uint64(c-'0')
		}
		return id
	}
	// ran processes a block whose commit waits for wait; it returns the
	// goroutine that processed it and a channel closed as process ends.
	ran := func(wait <-chan struct{}) (id uint64, ended <-chan struct{}) {
		ids, end := make(chan uint64, 1), make(chan struct{})
		_, err := p2p.ProcessEarly(chain.Hash{}, func(validated func(*chain.Change)) (*chain.Change, error) {
			defer close(end)
			ids <- goroutine()
			validated(&chain.Change{})
			<-wait
			return &chain.Change{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return <-ids, end
	}
	open := make(chan struct{})
	close(open)
	seen := make(map[uint64]bool)
	for range 20 {
		id, ended := ran(open)
		seen[id] = true
		// Its worker goes back to wait for the next block right after;
		// the next call may still come first now and then.
		<-ended
	}
	if len(seen) == 20 {
		t.Errorf("20 blocks one after another ran on 20 goroutines")
	}

	held := make(chan struct{})
	a, _ := ran(held) // its commit waits on held
	b, _ := ran(open)
	close(held)
	if a == b {
		t.Errorf("a block ran on the goroutine of one still committing")
	}
}
