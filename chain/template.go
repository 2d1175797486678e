package chain

import (
	"context"
	"fmt"
	"sync/atomic"
)

// TxSource supplies transactions for a block template, best first; the
// mempool is one.
type TxSource interface {
	Select(maxTxs, maxBytes int) []*Transaction
}

// NewTemplate builds the next block on the tip, unsolved: the coinbase to
// minerAddr, then what src offers that still applies to the tip state,
// the retargeted target and a timestamp of now, or just above the median
// time if the clock is behind it.
func (c *Chain) NewTemplate(src TxSource, minerAddr string) (*Block, error) {
	tip := c.Tip()
	anc := c.ancestry(c.store)
	bits, err := NextBits(c.p, anc, &tip.Header)
	if err != nil {
		return nil, err
	}
	mtp, err := MedianTime(c.p, anc, &tip.Header)
	if err != nil {
		return nil, err
	}
	height := tip.Height() + 1
	cb := &Transaction{Version: TxVersion, Sender: CoinbaseSender, Recipient: minerAddr, Amount: c.p.Reward, Nonce: height}
	if err := checkCoinbase(c.p, cb, height); err != nil {
		return nil, fmt.Errorf("miner address: %w", err)
	}
	// Room for the header, the count varint and a coinbase whose amount
	// grows with fees (its encoding does not: amounts are fixed width).
	room := MaxBlockSize - HeaderSize - uvarintLen(MaxBlockTxs) - cb.EncodedSize()
	txs := []*Transaction{cb}
	if src != nil {
		// The source may lag the tip by a block: keep only what applies.
		v := NewStateView(c.p, c.store)
		for _, tx := range src.Select(MaxBlockTxs-1, room) {
			if cb.Amount+tx.Fee > MaxAmount || c.onChain(tx) || v.ApplyTx(tx) != nil {
				continue
			}
			txs = append(txs, tx)
			cb.Amount += tx.Fee
		}
	}
	b := &Block{
		Header: Header{
			Version:    HeaderVersion,
			Height:     height,
			PrevHash:   tip.Hash,
			MerkleRoot: MerkleRoot(TxIDs(txs)),
			Timestamp:  max(c.now().UnixMilli(), mtp+1),
			Bits:       bits,
		},
		Transactions: txs,
	}
	return b, nil
}

// onChain reports, on networks without nonces, whether the main chain
// already holds tx: it could not be mined again.
func (c *Chain) onChain(tx *Transaction) bool {
	if c.p.Signed {
		return false
	}
	_, err := c.store.TxLocation(tx.ID())
	return err == nil
}

// Mine builds a template and searches for its proof of work on workers
// goroutines. It gives up with ErrStaleTip as soon as the tip changes, and
// with the context's error when ctx ends. The block is not processed: the
// caller hands it to ProcessBlock. hashes, if not nil, counts the tries.
func (c *Chain) Mine(ctx context.Context, src TxSource, minerAddr string, workers int, hashes *atomic.Uint64) (*Block, error) {
	changed := c.TipChanged()
	b, err := c.NewTemplate(src, minerAddr)
	if err != nil {
		return nil, err
	}
	if b.Header.PrevHash != c.Tip().Hash {
		return nil, ErrStaleTip
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mine block %d: %w", b.Header.Height, err)
	}
	// Found, or else the search goes on from the first nonce not tried.
	h, ok := solveQuick(b.Header, quickTries, hashes)
	b.Header = h
	if ok {
		return b, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-changed:
			cancel(ErrStaleTip)
		case <-ctx.Done():
		}
	}()
	solved, err := Solve(ctx, b.Header, workers, hashes)
	if err != nil {
		if cause := context.Cause(ctx); cause == ErrStaleTip {
			return nil, ErrStaleTip
		}
		return nil, err
	}
	b.Header = solved
	return b, nil
}
