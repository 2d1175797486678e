package chain

import (
	"fmt"
	"time"
)

// The checks a transaction meets before its signature is verified: what
// reads only the transaction (Precheck), and what the state refuses
// whatever the signature (Hopeless).

// Precheck runs the admission checks that read only the transaction,
// in protocol.md 11.1's order (steps 1 to 3: a coinbase, an id already
// held, unless local, the fee against the minimum relay fee and the
// rolling minimum, an admission time past the pending TTL),
// so that a caller verifying the signature first (the node's intake)
// spends no verification on a transaction these refuse. id is tx.ID(),
// as for AddIDSince; admitted is AddIDSince's too.
func (m *Mempool) Precheck(tx *Transaction, id Hash, admitted time.Time, local bool) error {
	_, err := m.precheck(tx, id, admitted, local)
	return err
}

// precheck is Precheck, returning the time tx counts as admitted.
func (m *Mempool) precheck(tx *Transaction, id Hash, admitted time.Time, local bool) (time.Time, error) {
	if tx.IsCoinbase() {
		return time.Time{}, ruleError(ErrMultipleCoinbases, "a coinbase cannot enter the mempool; only a block's first transaction may be one")
	}
	if !local && m.Has(id) { // a local one may adopt a peer's copy, under the lock
		return time.Time{}, fmt.Errorf("%w: %s", ErrTxInPool, id.Short())
	}
	if err := m.CheckFee(tx); err != nil {
		return time.Time{}, err
	}
	// A held transaction the node's client submits again is adopted
	// (alreadyHeld), whatever the minimum since it came.
	if err := m.checkRolling(tx); err != nil && !(local && m.Has(id)) {
		return time.Time{}, err
	}
	return m.admissionTime(id, admitted)
}

// Hopeless reports why tx, of a signed network, cannot enter the pool now
// whatever its signature, or nil. The ledger's state and the pool are read
// as they stand, and every test is weaker than add's at that moment (the
// sender's committed nonce rather than its pending one, every pending
// credit to it whether claimed or not, none of its pending spends), so a
// transaction Hopeless refuses, add would refuse as well then: a nonce its
// sender has used in a block, one further ahead than the queue holds, or
// an amount its sender could not pay with every credit it may have. The
// caller accounts for transactions of the same gossiped batch before tx,
// not yet admitted: credit is what they pay the sender, and earlier how
// many of them the sender signed. Unless settled, a block may be
// connecting meanwhile, and may fund the sender or move its nonce: then
// only a nonce already used in a block is judged. The verdict is final:
// a block or a funding transfer that lands while the rest of the batch is
// verified no longer lets the transaction in (it is Ignored, as one that
// came a moment early; its sender's rebroadcast brings it again).
//
// A transaction whose shape is bad is not judged here (nil): its batch is
// rejected for that (CheckTxsSanity), not ignored for the state.
//
// Gossiped batches ask it before their signatures are verified: such
// transactions are signed validly for nothing by whoever holds a key (or
// replayed from blocks by anyone), and cost the receiver a verification
// each while earning only Ignore (their errors depend on the state).
func (m *Mempool) Hopeless(tx *Transaction, state AccountReader, credit int64, earlier int, settled bool) error {
	if !m.p.Signed || tx.IsCoinbase() {
		return nil
	}
	err := m.hopeless(tx, state, credit, earlier, settled)
	if err != nil && checkTxShape(m.p, tx) != nil {
		// Asked only of the refused: an admissible transaction's shape
		// is checked once, with its signature (CheckTxsSanity).
		return nil
	}
	return err
}

// hopeless is Hopeless's verdict on the state, whatever tx's shape (an
// amount past MaxAmount may read as anything here: Hopeless then judges
// by the shape).
func (m *Mempool) hopeless(tx *Transaction, state AccountReader, credit int64, earlier int, settled bool) error {
	acct, err := state.Account(tx.Sender)
	if err != nil {
		return nil // the full path reports it
	}
	cost := int64(tx.Amount + tx.Fee)
	m.mu.Lock()
	pending := uint64(len(m.bySender[tx.Sender]) + earlier)
	window := m.queueCfg.window
	// Every pending credit to the sender, claimed or not: an upper bound
	// on what it can spend, kept as a sum (creditSum), since a forged
	// transaction naming a sender with many credits must not cost a pass
	// over them.
	spendable := acct.Balance + credit + m.credits[tx.Sender].all
	m.mu.Unlock()
	switch {
	case tx.Nonce < acct.Nonce:
		return ruleError(ErrBadNonce, "nonce %d already used in a block, expected at least %d (sender %s)",
			tx.Nonce, acct.Nonce, tx.Sender)
	case !settled:
	case tx.Nonce-acct.Nonce > pending+window:
		return ruleError(ErrBadNonce, "nonce %d is more than %d ahead of %d, its sender's next with %d pending (sender %s)",
			tx.Nonce, window, acct.Nonce, pending, tx.Sender)
	case cost > spendable:
		return ruleError(ErrInsufficientFunds, "overspend: sender %s can pay at most %d with every pending credit, needs %d",
			tx.Sender, spendable, cost)
	}
	return nil
}
