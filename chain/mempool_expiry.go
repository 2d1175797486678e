package chain

import (
	"errors"
	"fmt"
	"time"
)

// Expiry: a pending transaction leaves the pool once it has waited the
// pending TTL since this node first admitted it, and takes with it what
// depends on it (see Mempool). The admission time survives a restart
// (AddVerifiedSince, AdmittedAt), so a transaction that will not win
// cannot live on by being saved and read back.

// ErrTxExpired is returned by AddVerifiedSince for a transaction first
// admitted longer ago than the pending TTL: it had its chance.
var ErrTxExpired = errors.New("transaction expired")

// WithPendingTTL sets how long a transaction may stay pending, from its
// admission (default 24 hours). Zero or less turns expiry off.
func WithPendingTTL(d time.Duration) MempoolOption {
	return func(c *mempoolConfig) { c.pendingTTL = d }
}

// AddVerifiedSince is AddVerified for a transaction this node first
// admitted at admitted (a restart reading mempool.dat back): it expires
// as if it had stayed, and one already past the pending TTL is refused
// with ErrTxExpired. An admission time after now (a clock set back) counts
// as now.
func (m *Mempool) AddVerifiedSince(tx *Transaction, state AccountReader, admitted time.Time) error {
	return m.add(tx, tx.ID(), state, true, false, admitted)
}

// AddLocalSince is AddVerifiedSince for one of the node's own
// transactions (AddLocal), as a restart reads them back from the file
// the pool was saved to: they stay the node's own across the restart.
func (m *Mempool) AddLocalSince(tx *Transaction, state AccountReader, admitted time.Time) error {
	return m.add(tx, tx.ID(), state, true, true, admitted)
}

// AddIDSince is AddVerifiedSince, or AddLocalSince when local is set, for
// a caller that has tx's id (tx.ID(), computed by the caller from tx as
// it is), so it is not hashed again. The id is trusted: the pool is keyed
// by it, and a rebuilt compact block's digest takes it for tx's id
// (DigestTxs), so it must never come from a peer or from anything but
// tx's own bytes: a wrong one would let a block with another transaction
// in tx's place pass the merkle check.
func (m *Mempool) AddIDSince(tx *Transaction, id Hash, state AccountReader, admitted time.Time, local bool) error {
	return m.add(tx, id, state, true, local, admitted)
}

// AdmittedAt returns when the pool first admitted a transaction, pending
// or queued.
func (m *Mempool) AdmittedAt(id Hash) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byID[id]; ok {
		return e.at, true
	}
	if t, ok := m.queue.byID[id]; ok {
		return t.at, true
	}
	return time.Time{}, false
}

// admissionTime is when a transaction offered now with the given
// admission time counts as admitted, or ErrTxExpired.
func (m *Mempool) admissionTime(id Hash, admitted time.Time) (time.Time, error) {
	now := m.now()
	if admitted.IsZero() || admitted.After(now) {
		return now, nil
	}
	if m.pendingTTL > 0 && now.Sub(admitted) >= m.pendingTTL {
		return time.Time{}, fmt.Errorf("%w: %s was admitted %s ago, the pool keeps transactions %s",
			ErrTxExpired, id.Short(), now.Sub(admitted).Round(time.Second), m.pendingTTL)
	}
	return admitted, nil
}

// expirePending removes the pending transactions that have waited the
// TTL, with everything that depends on them. Unless force, it looks only
// once the oldest it saw last time is due, so Add pays for the scan only
// when something expires. m.mu is held.
func (m *Mempool) expirePending(force bool) {
	if m.pendingTTL <= 0 || len(m.byID) == 0 {
		return
	}
	now := m.now()
	if !force && now.Before(m.nextExpiry) {
		return
	}
	var due []*poolEntry
	oldest := now
	for _, e := range m.byID {
		if now.Sub(e.at) >= m.pendingTTL {
			due = append(due, e)
		} else if e.at.Before(oldest) {
			oldest = e.at
		}
	}
	for _, e := range due {
		if _, ok := m.byID[e.id]; ok { // not gone with an earlier one
			m.removeTree(e)
		}
	}
	m.nextExpiry = oldest.Add(m.pendingTTL)
}

// removeTree removes e and its descendants: on signed networks its
// sender's later transactions, which cannot apply without it, and the
// children that claimed the credit of any of them, with theirs. Each is
// removed once it ends its sender's chain and has no child, as remove
// requires. m.mu is held.
func (m *Mempool) removeTree(e *poolEntry) {
	if !m.p.Signed {
		m.remove(e)
		return
	}
	for {
		q := m.bySender[e.tx.Sender]
		last := q[len(q)-1]
		if last.child != nil {
			m.removeTree(last.child)
			continue
		}
		m.remove(last)
		if last == e {
			return
		}
	}
}
