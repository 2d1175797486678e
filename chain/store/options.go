package store

import "time"

// DefaultLockTimeout is how long Open waits for another process to release
// the file before it fails with ErrLocked.
const DefaultLockTimeout = time.Second

// config holds the optional knobs of Open. Defaults are set in
// defaultConfig before any Option applies.
type config struct {
	noSync      bool
	lockTimeout time.Duration
}

func defaultConfig() config {
	return config{
		lockTimeout: DefaultLockTimeout,
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
