package p2p

import (
	"slices"
	"sync"
	"time"
)

// earlyWorkers run ProcessEarly's processes. A goroutine started for each
// block began on a stack the size of the process's average goroutine's,
// and grew it, copying it each time, on the way down a block's
// processing (the checks, the store): 5 µs of a relayed 1 KiB block's
// 51 in its processing after the forward, and 16 of 137 with 20 nodes on
// two cores (docs/benchmarks.md). The worker that ran the last block
// takes the next, its stack grown (until a collection finds it using a
// quarter and halves it).
var earlyWorkers = newWorkers(time.Minute)

// workers is a pool of goroutines that grows on demand: run hands f to
// the worker idle since the shortest time, or starts a new one, so a call
// never waits for another's f. Taking the most recently idle keeps the
// few workers a steady load needs busy, their stacks and caches warm,
// and lets the rest, idle for idle, end; a channel's receiver would be
// the longest idle instead, every worker kept alive in turn.
type workers struct {
	idle time.Duration
	mu   sync.Mutex
	// parked is each idle worker's job channel, the most recently
	// parked last; run takes a worker off it before it sends.
	parked []chan func()
}

func newWorkers(idle time.Duration) *workers { return &workers{idle: idle} }

func (w *workers) run(f func()) {
	w.mu.Lock()
	if n := len(w.parked); n > 0 {
		jobs := w.parked[n-1]
		w.parked = w.parked[:n-1]
		w.mu.Unlock()
		jobs <- f // buffered: the worker may not be receiving yet
		return
	}
	w.mu.Unlock()
	go w.work(f)
}

func (w *workers) work(f func()) {
	jobs := make(chan func(), 1)
	t := time.NewTimer(w.idle)
	defer t.Stop()
	for {
		f()
		f = nil // nothing of the last job kept alive while parked
		w.mu.Lock()
		w.parked = append(w.parked, jobs)
		w.mu.Unlock()
		t.Reset(w.idle)
		select {
		case f = <-jobs:
			continue
		case <-t.C:
		}
		w.mu.Lock()
		i := slices.Index(w.parked, jobs)
		if i >= 0 {
			w.parked = slices.Delete(w.parked, i, i+1)
		}
		w.mu.Unlock()
		if i >= 0 {
			return
		}
		// run took this worker as the timer fired: its job is sent.
		f = <-jobs
	}
}
