package store_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
)

// crashChildEnv, when set to a store path, makes TestCrashDurability the
// child: it applies batches to that store until it is killed.
const crashChildEnv = "GOSSIPCHAIN_STORE_CRASH_CHILD"

// appliedPrefix starts each line the child prints after Apply returned.
const appliedPrefix = "applied "

// TestCrashDurability kills a writer with SIGKILL at various moments and
// checks that every batch it reported as applied is in the store, and that
// the store holds whole batches only (a tip whose main chain links back to
// genesis with no gap).
//
// SIGKILL tests the process dying mid-commit: bbolt's atomic meta-page
// switch. Writes the kernel already holds survive a killed process even
// without fsync; what fsync adds (surviving power loss) needs a machine
// crash to test and is not tested here.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), store.FileName)
	// Each round kills the child after it has reported lines heights, at
	// once or after a short delay so the kill lands at different points of
	// the next Apply (encoding, writing pages, fsync, between commit and
	// print). Lines 0 kills it while it opens the store. Every round
	// continues the chain the earlier rounds left.
	rounds := []struct {
		lines int
		delay time.Duration
	}{
		{0, 0}, {1, 0}, {3, 0}, {10, 0}, {40, 0}, {100, 0},
		{5, 100 * time.Microsecond}, {5, 400 * time.Microsecond}, {20, time.Millisecond},
		{20, 3 * time.Millisecond}, {60, 7 * time.Millisecond}, {0, 2 * time.Millisecond},
	}
	beyond := 0
	for i, r := range rounds {
		reported := runAndKill(t, path, r.lines, r.delay)
		tipHeight := verifyStore(t, path, reported)
		if n := len(reported); n > 0 && tipHeight > reported[n-1] {
			beyond++ // a batch committed but not yet reported: fine
		}
		t.Logf("round %d: kill %s after line %d; %d heights reported, store tip at %d",
			i, r.delay, r.lines, len(reported), tipHeight)
	}
	t.Logf("%d of %d rounds found a committed batch the child had not yet reported", beyond, len(rounds))
}

// runAndKill starts the child on path, reads lines reported heights from
// it, waits delay (which only moves the moment of the kill; correctness
// never depends on it), kills it, and returns every height it reported,
// including those still in the pipe when it died.
func runAndKill(t *testing.T, path string, lines int, delay time.Duration) []uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	heights := make(chan uint64)
	scanErr := make(chan error, 1)
	go func() {
		defer close(heights)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s, ok := strings.CutPrefix(sc.Text(), appliedPrefix)
			if !ok {
				continue // the test framework's own output
			}
			h, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				scanErr <- fmt.Errorf("child printed %q: %w", sc.Text(), err)
				return
			}
			heights <- h
		}
		scanErr <- sc.Err()
	}()

	var reported []uint64
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for len(reported) < lines {
		select {
		case h, ok := <-heights:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child ended after %d lines: %v\nstderr:\n%s", len(reported), <-scanErr, stderr.String())
			}
			reported = append(reported, h)
		case <-deadline.C:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child reported %d of %d lines in 30s\nstderr:\n%s", len(reported), lines, stderr.String())
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Whatever the child printed before it died was printed after its
	// Apply returned: those heights must be durable too.
	for h := range heights {
		reported = append(reported, h)
	}
	if err := <-scanErr; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("child exited cleanly; it should have been killed\nstderr:\n%s", stderr.String())
	}
	return reported
}

// verifyStore opens the store left by a killed child and checks it: every
// reported height is on the main chain, the tip is at or beyond the last
// reported height, and the main chain links from the tip back to genesis.
// It returns the tip's height.
func verifyStore(t *testing.T, path string, reported []uint64) uint64 {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer st.Close()
	tip, err := st.Tip()
	if errors.Is(err, chain.ErrNotFound) && len(reported) == 0 {
		return 0
	}
	if err != nil {
		t.Fatalf("Tip after kill: %v (reported %v)", err, reported)
	}
	m, err := st.Meta(tip)
	if err != nil {
		t.Fatalf("Meta(tip) after kill: %v", err)
	}
	if n := len(reported); n > 0 && m.Height() < reported[n-1] {
		t.Fatalf("tip at height %d, but the child reported %d as applied", m.Height(), reported[n-1])
	}
	for _, h := range reported {
		if _, err := st.MainHash(h); err != nil {
			t.Errorf("reported height %d: %v", h, err)
		}
	}
	// The batch holding the tip is whole: the chain links down to genesis,
	// each block with its meta, body, undo record and tx index.
	for h, height := tip, m.Height(); ; height-- {
		main, err := st.MainHash(height)
		if err != nil || main != h {
			t.Fatalf("MainHash(%d) = %s, %v; want %s", height, main.Short(), err, h.Short())
		}
		bm, err := st.Meta(h)
		if err != nil || bm.Height() != height {
			t.Fatalf("Meta at height %d: %+v, %v", height, bm, err)
		}
		blk, err := st.Block(h)
		if err != nil {
			t.Fatalf("Block at height %d: %v", height, err)
		}
		if _, err := st.Undo(h); err != nil {
			t.Fatalf("Undo at height %d: %v", height, err)
		}
		// Most kills land before the index of the last batches was
		// written (it is committed lazily): Open indexed them again.
		for i, tx := range blk.Transactions {
			if loc, err := st.TxLocation(tx.ID()); err != nil || loc != h {
				t.Fatalf("TxLocation of transaction %d at height %d = %s, %v", i, height, loc.Short(), err)
			}
		}
		if height == 0 {
			break
		}
		h = bm.Header.PrevHash
	}
	return m.Height()
}

// crashChild applies batches of one to five blocks to the store at path,
// printing the height of each batch's tip after Apply returns, until it is
// killed (or a minute passes, should the parent be gone). Its index
// bounds are small, so that a flush starts every few batches and kills
// land during background flushes and the commits that wait for one too.
func crashChild(t *testing.T, path string) {
	store.SetPendingBounds(t, 48, 8)
	// Four batches in the memtable: kills land with batches only in
	// the write-ahead log, and during group commits.
	store.SetGroupBound(t, 4)
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	st, err := store.Open(path, store.WithLockTimeout(10*time.Second))
	if err != nil {
		fail(err)
	}
	g := newGen(uint64(time.Now().UnixNano()), 64)
	if err := g.resume(st); err != nil {
		fail(err)
	}
	stop := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(stop); i++ {
		b := chain.NewBatch()
		for range 1 + i%5 {
			g.connect(b, 3)
		}
		if err := st.Apply(b); err != nil {
			fail(err)
		}
		// One write(2) per line, straight to the pipe: os.Stdout is not
		// buffered.
		if _, err := fmt.Fprintf(os.Stdout, "%s%d\n", appliedPrefix, g.height); err != nil {
			fail(err)
		}
	}
	_ = st.Close()
	os.Exit(0)
}
