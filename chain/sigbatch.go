package chain

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// zip215 selects, in curve25519-voi, the signature rule of signed
// networks (protocol.md 4.2): ZIP-215 validation, cofactored, with
// non-canonical and small-order encodings of A and R accepted (a
// small-order key is refused before, by rule 7.4.11). It is the rule
// itself, not a shortcut: a batch verification agrees with it on every
// signature, which crypto/ed25519's cofactorless check would not
// (TestSignatureRuleEdgeCases). curve25519-voi rather than
// ed25519consensus, which implements the same rule: on this machine its
// single check costs 0.55 – 0.65 of crypto/ed25519's and its batches 0.7 –
// 0.8 of ed25519consensus's (BenchmarkVerifyBatch), and every test of the
// rule checks it against ed25519consensus's verdicts. The options are
// spelled out rather than taken from voi's exported VerifyOptionsZIP_215,
// a variable any package could change.
var zip215 = &voi.Options{Verify: &voi.VerifyOptions{
	AllowSmallOrderA:   true,
	AllowSmallOrderR:   true,
	AllowNonCanonicalA: true,
	AllowNonCanonicalR: true,
}}

// verifySig is the signature rule for one signature. An invalid
// signature costs one verification, and a key or signature of the wrong
// length is invalid rather than a panic.
func verifySig(pub, msg, sig []byte) bool {
	if len(pub) != voi.PublicKeySize || len(sig) != voi.SignatureSize {
		return false
	}
	return voi.VerifyWithOptions(pub, msg, sig, zip215)
}

// verifySigKeys is verifySig with the key taken from keys (keycache.go)
// when it holds it, and a key whose signature verified noted in note
// (nil: nowhere). The verdict is the same: an expanded key is the key's
// own bytes and its decoded point, and k is hashed from those bytes.
func verifySigKeys(keys, note *keyCache, pub, msg, sig []byte) bool {
	if ex := keys.held(pub); ex != nil {
		return voi.VerifyExpandedWithOptions(ex, msg, sig, zip215)
	}
	ok := verifySig(pub, msg, sig)
	if ok {
		note.verified(pub)
	}
	return ok
}

// batchMax is the most signatures one batch verification takes. Larger
// batches gain little per signature (BenchmarkVerifyBatch), and chunks of
// this size keep every core busy on a block's misses.
const batchMax = 64

// batchMin is the fewest signatures verified as a batch
// (BenchmarkVerifyBatch, batch-us/sig against zip215-us/sig, two runs of
// 1,000: a batch of two cost 33 – 38 µs a signature against 30 – 31
// alone; of three to five 26 – 37 against 29 – 32, within the noise of
// each other; of six or more 24 – 28 and less).
const batchMin = 4

// sigJob is one signature a check still has to verify: a transaction
// that passed every other rule and missed the signature cache. ok is the
// verdict; skipped marks a job left unverified after an earlier one
// failed (verifyBlockJobs), whose ok is false and says nothing.
type sigJob struct {
	tx      *Transaction
	id      Hash
	ok      bool
	skipped bool
}

// verifyJobs sets each job's verdict, verifying in batches of at most
// batchMax spread over the cores, and adds the signatures that verified
// to the cache (nil: none is kept). A batch that fails is verified again
// one signature at a time, so a bad signature is named exactly as a
// single check would name it.
func (c *SigCache) verifyJobs(p *Params, jobs []sigJob) { c.verifyAll(p, jobs, false, true) }

// verifyBlockJobs is verifyJobs for the signatures of a block, or of a
// sync batch's blocks, in block order, where only the first bad one
// counts: the block fails on it, and a batch stops at that block. The
// chunks after one that failed are not verified (their jobs skipped), so
// a block of forged signatures costs its sender the proof of work of its
// header, which may be the network's easiest when its parent is unknown
// (an orphan's body is checked before its place is), against one or
// two chunks of verifications, not every signature it carries: 2,200
// forged transfers in a 495 KB block took 110 ms of two cores to refuse.
// Every job before the first that failed is verified, so the failure
// named is the lowest one, as before.
//
// With remember false, nothing the check learns is kept: neither the
// signatures that verified nor their keys. An orphan's body is checked
// so (Chain.CheckBlockDigest): before its parent is known, any key may
// sign its transactions, funded or not, and a sender making up keys
// would otherwise fill the cache at its own signing cost, pushing out
// the signatures of the mempool's transactions.
func (c *SigCache) verifyBlockJobs(p *Params, jobs []sigJob, remember bool) {
	c.verifyAll(p, jobs, true, remember)
}

