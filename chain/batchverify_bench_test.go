package chain_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/gossipchain/gossipchain/internal/testutil"
)

// sigSet returns n signatures by n distinct keys over transaction-sized
// messages (about 150 bytes), as a block's transfers are.
func sigSet(n int) (pubs []ed25519.PublicKey, msgs, sigs [][]byte) {
	for i := range n {
		seed := sha256.Sum256(fmt.Appendf(nil, "batch bench key %d", i))
		priv := ed25519.NewKeyFromSeed(seed[:])
		msg := make([]byte, 150)
		copy(msg, fmt.Sprintf("transfer %d", i))
		pubs = append(pubs, priv.Public().(ed25519.PublicKey))
		msgs = append(msgs, msg)
		sigs = append(sigs, ed25519.Sign(priv, msg))
	}
	return pubs, msgs, sigs
}

// BenchmarkVerifyBatch compares, per signature, ed25519consensus's batch
// verifier with crypto/ed25519.Verify one at a time, on one goroutine, at
// the batch sizes a block or a sync batch produces. Each iteration does
// both over the same signatures and charges each its process CPU time, so
// load from other programs on a shared machine falls on both alike:
// stdlib-us/sig, batch-us/sig and their ratio, speedup, are the figures;
// zip215-us/sig is ed25519consensus.Verify one at a time.
func BenchmarkVerifyBatch(b *testing.B) {
	for _, n := range []int{4, 16, 64, 256, 1000, 2000} {
		pubs, msgs, sigs := sigSet(n)
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			var single, batch, zip215 time.Duration
			for b.Loop() {
				t0 := testutil.ProcessCPU()
				for i := range n {
					if !ed25519.Verify(pubs[i], msgs[i], sigs[i]) {
						b.Fatal("verify")
					}
				}
				t1 := testutil.ProcessCPU()
				v := ed25519consensus.NewPreallocatedBatchVerifier(n)
				for i := range n {
					v.Add(pubs[i], msgs[i], sigs[i])
				}
				if !v.Verify() {
					b.Fatal("batch verify")
				}
				t2 := testutil.ProcessCPU()
				for i := range n {
					if !ed25519consensus.Verify(pubs[i], msgs[i], sigs[i]) {
						b.Fatal("zip215 verify")
					}
				}
				t3 := testutil.ProcessCPU()
				single += t1 - t0
				batch += t2 - t1
				zip215 += t3 - t2
			}
			sigsDone := float64(b.N * n)
			b.ReportMetric(single.Seconds()*1e6/sigsDone, "stdlib-us/sig")
			b.ReportMetric(batch.Seconds()*1e6/sigsDone, "batch-us/sig")
			b.ReportMetric(zip215.Seconds()*1e6/sigsDone, "zip215-us/sig")
			if batch > 0 {
				b.ReportMetric(single.Seconds()/batch.Seconds(), "speedup")
			}
		})
	}
}
