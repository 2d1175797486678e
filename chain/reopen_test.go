package chain_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/chain/store"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// countingStore counts block body reads, to show that opening a chain
// reads no blocks: nothing is replayed or validated again.
type countingStore struct {
	chain.Store
	blocks int
}

func (s *countingStore) Block(h chain.Hash) (*chain.Block, error) {
	s.blocks++
	return s.Store.Block(h)
}

func TestReopenAfterClose(t *testing.T) {
	h := newHarness(t, nil)
	alice := testwallet.New("alice")
	h.fund(alice, 70)
	h.extend(h.tipHash(), 20)
	tip := h.c.Tip()
	minerBal, aliceBal := h.balance(h.miner.Addr), h.balance(alice.Addr)
	h.close()

	st, err := store.OpenDir(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingStore{Store: st}
	c, err := chain.New(h.p, cs, chain.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	if cs.blocks != 0 {
		t.Fatalf("opening the chain read %d blocks; it must read only the tip", cs.blocks)
	}
	if got := c.Tip(); got.Hash != tip.Hash || got.Work.Cmp(tip.Work) != 0 {
		t.Fatalf("tip after reopen %s, want %s", got.Hash.Short(), tip.Hash.Short())
	}
	for addr, want := range map[string]int64{h.miner.Addr: minerBal, alice.Addr: aliceBal} {
		if a, _ := c.Account(addr); a.Balance != want {
			t.Fatalf("balance of %s after reopen %d, want %d", addr, a.Balance, want)
		}
	}
	// The reopened chain keeps working.
	h.st, h.c = st, c
	h.extend(h.tipHash(), 1)
}

func TestOpenWrongNetwork(t *testing.T) {
	h := newHarness(t, nil)
	h.close()
	st, err := store.OpenDir(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := chain.New(chain.DevNet(), st); !errors.Is(err, chain.ErrWrongNetwork) {
		t.Fatalf("devnet on a regtest store: got %v, want ErrWrongNetwork", err)
	}
}

// TestCrashKeepsConnectedBlocks kills a mining process with SIGKILL at
// several moments and checks that every block it had reported as
// connected is on the main chain when the store is opened again.
func TestCrashKeepsConnectedBlocks(t *testing.T) {
	if os.Getenv("GOSSIPCHAIN_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	p := chain.RegTest()
	for round, after := range []int{1, 7, 25, 60} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsConnectedBlocks$")
		cmd.Env = append(os.Environ(), "GOSSIPCHAIN_CRASH_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reported := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				reported <- sc.Text()
			}
			close(reported)
		}()
		var last []string
		deadline := time.After(30 * time.Second)
		for len(last) < after {
			select {
			case line, ok := <-reported:
				if !ok {
					t.Fatalf("round %d: child exited after %d lines", round, len(last))
				}
				last = append(last, line)
			case <-deadline:
				t.Fatalf("round %d: child reported only %d blocks in 30s", round, len(last))
			}
		}
		cmd.Process.Kill()
		for line := range reported {
			last = append(last, line) // reported before the kill landed
		}
		cmd.Wait()

		st, err := store.OpenDir(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		c, err := chain.New(p, st)
		if err != nil {
			t.Fatalf("round %d: chain after kill: %v", round, err)
		}
		for _, line := range last {
			var height uint64
			var hash string
			if _, err := fmt.Sscanf(line, "%d %s", &height, &hash); err != nil {
				t.Fatalf("bad child line %q", line)
			}
			got, err := c.MainHash(height)
			if err != nil || got.String() != hash {
				t.Fatalf("round %d: block %d %s reported connected, store has %s (%v)", round, height, hash[:12], got.Short(), err)
			}
		}
		t.Logf("round %d: killed after %d reports, tip at %d", round, len(last), c.Tip().Height())
		st.Close()
	}
}

// crashChild mines regtest blocks into the store in $GOSSIPCHAIN_CRASH_CHILD
// with full fsync, printing "height hash" after each ProcessBlock returns.
func crashChild() {
	dir := os.Getenv("GOSSIPCHAIN_CRASH_CHILD")
	st, err := store.OpenDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	p := chain.RegTest()
	c, err := chain.New(p, st)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	miner := testwallet.New("miner").Addr
	w := bufio.NewWriter(os.Stdout)
	for {
		b, err := c.Mine(context.Background(), nil, miner, 1, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, err := c.ProcessBlock(context.Background(), b); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		w.WriteString(strconv.FormatUint(b.Header.Height, 10) + " " + b.Hash().String() + "\n")
		w.Flush()
	}
}
