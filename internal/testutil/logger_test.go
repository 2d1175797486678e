package testutil_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// logRecorder is a testing.TB that keeps what is logged and the cleanups
// registered, to run them when the test says.
type logRecorder struct {
	testing.TB
	lines    []string
	cleanups []func()
}

func (r *logRecorder) Log(args ...any)  { r.lines = append(r.lines, args[0].(string)) }
func (r *logRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// TestLoggerAt: lines at the level or above reach t's log, lower ones do
// not, and nothing does once t's cleanups ran (a goroutine that outlives
// its test would otherwise make testing panic).
func TestLoggerAt(t *testing.T) {
	for _, tt := range []struct {
		level slog.Level
		want  []string
	}{
		{slog.LevelDebug, []string{"msg=debug", "msg=info", "msg=warn"}},
		{slog.LevelInfo, []string{"msg=info", "msg=warn"}},
		{slog.LevelWarn, []string{"msg=warn"}},
	} {
		t.Run(tt.level.String(), func(t *testing.T) {
			r := &logRecorder{TB: t}
			log := testutil.LoggerAt(r, tt.level)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			for i := len(r.cleanups) - 1; i >= 0; i-- {
				r.cleanups[i]()
			}
			log.Warn("after the test")
			if len(r.lines) != len(tt.want) {
				t.Fatalf("logged %q, want lines with %q", r.lines, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(r.lines[i], w) || strings.HasSuffix(r.lines[i], "\n") {
					t.Errorf("line %d is %q, want it with %q and no newline at its end", i, r.lines[i], w)
				}
			}
		})
	}
}
