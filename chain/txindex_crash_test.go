package chain_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

// dupChildEnv, when set to a data directory, makes TestDuplicateAfterKill
// the child: it connects a block holding an unsigned transfer, says so,
// and waits to be killed.
const dupChildEnv = "GOSSIPCHAIN_DUP_CHILD"

// openRules is the open network's rules at regtest's target, so blocks
// are solved in a couple of hashes.
func openRules() *chain.Params {
	q := *chain.OpenNet()
	q.PowLimit = chain.RegTest().PowLimit
	q.NoRetarget = true
	return chain.NewParams(q)
}

// dupTx is the transfer the child mines and the parent replays.
var dupTx = &chain.Transaction{Version: chain.TxVersion, Sender: "Alice", Recipient: "Bob", Amount: 5}

// TestDuplicateAfterKill: on the unsigned network, a transaction whose
// block connected in a process killed before the store wrote its index
// entries (the store holds them back, chain/store/txindex.go) is still
// found when the store opens again: a block replaying it is refused with
// ErrDuplicateTx, and TxLocation names its block.
func TestDuplicateAfterKill(t *testing.T) {
	if dir := os.Getenv(dupChildEnv); dir != "" {
		dupChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDuplicateAfterKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), dupChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var hash string
			if _, err := fmt.Sscanf(sc.Text(), "connected %s", &hash); err == nil {
				line <- hash
			}
		}
		close(line)
	}()
	var mined string
	select {
	case h, ok := <-line:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("child ended without connecting its block")
		}
		mined = h
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("child connected nothing in 30s")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	h := &harness{t: t, p: openRules(), dir: dir, miner: &testwallet.Wallet{Addr: "miner"}, seq: 1000}
	h.open()
	defer h.close()
	if at, err := h.c.TxLocation(dupTx.ID()); err != nil || at.String() != mined {
		t.Fatalf("TxLocation after the kill = %s, %v; want %s", at.Short(), err, mined[:12])
	}
	if _, err := h.process(h.build(h.tipHash(), []*chain.Transaction{dupTx}, nil)); !errors.Is(err, chain.ErrDuplicateTx) {
		t.Fatalf("replayed transaction after the kill: got %v, want ErrDuplicateTx", err)
	}
}

// dupChild connects the block holding dupTx in dir's store and waits.
func dupChild(t *testing.T, dir string) {
	h := &harness{t: t, p: openRules(), dir: dir, miner: &testwallet.Wallet{Addr: "miner"}}
	h.open()
	b := h.build(h.tipHash(), []*chain.Transaction{dupTx}, nil)
	if _, err := h.process(b); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("connected %s\n", b.Hash())
	time.Sleep(time.Minute) // the parent kills it long before
	os.Exit(3)
}
