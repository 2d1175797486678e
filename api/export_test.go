package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// WithMaxListBytes lowers the byte bound of list answers, so tests page
// through small blocks.
func WithMaxListBytes(n int) Option { return func(s *server) { s.listBytes = n } }

// MaxListBytes is the byte bound of list answers.
const MaxListBytes = maxListBytes

// HoldListAnswers takes n of h's list-answer slots, as n answers being
// written would, until release.
func HoldListAnswers(h http.Handler, n int) (release func(), ok bool) {
	s := h.(*handler).base.Value(baseKey{}).(*server)
	if !s.listAnswers.TryAcquire(int64(n)) {
		return nil, false
	}
	return func() { s.listAnswers.Release(int64(n)) }, true
}

// ListAnswersIdle reports whether none of h's list-answer slots is taken.
func ListAnswersIdle(h http.Handler) bool {
	s := h.(*handler).base.Value(baseKey{}).(*server)
	if !s.listAnswers.TryAcquire(maxListAnswers) {
		return false
	}
	s.listAnswers.Release(maxListAnswers)
	return true
}

// MaxListAnswers is how many list answers are written at once.
const MaxListAnswers = maxListAnswers

// SetListWriteTimeout sets the per-write deadline of list answers for
// t's duration.
func SetListWriteTimeout(t testing.TB, d time.Duration) {
	old := listWriteTimeout
	listWriteTimeout = d
	t.Cleanup(func() { listWriteTimeout = old })
}

// HoldClientListAnswers takes n list-answer slots as n answers being
// written to remote (a RemoteAddr) would, until release.
func HoldClientListAnswers(h http.Handler, remote string, n int) (release func(), ok bool) {
	s := h.(*handler).base.Value(baseKey{}).(*server)
	r := &http.Request{RemoteAddr: remote}
	var releases []func()
	release = func() {
		for _, f := range releases {
			f()
		}
	}
	for range n {
		f, err := s.listSlot(httptest.NewRecorder(), r)
		if err != nil {
			release()
			return nil, false
		}
		releases = append(releases, f)
	}
	return release, true
}

// MaxListAnswersPerClient is how many list answers are written at once
// to one remote client.
const MaxListAnswersPerClient = maxListAnswersPerClient
