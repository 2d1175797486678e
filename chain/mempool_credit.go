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
//
// A replay costs time in the sender's pending count, at every admission
// of the sender (under load, a tenth of a node's CPU), so its result is
// kept (senderTail) and used again while what it was computed from is
// unchanged. mk is where addr stood when v was built, for extendTail.
func (m *Mempool) senderView(addr string, state AccountReader) (v *StateView, mk senderMark, err error) {
	base, err := state.Account(addr)
	if err != nil {
		return nil, mk, fmt.Errorf("mempool: read sender %s: %w", addr, err)
	}
	pending := m.bySender[addr]
	mk = markOf(base, pending)
	if t := m.tails[addr]; t != nil && t.senderMark == mk {
		r := &pendingReader{base: state, sender: addr, credits: t.credits, read: map[string]Account{addr: base}}
		v = NewStateView(m.p, r)
		v.accounts[addr] = t.acct
		return v, mk, nil
	}
	r := &pendingReader{base: state, sender: addr, read: map[string]Account{addr: base}}
	v = NewStateView(m.p, r)
	if c := m.claimedCredit(addr); c > 0 {
		if err := v.credit(addr, c); err != nil {
			return nil, mk, fmt.Errorf("mempool: credits of %s do not apply to this state: %v", addr, err)
		}
	}
	if len(pending) == 0 {
		return v, mk, nil
	}
	r.replaying = true
	for _, e := range pending {
		if err := v.ApplyTx(e.tx); err != nil {
			// The pool no longer matches state: the tip moved and Reorg
			// has not run yet. That is not the sender's fault, so the
			// rule error is not wrapped: gossip must not penalise anyone.
			return nil, mk, fmt.Errorf("mempool: pending %s of %s does not apply to this state (tip moved without Reorg?): %v",
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
	acct, _ := v.Account(addr) // set by the replay
	m.tails[addr] = &senderTail{senderMark: mk, acct: acct, credits: r.credits}
	return v, mk, nil
}

// senderMark is where a sender stands: its account in state, and its
// pending list's length and last entry.
type senderMark struct {
	base Account
	n    int
	last *poolEntry
}

// markOf is the mark of a sender whose account in state is base and
// whose pending list is pending.
func markOf(base Account, pending []*poolEntry) senderMark {
	mk := senderMark{base: base, n: len(pending)}
	if mk.n > 0 {
		mk.last = pending[mk.n-1]
	}
	return mk
}

// senderTail is what senderView computed for a sender with pending
// transactions: its account after its claimed credits and its pending
// transactions, and what those paid each recipient. It depends on the
// sender's account in state and on its pending list with the credits
// they claimed. Between two resets of the pool (every Reorg rebuilds it)
// that list changes only at its end (insert adds there, remove takes the
// last, and a rolled-back eviction puts the same entries back), and an
// entry's parents are set when it is inserted. A tail is dropped when
// any entry of its sender leaves the list (remove), so a kept tail's
// list has only grown since, and its length and last entry identify it:
// a tail whose mark is the sender's (those two and its account in state)
// is what a replay would compute; a tail always has a pending list, so a
// sender without one never matches. Reset drops every tail, because a
// rebuilt list may hold other entries under the same last one (a
// transaction that came back from an abandoned block in place of a
// conflicting one).
type senderTail struct {
	senderMark         // what it was computed from
	acct       Account // the sender after its claimed credits and pending transactions
	// credits is shared by the views built from the tail, which read it
	// only and are dropped before m.mu is released; extendTail writes it.
	credits map[string]int64
}

// extendTail brings addr's tail up to date after its pending list grew
// from where mk says it stood to the list now, the new entries applied
// to v, the view senderView returned with mk: so the next admission of
// the sender replays nothing. Unless the list only grew, from the list
// the tail was computed for (or from none, without a tail), the tail is
// dropped and the next senderView replays. m.mu is held.
func (m *Mempool) extendTail(addr string, v *StateView, mk senderMark) {
	t, pending := m.tails[addr], m.bySender[addr]
	n := mk.n
	grew := len(pending) >= n && markOf(mk.base, pending[:n]) == mk
	fromTail := t == nil && n == 0 || t != nil && t.senderMark == mk
	if !grew || !fromTail {
		delete(m.tails, addr)
		return
	}
	if len(pending) == n {
		return
	}
	acct, err := v.Account(addr)
	if err != nil {
		delete(m.tails, addr)
		return
	}
	if t == nil {
		t = &senderTail{}
		m.tails[addr] = t
	}
	for _, e := range pending[n:] {
		if r := e.tx.Recipient; r != addr {
			if t.credits == nil {
				t.credits = make(map[string]int64)
			}
			t.credits[r] += int64(e.tx.Amount) // pending amounts sum far below MaxInt64
		}
	}
	t.senderMark, t.acct = markOf(mk.base, pending), acct
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
	if err := m.recipientRoom(v, tx); err != nil {
		return nil, err
	}
	err := v.ApplyTx(tx)
	if err == nil || !errors.Is(err, ErrInsufficientFunds) {
		return nil, err
	}
	before, _ := v.Account(tx.Sender) // read by ApplyTx: cannot fail
	short := int64(tx.Amount+tx.Fee) - before.Balance
	if m.credits[tx.Sender].unclaimed < short {
		// Without reading the credits one by one: a sender waiting for
		// credits is tried again as each arrives (revalidate), and a
		// crafted chain of k of them made each try read all k.
		return nil, err
	}
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

// recipientRoom refuses tx if its recipient's balance could not take
// its amount on top of every pending payment to it: a block may hold
// them all, whichever senders made them. v counts only tx's sender's
// own pending payments (pendingReader), so without this two senders
// could each pay a recipient near the limit what fits beside their own
// payments, and Select would offer a template that does not apply.
// Unless the recipient is that close to the limit it costs a sum's
// lookup. m.mu is held.
func (m *Mempool) recipientRoom(v *StateView, tx *Transaction) error {
	r := tx.Recipient
	all := m.credits[r].all
	if r == tx.Sender || all == 0 || tx.Amount > MaxAmount {
		return nil // nothing pending to it, or ApplyTx refuses tx anyway
	}
	a, err := v.Account(r) // its balance with what tx's sender's pending transactions pay it
	if err != nil || a.Balance <= math.MaxInt64-int64(tx.Amount)-all {
		return nil // ApplyTx reports a read's error
	}
	var paid int64
	for _, e := range m.bySender[tx.Sender] {
		if e.tx.Recipient == r {
			paid += int64(e.tx.Amount)
		}
	}
	if others := all - paid; a.Balance > math.MaxInt64-int64(tx.Amount)-others {
		return ruleError(ErrBalanceOverflow, "recipient %s balance %d cannot take %d on top of the %d other senders' pending transactions pay it", r, a.Balance, tx.Amount, others)
	}
	return nil
}

// claimedCredit is the sum of the pending credits to addr that addr's
// pending transactions claimed: the amounts of their parents. Only addr's
// own transactions claim credits to addr, so it is what those credits
// add up to less the unclaimed ones (creditSum). m.mu is held.
func (m *Mempool) claimedCredit(addr string) uint64 {
	s := m.credits[addr]
	return uint64(s.all - s.unclaimed)
}

// unclaimedCredit is the sum of the pending credits to addr nobody has
// claimed yet. Only a queued transaction needs it. m.mu is held.
func (m *Mempool) unclaimedCredit(addr string) int64 { return m.credits[addr].unclaimed }

// creditSum is what the pending credits to one address (its byRecipient
// entries) add up to: all of them, and those no child claimed. Each is
// at most MaxAmount and was funded when admitted, so a sum stays far
// inside int64 for any supply a chain reaches (overflow would take 1,024
// credits of MaxAmount each to one address). Kept as entries come, go
// and are claimed, so that admit and Hopeless need not add them up one
// by one.
type creditSum struct{ all, unclaimed int64 }

// countCredit adds e, a credit to r, to r's sums (sign 1) or takes it out
// (sign -1). m.mu is held.
func (m *Mempool) countCredit(r string, e *poolEntry, sign int64) {
	s := m.credits[r]
	s.all += sign * int64(e.tx.Amount)
	if e.child == nil {
		s.unclaimed += sign * int64(e.tx.Amount)
	}
	if s == (creditSum{}) {
		delete(m.credits, r)
	} else {
		m.credits[r] = s
	}
}

// setChild makes child the claimant of p's credit (nil: none), keeping
// p's recipient's unclaimed sum. m.mu is held.
func (m *Mempool) setChild(p, child *poolEntry) {
	if (p.child == nil) != (child == nil) {
		s := m.credits[p.tx.Recipient]
		if child == nil {
			s.unclaimed += int64(p.tx.Amount)
		} else {
			s.unclaimed -= int64(p.tx.Amount)
		}
		m.credits[p.tx.Recipient] = s
	}
	p.child = child
	m.stale(p.tx.Sender) // a transaction whose credit is claimed is not evictable
}
