// Package logutil holds the slog handler the command and the testnet
// harness both need: one that raises a logger's level for a part of
// the program (libp2p, the harness's nodes) without a handler of its own.
package logutil

import (
	"context"
	"log/slog"
)

// MinLevel returns h passing on only the records of at least min.
func MinLevel(h slog.Handler, min slog.Level) slog.Handler { return minLevel{h, min} }

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
