package chain_test

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// BenchmarkVerifyBatch compares, per signature, the chain's batch
// verification (curve25519-voi under ZIP-215, chain/sigbatch.go, forced
// at every size, below batchMin too) with crypto/ed25519.Verify one at a
// time, on one goroutine, at the batch sizes the admission queue gathers
// (2 – 8) and a block or sync batch produces (up to batchMax, 64), on the
// signatures of transfers. Each iteration does every variant over the
// same signatures and charges each its process CPU time, so load from
// other programs on a shared machine falls on all alike. stdlib-us/sig,
// batch-us/sig and their ratio, speedup, are the figures; zip215-us/sig
// is the chain's check of one signature alone (batch-us/sig against it
// sets batchMin); batch-keys-us/sig and zip215-key-us/sig are the same
// with every key already in the chain's key cache (keycache.go), a
// sender's signatures after its first; consensus-batch-us/sig is
// ed25519consensus's batch,
// the chain's verifier until 2026-12-07. The batch computes each
// transaction's signing bytes inside its timing, as the chain does; the
// others are given them.
func BenchmarkVerifyBatch(b *testing.B) {
	p := chain.RegTest()
	for _, n := range []int{2, 3, 4, 5, 6, 8, 16, 64} {
		_, blk := signedBlock(b, n)
		txs := blk.Transactions[1:]
		msgs := make([][]byte, n)
		for i, tx := range txs {
			msgs[i] = tx.SigningBytes(p.NetworkID())
		}
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			var single, batch, batchKeys, zip215, zip215Key, consensus time.Duration
			// Every key in the cache before the timing: a sender's
			// signatures after its first.
			keys := chain.NewSigCache(1)
			chain.VerifyBatch(keys, p, txs) // noted
			chain.VerifyBatch(keys, p, txs) // expanded
			for b.Loop() {
				t0 := testutil.ProcessCPU()
				for i, tx := range txs {
					if !ed25519.Verify(tx.PublicKey, msgs[i], tx.Signature) {
						b.Fatal("verify")
					}
				}
				t1 := testutil.ProcessCPU()
				if got := chain.VerifyBatch(nil, p, txs); slices.Contains(got, false) {
					b.Fatal("batch verify")
				}
				t2 := testutil.ProcessCPU()
				if got := chain.VerifyBatch(keys, p, txs); slices.Contains(got, false) {
					b.Fatal("batch verify with the key cache")
				}
				t2k := testutil.ProcessCPU()
				for i, tx := range txs {
					if !chain.VerifySig(tx.PublicKey, msgs[i], tx.Signature) {
						b.Fatal("zip215 verify")
					}
				}
				t3 := testutil.ProcessCPU()
				if got := chain.VerifyChunkKeys(keys, p, txs[:1]); !got[0] {
					b.Fatal("zip215 verify with the key cache")
				}
				t3k := testutil.ProcessCPU()
				v := ed25519consensus.NewPreallocatedBatchVerifier(n)
				for i, tx := range txs {
					v.Add(tx.PublicKey, msgs[i], tx.Signature)
				}
				if !v.Verify() {
					b.Fatal("ed25519consensus batch verify")
				}
				t4 := testutil.ProcessCPU()
				single += t1 - t0
				batch += t2 - t1
				batchKeys += t2k - t2
				zip215 += t3 - t2k
				zip215Key += t3k - t3
				consensus += t4 - t3k
			}
			sigsDone := float64(b.N * n)
			b.ReportMetric(single.Seconds()*1e6/sigsDone, "stdlib-us/sig")
			b.ReportMetric(batch.Seconds()*1e6/sigsDone, "batch-us/sig")
			b.ReportMetric(batchKeys.Seconds()*1e6/sigsDone, "batch-keys-us/sig")
			b.ReportMetric(zip215.Seconds()*1e6/sigsDone, "zip215-us/sig")
			b.ReportMetric(zip215Key.Seconds()*1e6/float64(b.N), "zip215-key-us/sig")
			b.ReportMetric(consensus.Seconds()*1e6/sigsDone, "consensus-batch-us/sig")
			if batch > 0 {
				b.ReportMetric(single.Seconds()/batch.Seconds(), "speedup")
			}
		})
	}
}
