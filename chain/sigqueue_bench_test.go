package chain

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkVerifyBatch1000Parallel is the batched counterpart of
// BenchmarkVerify1000Parallel: 1,000 signatures verified in batches of
// batchMax on every core (verifyJobs, no cache), the most signatures a
// second this machine can verify under the chain's rule. The limits of
// issue 13 are single checks; this says how far past them batching goes.
func BenchmarkVerifyBatch1000Parallel(b *testing.B) {
	p := RegTest()
	jobs := make([]sigJob, 1000)
	for i := range jobs {
		jobs[i].tx = queueTx(p, i, false)
	}
	for b.Loop() {
		var c *SigCache
		c.verifyJobs(p, jobs)
	}
	for i := range jobs {
		if !jobs[i].ok {
			b.Fatal("a valid signature failed")
		}
	}
}

// BenchmarkSigQueue1000 is 1,000 single checks through the admission
// queue with no cache hit, from the given number of concurrent callers
// that do nothing else: the rate admission verifies at when verification
// is all it does, and the checks a batch gathered (sigs/batch).
func BenchmarkSigQueue1000(b *testing.B) {
	p := RegTest()
	txs := make([]*Transaction, 1000)
	for i := range txs {
		txs[i] = queueTx(p, i, false)
	}
	for _, callers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			var batched, batches uint64
			for b.Loop() {
				c := NewSigCache(len(txs))
				var next atomic.Int64
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						for i := int(next.Add(1)) - 1; i < len(txs); i = int(next.Add(1)) - 1 {
							if ok, err := c.verify(context.Background(), p, txs[i], nil); !ok || err != nil {
								panic(fmt.Sprint("a valid signature failed: ", err))
							}
						}
					})
				}
				wg.Wait()
				s := c.Stats()
				batched, batches = batched+s.Batched, batches+s.Batches
			}
			if batches > 0 {
				b.ReportMetric(float64(batched)/float64(batches), "sigs/batch")
			}
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
		})
	}
}
