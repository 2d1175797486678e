package chain

import "errors"

// ErrUnchecked is the verdict of a batch's transaction whose signature
// was not verified because one before it in the batch was bad
// (CheckTxsSanity), and of a block of a sync batch whose signatures were
// left unverified because an earlier block's failed (verifyBlockJobs).
// It is not a rule error: the transaction, or the block, may be valid.
var ErrUnchecked = errors.New("signature not checked: an earlier signature of the batch is bad")

// firstRound is the size of CheckTxsSanity's first round of
// verifications; each later round is twice the one before.
const firstRound = 8

// CheckTxsSanity is CheckTxSanity for many transactions at once, as a
// gossiped batch brings them (protocol.md §16.9.2); ids[i] is txs[i]'s
// id, which the caller has computed already (TxIDs). errs[i] is
// transaction i's verdict: nil when it passed, the error CheckTxSanity
// would give when it failed, ErrUnchecked when it comes after the first
// that failed.
//
// The first transaction that fails, its shape or its signature, ends the
// check: a batch holding it is rejected whatever follows, so nothing
// after it is worth a verification. Shapes come first, up to the first
// failure; then the signatures the cache does not hold, each distinct one
// once (a repeat in the batch shares its first copy's verdict), in batch
// order, in rounds of firstRound, then twice as many each round, the
// round with a bad signature being the last. Forged signatures cost
// their sender nothing, so without the rounds one at the end of a full
// batch would cost the receiver the whole batch's verifications for the
// price of one message; with them, what enters verification is at most
// firstRound plus twice the distinct valid signatures before the forgery,
// each of which its sender had to make.
func (c *Chain) CheckTxsSanity(txs []*Transaction, ids []Hash) []error {
	errs := make([]error, len(txs))
	sigs := c.sigs.on(c.p)
	stop := len(txs) // the first transaction that failed
	first := make(map[Hash]int, len(txs))
	copyOf := make([]int, len(txs)) // a repeat's first copy, -1 for none
	var jobs []sigJob
	var at []int
	for i, tx := range txs {
		copyOf[i] = -1
		if err := checkTxShape(c.p, tx); err != nil {
			errs[i], stop = err, i
			break
		}
		if !c.p.Signed {
			continue
		}
		id := ids[i]
		if j, ok := first[id]; ok {
			copyOf[i] = j
			continue
		}
		first[id] = i
		if !sigs.cached(id) {
			jobs = append(jobs, sigJob{tx: tx, id: id})
			at = append(at, i)
		}
	}
	for checked, size := 0, firstRound; checked < len(jobs); size *= 2 {
		end := min(checked+size, len(jobs))
		sigs.verifyJobs(c.p, jobs[checked:end])
		forged := false
		for k := checked; k < end; k++ {
			if !jobs[k].ok && at[k] < stop {
				errs[at[k]], stop, forged = badSignature(jobs[k].tx), at[k], true
			}
		}
		checked = end
		if forged {
			break
		}
	}
	for i := range txs {
		switch {
		case i > stop:
			errs[i] = ErrUnchecked
		case copyOf[i] >= 0:
			errs[i] = errs[copyOf[i]]
		}
	}
	return errs
}
