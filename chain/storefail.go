package chain

import (
	"errors"
	"fmt"
)

// ErrStoreFailed is returned by every write of a chain whose store once
// failed to commit a batch (disk full, read-only file system, I/O error).
// It is sticky: the chain refuses all later writes, because after a failed
// commit the file holds the state before the batch or after it, and which
// one is only known after reopening. Reads keep working on what was last
// committed. The node stops on it; a restart reopens the store and finds
// out.
var ErrStoreFailed = errors.New("store write failed")

// storeFailure is the chain's sticky store error, set once under Chain.mu.
type storeFailure struct {
	err  error         // ErrStoreFailed wrapping the store's error; nil until then
	done chan struct{} // closed when err is set
}

// failLocked records the first store failure and wakes whoever waits on
// StoreFailed. c.mu must be held.
func (c *Chain) failLocked(err error) error {
	if c.failure.err == nil {
		c.failure.err = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		close(c.failure.done)
	}
	return c.failure.err
}

// StoreFailed returns a channel that is closed when a store commit has
// failed and the chain has stopped taking writes; StoreErr says why.
func (c *Chain) StoreFailed() <-chan struct{} { return c.failure.done }

// StoreErr returns the sticky store failure (it wraps ErrStoreFailed and
// the store's own error), or nil while the chain still takes writes.
func (c *Chain) StoreErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure.err
}