func (c *SigCache) verifyAll(p *Params, jobs []sigJob, stopAtBad, remember bool) {
	n := len(jobs)
	if n == 0 {
		return
	}
	c = c.on(p)
	workers := runtime.GOMAXPROCS(0)
	note := c.signers()
	if !remember {
		note = nil
	}
	if n < parallelMin {
		c.verifyChunkNoting(p, jobs, note)
		c.countChunk(n)
	} else {
		size := min(batchMax, (n+workers-1)/workers)
		chunks := (n + size - 1) / size
		var bad atomic.Int64 // the lowest chunk that failed
		bad.Store(math.MaxInt64)
		onEveryCore(chunks, func(k int) {
			chunk := jobs[k*size : min((k+1)*size, n)]
			if stopAtBad && int64(k) > bad.Load() {
				for i := range chunk {
					chunk[i].skipped = true
				}
				return
			}
			c.verifyChunkNoting(p, chunk, note)
			c.countChunk(len(chunk))
			if stopAtBad && slices.ContainsFunc(chunk, func(j sigJob) bool { return !j.ok }) {
				for {
					old := bad.Load()
					if int64(k) >= old || bad.CompareAndSwap(old, int64(k)) {
						break
					}
				}
			}
		})
	}
	if remember {
		c.keep(jobs)
	}
}

// countChunk counts a chunk of n signatures that verifyChunk verified,
// and the batch verification it took, if any (none when they were
// checked one at a time: fewer than batchMin).
func (c *SigCache) countChunk(n int) {
	if c == nil {
		return
	}
	c.verifies.Add(uint64(n))
	if n >= batchMin {
		c.batches.Add(1)
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

// verifyChunk sets the verdicts of one chunk: as one batch, or one at a
// time when it has fewer than batchMin, with the keys of c's key cache (a
// nil c has none), where the keys that verified are noted.
func (c *SigCache) verifyChunk(p *Params, jobs []sigJob) { c.verifyChunkNoting(p, jobs, c.signers()) }

// verifyChunkNoting is verifyChunk with the keys that verified noted in
// note (nil: nowhere).
func (c *SigCache) verifyChunkNoting(p *Params, jobs []sigJob, note *keyCache) {
	keys := c.signers()
	if len(jobs) >= batchMin {
		verifyBatch(p, keys, note, jobs)
		return
	}
	for i := range jobs {
		tx := jobs[i].tx
		jobs[i].ok = verifySigKeys(keys, note, tx.PublicKey, tx.SigningBytes(p.id), tx.Signature)
	}
}

// verifyBatch sets the verdicts of jobs by one batch verification. When
// the batch equation fails, curve25519-voi checks each signature alone
// (with the points it already decoded), so a bad signature is named
// exactly as a single check would name it. Its random coefficients come
// from crypto/rand. The batch expands no key into tables itself: at every
// size up to batchMax the expansion cost more than it saved
// (docs/benchmarks.md, "Signatures through curve25519-voi"); a key keys
// holds (nil: none) is taken decoded from there, which saves a tenth or
// more of a signature's cost (keycache.go); a key whose signature
// verified is noted in note (nil: nowhere).
func verifyBatch(p *Params, keys, note *keyCache, jobs []sigJob) {
	v := voi.NewBatchVerifierWithCapacity(len(jobs)).ForceNoPublicKeyExpansion()
	var fresh []int // the jobs whose key keys does not hold
	for i := range jobs {
		tx := jobs[i].tx
		if ex := keys.held(tx.PublicKey); ex != nil {
			v.AddExpandedWithOptions(ex, tx.SigningBytes(p.id), tx.Signature, zip215)
		} else {
			v.AddWithOptions(tx.PublicKey, tx.SigningBytes(p.id), tx.Signature, zip215)
			fresh = append(fresh, i)
		}
	}
	_, valid := v.Verify(nil)
	for i := range jobs {
		jobs[i].ok = valid[i]
	}
	for _, i := range fresh {
		if valid[i] {
			note.verified(jobs[i].tx.PublicKey)
		}
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
