package chain

import (
	"fmt"
	"math/big"
)

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
func KnownTip(c *Chain) (*BlockMeta, bool) {
	t := c.store.(*tipStore)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.meta == nil {
		return nil, false
	}
	return t.meta.Clone(), true
}

// ForgedDigest is a digest of txs that claims root as their merkle root,
// which DigestTxs never makes: tests see whether the chain took a
// digest's hashes or its own.
func ForgedDigest(txs []*Transaction, root Hash) *TxDigest {
	d := DigestTxs(txs)
	d.root = root
	return d
}

// ForgedChange is a change connecting b whose transaction ids, as the
// chain claims to have hashed them, are ids.
func ForgedChange(b *Block, ids []Hash) *Change {
	return &Change{Connected: []*Block{b}, ids: map[Hash][]Hash{b.Hash(): ids}}
}

// ChangeIDs is the ids of b's transactions that ch hands the mempool.
func ChangeIDs(ch *Change, b *Block) []Hash { return ch.connectedIDs(b) }

// DropSenderTails forgets what m kept of its senders' replays
// (senderTail), so that its next admission replays every pending
// transaction of the sender, as the pool did before it kept them.
func DropSenderTails(m *Mempool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.tails)
}

// VerifySig is verifySig, the signature rule for one signature.
var VerifySig = verifySig

// VerifyChunk verifies txs' signatures as the chain verifies a chunk of
// them (one batch, or one at a time below batchMin), without the caches,
// and returns each one's verdict.
func VerifyChunk(p *Params, txs []*Transaction) []bool {
	return verifyJobsWith((*SigCache)(nil).verifyChunk, p, txs)
}

// VerifyChunkKeys is VerifyChunk with the keys taken from sc's key
// cache (a key is expanded there once two of its signatures verified).
func VerifyChunkKeys(sc *SigCache, p *Params, txs []*Transaction) []bool {
	return verifyJobsWith(sc.verifyChunk, p, txs)
}

// VerifyBatch verifies txs' signatures by one batch verification,
// whatever their number, with the keys of sc's key cache (nil: none).
func VerifyBatch(sc *SigCache, p *Params, txs []*Transaction) []bool {
	return verifyJobsWith(func(p *Params, jobs []sigJob) { verifyBatch(p, sc.signers(), sc.signers(), jobs) }, p, txs)
}

func verifyJobsWith(verify func(*Params, []sigJob), p *Params, txs []*Transaction) []bool {
	jobs := make([]sigJob, len(txs))
	for i, tx := range txs {
		jobs[i].tx = tx
	}
	verify(p, jobs)
	out := make([]bool, len(jobs))
	for i := range jobs {
		out[i] = jobs[i].ok
	}
	return out
}

// KeysNoted is how many keys sc's key cache holds, noted once or
// expanded.
func KeysNoted(sc *SigCache) int {
	k := sc.signers()
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys.m) + len(k.seenOnce.m)
}

// CreditSumsMatch reports how m's kept credit sums differ from the sums
// of its pending credits added up one by one, or nil.
func CreditSumsMatch(m *Mempool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := make(map[string]creditSum)
	for r, cs := range m.byRecipient {
		var s creditSum
		for _, c := range cs {
			s.all += int64(c.tx.Amount)
			if c.child == nil {
				s.unclaimed += int64(c.tx.Amount)
			}
		}
		want[r] = s
	}
	for r, s := range m.credits {
		if s != (creditSum{}) && want[r] != s {
			return fmt.Errorf("credits to %s kept as %+v, add up to %+v", r, s, want[r])
		}
	}
	for r, s := range want {
		if s != (creditSum{}) && m.credits[r] != s {
			return fmt.Errorf("credits to %s add up to %+v, kept as %+v", r, s, m.credits[r])
		}
	}
	for addr, q := range m.bySender {
		var claimed uint64
		for _, e := range q {
			for _, p := range e.parents {
				claimed += p.tx.Amount
			}
		}
		if got := m.claimedCredit(addr); got != claimed {
			return fmt.Errorf("%s's transactions claimed %d of credits, claimedCredit says %d", addr, claimed, got)
		}
	}
	return nil
}

