package chain

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hdevalence/ed25519consensus"
)

// verifySig is the signature rule of signed networks (protocol.md 4.2):
// ZIP-215 validation. It is the rule itself, not a shortcut: a batch
// verification agrees with it on every signature, which crypto/ed25519's
// cofactorless check would not (TestSignatureRuleEdgeCases).
// ed25519consensus.Verify costs what crypto/ed25519.Verify does
// (BenchmarkVerifyBatch's zip215-us/sig), so single checks need no
// standard-library fast path, and an invalid signature costs one
// verification, not two.
func verifySig(pub, msg, sig []byte) bool {
	return ed25519consensus.Verify(pub, msg, sig)
}

// batchMax is the most signatures one batch verification takes. Past a
// few hundred, ed25519consensus's multiscalar multiplication gets slower
// per signature (BenchmarkVerifyBatch: about 1.8–2.0× crypto/ed25519 at
// 16–256 signatures, 1.3× at 2,000), and chunks of this size keep every
// core busy on a block's misses.
const batchMax = 64

// sigJob is one signature a check still has to verify: a transaction
// that passed every other rule and missed the signature cache. ok is the
// verdict.
type sigJob struct {
	tx *Transaction
	id Hash
	ok bool
}

// verifyJobs sets each job's verdict, verifying in batches of at most
// batchMax spread over the cores, and adds the signatures that verified
// to the cache (nil: none is kept). A batch that fails is verified again
// one signature at a time, so a bad signature is named exactly as a
// single check would name it.
func (c *SigCache) verifyJobs(p *Params, jobs []sigJob) {
	n := len(jobs)
	if n == 0 {
		return
	}
	if c != nil {
		c.verifies.Add(uint64(n))
	}
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers == 1 {
		verifyChunk(p, jobs)
		c.countBatches(n, 1)
	} else {
		size := min(batchMax, (n+workers-1)/workers)
		chunks := (n + size - 1) / size
		onEveryCore(chunks, func(k int) { verifyChunk(p, jobs[k*size:min((k+1)*size, n)]) })
		c.countBatches(n, chunks)
	}
	c.keep(jobs)
}

// countBatches counts the batch verifications of n signatures in chunks:
// none when a single signature was checked alone.
func (c *SigCache) countBatches(n, chunks int) {
	if c != nil && n > 1 {
		c.batches.Add(uint64(chunks))
		c.batched.Add(uint64(n))
	}
}

// keep adds the jobs whose signature verified to the cache (nil: none is
// kept).
func (c *SigCache) keep(jobs []sigJob) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range jobs {
		if jobs[i].ok {
			c.ids.add(jobs[i].id)
		}
	}
}

// verifyChunk sets the verdicts of one batch.
func verifyChunk(p *Params, jobs []sigJob) {
	if len(jobs) > 1 {
		v := ed25519consensus.NewPreallocatedBatchVerifier(len(jobs))
		for i := range jobs {
			tx := jobs[i].tx
			v.Add(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature)
		}
		if v.Verify() {
			for i := range jobs {
				jobs[i].ok = true
			}
			return
		}
	}
	for i := range jobs {
		tx := jobs[i].tx
		jobs[i].ok = verifySig(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature)
	}
}

// cached reports whether id is in the cache, counting a hit.
func (c *SigCache) cached(id Hash) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	ok := c.ids.has(id)
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
	}
	return ok
}

// cachedEach reports for each of ids whether it is in the cache, counting
// the hits, and how many are: one lock for a whole block's lookups, where
// a lock each made a block of cached transactions spend as long on the
// locks as on the lookups, and its two checking goroutines contend for
// them. A nil cache holds nothing.
func (c *SigCache) cachedEach(ids []Hash) (hit []bool, hits int) {
	hit = make([]bool, len(ids))
	if c == nil {
		return hit, 0
	}
	c.mu.Lock()
	hits = c.ids.hasEach(ids, hit)
	c.mu.Unlock()
	c.hits.Add(uint64(hits))
	return hit, hits
}

// onEveryCore calls f(0) … f(n-1), each once, on up to GOMAXPROCS
// goroutines that take the next index as they finish one, so uneven items
// keep every core busy. It returns when all calls have.
func onEveryCore(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}
