// Package testutil holds helpers shared by the module's tests. It is for
// tests only: no package outside _test.go files may import it. It imports
// only the standard library, so the internal tests of any package, chain
// and store included, can use it.
package testutil

import (
	"errors"
	"testing"
	"time"
)

// Poll intervals: the first retry comes soon, for a condition that is
// nearly true, and the interval doubles up to the cap, so that a slow
// condition (one that asks a node over HTTP, say) is not asked too often.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Eventually calls cond until it returns true, and fails t, naming what
// it waited for, if cond has not held once d has passed.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, d, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// EventuallyErr calls cond until it returns nil, and fails t with what
// and cond's last error if cond has not returned nil once d has passed.
func EventuallyErr(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	poll(t, d, what, cond)
}

// errNotYet is a false condition of Eventually: it has no error to report.
var errNotYet = errors.New("condition not met")

func poll(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for interval := firstPoll; ; interval = min(2*interval, maxPoll) {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err == errNotYet {
				t.Fatalf("timed out after %v waiting for %s", d, what)
			}
			t.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
		}
		select {
		case <-time.After(interval):
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}
