package testnet

import (
	"errors"
	"fmt"

	"github.com/gossipchain/gossipchain/chain"
)

// Audit is what one node's main chain implies, recomputed from its
// blocks by this package's own arithmetic rather than the chain
// package's ledger: the independent computation that a test holds the
// node's ledger to. It proves, block by block from genesis, that every
// transaction applies once, in nonce order, without overdraft.
type Audit struct {
	Tip    chain.Hash
	Height uint64
	// Accounts is every address the chain touched, with its balance and
	// nonce at the tip.
	Accounts map[string]chain.Account
	// Included maps the id of every transaction on the main chain,
	// coinbases too, to the height of its block.
	Included map[chain.Hash]uint64
}

// ErrAudit is wrapped by every inconsistency Audit and Check find.
var ErrAudit = errors.New("audit")

// AuditChain walks c's main chain back from the tip by parent hashes (a
// consistent branch even if the tip moves meanwhile), then replays it
// forward from genesis.
func AuditChain(c *chain.Chain) (*Audit, error) {
	p := c.Params()
	tip := c.Tip()
	blocks := make([]*chain.Block, tip.Height()+1)
	h := tip.Hash
	for height := int64(tip.Height()); height >= 0; height-- {
		b, err := c.Block(h)
		if err != nil {
			return nil, fmt.Errorf("block %s at height %d: %w", h.Short(), height, err)
		}
		if b.Header.Height != uint64(height) {
			return nil, fmt.Errorf("%w: block %s claims height %d, found at %d", ErrAudit, h.Short(), b.Header.Height, height)
		}
		blocks[height] = b
		h = b.Header.PrevHash
	}
	if g := blocks[0].Hash(); g != p.NetworkID() {
		return nil, fmt.Errorf("%w: chain starts at %s, not genesis %s", ErrAudit, g.Short(), p.NetworkID().Short())
	}

	a := &Audit{Tip: tip.Hash, Height: tip.Height(), Accounts: make(map[string]chain.Account),
		Included: make(map[chain.Hash]uint64)}
	for _, b := range blocks {
		if err := a.apply(p, b); err != nil {
			return nil, fmt.Errorf("%w: block %d (%s): %w", ErrAudit, b.Header.Height, b.Hash().Short(), err)
		}
	}
	return a, nil
}

// apply replays one block: the coinbase pays the reward plus the block's
// fees, then each transfer moves amount and fee out of the sender.
func (a *Audit) apply(p *chain.Params, b *chain.Block) error {
	if len(b.Transactions) == 0 || !b.Transactions[0].IsCoinbase() {
		return errors.New("no coinbase first")
	}
	var fees uint64
	for _, tx := range b.Transactions[1:] {
		fees += tx.Fee
	}
	cb := b.Transactions[0]
	if cb.Amount != p.Reward+fees {
		return fmt.Errorf("coinbase pays %d, want %d + %d in fees", cb.Amount, p.Reward, fees)
	}
	for i, tx := range b.Transactions {
		id := tx.ID()
		if at, dup := a.Included[id]; dup {
			return fmt.Errorf("transaction %s applied twice, at heights %d and %d", id.Short(), at, b.Header.Height)
		}
		a.Included[id] = b.Header.Height
		if i == 0 {
			a.credit(cb.Recipient, cb.Amount)
			continue
		}
		if tx.IsCoinbase() {
			return fmt.Errorf("a second coinbase, transaction %d", i)
		}
		from := a.Accounts[tx.Sender]
		cost := int64(tx.Amount + tx.Fee)
		if p.Signed {
			if tx.Nonce != from.Nonce {
				return fmt.Errorf("transaction %s: nonce %d, sender at %d", id.Short(), tx.Nonce, from.Nonce)
			}
			if from.Balance < cost {
				return fmt.Errorf("transaction %s: overdraft, %d of %d", id.Short(), cost, from.Balance)
			}
		}
		a.Accounts[tx.Sender] = chain.Account{Balance: from.Balance - cost, Nonce: from.Nonce + 1}
		a.credit(tx.Recipient, tx.Amount)
	}
	return nil
}

func (a *Audit) credit(addr string, amount uint64) {
	acct := a.Accounts[addr]
	acct.Balance += int64(amount)
	a.Accounts[addr] = acct
}

// Check compares every account the audit computed with c's ledger as
// its store holds it. c must be at the audited tip.
func (a *Audit) Check(c *chain.Chain) error {
	if tip := c.Tip().Hash; tip != a.Tip {
		return fmt.Errorf("%w: chain at %s, audit at %s", ErrAudit, tip.Short(), a.Tip.Short())
	}
	var errs []error
	for addr, want := range a.Accounts {
		got, err := c.StoredAccount(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", addr, err))
			continue
		}
		if got != want {
			errs = append(errs, fmt.Errorf("%w: %s: ledger %+v, recomputed %+v", ErrAudit, addr, got, want))
		}
	}
	return errors.Join(errs...)
}
