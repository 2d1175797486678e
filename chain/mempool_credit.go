package chain

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Credits: a pending transaction of another sender that pays a sender
// counts toward that sender's balance (see Mempool). These are the
// checks and sums behind it.

// senderView returns a view of state with addr's claimed credits and then
// its pending transactions applied: the account it shows is the one addr's
// next transaction meets. Claimed credits go first because the pending
// transactions were admitted on them. m.mu is held.
//
// The pending transactions are applied with the ledger's ApplyTx, but their
// recipients are not read while they are: each would be a store read (a
// bbolt read transaction), up to the per-sender cap of them at every
// admission, and the view's caller only ever reads a few accounts. What
// they were paid is kept and added when the view first reads a recipient,
// with the same overflow check a credit makes.
func (m *Mempool) senderView(addr string, state AccountReader) (*StateView, error) {
	r := &pendingReader{base: state, sender: addr}
	v := NewStateView(m.p, r)
	if _, err := v.Account(addr); err != nil {
		return nil, fmt.Errorf("mempool: read sender %s: %w", addr, err)
	}
	if c := m.claimedCredit(addr); c > 0 {
		if err := v.credit(addr, c); err != nil {
			return nil, fmt.Errorf("mempool: credits of %s do not apply to this state: %v", addr, err)
		}
	}
	pending := m.bySender[addr]
	if len(pending) == 0 {
		return v, nil
	}
	r.replaying = true
	for _, e := range pending {
		if err := v.ApplyTx(e.tx); err != nil {
			// The pool no longer matches state: the tip moved and Reorg
			// has not run yet. That is not the sender's fault, so the
			// rule error is not wrapped: gossip must not penalise anyone.
			return nil, fmt.Errorf("mempool: pending %s of %s does not apply to this state (tip moved without Reorg?): %v",
				e.id.Short(), addr, err)
		}
	}
	r.replaying = false
	// The recipients' entries hold only what the pending transactions
	// paid them: move that to the reader, which adds it to the state's
	// account when the view reads one.
	for a, acct := range v.accounts {
		if a == addr {
			continue
		}
		if r.credits == nil {
			r.credits = make(map[string]int64)
		}
		r.credits[a] = acct.Balance
		delete(v.accounts, a)
	}
	v.undo = slices.DeleteFunc(v.undo, func(u UndoEntry) bool { return u.Address != addr })
	return v, nil
}

// pendingReader is the state under a sender's view: while the sender's
// pending transactions are replayed every other account reads as empty,
// and afterwards as the state's account plus what those transactions
// paid it. It reads each account of the state once: a StateView keeps
// only the accounts it wrote, and reads the sender's several times.
type pendingReader struct {
	base      AccountReader
	sender    string
	replaying bool
	credits   map[string]int64 // by recipient, what the sender's pending transactions paid
	read      map[string]Account
}

// Account implements AccountReader.
func (r *pendingReader) Account(addr string) (Account, error) {
	if r.replaying && addr != r.sender {
		return Account{}, nil
	}
	a, ok := r.read[addr]
	if !ok {
		var err error
		if a, err = r.base.Account(addr); err != nil {
			return a, err
		}
		if r.read == nil {
			r.read = make(map[string]Account, 2)
		}
		r.read[addr] = a
	}
	if c := r.credits[addr]; c > 0 {
		if a.Balance > math.MaxInt64-c {
			return Account{}, ruleError(ErrBalanceOverflow, "recipient %s balance %d cannot take the %d its pending credits add", addr, a.Balance, c)
		}
		a.Balance += c
	}
	return a, nil
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
