package api

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// recordingWriter is a ResponseWriter that records, in order, each
// write deadline set, each write's size and each flush.
type recordingWriter struct {
	events    []string
	deadlines []time.Time
}

func (w *recordingWriter) Header() http.Header { return http.Header{} }
func (w *recordingWriter) WriteHeader(int)     {}
func (w *recordingWriter) Write(p []byte) (int, error) {
	w.events = append(w.events, fmt.Sprintf("write %d", len(p)))
	return len(p), nil
}
func (w *recordingWriter) SetWriteDeadline(t time.Time) error {
	w.events = append(w.events, "deadline")
	w.deadlines = append(w.deadlines, t)
	return nil
}
func (w *recordingWriter) FlushError() error {
	w.events = append(w.events, "flush")
	return nil
}

// TestListWritesEachUnderADeadline: a list answer reaches the connection
// in pieces of at most flushEvery bytes, each flushed under a write
// deadline of its own, never past the answer's end, also when bufio
// hands a block's text larger than its buffer straight through: under
// one deadline for the whole text, a reader taking 64 KiB per deadline
// was cut off in the middle of a large block.
func TestListWritesEachUnderADeadline(t *testing.T) {
	piece := fmt.Sprintf("write %d", flushEvery)
	tests := []struct {
		name  string
		write func(w *deadlineWriter)
		want  []string
	}{
		{"one write of two pieces and a bit", func(w *deadlineWriter) { _, _ = w.Write(make([]byte, 2*flushEvery+5)) },
			[]string{"deadline", piece, "flush", "deadline", piece, "flush", "deadline", "write 5", "flush"}},
		{"through bufio, a text larger than its buffer", func(w *deadlineWriter) {
			bw := bufio.NewWriterSize(w, flushEvery)
			_, _ = bw.Write(make([]byte, 10))
			_, _ = bw.Write(make([]byte, 3*flushEvery))
			_ = bw.Flush()
		}, []string{"deadline", piece, "flush", "deadline", piece, "flush", "deadline", piece, "flush", "deadline", "write 10", "flush"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &recordingWriter{}
			end := time.Now().Add(time.Hour)
			tt.write(&deadlineWriter{w: rw, rc: http.NewResponseController(rw), end: end})
			if !slices.Equal(rw.events, tt.want) {
				t.Fatalf("events %q, want %q", rw.events, tt.want)
			}
		})
	}
	t.Run("never past the answer's end", func(t *testing.T) {
		rw := &recordingWriter{}
		end := time.Now().Add(time.Millisecond)
		_, _ = (&deadlineWriter{w: rw, rc: http.NewResponseController(rw), end: end}).Write(make([]byte, 10))
		if len(rw.deadlines) != 1 || rw.deadlines[0].After(end) {
			t.Fatalf("deadlines %v, want one, at or before %v", rw.deadlines, end)
		}
	})
}
