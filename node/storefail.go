package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"

	"github.com/gossipchain/gossipchain/chain"
)

// storeWatch stops the node when the chain reports that its store failed
// to commit (disk full, file system read-only, I/O error). The chain then
// refuses every write, so a node that went on would mine blocks it cannot
// keep and follow peers it cannot store: it logs one ERROR line saying
// what failed and where, and cancels the miner and the network. Whoever
// runs the node waits on Node.Failed, then calls Close, which closes the
// store.
//
// Concurrency: run is one goroutine of Node's. It sets err before it
// closes failed, and nothing writes err after, so whoever sees failed
// closed reads err without a lock.
type storeWatch struct {
	chain  *chain.Chain
	path   string // the store's file, for the log line
	log    *slog.Logger
	failed chan struct{}
	err    error
}

// run waits for the store to fail, or ctx to end; on a failure it calls
// stop, which cancels the node's goroutines.
func (w *storeWatch) run(ctx context.Context, stop context.CancelFunc) {
	select {
	case <-ctx.Done():
		return
	case <-w.chain.StoreFailed():
	}
	err := w.chain.StoreErr()
	w.err = fmt.Errorf("store %s: %w", w.path, err)
	w.log.Error("store write failed, node stopping", "path", w.path, "reason", err,
		"hint", "free space or make the data directory writable, then start the node again")
	close(w.failed)
	stop()
}

// stopped returns why the store failed, or nil while it has not.
func (w *storeWatch) stopped() error {
	select {
	case <-w.failed:
		return w.err
	default:
		return nil
	}
}

// Failed returns a channel that is closed when the node has stopped
// itself because its store failed; Err then says why. The node must
// still be closed.
func (n *Node) Failed() <-chan struct{} { return n.watch.failed }

// Err returns why the node stopped itself (it wraps chain.ErrStoreFailed
// and the store's own error), or nil while it has not.
func (n *Node) Err() error { return n.watch.stopped() }

// notWritable says in so many words that the data directory cannot be
// written, when that is why the store did not open: the operator's fix is
// the mount or the permissions, not the store.
func notWritable(dir string, err error) error {
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return err
}
