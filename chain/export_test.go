package chain

// SideBranchPruneDepth is sideBranchPruneDepth, for the tests.
const SideBranchPruneDepth = sideBranchPruneDepth

// VerifyInOneBatch queues the signature checks of txs on sc's queue (at
// most batchMax, no worker running) and then lets one worker take them:
// they are verified as one batch. It returns each one's verdict.
func VerifyInOneBatch(sc *SigCache, p *Params, txs []*Transaction) []bool {
	q := sc.q
	q.mu.Lock()
	q.workers++ // nobody else leads while they are queued
	waits := make([]*sigWait, len(txs))
	for i, tx := range txs {
		q.slots <- struct{}{}
		waits[i] = &sigWait{p: p, job: sigJob{tx: tx, id: tx.ID()}, done: make(chan struct{})}
		q.waits = append(q.waits, waits[i])
	}
	q.mu.Unlock()
	q.drain()
	out := make([]bool, len(txs))
	for i, w := range waits {
		<-w.done
		out[i] = w.job.ok
	}
	return out
}

// KnownTip returns the committed tip's meta as the chain's store keeps it
// in memory, if it does (tipstore.go).
func KnownTip(c *Chain) (*BlockMeta, bool) { return c.store.(*tipStore).known() }
