package chain

// CheckTxsSanity is CheckTxSanity for many transactions at once, as a
// gossiped batch brings them (protocol.md §16.9): every rule but the
// signature is checked first, then the signatures the cache does not
// hold are verified together (verifyJobs: batches of up to batchMax, on
// every core when there are many) and added to it. errs[i] is
// transaction i's verdict, nil when it passed, the error CheckTxSanity
// would give otherwise. A transaction that fails another rule costs no
// verification; one whose signature the cache holds costs a lookup.
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
	c.sigs.verifyJobs(c.p, jobs)
	for k := range jobs {
		if !jobs[k].ok {
			errs[at[k]] = badSignature(jobs[k].tx)
		}
	}
	return errs
}
