package node

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// watchStore stops the node when the chain reports that its store failed
// to commit (disk full, file system read-only, I/O error). The chain then
// refuses every write, so a node that went on would mine blocks it cannot
// keep and follow peers it cannot store: it logs one ERROR line saying
// what failed and where, and cancels the miner and the network. Whoever
// runs the node waits on Failed, then calls Close, which closes the store.
func (n *Node) watchStore(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-n.chain.StoreFailed():
	}
	err := n.chain.StoreErr()
	path := n.store.Path()
	n.failErr = fmt.Errorf("store %s: %w", path, err)
	n.log.Error("store write failed, node stopping", "path", path, "reason", err,
		"hint", "free space or make the data directory writable, then start the node again")
	close(n.failed)
	n.cancel()
}

// Failed returns a channel that is closed when the node has stopped
// itself because its store failed; Err then says why. The node must
// still be closed.
func (n *Node) Failed() <-chan struct{} { return n.failed }

// Err returns why the node stopped itself (it wraps chain.ErrStoreFailed
// and the store's own error), or nil while it has not.
func (n *Node) Err() error {
	select {
	case <-n.failed:
		return n.failErr
	default:
		return nil
	}
}

// notWritable says in so many words that the data directory cannot be
// written, when that is why the store did not open: the operator's fix is
// the mount or the permissions, not the store.
func notWritable(dir string, err error) error {
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return err
}
