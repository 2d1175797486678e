package chain

import "errors"

// ErrUnchecked is the verdict of a batch's transaction whose signature
// was not verified because one before it in the batch was bad
// (CheckTxsSanity). It is not a rule error: the transaction may be valid.
var ErrUnchecked = errors.New("signature not checked: an earlier signature of the batch is bad")

// firstRound is the size of CheckTxsSanity's first round of
// verifications; each later round is twice the one before.
const firstRound = 8

// CheckTxsSanity is CheckTxSanity for many transactions at once, as a
// gossiped batch brings them (protocol.md §16.9): every rule but the
// signature is checked first, then the signatures the cache does not
// hold are verified together (verifyJobs: batches of up to batchMax, on
// every core when there are many) and added to it. errs[i] is
// transaction i's verdict, nil when it passed, the error CheckTxSanity
// would give otherwise. A transaction that fails another rule costs no
// verification; one whose signature the cache holds costs a lookup.
//
// The signatures are verified in order, in rounds of firstRound, then
// twice as many each round, and a round with a bad signature is the
// last: what follows it gets ErrUnchecked. Forged signatures cost their
// sender nothing, so without the rounds one bad signature at the end of
// a full batch would cost the receiver all of the batch's verifications
// for the price of one message; with them, what a receiver verifies is
// at most firstRound plus twice the valid signatures before the bad one,
// each of which its sender had to make (protocol.md §16.9).
func (c *Chain) CheckTxsSanity(txs []*Transaction) []error {
	errs := make([]error, len(txs))
	var jobs []sigJob
	var at []int
	for i, tx := range txs {
		if err := checkTxShape(c.p, tx); err != nil {
			errs[i] = err
			continue
		}
		if !c.p.Signed {
			continue
		}
		if id := tx.ID(); !c.sigs.cached(id) {
			jobs = append(jobs, sigJob{tx: tx, id: id})
			at = append(at, i)
		}
	}
	checked := 0
	for size := firstRound; checked < len(jobs); size *= 2 {
		end := min(checked+size, len(jobs))
		c.sigs.verifyJobs(c.p, jobs[checked:end])
		bad := false
		for k := checked; k < end; k++ {
			if !jobs[k].ok {
				errs[at[k]] = badSignature(jobs[k].tx)
				bad = true
			}
		}
		checked = end
		if bad {
			break
		}
	}
	for k := checked; k < len(jobs); k++ {
		errs[at[k]] = ErrUnchecked
	}
	return errs
}
