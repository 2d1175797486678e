package chain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Targets for the solver tests. easyBits needs about 256 tries; impossibleBits
// encodes a target of 1, which a hash meets with probability 2^-255.
var (
	easyBits       = BigToCompact(new(big.Int).Lsh(bigOne, 248))
	impossibleBits = BigToCompact(bigOne)
)

// solveTestHeader is a header with every field set, so a solver that
// touches anything but the nonce shows up.
func solveTestHeader(bits uint32) Header {
	h := Header{
		Version:   HeaderVersion,
		Height:    4242,
		Timestamp: genesisTime + 123_456,
		Bits:      bits,
		Nonce:     1_000_000,
	}
	for i := range h.PrevHash {
		h.PrevHash[i] = byte(i + 1)
		h.MerkleRoot[i] = byte(0xff - i)
	}
	return h
}

// firstSolution finds, the slow way through Header.Hash, the first nonce at
// or after h.Nonce (wrapping) whose hash meets h.Bits, and how many tries
// that took.
func firstSolution(t *testing.T, h Header) (nonce, tries uint64) {
	t.Helper()
	target, _, _ := CompactToBig(h.Bits)
	tb := TargetBytes(target)
	for tries = 1; tries < 1<<20; tries++ {
		hash := h.Hash()
		if HashMeetsTarget(&hash, &tb) {
			return h.Nonce, tries
		}
		h.Nonce++
	}
	t.Fatalf("no solution for bits %08x in %d tries", h.Bits, tries)
	return 0, 0
}

func TestSolveMeetsTarget(t *testing.T) {
	p := RegTest()
	for _, workers := range []int{-1, 0, 1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			in := solveTestHeader(easyBits)
			var hashes atomic.Uint64
			out, err := Solve(t.Context(), in, workers, &hashes)
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			if err := CheckHeaderSanity(p, &out); err != nil {
				t.Fatalf("solved header fails sanity: %v", err)
			}
			got := out
			got.Nonce = in.Nonce
			if got != in {
				t.Fatalf("Solve changed more than the nonce:\n got %+v\nwant %+v", out, in)
			}
			if hashes.Load() == 0 {
				t.Fatal("hash counter did not move")
			}
			if workers <= 1 {
				// One worker walks the nonces in order from h.Nonce, so it
				// finds the first solution and counts exactly the tries.
				want, tries := firstSolution(t, in)
				if out.Nonce != want {
					t.Errorf("nonce %d, want the first solution %d", out.Nonce, want)
				}
				if n := hashes.Load(); n != tries {
					t.Errorf("hash counter %d, want %d tries", n, tries)
				}
			}
		})
	}
}

func TestSolveWrapsNonce(t *testing.T) {
	in := solveTestHeader(easyBits)
	in.Nonce = math.MaxUint64 - 3
	want, tries := firstSolution(t, in)
	if tries <= 4 {
		t.Fatalf("test header solves before wrapping (nonce %d); pick another", want)
	}
	out, err := Solve(t.Context(), in, 1, nil)
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	if out.Nonce != want {
		t.Fatalf("nonce %d, want %d (after wrapping)", out.Nonce, want)
	}
}

func TestSolveCancel(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			in := solveTestHeader(impossibleBits)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var hashes atomic.Uint64
			type result struct {
				h   Header
				err error
			}
			done := make(chan result, 1)
			go func() {
				h, err := Solve(ctx, in, workers, &hashes)
				done <- result{h, err}
			}()

			// Let the search get going: the counter moves after the first
			// chunk of every worker.
			deadline := time.After(10 * time.Second)
			for hashes.Load() < uint64(workers)*solveChunk {
				select {
				case r := <-done:
					t.Fatalf("Solve returned before cancel: %+v, %v", r.h, r.err)
				case <-deadline:
					t.Fatalf("hash counter at %d after 10 s", hashes.Load())
				case <-time.After(time.Millisecond):
				}
			}

			cancel()
			start := time.Now()
			select {
			case r := <-done:
				t.Logf("returned %v after cancel, %d hashes", time.Since(start), hashes.Load())
				if !errors.Is(r.err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", r.err)
				}
				if r.h != in {
					t.Fatalf("cancelled Solve returned %+v, want the input %+v", r.h, in)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Solve still running 5 s after cancel")
			}
			// Every worker has exited, so the counter is final.
			if a, b := hashes.Load(), hashes.Load(); a != b {
				t.Fatalf("hash counter moved after Solve returned: %d then %d", a, b)
			}
		})
	}
}

func TestSolveContextDoneBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var hashes atomic.Uint64
	in := solveTestHeader(easyBits)
	out, err := Solve(ctx, in, 2, &hashes)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if out != in || hashes.Load() != 0 {
		t.Fatalf("cancelled Solve searched: header %+v, %d hashes", out, hashes.Load())
	}
}

func TestSolveDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Solve(ctx, solveTestHeader(impossibleBits), 2, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Solve ran 10 s past a 20 ms deadline")
	}
}

// TestSolveNoGoroutineOutlives checks that every goroutine Solve starts has
// exited when it returns, on success and on cancellation: none is left in
// the goroutine dump, and the synctest bubble would also fail the test on
// one left blocked.
func TestSolveNoGoroutineOutlives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if _, err := Solve(context.Background(), solveTestHeader(easyBits), 4, nil); err != nil {
			t.Fatalf("Solve: %v", err)
		}
		if n := solveGoroutines(); n != 0 {
			t.Fatalf("%d of Solve's goroutines outlive a successful Solve", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var hashes atomic.Uint64
		done := make(chan error, 1)
		go func() {
			_, err := Solve(ctx, solveTestHeader(impossibleBits), 4, &hashes)
			done <- err
		}()
		// Time in the bubble stands still while the workers run, so wait
		// for the counter by yielding, not sleeping.
		for hashes.Load() == 0 {
			runtime.Gosched()
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := solveGoroutines(); n != 0 {
			t.Fatalf("%d of Solve's goroutines outlive a cancelled Solve", n)
		}
	})
}

// solveGoroutines counts the goroutines running a function literal of Solve.
func solveGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "chain.Solve.func")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestSolveRefusesInvalidBits(t *testing.T) {
	for _, bits := range []uint32{
		0x00000000, // zero
		0x1d000000, // zero mantissa
		0x04923456, // sign bit
		0x01fedcba, // sign bit, small exponent
		0xff123456, // overflow
		0x21010000, // 0x010000 * 256^30 > 2^256
	} {
		h := solveTestHeader(bits)
		out, err := Solve(t.Context(), h, 2, nil)
		if !errors.Is(err, ErrBadTarget) {
			t.Errorf("bits %08x: err = %v, want ErrBadTarget", bits, err)
		}
		if out != h {
			t.Errorf("bits %08x: header changed to %+v", bits, out)
		}
	}
}

func TestSearchRange(t *testing.T) {
	in := solveTestHeader(easyBits)
	want, tries := firstSolution(t, in)
	target, _, _ := CompactToBig(easyBits)
	tb := TargetBytes(target)
	buf := in.Encode()

	// Short of the solution, in two calls: every nonce tried, none found,
	// and the second call continues where the first stopped.
	next := in.Nonce
	first := (tries - 1) / 2
	for _, count := range []uint64{first, tries - 1 - first} {
		if n, ok := searchRange(&buf, newMidstate(&buf), &tb, &next, 1, count); ok || n != count {
			t.Fatalf("searchRange short of the solution: tried %d of %d, found %v", n, count, ok)
		}
	}
	if next != want {
		t.Fatalf("next = %d after the tries before the solution, want %d", next, want)
	}
	if got := binary.BigEndian.Uint64(buf[offNonce:]); got != want-1 {
		t.Fatalf("buffer nonce %d after the range, want the last tried %d", got, want-1)
	}
	// From the start again, up to and past it: found, counting the
	// winning try.
	next = in.Nonce
	if n, ok := searchRange(&buf, newMidstate(&buf), &tb, &next, 1, tries+100); !ok || next != want || n != tries {
		t.Fatalf("searchRange = %d, %v, next %d; want %d, true, next %d", n, ok, next, tries, want)
	}

	// With a step it walks only its residue class, and continues it.
	const step, count = 3, 4
	start := want - step*7
	for next = start; next <= want; {
		at := next
		n, ok := searchRange(&buf, newMidstate(&buf), &tb, &next, step, count)
		if ok {
			// Nothing it stepped over before the find meets the target.
			for x := at; x < next; x += step {
				h := in
				h.Nonce = x
				if hash := h.Hash(); HashMeetsTarget(&hash, &tb) {
					t.Fatalf("stepped search passed solution %d before %d", x, next)
				}
			}
			if n != (next-at)/step+1 || (next-start)%step != 0 {
				t.Fatalf("stepped search found %d from %d after %d tries", next, at, n)
			}
			return
		}
		if n != count || next != at+step*count {
			t.Fatalf("stepped search from %d: tried %d, next %d; want %d, %d", at, n, next, count, at+step*count)
		}
		if got := binary.BigEndian.Uint64(buf[offNonce:]); got != next-step {
			t.Fatalf("buffer nonce %d after the stepped range, want %d", got, next-step)
		}
	}
	// want is in the class of start, so the walk must find it or
	// something before it.
	t.Fatalf("stepped search from %d passed %d without finding it", start, want)
}

