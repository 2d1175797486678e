package chain

import (
	"errors"
	"fmt"
)

// Credits: a pending transaction of another sender that pays a sender
// counts toward that sender's balance (see Mempool). These are the
// checks and sums behind it.

// senderView returns a view of state with addr's claimed credits and then
// its pending transactions applied: the account it shows is the one addr's
// next transaction meets. Claimed credits go first because the pending
// transactions were admitted on them. m.mu is held.
func (m *Mempool) senderView(addr string, state AccountReader) (*StateView, error) {
	v := NewStateView(m.p, state)
	if _, err := v.Account(addr); err != nil {
		return nil, fmt.Errorf("mempool: read sender %s: %w", addr, err)
	}
	if c := m.claimedCredit(addr); c > 0 {
		if err := v.credit(addr, c); err != nil {
			return nil, fmt.Errorf("mempool: credits of %s do not apply to this state: %v", addr, err)
		}
	}
	for _, e := range m.bySender[addr] {
		if err := v.ApplyTx(e.tx); err != nil {
			// The pool no longer matches state: the tip moved and Reorg
			// has not run yet. That is not the sender's fault, so the
			// rule error is not wrapped: gossip must not penalise anyone.
			return nil, fmt.Errorf("mempool: pending %s of %s does not apply to this state (tip moved without Reorg?): %v",
				e.id.Short(), addr, err)
		}
	}
	return v, nil
}

// admit applies tx, whose nonce is its sender's next in v, to v with the
// ledger's own ApplyTx, so the pool and block validation never disagree
// on a rule. If the sender's balance in v falls short, it claims unclaimed
// pending credits to the sender, oldest first, until they cover it, and
// returns them: tx's parents. On error v is unchanged. m.mu is held.
func (m *Mempool) admit(v *StateView, tx *Transaction) ([]*poolEntry, error) {
	err := v.ApplyTx(tx)
	if err == nil || !errors.Is(err, ErrInsufficientFunds) {
		return nil, err
	}
	before, _ := v.Account(tx.Sender) // read by ApplyTx: cannot fail
	short := int64(tx.Amount+tx.Fee) - before.Balance
	var parents []*poolEntry
	var sum int64
	for _, c := range m.byRecipient[tx.Sender] {
		if c.child != nil {
			continue
		}
		parents = append(parents, c)
		sum += int64(c.tx.Amount) // each ≤ MaxAmount, at most maxTxs of them: no overflow
		if sum >= short {
			break
		}
	}
	if sum < short {
		return nil, err
	}
	if cerr := v.credit(tx.Sender, uint64(sum)); cerr != nil {
		return nil, cerr
	}
	if aerr := v.ApplyTx(tx); aerr != nil {
		v.accounts[tx.Sender] = before // take the credit back
		return nil, aerr
	}
	return parents, nil
}

// claimedCredit is the sum of the pending credits to addr that addr's
// pending transactions claimed: the amounts of their parents. m.mu is
// held.
func (m *Mempool) claimedCredit(addr string) uint64 {
	var sum uint64
	for _, e := range m.bySender[addr] {
		for _, p := range e.parents {
			sum += p.tx.Amount
		}
	}
	return sum
}

// unclaimedCredit is the sum of the pending credits to addr nobody has
// claimed yet. Only a queued transaction needs it. m.mu is held.
func (m *Mempool) unclaimedCredit(addr string) int64 {
	var sum int64
	for _, c := range m.byRecipient[addr] {
		if c.child == nil {
			sum += int64(c.tx.Amount) // each ≤ MaxAmount, at most maxTxs of them: no overflow
		}
	}
	return sum
}
