package p2p

import (
	"sync/atomic"
	"time"
)

// earlyWorkers run ProcessEarly's processing.
var earlyWorkers = newWorkers(time.Minute)

// blockWorkers run the block topic's validator. GossipSub calls a
// validator on a goroutine it starts for each message, whose stack grew
// by copying on the way down a block's checks: about 8 µs of CPU a
// relayed block at each node, on the hop's path
// (BenchmarkGossipPropagation20's profile; with the workers, the stack
// growth of all goroutines went from 11.6 to 5.3 µs a relayed block).
// GossipSub's own goroutine now only waits for the worker. Each Gossip
// validates at most blockValidators blocks at once, so a process keeps
// that many workers per node it runs.
var blockWorkers = newWorkers(time.Minute)

// workers runs functions on goroutines kept between them: one that ran
// a function before and waits for the next, or a new one when none
// waits. A goroutine started for each block began on a small stack and
// grew it by copying two or three times on the way down the block's
// processing (about 10 µs of CPU of a relayed 4-transfer block's 125,
// BenchmarkRelayHop); a worker keeps the stack it grew, until a garbage
// collection finds it idle on a quarter of it and halves it (the
// runtime's shrinkstack), so part of the growth comes back. There are at
// most as many workers as functions run at once (for ProcessEarly, the
// blocks in the block topic's validators and the commits they left,
// which follow one another), and each ends after idle without one.
type workers struct {
	jobs chan func()
	idle time.Duration
	// started, waiting and ended count the workers started, those
	// waiting for a function now and those ended, for tests.
	started, waiting, ended atomic.Int64
}

func newWorkers(idle time.Duration) *workers {
	return &workers{jobs: make(chan func()), idle: idle}
}

// run runs f on a worker and returns without waiting for it.
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
	default:
		w.started.Add(1)
		go w.work(f)
	}
}

func (w *workers) work(f func()) {
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		f()
		f = nil // what f holds is not kept while the worker waits
		idle.Reset(w.idle)
		w.waiting.Add(1)
		select {
		case f = <-w.jobs:
			w.waiting.Add(-1)
		case <-idle.C:
			w.waiting.Add(-1)
			w.ended.Add(1)
			return
		}
	}
}