// TestSearchRangeTargetTie covers the comparison when a hash and the
// target agree in their first eight bytes, which a real search almost
// never meets: targets are built around one known hash.
func TestSearchRangeTargetTie(t *testing.T) {
	in := solveTestHeader(easyBits)
	hash := in.Hash()
	for _, tc := range []struct {
		name  string
		delta int64
		found bool
	}{
		{"target is the hash", 0, true},
		{"target just above", +1, true},
		{"target just below", -1, false},
	} {
		target := new(big.Int).SetBytes(hash[:])
		target.Add(target, big.NewInt(tc.delta))
		tb := TargetBytes(target)
		if [8]byte(tb[:8]) != [8]byte(hash[:8]) {
			t.Fatalf("%s: test target %x leaves the hash's prefix", tc.name, tb)
		}
		buf := in.Encode()
		next := in.Nonce
		if _, ok := searchRange(&buf, newMidstate(&buf), &tb, &next, 1, 1); ok != tc.found {
			t.Errorf("%s: found = %v, want %v", tc.name, ok, tc.found)
		}
	}
}

func TestSearchRangeAllocs(t *testing.T) {
	h := solveTestHeader(impossibleBits)
	buf := h.Encode()
	target, _, _ := CompactToBig(h.Bits)
	tb := TargetBytes(target)
	var next uint64
	mid := newMidstate(&buf)
	allocs := testing.AllocsPerRun(20, func() {
		if _, ok := searchRange(&buf, mid, &tb, &next, 1, 1000); ok {
			t.Fatal("impossible target met")
		}
	})
	if allocs != 0 {
		t.Fatalf("searchRange allocates %v times per 1000 tries, want 0", allocs)
	}
}

// BenchmarkSHA256Header is the limit the miner is measured against: plain
// SHA-256 of a 96-byte header with the nonce rewritten in place.
func BenchmarkSHA256Header(b *testing.B) {
	h := solveTestHeader(impossibleBits)
	buf := h.Encode()
	var acc byte
	var n uint64
	for b.Loop() {
		binary.BigEndian.PutUint64(buf[offNonce:], n)
		sum := sha256.Sum256(buf[:])
		acc ^= sum[0]
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "hashes/s")
	sinkByte = acc
}

var sinkByte byte

// BenchmarkSolve runs Solve on an impossible target until the hash counter
// reaches b.N, then cancels it, and reports the hashes actually done per
// second of wall time (the counter overshoots b.N by at most the chunks in
// flight, and those hashes were done too). Compare hashes/s with
// BenchmarkSHA256Header's times the worker count.
func BenchmarkSolve(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			h := solveTestHeader(impossibleBits)
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			var hashes atomic.Uint64
			want := uint64(b.N)
			watched := make(chan struct{})
			b.ResetTimer()
			go func() {
				// Sleeping between looks keeps this goroutine off the
				// CPUs the workers use.
				defer close(watched)
				for hashes.Load() < want {
					time.Sleep(200 * time.Microsecond)
				}
				cancel()
			}()
			_, err := Solve(ctx, h, workers, &hashes)
			b.StopTimer()
			<-watched
			if !errors.Is(err, context.Canceled) {
				b.Fatalf("Solve: %v", err)
			}
			done := hashes.Load()
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "hashes/s")
			b.ReportMetric(float64(done)/b.Elapsed().Seconds()/float64(workers), "hashes/s/worker")
		})
	}
}

// TestMidstateMatchesSHA256: the saved first block gives the same hash as
// hashing the whole header, for any nonce and any other field.
func TestMidstateMatchesSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		var buf [HeaderSize]byte
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		mid := newMidstate(&buf)
		for range 5 {
			binary.BigEndian.PutUint64(buf[offNonce:], r.Uint64())
			if got, want := *mid.hash(&buf), Hash(sha256.Sum256(buf[:])); got != want {
				t.Fatalf("midstate hash %s, SHA-256 %s", got, want)
			}
		}
	}
}
