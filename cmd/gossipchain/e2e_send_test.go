package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testbin"
	"github.com/gossipchain/gossipchain/internal/testutil"
)

// TestSendAcrossNodes is the end-to-end test of issue 4: three real node
// processes on loopback, joined by --bootstrap only (mDNS off), and the
// client commands as a user runs them. A fresh wallet is funded by a
// send signed with node 1's own wallet file; the wallet then sends
// through node 2's API, node 3 mines the transfer, and every node shows
// the recipient's balance.
//
// The nodes form a line, 1 <- 2 <- 3 (each bootstraps the one before):
// the transfer submitted at node 2 reaches node 3 by gossip, and node
// 3's block reaches node 1 only through node 2.
//
// devnet rather than regtest: its starting target costs about a million
// hashes, roughly a tenth of a second a block here, and nothing in the
// test mines more than three blocks, so it stays fast while the send
// runs against the network a user gets by default (and its network id
// check sees a real mismatch when asked for regtest).
func TestSendAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gossipchain binary and runs three nodes")
	}
	bin := testbin.Build(t)
	ctx := t.Context()

	n1 := startNodeProc(t, bin, "devnet")
	n2 := startNodeProc(t, bin, "devnet", "--bootstrap", n1.p2p)
	n3 := startNodeProc(t, bin, "devnet", "--bootstrap", n2.p2p)
	nodes := []*nodeProc{n1, n2, n3}
	testutil.EventuallyErr(t, 30*time.Second, "nodes connected in a line", func() error {
		for i, n := range nodes {
			want := 1
			if n == n2 {
				want = 2
			}
			st, err := n.c.Status(ctx)
			if err != nil {
				return err
			}
			if st.Peers < want {
				return fmt.Errorf("node %d has %d peers, want %d", i+1, st.Peers, want)
			}
		}
		return nil
	})

	tmp := t.TempDir()
	wallet := filepath.Join(tmp, "w.key")
	out := gcRun(t, bin, "wallet", "new", "--wallet", wallet)
	from := strings.TrimSpace(gcRun(t, bin, "wallet", "address", "--wallet", wallet))
	if !chain.ValidAddress(from) || !strings.Contains(out, "address "+from) {
		t.Fatalf("wallet new printed %q, wallet address %q", out, from)
	}
	gcFail(t, bin, 1, "never overwritten", "wallet", "new", "--wallet", wallet)
	to := walletAddressOf(t, bin, filepath.Join(tmp, "recipient.key"))

	// Fund the wallet: node 1 mines its own wallet 50 coins, then a send
	// signed with node 1's wallet file (its data directory's wallet.key)
	// pays 30 of them to the new wallet.
	if _, err := n1.c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	gcRun(t, bin, "send", "--wallet", filepath.Join(n1.dir, "wallet.key"), "--to", from, "--amount", "30", "--api", n1.api)
	if _, err := n1.c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	waitBalance(t, nodes, from, 30)

	// Refusals before anything is sent: a usage error (status 2), and a
	// signature for regtest asked of a devnet node (status 1).
	gcFail(t, bin, 2, "--amount is required", "send", "--wallet", wallet, "--to", to, "--api", n2.api)
	gcFail(t, bin, 1, "refusing", "send", "--network", "regtest", "--wallet", wallet, "--to", to, "--amount", "1", "--api", n2.api)

	out = gcRun(t, bin, "send", "--wallet", wallet, "--to", to, "--amount", "12", "--fee", "1", "--api", n2.api)
	idText, ok := strings.CutPrefix(strings.SplitN(out, "\n", 2)[0], "tx ")
	id, err := chain.ParseHash(idText)
	if !ok || err != nil {
		t.Fatalf("send printed %q: no tx id on the first line", out)
	}
	out = gcRun(t, bin, "wallet", "balance", "--wallet", wallet, "--api", n2.api)
	if !strings.Contains(out, "balance  30\n") || !strings.Contains(out, "nonce    0\n") {
		t.Errorf("wallet balance before mining:\n%s", out)
	}

	// Node 3 must hold the transfer before it mines, or it would mine
	// an empty block.
	testutil.EventuallyErr(t, 30*time.Second, "the transfer in node 3's mempool", func() error {
		txs, err := n3.c.Mempool(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(txs, func(tx *chain.Transaction) bool { return tx.ID() == id }) {
			return fmt.Errorf("%d pending, not %s", len(txs), id.Short())
		}
		return nil
	})
	b, err := n3.c.Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(b.Transactions, func(tx *chain.Transaction) bool { return tx.ID() == id }) {
		t.Fatalf("node 3 mined block %d without the transfer", b.Header.Height)
	}
	waitBalance(t, nodes, to, 12)
	waitBalance(t, nodes, from, 30-12-1)

	// What the other commands show of the same network.
	out = gcRun(t, bin, "chain", "--api", n1.api, "--limit", "1")
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 3 || f[0] != "3" || f[1] != b.Hash().Short() || f[2] != "2" {
		t.Errorf("chain --limit 1 on node 1 does not show node 3's block %d %s with 2 transactions:\n%s", b.Header.Height, b.Hash().Short(), out)
	}
	st, err := n3.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out = gcRun(t, bin, "status", "--api", n3.api)
	for _, want := range []string{st.PeerID, "devnet (id " + chain.DevNet().NetworkID().String() + ")", b.Hash().String()} {
		if !strings.Contains(out, want) {
			t.Errorf("status of node 3 does not show %q:\n%s", want, out)
		}
	}
	out = gcRun(t, bin, "peers", "--api", n2.api)
	for _, n := range []*nodeProc{n1, n3} {
		if !strings.Contains(out, n.peerID) {
			t.Errorf("peers of node 2 does not list %s:\n%s", n.peerID, out)
		}
	}

	for _, n := range slices.Backward(nodes) {
		n.stop(t, syscall.SIGINT, 15*time.Second)
		n.checkClean(t)
	}
}

// waitBalance waits until every node shows balance for addr.
func waitBalance(t *testing.T, nodes []*nodeProc, addr string, balance int64) {
	t.Helper()
	testutil.EventuallyErr(t, 30*time.Second, fmt.Sprintf("balance %d of %s on every node", balance, addr), func() error {
		for i, n := range nodes {
			b, err := n.c.Balance(t.Context(), addr)
			if err != nil {
				return err
			}
			if b.Balance != balance {
				return fmt.Errorf("node %d shows %d", i+1, b.Balance)
			}
		}
		return nil
	})
}

// gcCmd runs the binary as a client command; the environment is the
// test's minus the variables that would point it elsewhere.
func gcCmd(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cmd.Environ(), envAPI+"=", envAPIToken+"=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func gcRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := gcCmd(t, bin, args...)
	if err != nil {
		t.Fatalf("gossipchain %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// gcFail runs a command that must exit with code and say want on stderr.
func gcFail(t *testing.T, bin string, code int, want string, args ...string) {
	t.Helper()
	_, errOut, err := gcCmd(t, bin, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != code || !strings.Contains(errOut, want) {
		t.Errorf("gossipchain %s: %v, stderr %q; want exit status %d and %q", strings.Join(args, " "), err, errOut, code, want)
	}
}

// walletAddressOf creates a wallet at path and returns its address.
func walletAddressOf(t *testing.T, bin, path string) string {
	t.Helper()
	out := gcRun(t, bin, "wallet", "new", "--wallet", path)
	_, addr, ok := strings.Cut(out, "address ")
	addr = strings.TrimSpace(addr)
	if !ok || !chain.ValidAddress(addr) {
		t.Fatalf("wallet new printed %q", out)
	}
	return addr
}
