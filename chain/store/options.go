package store

import (
	"log/slog"
	"math"
	"time"
)

// initialMmapSize is how much of the file bbolt maps from the start. A
// commit that grows the file past the map remaps it, which waits for
// every open read transaction and copies every node the commit holds out
// of the old map: about a sixth of a 1,000-transfer block's connect on a
// new store (docs/benchmarks.md). Mapped address space costs no memory
// until pages are read, so a store below this size never remaps. On a
// 32-bit platform bbolt's default (the file's size, doubled as it grows)
// stays.
var initialMmapSize = func() int {
	if math.MaxInt > math.MaxInt32 {
		return 256 << 20
	}
	return 0
}()

// DefaultLockTimeout is how long Open waits for another process to release
// the file before it fails with ErrLocked.
const DefaultLockTimeout = time.Second

// config holds the optional knobs of Open. Defaults are set in
// defaultConfig before any Option applies.
type config struct {
	noSync      bool
	lockTimeout time.Duration
	log         *slog.Logger
}

func defaultConfig() config {
	return config{
		lockTimeout: DefaultLockTimeout,
		log:         slog.New(slog.DiscardHandler),
	}
}

// Option changes how Open opens a store.
type Option func(*config)

// WithNoSync turns off the fsync at the end of every Apply. For tests and
// benchmarks only: batches still reach the operating system before Apply
// returns, so they survive the process being killed, but a machine crash or
// power loss may lose recent batches or leave the file torn. A node must
// never run with it.
func WithNoSync(noSync bool) Option {
	return func(c *config) { c.noSync = noSync }
}

// WithLockTimeout sets how long Open waits for the exclusive file lock
// held by another process before it fails with ErrLocked. Zero or less
// means one attempt and no wait. The default is DefaultLockTimeout.
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) { c.lockTimeout = d }
}

// WithLogger sets where Open reports what it repairs (the transaction
// index indexed again after a crash). The default discards it.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}
