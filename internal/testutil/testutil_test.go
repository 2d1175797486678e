package testutil_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// recorder is a testing.TB whose Fatalf records the message and ends
// the calling goroutine, as the real one does, without failing the test.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, so that Fatalf can
// end it, and returns the message Fatalf was given, if any.
func run(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.fatal
}

func TestEventuallyHolds(t *testing.T) {
	var calls atomic.Int32
	msg := run(t, func(tb testing.TB) {
		testutil.Eventually(tb, 10*time.Second, "the third call", func() bool { return calls.Add(1) == 3 })
	})
	if msg != "" || calls.Load() != 3 {
		t.Fatalf("fatal %q after %d calls, want none after 3", msg, calls.Load())
	}
}

func TestEventuallyTimesOut(t *testing.T) {
	var calls atomic.Int32
	start := time.Now()
	msg := run(t, func(tb testing.TB) {
		testutil.Eventually(tb, 100*time.Millisecond, "a condition that never holds", func() bool { calls.Add(1); return false })
	})
	if want := "timed out after 100ms waiting for a condition that never holds"; msg != want {
		t.Fatalf("fatal %q, want %q", msg, want)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", took)
	}
	if calls.Load() < 2 {
		t.Errorf("%d calls: want it polled more than once", calls.Load())
	}
}

func TestEventuallyErrHolds(t *testing.T) {
	var calls atomic.Int32
	msg := run(t, func(tb testing.TB) {
		testutil.EventuallyErr(tb, 10*time.Second, "the third call", func() error {
			if calls.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	})
	if msg != "" || calls.Load() != 3 {
		t.Fatalf("fatal %q after %d calls, want none after 3", msg, calls.Load())
	}
}

func TestEventuallyErrReportsLastError(t *testing.T) {
	var calls atomic.Int32
	msg := run(t, func(tb testing.TB) {
		testutil.EventuallyErr(tb, 100*time.Millisecond, "balance 7", func() error {
			return fmt.Errorf("call %d: balance 3", calls.Add(1))
		})
	})
	want := fmt.Sprintf("timed out after 100ms waiting for balance 7: call %d: balance 3", calls.Load())
	if msg != want {
		t.Fatalf("fatal %q, want %q", msg, want)
	}
}
