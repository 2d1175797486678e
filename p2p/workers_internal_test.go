package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// waitWaiting waits until n of w's workers wait for a function.
func waitWaiting(t *testing.T, w *workers, n int64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d workers waiting", n), func() bool {
		return w.waiting.Load() == n
	})
}

// TestWorkersReused: functions run one after another share one worker,
// functions run at once get one each, and a worker with nothing to run
// for its idle time ends.
func TestWorkersReused(t *testing.T) {
	tests := []struct {
		name string
		idle time.Duration
	}{
		{"kept", time.Minute},
		{"ending", 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkers(tt.idle)
			const concurrent = 3
			sequential := 50
			if tt.idle != time.Minute {
				sequential = 5
			}
			for i := range sequential {
				ran := make(chan struct{})
				w.run(func() { close(ran) })
				<-ran
				if tt.idle == time.Minute {
					// Every worker started waits again (a worker counts
					// itself waiting just before it waits, so a function
					// run in between may start another: rare, and
					// allowed for below).
					testutil.Eventually(t, 10*time.Second, "the workers wait again", func() bool {
						return w.waiting.Load() == w.started.Load()
					})
					continue
				}
				// Each ends before the next function comes, which starts
				// one of its own.
				testutil.Eventually(t, 10*time.Second, "the worker ends", func() bool {
					return w.ended.Load() == int64(i+1)
				})
				if got := w.started.Load(); got != int64(i+1) {
					t.Fatalf("%d workers started for %d functions with none waiting", got, i+1)
				}
			}
			if tt.idle != time.Minute {
				return
			}
			before := w.started.Load()
			if before > 3 {
				t.Fatalf("%d workers started for %d functions run one after another, want 1", before, sequential)
			}
			release := make(chan struct{})
			running := make(chan struct{}, concurrent)
			for range concurrent {
				w.run(func() { running <- struct{}{}; <-release })
			}
			for range concurrent {
				<-running
			}
			if got, want := w.started.Load(), max(before, concurrent); got != want {
				t.Fatalf("%d workers in all for %d functions at once, %d started before, want %d", got, concurrent, before, want)
			}
			close(release)
			waitWaiting(t, w, max(before, concurrent))
		})
	}
}