// PackagesMatch works out, after the pending repacks, every signed
// sender's package from its chain the slow way and reports how the
// eviction heap differs from them, or nil.
func PackagesMatch(m *Mempool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.repackAll()
	if !m.p.Signed {
		return nil
	}
	for i := range m.evictable {
		if m.evictable[i].heapIdx != i {
			return fmt.Errorf("heap entry %d says it is at %d", i, m.evictable[i].heapIdx)
		}
		if i > 0 && m.evictable.Less(i, (i-1)/2) {
			return fmt.Errorf("heap order broken at %d", i)
		}
	}
	want := 0
	for sender, q := range m.bySender {
		start := len(q)
		for start > 0 && !q[start-1].local && q[start-1].child == nil {
			start--
		}
		var best *big.Rat
		bestAt := -1
		for j := len(q) - 1; j >= start; j-- {
			var fee uint64
			for _, e := range q[j:] {
				fee += e.tx.Fee
			}
			mean := new(big.Rat).SetFrac(new(big.Int).SetUint64(fee), big.NewInt(int64(len(q)-j)))
			if best == nil || mean.Cmp(best) < 0 {
				best, bestAt = mean, j
			}
		}
		for j, e := range q {
			inHeap := e.heapIdx >= 0
			if inHeap != (j == bestAt) {
				return fmt.Errorf("%s's transaction %d in the heap: %v, its package begins at %d of %d", sender, j, inHeap, bestAt, len(q))
			}
			if inHeap && new(big.Rat).SetFrac(new(big.Int).SetUint64(e.pkgFee), new(big.Int).SetUint64(e.pkgN)).Cmp(best) != 0 {
				return fmt.Errorf("%s's package kept at %d/%d, is %v", sender, e.pkgFee, e.pkgN, best)
			}
		}
		if bestAt >= 0 {
			want++
		}
	}
	if len(m.evictable) != want {
		return fmt.Errorf("%d packages in the heap, want %d", len(m.evictable), want)
	}
	return nil
}

// RollingHalfLife is the rolling minimum's half-life in a pool at
// least half full.
var RollingHalfLife = rollingHalfLife

// SelectMatches works out Select's documented rule the slow way (every
// step: each sender's takeable run from scratch, its first chunk the
// shortest prefix of highest mean fee, by big.Rat) and reports how
// Select(maxTxs, maxBytes) differs from it, or nil.
func SelectMatches(m *Mempool, maxTxs, maxBytes int) error {
	got := m.Select(maxTxs, maxBytes)
	m.mu.Lock()
	defer m.mu.Unlock()
	var chains [][]*poolEntry
	for _, q := range m.bySender {
		if m.p.Signed {
			chains = append(chains, q)
			continue
		}
		for i := range q {
			chains = append(chains, q[i:i+1])
		}
	}
	taken := make(map[*poolEntry]bool)
	dropped := make([]bool, len(chains))
	var want []*Transaction
	room := maxBytes
	for len(want) < maxTxs {
		best, bestN := -1, 0
		var bestMean *big.Rat
		var bestFirst uint64
		for i, q := range chains {
			if dropped[i] || len(q) == 0 {
				continue
			}
			run := 0
		runs:
			for run < len(q) {
				for _, p := range q[run].parents {
					if !taken[p] {
						break runs
					}
				}
				run++
			}
			var mean *big.Rat
			n := 0
			var fee uint64
			for j, e := range q[:run] {
				fee += e.tx.Fee
				r := new(big.Rat).SetFrac(new(big.Int).SetUint64(fee), big.NewInt(int64(j+1)))
				if mean == nil || r.Cmp(mean) > 0 {
					mean, n = r, j+1
				}
			}
			if mean == nil {
				continue
			}
			if c := cmpOrNil(mean, bestMean); best < 0 || c > 0 || c == 0 && q[0].arrival < bestFirst {
				best, bestN, bestMean, bestFirst = i, n, mean, q[0].arrival
			}
		}
		if best < 0 {
			break
		}
		chunk := chains[best][:bestN]
		size := 0
		for _, e := range chunk {
			size += e.size
		}
		if bestN > maxTxs-len(want) || size > room {
			dropped[best] = true
			continue
		}
		for _, e := range chunk {
			want = append(want, e.tx)
			taken[e] = true
		}
		room -= size
		chains[best] = chains[best][bestN:]
	}
	if len(got) != len(want) {
		return fmt.Errorf("Select took %d transactions, the rule %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("Select's transaction %d is %s/%d, the rule's %s/%d", i, got[i].Sender, got[i].Nonce, want[i].Sender, want[i].Nonce)
		}
	}
	return nil
}

func cmpOrNil(a, b *big.Rat) int {
	if b == nil {
		return 1
	}
	return a.Cmp(b)
}
