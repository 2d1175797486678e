package chain

import "fmt"

// The node's own transactions (AddLocal): how a peer's copy becomes one,
// and how much of the pool and the queue they may take.

// localRoom refuses a local e when the node's own transactions would
// take more than localShare of the pool's limits. The rest stays for
// peers' transactions, so that a client submitting without end (the
// operator's scripts, anyone holding the API token) cannot make the node
// refuse every peer's transaction and stop relaying them: local ones are
// never evicted, so without the share nothing would ever give way.
// m.mu is held.
func (m *Mempool) localRoom(e *poolEntry) error {
	if !e.local {
		return nil
	}
	if m.locals+1 > localShare(m.maxTxs) || m.localBytes+e.size > localShare(m.maxBytes) {
		return fmt.Errorf("%w: this node's own %d transactions (%d bytes) fill their share, %d transactions or %d bytes; the rest stays for peers'",
			ErrMempoolFull, m.locals, m.localBytes, localShare(m.maxTxs), localShare(m.maxBytes))
	}
	return nil
}

// localShare is the part of a limit the node's own transactions may
// take: three quarters, leaving a quarter to peers.
func localShare(limit int) int { return limit - limit/4 }

// queueLocalShare is the part of the queue's places the node's own
// transactions may take: half, since a queued transaction is a promise
// of less (202) and peers' early nonces, which gossip reorders, need
// the queue most.
func queueLocalShare(limit int) int { return limit - limit/2 }

// alreadyHeld answers an Add of a transaction the pool holds, pending or
// queued. When the node's own client submits a transaction that came
// from a peer first (a wallet posting to several nodes), the copy held
// becomes local: the client is told it is already pending, and the
// node keeps it from then on as if it had been submitted here first. A
// pending copy keeps its place; it may exceed the local share (it takes
// no new room). m.mu is held.
func (m *Mempool) alreadyHeld(id Hash, local bool) error {
	if local {
		if e, ok := m.byID[id]; ok && !e.local {
			inHeap := e.heapIdx >= 0
			if inHeap {
				m.evictable.remove(e) // its order among the evictable changes
			}
			e.local = true
			m.locals++
			m.localBytes += e.size
			if m.p.Signed {
				m.stale(e.tx.Sender) // a local transaction ends what may go
			} else if inHeap {
				m.evictable.push(e)
			}
			return fmt.Errorf("%w: %s; kept from now on as this node's own", ErrTxInPool, id.Short())
		}
		if t, ok := m.queue.byID[id]; ok && !t.local {
			t.local = true
			m.queue.locals++
			return fmt.Errorf("%w: %s (queued); kept from now on as this node's own", ErrTxInPool, id.Short())
		}
	}
	return fmt.Errorf("%w: %s", ErrTxInPool, id.Short())
}

// IsLocal reports whether the pool holds id, pending or queued, as the
// node's own.
func (m *Mempool) IsLocal(id Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byID[id]; ok {
		return e.local
	}
	t, ok := m.queue.byID[id]
	return ok && t.local
}
