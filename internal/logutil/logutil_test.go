package logutil

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMinLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(MinLevel(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn)).With("a", 1)
	l.Info("dropped")
	l.WithGroup("g").Warn("kept", "b", 2)
	if s := buf.String(); strings.Contains(s, "dropped") || !strings.Contains(s, "kept") || !strings.Contains(s, "a=1 g.b=2") {
		t.Errorf("logged %q", s)
	}
}
