package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// Benchmark shapes. A block is a coinbase and benchTxs signed-size
// transfers (about 860 bytes encoded), with its meta, main index entry,
// undo record, tx index entries and touched accounts: what connecting a
// block writes.
const (
	benchBlocks  = 10_000
	benchTxs     = 3
	benchAddrs   = 1_000
	reopenBlocks = 100_000
	// reopenBuildPerApp is the build's batch size, that of a sync. It
	// sets how many free pages the file ends with (about one batch's
	// worth), which bbolt reads on every open.
	reopenBuildPerApp = 100
)

// TestMain removes the shared benchmark fixture after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if reopenFixture.dir != "" {
		os.RemoveAll(reopenFixture.dir)
	}
	os.Exit(code)
}

// BenchmarkApplyBlocks connects benchBlocks blocks to a new store per
// iteration, fsync on, with one or a hundred blocks per Apply. The batches
// are built before the timer starts.
func BenchmarkApplyBlocks(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("blocks-per-apply=%d", per), func(b *testing.B) {
			batches := newGen(7, benchAddrs).batches(benchBlocks, per, benchTxs)
			for b.Loop() {
				b.StopTimer()
				dir, err := os.MkdirTemp(b.TempDir(), "apply")
				if err != nil {
					b.Fatal(err)
				}
				st, err := store.Open(filepath.Join(dir, store.FileName))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, batch := range batches {
					if err := st.Apply(batch); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				st.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(benchBlocks*b.N)/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(benchBlocks*b.N), "µs/block")
		})
	}
}

// BenchmarkBoltBaseline measures the machine's limit in the same run:
// 1 KiB values with random keys into plain bbolt, one fsynced commit per
// value or per hundred values (3,160/s and 43,000/s on a quiet machine
// when first measured). One iteration is baselineValues values, so that even
// -benchtime 1x measures many commits.
func BenchmarkBoltBaseline(b *testing.B) {
	const baselineValues = 1000
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("values-per-commit=%d", per), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "base.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
				b.Fatal(err)
			}
			val := make([]byte, 1024)
			n := uint64(0)
			for b.Loop() {
				for range baselineValues / per {
					err := db.Update(func(tx *bolt.Tx) error {
						bk := tx.Bucket([]byte("b"))
						for range per {
							n++
							key := fmt.Appendf(nil, "%016x", n*0x9e3779b97f4a7c15)
							if err := bk.Put(key, val); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(baselineValues*b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// reopenFixture is a store of reopenBlocks blocks, built once per run and
// shared by every BenchmarkReopen invocation (-count included).
var reopenFixture struct {
	once sync.Once
	dir  string
	path string
	tip  chain.Hash
	// freePages is bbolt's free-page count, which Open reads in full: it,
	// not the chain's length, is what reopening costs.
	freePages int
	err       error
}

func buildReopenFixture() {
	f := &reopenFixture
	f.dir, f.err = os.MkdirTemp("", "gossipchain-store-bench-")
	if f.err != nil {
		return
	}
	f.path = filepath.Join(f.dir, store.FileName)
	st, err := store.Open(f.path, store.WithNoSync(true))
	if err != nil {
		f.err = err
		return
	}
	g := newGen(11, benchAddrs)
	for done := 0; done < reopenBlocks; done += reopenBuildPerApp {
		b := chain.NewBatch()
		for range reopenBuildPerApp {
			g.connect(b, benchTxs)
		}
		if f.err = st.Apply(b); f.err != nil {
			st.Close()
			return
		}
	}
	f.tip = g.prev
	if f.err = st.Close(); f.err != nil {
		return
	}
	db, err := bolt.Open(f.path, 0o600, nil)
	if err != nil {
		f.err = err
		return
	}
	f.freePages = db.Stats().FreePageN
	f.err = db.Close()
}

// BenchmarkReopen measures what a node restart costs the store: Open, Tip,
// Meta of the tip, Close, on a store of reopenBlocks blocks (page cache
// warm).
func BenchmarkReopen(b *testing.B) {
	reopenFixture.once.Do(buildReopenFixture)
	f := &reopenFixture
	if f.err != nil {
		b.Fatal(f.err)
	}
	for b.Loop() {
		st, err := store.Open(f.path)
		if err != nil {
			b.Fatal(err)
		}
		tip, err := st.Tip()
		if err != nil || tip != f.tip {
			b.Fatalf("Tip = %s, %v; want %s", tip.Short(), err, f.tip.Short())
		}
		m, err := st.Meta(tip)
		if err != nil || m.Height() != reopenBlocks-1 {
			b.Fatalf("Meta(tip) = %+v, %v", m, err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/reopen")
	// After the loop: b.Loop's first call drops metrics reported before it.
	if fi, err := os.Stat(f.path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
	b.ReportMetric(float64(f.freePages), "free-pages")
}
