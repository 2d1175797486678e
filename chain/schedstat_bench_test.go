package chain_test

import (
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procSample is what the kernel has counted for the whole process so
// far: where a benchmark's wall time went that a CPU profile does not
// show.
type procSample struct {
	cpu time.Duration // user and system CPU, every thread
	// runq is the time the process's threads were runnable but waiting
	// for a core (schedstat's second field, summed over the threads
	// alive at the sample): the machine's load, not the code's.
	runq   time.Duration
	minflt int64 // minor page faults (a first touch of a page)
	majflt int64 // page faults that read the disk
	nvcsw  int64 // voluntary context switches: a thread blocked
	// writes and written are the process's write system calls and the
	// bytes handed to them (/proc/self/io syscw and wchar): the store's
	// commit writes each dirty bbolt node with a pwrite of its own, and
	// on this machine a call costs more than the bytes it copies. Zero
	// where the kernel keeps no such file.
	writes, written int64
	// gcCPU is the runtime's estimate of its collector's CPU (marking,
	// assists and pauses); gcs counts completed collections.
	gcCPU time.Duration
	gcs   uint64
}

// gcMetrics are read into a procSample.
var gcMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/gc/cycles/total:gc-cycles"}

// sampleProc reads the process's counters at the start of a measured
// part. runq is 0 where the kernel keeps no schedstat (not Linux, or
// built without it). Reading every thread's schedstat costs about a
// millisecond of CPU, so the CPU and fault counts are read after it
// here, and before it at the end (endSample): the reading stays out of
// what is measured.
func sampleProc(tb testing.TB) procSample {
	var s procSample
	s.readSched()
	s.readUsage(tb)
	return s
}

// endSample is sampleProc at the end of a measured part.
func endSample(tb testing.TB) procSample {
	var s procSample
	s.readUsage(tb)
	s.readSched()
	return s
}

// readUsage reads the CPU, fault and context-switch counts.
func (s *procSample) readUsage(tb testing.TB) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.minflt, s.majflt, s.nvcsw = ru.Minflt, ru.Majflt, ru.Nvcsw
	s.readIO()
}

// readIO reads the write calls and bytes written from /proc/self/io.
func (s *procSample) readIO() {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "syscw":
			s.writes = n
		case "wchar":
			s.written = n
		}
	}
}

// readSched reads the collector's counters and the threads' run-queue
// wait.
func (s *procSample) readSched() {
	m := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		m[i].Name = name
	}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindFloat64 {
		s.gcCPU = time.Duration(m[0].Value.Float64() * float64(time.Second))
	}
	if m[1].Value.Kind() == metrics.KindUint64 {
		s.gcs = m[1].Value.Uint64()
	}
	paths, _ := filepath.Glob("/proc/self/task/*/schedstat")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			if ns, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				s.runq += time.Duration(ns)
			}
		}
	}
}

// procCost adds up the counters across the timed parts of a benchmark.
type procCost struct{ sum procSample }

// add counts what happened between from and now.
func (c *procCost) add(tb testing.TB, from procSample) {
	to := endSample(tb)
	c.sum.cpu += to.cpu - from.cpu
	c.sum.runq += to.runq - from.runq
	c.sum.minflt += to.minflt - from.minflt
	c.sum.majflt += to.majflt - from.majflt
	c.sum.nvcsw += to.nvcsw - from.nvcsw
	c.sum.gcCPU += to.gcCPU - from.gcCPU
	c.sum.gcs += to.gcs - from.gcs
	c.sum.writes += to.writes - from.writes
	c.sum.written += to.written - from.written
}

// report gives the counters per iteration beside ns/op.
func (c *procCost) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(c.sum.cpu.Microseconds())/n, "cpu-us/op")
	b.ReportMetric(float64(c.sum.runq.Microseconds())/n, "runq-us/op")
	b.ReportMetric(float64(c.sum.minflt)/n, "minflt/op")
	b.ReportMetric(float64(c.sum.majflt)/n, "majflt/op")
	b.ReportMetric(float64(c.sum.nvcsw)/n, "vcsw/op")
	b.ReportMetric(float64(c.sum.gcCPU.Microseconds())/n, "gc-cpu-us/op")
	b.ReportMetric(float64(c.sum.gcs)/n, "gcs/op")
	b.ReportMetric(float64(c.sum.writes)/n, "write-calls/op")
	b.ReportMetric(float64(c.sum.written)/n, "written-B/op")
}
