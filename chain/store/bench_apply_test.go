package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gossipchain/gossipchain/chain/store"
)

// BenchmarkApplyShapes applies one block per Apply, as gossip and mining
// deliver them, in the two shapes that matter: a coinbase-only block (a
// regtest chain, the comparison with btcd) and a block of 454 transfers
// touching 908 accounts among 10,000 (a full block under load), each with
// fsync off (the store's CPU and page writes alone) and on. The 454-
// transfer store is first warmed with 20 blocks so that its accounts
// exist. Besides wall time, which a shared machine makes noisy, it reports
// what does not depend on the machine's load: disk-B/block, the file's
// allocated bytes (holes not counted, as du) grown per timed block;
// written-B/block, the bytes the process handed to write system calls
// (bbolt's pages, /proc/self/io wchar); write-calls/block, those calls
// (syscw: bbolt writes each dirty node with a pwrite of its own, and a
// call costs more than its bytes here); and cpu-µs/block, the process's
// user and system time. The timed part ends with Close, which writes the
// transaction index entries the store held back, so each figure includes
// them.
func BenchmarkApplyShapes(b *testing.B) {
	shapes := []struct {
		name                string
		txs, addrs          int
		warm, timed, seedNo uint64
	}{
		{"coinbase-only", 0, 1, 0, 2000, 13},
		{"454-transfers", 454, 10_000, 20, 30, 17},
	}
	for _, sh := range shapes {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/sync=%v", sh.name, sync), func(b *testing.B) {
				batches := newGen(sh.seedNo, sh.addrs).batches(int(sh.warm+sh.timed), 1, sh.txs)
				var grown, written, calls, cpu int64
				for b.Loop() {
					b.StopTimer()
					dir, err := os.MkdirTemp(b.TempDir(), "shape")
					if err != nil {
						b.Fatal(err)
					}
					path := filepath.Join(dir, store.FileName)
					st, err := store.Open(path, store.WithNoSync(!sync))
					if err != nil {
						b.Fatal(err)
					}
					for _, batch := range batches[:sh.warm] {
						mustApply(b, st, batch)
					}
					// Closed and opened again: nothing of the warm-up
					// is held back for the timed part to write.
					if err := st.Close(); err != nil {
						b.Fatal(err)
					}
					if st, err = store.Open(path, store.WithNoSync(!sync)); err != nil {
						b.Fatal(err)
					}
					before, w0, s0, c0 := allocated(b, path), procIO(b, "wchar"), procIO(b, "syscw"), cpuMicros(b)
					b.StartTimer()
					for _, batch := range batches[sh.warm:] {
						if err := st.Apply(batch); err != nil {
							b.Fatal(err)
						}
					}
					// Close writes what the store held back.
					if err := st.Close(); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					grown = allocated(b, path) - before
					written += procIO(b, "wchar") - w0
					calls += procIO(b, "syscw") - s0
					cpu += cpuMicros(b) - c0
					os.RemoveAll(dir)
					b.StartTimer()
				}
				blocks := float64(sh.timed) * float64(b.N)
				b.ReportMetric(blocks/b.Elapsed().Seconds(), "blocks/s")
				b.ReportMetric(float64(b.Elapsed().Microseconds())/blocks, "µs/block")
				b.ReportMetric(float64(grown)/float64(sh.timed), "disk-B/block")
				b.ReportMetric(float64(written)/blocks, "written-B/block")
				b.ReportMetric(float64(calls)/blocks, "write-calls/block")
				b.ReportMetric(float64(cpu)/blocks, "cpu-µs/block")
			})
		}
	}
}

// allocated returns the bytes the file at path takes on disk: holes left
// by bbolt growing the file are not counted, as du does not count them.
func allocated(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// procIO returns a counter of /proc/self/io: wchar, the bytes this
// process has passed to write system calls, or syscw, those calls.
func procIO(tb testing.TB, name string) int64 {
	tb.Helper()
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/self/io", name)
	return 0
}

// cpuMicros returns the user and system CPU time of this process.
func cpuMicros(tb testing.TB) int64 {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}
