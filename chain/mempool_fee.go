package chain

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/bits"
)

// Fee policy: what the pool asks of a transaction's fee before it spends
// anything on it (see Mempool.Add). None of it is consensus.

// ErrFeeTooLow is returned by Mempool.Add, on signed networks, for a
// transaction whose fee is below the pool's minimum relay fee for its
// size (WithMinRelayFee). It is this node's policy, not a broken rule: a
// node with a lower minimum may take the transaction.
var ErrFeeTooLow = errors.New("fee below the minimum relay fee")

// ErrFeeBelowFloor is returned, together with ErrFeeTooLow, for a fee
// below the network's floor (Params.RelayFeeFloor) as well as the pool's
// minimum: no node of the network relays it, so unlike ErrFeeTooLow alone
// it is a fault of whoever relayed it (protocol.md §11.7 rule 5).
var ErrFeeBelowFloor = errors.New("fee below the network's floor")

// ErrFeeUnminable is returned by Mempool.Add for a transaction whose fee
// no block can carry: a block's coinbase pays the reward plus its fees
// and may pay at most MaxAmount, so a fee above MaxAmount minus the
// reward makes every block holding the transaction invalid, on every
// node. Such a transaction costs its sender nothing on the open network
// and would be the last to be evicted (eviction takes the lowest fees), so
// it is refused rather than kept.
var ErrFeeUnminable = errors.New("fee can never be mined")

// FeeRate is a fee per FeeRateBytes bytes of a transaction's canonical
// encoding, in coins.
type FeeRate uint64

// FeeRateBytes is the number of encoded bytes a FeeRate is quoted for.
const FeeRateBytes = 1000

// Fee returns the least fee a transaction of size encoded bytes pays at
// rate r: r per FeeRateBytes, rounded up, since coins are indivisible and
// rounding down would make small transactions free.
func (r FeeRate) Fee(size int) uint64 {
	if r == 0 || size <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(r), uint64(size))
	if hi != 0 || lo > ^uint64(0)-(FeeRateBytes-1) {
		return ^uint64(0) // no transaction can pay it
	}
	return (lo + FeeRateBytes - 1) / FeeRateBytes
}

// WithMinRelayFee sets the least fee rate the pool takes on signed
// networks (default 0: any fee; the node passes its --min-relay-fee,
// DefaultMinRelayFee unless told otherwise, and never less than the
// network's Params.RelayFeeFloor). The open network ignores it: its fees
// are not backed by balances, so a minimum would stop no one.
func WithMinRelayFee(r FeeRate) MempoolOption { return func(c *mempoolConfig) { c.minRelayFee = r } }

// MinRelayFee returns the fee rate the pool asks: zero on the open
// network.
func (m *Mempool) MinRelayFee() FeeRate {
	if !m.p.Signed {
		return 0
	}
	return m.minRelayFee
}

// MinFee returns the least fee the pool takes from a transaction of size
// encoded bytes. A wallet signing a transfer computes it on the signed
// size (key and signature included): the fee's encoding has a fixed
// width, so the fee does not change the size it pays for.
func (m *Mempool) MinFee(size int) uint64 { return m.MinRelayFee().Fee(size) }

// SignedSize returns the encoded size tx will have once signed for p: on
// signed networks with a key and a signature, which it may not carry yet.
// A wallet computes the fee on it before it signs, since the fee is
// signed too.
func SignedSize(p *Params, tx *Transaction) int {
	if !p.Signed || len(tx.Signature) != 0 {
		return tx.EncodedSize()
	}
	return tx.EncodedSize() - len(tx.PublicKey) + ed25519.PublicKeySize + ed25519.SignatureSize
}

// MaxFee is the largest fee a block on network p can carry: the
// coinbase pays the reward plus the fees and at most MaxAmount.
func MaxFee(p *Params) uint64 { return MaxAmount - p.Reward }

// CheckFee refuses a fee no block could carry and, on signed networks, a
// fee below the minimum relay fee. It reads only tx and the pool's fixed
// configuration, so Add runs it before verifying the signature: a
// transaction that could never be admitted costs no verification. Amounts
// out of range are left to CheckTxSanity, whose ErrBadAmount is a broken
// rule that gossip holds against the peer, not a policy refusal.
//
// A caller that verifies the signature itself before AddVerified calls it
// first too.
func (m *Mempool) CheckFee(tx *Transaction) error {
	if tx.Amount > MaxAmount || tx.Fee > MaxAmount-tx.Amount {
		return nil
	}
	if limit := MaxFee(m.p); tx.Fee > limit {
		return fmt.Errorf("%w: fee %d plus the block reward %d exceed %d, the most a coinbase may pay; the largest fee a block can carry is %d",
			ErrFeeUnminable, tx.Fee, m.p.Reward, uint64(MaxAmount), limit)
	}
	size := tx.EncodedSize()
	if min := m.MinFee(size); tx.Fee < min {
		if floor := m.p.RelayFeeFloor.Fee(size); tx.Fee < floor {
			return fmt.Errorf("%w: %w: fee %d, the network asks at least %d for %d bytes (%d per %d bytes)",
				ErrFeeTooLow, ErrFeeBelowFloor, tx.Fee, floor, size, m.p.RelayFeeFloor, FeeRateBytes)
		}
		return fmt.Errorf("%w: fee %d, this node asks at least %d for %d bytes (%d per %d bytes)",
			ErrFeeTooLow, tx.Fee, min, size, m.MinRelayFee(), FeeRateBytes)
	}
	return nil
}

// checkFeeRoom refuses a transaction whose fee would take the pending
// fees past what one block can carry. Every pending transaction then fits
// a block's coinbase together with all the others, so fees alone never
// keep one waiting: without the bound, transactions each paying nearly
// MaxFee would fill the pool, a block could take only one of them, and
// honest transactions would be refused as the pool is full until
// thousands of blocks had drained it. On signed networks fees are paid
// from balances, and all the coins ever issued are far below the bound,
// so only the open network's unbacked fees ever meet it. m.mu is held.
func (m *Mempool) checkFeeRoom(tx *Transaction) error {
	if limit := MaxFee(m.p); tx.Fee > 0 && !m.fees.fits(tx.Fee, limit) {
		return fmt.Errorf("%w: pending fees %s plus fee %d exceed %d, the most one block can carry; try again after the next block",
			ErrMempoolFull, m.fees, tx.Fee, limit)
	}
	return nil
}

// feeSum is the sum of the pending fees. Admission keeps it within
// MaxFee, but a reorg brings back the fees of every block it abandons,
// so it is kept in 128 bits, where no number of transactions wraps it.
type feeSum struct{ hi, lo uint64 }

func (s *feeSum) add(f uint64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, f, 0)
	s.hi += c
}

func (s *feeSum) sub(f uint64) {
	var b uint64
	s.lo, b = bits.Sub64(s.lo, f, 0)
	s.hi -= b
}

// fits reports whether the sum plus f stays within limit.
func (s feeSum) fits(f, limit uint64) bool {
	return s.hi == 0 && s.lo <= limit && f <= limit-s.lo
}

func (s feeSum) String() string {
	if s.hi != 0 {
		return fmt.Sprintf("over %d", uint64(1<<64-1))
	}
	return fmt.Sprint(s.lo)
}
