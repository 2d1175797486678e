package chain

import (
	"fmt"
	"math"
)

// AccountReader reads ledger state: the committed store, or a view on top
// of it.
type AccountReader interface {
	Account(addr string) (Account, error)
}

// StateView is ledger state being changed: writes stay in memory on top of
// a base reader until the caller commits them (Changes) or drops the view.
// It records the first state of every address it touches, so the change
// can be undone. A StateView is not safe for concurrent use.
type StateView struct {
	p        *Params
	base     AccountReader
	accounts map[string]Account
	undo     []UndoEntry
}

// NewStateView returns an empty view over base.
func NewStateView(p *Params, base AccountReader) *StateView {
	return &StateView{p: p, base: base, accounts: make(map[string]Account)}
}

// Account returns the state of addr as this view sees it.
func (v *StateView) Account(addr string) (Account, error) {
	if a, ok := v.accounts[addr]; ok {
		return a, nil
	}
	return v.base.Account(addr)
}

func (v *StateView) set(addr string, prev, next Account) {
	if _, touched := v.accounts[addr]; !touched {
		v.undo = append(v.undo, UndoEntry{Address: addr, Prev: prev})
	}
	v.accounts[addr] = next
}

// Changes returns every address the view wrote, with its new state.
func (v *StateView) Changes() map[string]Account { return v.accounts }

// Undo returns the state before the view of every address it wrote.
func (v *StateView) Undo() *Undo { return &Undo{Entries: v.undo} }

// ApplyTx checks a sanity-checked, non-coinbase transaction against the
// state and applies it. On signed networks the nonce must be the sender's
// next and the sender must cover amount plus fee; on unsigned networks
// neither is checked and balances may go negative. A failed check changes
// nothing.
func (v *StateView) ApplyTx(tx *Transaction) error {
	from, err := v.Account(tx.Sender)
	if err != nil {
		return fmt.Errorf("read sender: %w", err)
	}
	cost := int64(tx.Amount + tx.Fee) // both ≤ MaxAmount, so no overflow
	if v.p.Signed {
		if tx.Nonce != from.Nonce {
			return ruleError(ErrBadNonce, "nonce %d, sender %s is at %d", tx.Nonce, tx.Sender, from.Nonce)
		}
		if from.Balance < cost {
			return ruleError(ErrInsufficientFunds, "sender %s has %d, needs %d", tx.Sender, from.Balance, cost)
		}
	} else if from.Balance < math.MinInt64+cost {
		return ruleError(ErrBalanceOverflow, "sender %s balance %d cannot go %d lower", tx.Sender, from.Balance, cost)
	}
	newFrom := Account{Balance: from.Balance - cost, Nonce: from.Nonce + 1}
	v.set(tx.Sender, from, newFrom)
	if err := v.credit(tx.Recipient, tx.Amount); err != nil {
		v.accounts[tx.Sender] = from // undo the debit; the undo entry is harmless
		return err
	}
	return nil
}

func (v *StateView) credit(addr string, amount uint64) error {
	to, err := v.Account(addr)
	if err != nil {
		return fmt.Errorf("read recipient: %w", err)
	}
	if to.Balance > math.MaxInt64-int64(amount) {
		return ruleError(ErrBalanceOverflow, "recipient %s balance %d cannot take %d more", addr, to.Balance, amount)
	}
	v.set(addr, to, Account{Balance: to.Balance + int64(amount), Nonce: to.Nonce})
	return nil
}

// ConnectBlock applies a sanity-checked block to the view: the coinbase
// must pay exactly the reward plus the block's fees, then every
// transaction is applied in order. The caller drops the view on error.
func (v *StateView) ConnectBlock(b *Block) error {
	if len(v.accounts) == 0 {
		// Sized once for every address the block may touch, rather than
		// grown through a dozen rehashes.
		v.accounts = make(map[string]Account, 2*len(b.Transactions))
		v.undo = make([]UndoEntry, 0, 2*len(b.Transactions))
	}
	cb := b.Transactions[0]
	var fees uint64
	for _, tx := range b.Transactions[1:] {
		// Each fee is at most MaxAmount, but thousands of them are not:
		// bound the sum so it never wraps.
		if tx.Fee > MaxAmount-fees {
			return ruleError(ErrBadCoinbaseAmount, "fees of the block exceed %d", uint64(MaxAmount))
		}
		fees += tx.Fee
	}
	if want := v.p.Reward + fees; cb.Amount != want {
		return ruleError(ErrBadCoinbaseAmount, "coinbase pays %d, want reward %d + fees %d", cb.Amount, v.p.Reward, fees)
	}
	if err := v.credit(cb.Recipient, cb.Amount); err != nil {
		return err
	}
	for i, tx := range b.Transactions[1:] {
		if err := v.ApplyTx(tx); err != nil {
			return fmt.Errorf("transaction %d (%s): %w", i+1, tx.ID().Short(), err)
		}
	}
	return nil
}
