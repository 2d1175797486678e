package chain

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// The rolling minimum: after a full pool evicts, it takes no newcomer
// that pays less than what it evicted, until the minimum decays. Without
// it, a newcomer that beat a package's mean fee (mempool_evict.go) freed
// up to a whole chain's places, and the freed places took anything at
// the minimum relay fee again: a sender whose cheap transactions were
// evicted could put them back at once, for nothing, and be evicted again,
// each round relayed by every node; an honest chain whose fees rose was
// replaced by the cheapest transactions around. Bitcoin Core keeps a
// rolling minimum fee for the same reason, and this follows it: raised
// to the evicted package's rate, halving over a half-life once a block
// has come, faster while the pool is emptier (protocol.md §11.2.2). Only
// a newcomer's eviction raises it: a reorganisation that returns more
// than fits (shrink) evicts what nobody paid to displace, and raising
// the minimum for it would turn away, for minutes, the very fees the
// evicted paid.

// rollingHalfLife is the rolling minimum's half-life while the pool is
// at least half full; below half it is half that, below a quarter a
// quarter. A variable for tests.
var rollingHalfLife = 10 * time.Minute

// rollingMin is the pool's rolling minimum fee per transaction.
type rollingMin struct {
	// raised mirrors fee > 0, read without the pool's lock: gossip asks
	// for the minimum before it decodes every transaction, and the pool
	// is rarely full enough to evict.
	raised atomic.Bool
	fee    float64   // coins per transaction; 0 when not raised
	at     time.Time // when fee was last brought up to date
	// decaying: a block has come since fee was last raised. Until then
	// the transactions that paid more than the evicted ones are still
	// waiting, and the pool is still as full.
	decaying bool
}

// raiseRolling raises the rolling minimum to fee, the least fee above
// the mean of a package just evicted, if that is higher. m.mu is held.
func (m *Mempool) raiseRolling(fee uint64) {
	if !m.p.Signed {
		return // fees are not backed by balances: a minimum stops no one
	}
	if f := float64(fee); f > m.rollingFeeLocked() {
		m.rolling.fee, m.rolling.at, m.rolling.decaying = f, m.now(), false
		m.rolling.raised.Store(true)
	}
}

// blockCame starts the rolling minimum's decay. m.mu is held.
func (m *Mempool) blockCame() {
	if !m.rolling.decaying {
		m.rolling.decaying, m.rolling.at = true, m.now()
	}
}

// rollingFee returns the rolling minimum brought up to date, in whole
// coins per transaction (rounded up: coins are indivisible). m.mu is
// held.
func (m *Mempool) rollingFee() uint64 { return uint64(math.Ceil(m.rollingFeeLocked())) }

// rollingFeeLocked brings the rolling minimum up to date and returns it.
// A minimum that decayed below one coin is dropped. m.mu is held. The
// pool's every change of fill (insert, remove, reset) brings it up to
// date first, so each stretch of time decays at the half-life its own
// fill sets, however often the minimum is read: read only now and then,
// it had decayed at the last fill for the whole time since.
func (m *Mempool) rollingFeeLocked() float64 {
	r := &m.rolling
	if r.fee == 0 || !r.decaying {
		return r.fee
	}
	now := m.now()
	if dt := now.Sub(r.at); dt > 0 {
		hl := rollingHalfLife
		switch used := max(float64(len(m.byID))/float64(m.maxTxs), float64(m.bytes)/float64(m.maxBytes)); {
		case used < 0.25:
			hl /= 4
		case used < 0.5:
			hl /= 2
		}
		r.fee /= math.Exp2(float64(dt) / float64(hl))
		r.at = now
		if r.fee < 1 {
			r.fee = 0
			r.raised.Store(false)
		}
	}
	return r.fee
}

// RollingMinFee returns the least fee per transaction the pool takes
// now beside the minimum relay fee (MinFee): raised when a full pool
// evicts, decaying after; zero when not raised, and always on the open
// network.
func (m *Mempool) RollingMinFee() uint64 {
	if !m.rolling.raised.Load() {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rollingFee()
}

// MinFeeNow returns the least fee the pool takes now from a transaction
// of size encoded bytes: the minimum relay fee, or the rolling minimum
// if that is higher. A wallet that names no fee pays it.
func (m *Mempool) MinFeeNow(size int) uint64 {
	return max(m.MinFee(size), m.RollingMinFee())
}

// checkRolling refuses a fee below the rolling minimum. It runs before
// the signature is verified: such a transaction cannot enter now
// whatever its signature. It is ErrFeeTooLow (this node's policy, not a
// fault of whoever relayed it): the same transaction offered again soon
// is refused again (the minimum does not fall before a block comes, and
// then over minutes), while a higher fee goes at once.
func (m *Mempool) checkRolling(tx *Transaction) error {
	if !m.p.Signed {
		return nil
	}
	if min := m.RollingMinFee(); tx.Fee < min {
		return &rollingFeeError{fee: tx.Fee, min: min}
	}
	return nil
}

// rollingFeeError is a fee below the rolling minimum. It is ErrFeeTooLow
// to callers that branch (the API's 400, gossip's Ignore), with its own
// text: the fee may be well above the minimum relay fee that
// ErrFeeTooLow's names.
type rollingFeeError struct{ fee, min uint64 }

func (e *rollingFeeError) Error() string {
	return fmt.Sprintf("fee %d below the mempool's minimum of %d now: it was full and evicted transactions paying less than that on average (the minimum halves every %s or faster once a block has come)",
		e.fee, e.min, rollingHalfLife)
}

func (e *rollingFeeError) Is(target error) bool { return target == ErrFeeTooLow }
