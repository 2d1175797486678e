package p2p

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// goroutineID is the calling goroutine's number, from the first line of
// its stack trace ("goroutine 42 [running]:").
func goroutineID() uint64 {
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

// start runs a job on w that reports its goroutine and then waits for
// hold; ended closes as the job returns.
func start(t *testing.T, w *workers, hold <-chan struct{}) (id uint64, ended <-chan struct{}) {
	t.Helper()
	ids, end := make(chan uint64, 1), make(chan struct{})
	w.run(func() {
		defer close(end)
		ids <- goroutineID()
		<-hold
	})
	select {
	case id = <-ids:
	case <-time.After(10 * time.Second):
		t.Fatal("a job handed to the pool did not start")
	}
	return id, end
}

func (w *workers) parkedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parked)
}

func TestWorkers(t *testing.T) {
	open := make(chan struct{})
	close(open)
	t.Run("the worker idle last takes the next job", func(t *testing.T) {
		w := newWorkers(time.Minute)
		// Two workers, the second parked last.
		held := make(chan struct{})
		a, endA := start(t, w, held)
		b, endB := start(t, w, open)
		if a == b {
			t.Fatal("a job ran on the goroutine of one still running")
		}
		<-endB
		testutil.Eventually(t, 10*time.Second, "b parks", func() bool { return w.parkedCount() == 1 })
		close(held)
		<-endA
		testutil.Eventually(t, 10*time.Second, "a parks after b", func() bool { return w.parkedCount() == 2 })
		for i := range 5 {
			id, ended := start(t, w, open)
			if id != a {
				t.Fatalf("job %d ran on goroutine %d, want %d, the worker parked last (b is %d)", i, id, a, b)
			}
			<-ended
			testutil.Eventually(t, 10*time.Second, "a parks again", func() bool { return w.parkedCount() == 2 })
		}
	})
	t.Run("idle workers end", func(t *testing.T) {
		w := newWorkers(20 * time.Millisecond)
		held := make(chan struct{})
		var ended []<-chan struct{}
		for range 3 {
			_, end := start(t, w, held)
			ended = append(ended, end)
		}
		close(held)
		for _, end := range ended {
			<-end
		}
		testutil.Eventually(t, 10*time.Second, "the three workers leave", func() bool { return w.parkedCount() == 0 })
	})
	t.Run("no job lost as a worker leaves", func(t *testing.T) {
		// Idle timers that fire while run takes their worker: the worker
		// must run the job it was handed rather than leave.
		w := newWorkers(time.Microsecond)
		const jobs = 2000
		var done atomic.Int64
		for range jobs {
			w.run(func() { done.Add(1) })
			if done.Load()%7 == 0 {
				runtime.Gosched()
			}
		}
		testutil.Eventually(t, 10*time.Second, "every job runs", func() bool { return done.Load() == jobs })
	})
}
