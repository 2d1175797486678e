package store_test

import (
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkApplyParts says which part of a commit its cost comes from:
// the same batches applied whole, without their transaction index,
// without their accounts, and without either (blocks, metas, main index
// and tip alone). bbolt writes every node a commit dirtied with a pwrite
// of its own and reads every leaf it puts into into a node first, so
// the write calls per commit, deterministic, are the measure; the CPU
// is the process's, and as noisy as the machine.
//
// Three shapes, with fsync off (the disk's wait is not the CPU's):
// connect-1000 is BenchmarkConnectAdmittedBlock1000's commit (a block of
// 1,000 transfers from funded senders onto a young chain, its buckets
// small enough that the block touches nearly every leaf); relay-454 is
// the commit of one of GossipPropagation20's 100 KiB blocks (454
// transfers between random pairs of 456 accounts, about 400 of them
// touched a block: the benchmark's blocks touch all their 455); sync-64x4
// is a sync batch of 64 blocks of 4 transfers 9,600 blocks into a chain
// of 1,000 recipients, as BenchmarkSync10k commits them in its second
// half. Each times a run of commits and then Close, which writes the
// transaction index entries the store held back, so a commit's figure
// includes its share of that write. relay-454 times as many commits as
// the index holds back at its largest entry bound (144 blocks of 455
// entries: 65,536 at most; a store draws a bound from 32,768 up, and
// with a lower draw flushes once in the background meanwhile, so its
// counts depend on the draw); connect-1000 and sync-64x4 keep the 17
// blocks and 32 batches the index's earlier bounds (16,384 entries, 2,048
// blocks) gave them, so that their figures compare across versions:
// under today's bounds their index is written at Close only, as it
// would be every 32,768 to 65,536 entries (txindex.go).
func BenchmarkApplyParts(b *testing.B) {
	shapes := []struct {
		name                 string
		addrs, txs, perBatch int
		warm, timed          int
		seedNo               uint64
	}{
		{"connect-1000", 2_002, 1000, 1, 2, 17, 23},
		{"relay-454", 456, 454, 1, 20, 144, 37},
		{"sync-64x4", 1_020, 4, 64, 150, 32, 29},
	}
	parts := []struct {
		name              string
		txIndex, accounts bool
	}{
		{"whole", true, true},
		{"no-txindex", false, true},
		{"no-accounts", true, false},
		{"neither", false, false},
	}
	for _, sh := range shapes {
		batches := newGen(sh.seedNo, sh.addrs).batches((sh.warm+sh.timed)*sh.perBatch, sh.perBatch, sh.txs)
		for _, pt := range parts {
			b.Run(sh.name+"/"+pt.name, func(b *testing.B) {
				timed := make([]*chain.Batch, 0, sh.timed)
				for _, full := range batches[sh.warm:] {
					cut := *full
					if !pt.txIndex {
						cut.TxIndex = nil
					}
					if !pt.accounts {
						cut.Accounts = nil
					}
					timed = append(timed, &cut)
				}
				var calls, written, cpu int64
				for b.Loop() {
					b.StopTimer()
					st := warmStore(b, batches[:sh.warm], store.WithNoSync(true))
					s0, w0, c0 := procIO(b, "syscw"), procIO(b, "wchar"), cpuMicros(b)
					b.StartTimer()
					for _, batch := range timed {
						if err := st.Apply(batch); err != nil {
							b.Fatal(err)
						}
					}
					// Close writes what the store held back (the
					// transaction index): the timed batches' whole cost.
					if err := st.Close(); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					calls += procIO(b, "syscw") - s0
					written += procIO(b, "wchar") - w0
					cpu += cpuMicros(b) - c0
					b.StartTimer()
				}
				commits := float64(sh.timed) * float64(b.N)
				b.ReportMetric(float64(calls)/commits, "write-calls/commit")
				b.ReportMetric(float64(written)/commits, "written-B/commit")
				b.ReportMetric(float64(cpu)/commits, "cpu-µs/commit")
			})
		}
	}
}

// warmStore returns a new store holding batches, closed and opened again
// so that nothing the warm-up applied is held back for the timed part.
func warmStore(b *testing.B, batches []*chain.Batch, opts ...store.Option) *store.Store {
	b.Helper()
	st, path := openTemp(b, opts...)
	for _, batch := range batches {
		mustApply(b, st, batch)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}
