package chain

import (
	"errors"
	"fmt"
)

//go:generate stringer -type=ErrorCode -trimprefix=Err

// ErrorCode names one rule a block or transaction broke. An ErrorCode is an
// error itself, so callers branch with errors.Is(err, chain.ErrBadMerkleRoot)
// whether they hold the bare code or a *RuleError built from it.
type ErrorCode int

// One code per rule. When adding one, decide in transientCodes below whether
// it means "not now" (ignore, maybe retry) or "never" (the sender is wrong).
const (
	// ErrMalformed: the bytes or JSON do not decode to a block, header or
	// transaction, or a field is out of its encoding's range.
	ErrMalformed ErrorCode = iota + 1

	// Block rules, context-free (sanity).

	// ErrBlockTooBig: the encoded block exceeds MaxBlockSize.
	ErrBlockTooBig
	// ErrTooManyTxs: more than MaxBlockTxs transactions.
	ErrTooManyTxs
	// ErrNoTransactions: a block without even a coinbase.
	ErrNoTransactions
	// ErrBadVersion: a header version other than HeaderVersion.
	ErrBadVersion
	// ErrBadTarget: the compact target is negative, overflows, is zero or
	// is easier than the network's proof-of-work limit.
	ErrBadTarget
	// ErrHighHash: the block hash is above its claimed target.
	ErrHighHash
	// ErrBadMerkleRoot: the header's merkle root is not that of the
	// block's transaction ids.
	ErrBadMerkleRoot
	// ErrDuplicateTx: the same transaction id twice in one block.
	ErrDuplicateTx
	// ErrFirstTxNotCoinbase: the first transaction is not a coinbase.
	ErrFirstTxNotCoinbase
	// ErrMultipleCoinbases: a coinbase after the first transaction.
	ErrMultipleCoinbases
	// ErrBadCoinbase: a coinbase with a fee, a key, a signature, or a
	// nonce other than the block height.
	ErrBadCoinbase

	// Block rules that need the parent (context).

	// ErrUnknownParent: the parent block is not known yet. Not a fault:
	// the block waits in the orphan pool while its parent is fetched.
	ErrUnknownParent
	// ErrDuplicateBlock: the block is already known.
	ErrDuplicateBlock
	// ErrKnownInvalid: the block, or an ancestor, failed validation before.
	ErrKnownInvalid
	// ErrBadHeight: the height is not the parent's plus one.
	ErrBadHeight
	// ErrUnexpectedTarget: the target is not the retargeted one.
	ErrUnexpectedTarget
	// ErrTimeTooOld: the timestamp is not above the median of the last
	// MedianTimeBlocks blocks.
	ErrTimeTooOld
	// ErrTimeTooNew: the timestamp is more than MaxFutureDrift ahead of
	// this node's clock. Not final: the block may become valid later.
	ErrTimeTooNew

	// Transaction rules.

	// ErrBadTxVersion: a transaction version other than TxVersion.
	ErrBadTxVersion
	// ErrBadAddress: a sender or recipient that is empty, too long, not
	// UTF-8, or (on signed networks) not a valid address.
	ErrBadAddress
	// ErrBadAmount: an amount of zero, or an amount or fee above MaxAmount.
	ErrBadAmount
	// ErrBadPublicKey: a missing or malformed public key, or one whose
	// address is not the sender.
	ErrBadPublicKey
	// ErrBadSignature: a missing or wrong signature, or a key or
	// signature on a network that takes none.
	ErrBadSignature
	// ErrBadNonce: the nonce is not the sender's next one.
	ErrBadNonce
	// ErrInsufficientFunds: the sender's balance would go negative.
	ErrInsufficientFunds
	// ErrBalanceOverflow: a balance would leave the representable range.
	ErrBalanceOverflow
	// ErrBadCoinbaseAmount: the coinbase pays other than reward plus fees.
	ErrBadCoinbaseAmount
	// ErrSmallOrderKey: a public key that encodes a point of order
	// dividing 8 (the identity, for one). Such a key verifies signatures
	// made without any private key, so nobody may spend from its address.
	// Last so the numbers of the older codes stay as they were.
	ErrSmallOrderKey

	// Fork-choice policy for unrequested blocks (work before bytes).

	// ErrNotHeavier: an unrequested block that does not make its branch
	// heavier than the tip, but falls short by at most one block's work
	// (the tip's): the loser of an honest mining race, or one that
	// arrived a block late; or by more, on a recent parent at a target
	// at most one retarget step easier than the tip's: the block of a
	// miner that was behind (staleMinerWindow). Not stored, not a fault.
	ErrNotHeavier
	// ErrLowWork: an unrequested block whose branch, with the orphans
	// waiting on it, falls short of the tip by more than one block's
	// work, on an older parent or at an easier target. Not stored and
	// not remembered as invalid (the block may be valid), but nobody
	// relays such a block honestly, so the sender pays for it.
	ErrLowWork

	numErrorCodes // keep last
)

// transientCodes are the codes that say "not now" rather than "never": the
// data may be fine, we cannot use it yet or already have it. Gossip ignores
// them without penalising the sender; every other code is a fault.
var transientCodes = map[ErrorCode]bool{
	ErrUnknownParent:  true,
	ErrDuplicateBlock: true,
	ErrTimeTooNew:     true,
	ErrNotHeavier:     true,
}

// stateCodes are the transaction rules that depend on the ledger. A block
// that breaks one is invalid, but a lone transaction that does may only
// be early or late: its sender's earlier transaction has not arrived, or
// the sender and this node disagree on the tip for a moment.
var stateCodes = map[ErrorCode]bool{
	ErrBadNonce:          true,
	ErrInsufficientFunds: true,
	ErrBalanceOverflow:   true,
}

// DependsOnState reports whether the code is a ledger rule (see stateCodes).
func (c ErrorCode) DependsOnState() bool { return stateCodes[c] }

// Error makes a bare code usable as an error and as an errors.Is target.
func (c ErrorCode) Error() string { return c.String() }

// Transient reports whether the code means "not now" (see transientCodes).
func (c ErrorCode) Transient() bool { return transientCodes[c] }

// RuleError is a broken rule with what was found and what was wanted.
type RuleError struct {
	Code ErrorCode
	Msg  string
}

func (e *RuleError) Error() string { return e.Code.String() + ": " + e.Msg }

// Unwrap exposes the code, so errors.Is(err, ErrHighHash) matches.
func (e *RuleError) Unwrap() error { return e.Code }

func ruleError(c ErrorCode, format string, args ...any) error {
	return &RuleError{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the rule code inside err, or 0 if err broke no rule (our
// own fault, a store error, a cancelled context).
func CodeOf(err error) ErrorCode {
	var c ErrorCode
	if errors.As(err, &c) {
		return c
	}
	return 0
}

// IsTransient reports whether err is a rule error that means "not now".
func IsTransient(err error) bool { return CodeOf(err).Transient() }

// ErrNotFound is returned by a Store and by lookups for an unknown block,
// height, transaction or undo record.
var ErrNotFound = errors.New("not found")

// ErrStaleTip is returned by Mine when the tip moved before a proof of work
// was found: the template no longer extends the main chain.
var ErrStaleTip = errors.New("tip changed while mining")

// ErrDoesNotLink is returned by HeaderChain.Extend for a header that does
// not follow the run: the peer's chain changed between two answers, or
// the peer mixed branches. Not a rule of any block.
var ErrDoesNotLink = errors.New("header does not follow the last one")
