package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gossipchain/gossipchain/api"
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// apiNode is a real node (network not started) serving its API on an
// httptest server, for running the client commands in process.
func apiNode(t *testing.T, p *chain.Params, opts ...api.Option) (*node.Node, string) {
	t.Helper()
	n, err := node.New(node.Config{Params: p, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(api.New(n, append([]api.Option{api.WithContext(context.Background())}, opts...)...))
	t.Cleanup(srv.Close)
	return n, srv.URL
}

// gc runs the command in process and returns its stdout.
func gc(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Errorf("%s wrote to stderr: %s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), err
}

func mustGC(t *testing.T, args ...string) string {
	t.Helper()
	out, err := gc(t, args...)
	if err != nil {
		t.Fatalf("gossipchain %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// pendingFrom lists the mempool's transactions from addr.
func pendingFrom(n *node.Node, addr string) []*chain.Transaction {
	var out []*chain.Transaction
	for _, tx := range n.Mempool().Txs() {
		if tx.Sender == addr {
			out = append(out, tx)
		}
	}
	return out
}

// TestWalletAndSend runs wallet new, address, balance and send against a
// real regtest node: the key file is made once and never overwritten,
// send signs with the next nonce (pending ones counted), the node's
// refusals come back with its message and status, and a node of another
// network is refused before anything is signed.
func TestWalletAndSend(t *testing.T) {
	t.Setenv(envAPI, "")
	t.Setenv(envAPIToken, "")
	ctx := t.Context()
	n, url := apiNode(t, chain.RegTest())
	w := filepath.Join(t.TempDir(), "sub", "w.key")
	walletFlags := []string{"--wallet", w, "--network", "regtest"}

	out := mustGC(t, append([]string{"wallet", "new"}, walletFlags...)...)
	key, err := node.LoadKey(w)
	if err != nil {
		t.Fatal(err)
	}
	addr := walletAddress(key)
	if out != "created "+w+"\naddress "+addr+"\n" {
		t.Errorf("wallet new printed %q", out)
	}
	if fi, err := os.Stat(w); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("wallet file: %v, %v; want mode 0600", fi, err)
	}
	_, err = gc(t, append([]string{"wallet", "new"}, walletFlags...)...)
	if !errors.Is(err, fs.ErrExist) || errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("second wallet new: %v, want a refusal (exit status 1) naming the existing file", err)
	}
	if again, _ := node.LoadKey(w); !key.Equal(again) {
		t.Fatal("the refused wallet new changed the key")
	}
	if out := mustGC(t, append([]string{"wallet", "address"}, walletFlags...)...); out != addr+"\n" {
		t.Errorf("wallet address printed %q, want %s", out, addr)
	}
	missing := filepath.Join(t.TempDir(), "none.key")
	_, err = gc(t, "wallet", "address", "--wallet", missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "gossipchain wallet new") {
		t.Errorf("wallet address of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("wallet address created a key file")
	}

	// Fund the wallet from the node's own.
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, addr, 40, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	out = mustGC(t, append([]string{"wallet", "balance", "--api", url}, walletFlags...)...)
	if !strings.Contains(out, "balance  40\n") || !strings.Contains(out, "nonce    0\n") || !strings.Contains(out, addr) {
		t.Errorf("wallet balance printed:\n%s", out)
	}
	out = mustGC(t, append([]string{"wallet", "balance", "--json", "--api", url}, walletFlags...)...)
	var bal api.Balance
	if err := json.Unmarshal([]byte(out), &bal); err != nil || bal.Balance != 40 || bal.Address != addr {
		t.Errorf("wallet balance --json printed %q (%v)", out, err)
	}

	to := testwallet.Random(t).Addr
	send := append([]string{"send", "--api", url, "--to", to, "--amount", "7", "--fee", "1"}, walletFlags...)
	for i := range 2 {
		out := mustGC(t, send...)
		pending := pendingFrom(n, addr)
		if len(pending) != i+1 {
			t.Fatalf("send %d: %d pending from the wallet", i, len(pending))
		}
		tx := pending[i]
		if tx.Nonce != uint64(i) || tx.Amount != 7 || tx.Fee != 1 || tx.Recipient != to {
			t.Errorf("send %d put %+v in the mempool", i, tx)
		}
		lines := strings.Split(out, "\n")
		if lines[0] != "tx "+tx.ID().String() || !strings.Contains(out, "expects it in block 3") {
			t.Errorf("send %d printed:\n%s", i, out)
		}
	}

	// The node says no: its message and the status reach the user.
	_, err = gc(t, append([]string{"send", "--api", url, "--to", to, "--amount", "1000"}, walletFlags...)...)
	var re *api.RemoteError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || !strings.Contains(err.Error(), "409 Conflict") ||
		!strings.Contains(err.Error(), addr) {
		t.Errorf("overspending send: %v, want the node's 409 and its message", err)
	}

	// A devnet signature on a regtest node: refused before signing.
	_, err = gc(t, "send", "--api", url, "--to", to, "--amount", "1", "--wallet", w, "--network", "devnet")
	if !errors.Is(err, errWrongNetwork) || !strings.Contains(err.Error(), `"regtest"`) || !strings.Contains(err.Error(), "--network regtest") {
		t.Errorf("send for devnet to a regtest node: %v", err)
	}
	if got := len(pendingFrom(n, addr)); got != 2 {
		t.Errorf("%d pending from the wallet after the refused sends, want 2", got)
	}

	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	if acct, err := n.Chain().Account(to); err != nil || acct.Balance != 14 {
		t.Errorf("recipient %+v, %v: want 14", acct, err)
	}
	out = mustGC(t, append([]string{"wallet", "balance", "--api", url}, walletFlags...)...)
	if !strings.Contains(out, "balance  24\n") || !strings.Contains(out, "nonce    2\n") {
		t.Errorf("wallet balance after mining:\n%s", out)
	}
}

// fundedWallet writes a wallet file holding 10 confirmed coins from n's
// wallet.
func fundedWallet(t *testing.T, n *node.Node) (string, ed25519.PrivateKey) {
	t.Helper()
	ctx := t.Context()
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(t.TempDir(), "w.key")
	key, err := node.CreateKey(w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, walletAddress(key), 10, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	return w, key
}

// TestSendToken: a node run with --api-token takes a send only with the
// token, from the flag or the environment.
func TestSendToken(t *testing.T) {
	t.Setenv(envAPI, "")
	t.Setenv(envAPIToken, "")
	n, url := apiNode(t, chain.RegTest(), api.WithToken("s3cret"))
	w, key := fundedWallet(t, n)
	send := []string{"send", "--api", url, "--network", "regtest", "--wallet", w, "--to", testwallet.Random(t).Addr, "--amount", "1"}
	_, err := gc(t, send...)
	var re *api.RemoteError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		t.Fatalf("send without the token: %v, want 401", err)
	}
	mustGC(t, append(send, "--api-token", "s3cret")...)
	t.Setenv(envAPIToken, "s3cret")
	mustGC(t, send...)
	if got := len(pendingFrom(n, walletAddress(key))); got != 2 {
		t.Errorf("%d pending, want 2", got)
	}
}

// TestSendPaysMinimumFee: send without --fee pays the node's minimum
// relay fee for the transfer's size (from /status), so the node admits it
// and the recipient gets exactly --amount; --fee overrides it.
func TestSendPaysMinimumFee(t *testing.T) {
	t.Setenv(envAPI, "")
	t.Setenv(envAPIToken, "")
	ctx := t.Context()
	n, url := apiNode(t, chain.RegTest())
	w, key := fundedWallet(t, n)
	to := testwallet.Random(t).Addr
	send := []string{"send", "--api", url, "--network", "regtest", "--wallet", w, "--to", to, "--amount", "2"}
	mustGC(t, send...)
	mustGC(t, append(send, "--fee", "3")...)
	var fees []uint64
	for _, tx := range pendingFrom(n, walletAddress(key)) {
		fees = append(fees, tx.Fee)
	}
	if want := []uint64{n.Mempool().MinFee(225), 3}; !slices.Equal(fees, want) {
		t.Fatalf("fees %v, want %v (the minimum, then --fee)", fees, want)
	}
	if _, err := n.MineOne(ctx); err != nil {
		t.Fatal(err)
	}
	if acct, _ := n.Chain().Account(to); acct.Balance != 4 {
		t.Fatalf("recipient has %d, want exactly the two amounts, 4", acct.Balance)
	}
}

// TestSendOpenNetwork: the open network takes unsigned transfers; send
// leaves the signature out and picks a random nonce, so two equal sends
// are two transactions.
func TestSendOpenNetwork(t *testing.T) {
	t.Setenv(envAPI, "")
	t.Setenv(envAPIToken, "")
	n, url := apiNode(t, chain.OpenNet())
	w := filepath.Join(t.TempDir(), "w.key")
	mustGC(t, "wallet", "new", "--wallet", w, "--network", "open")
	for range 2 {
		mustGC(t, "send", "--api", url, "--network", "open", "--wallet", w, "--to", "Bob", "--amount", "3")
	}
	txs := n.Mempool().Txs()
	if len(txs) != 2 || txs[0].ID() == txs[1].ID() {
		t.Fatalf("mempool %v, want two transfers", txs)
	}
	for _, tx := range txs {
		if len(tx.Signature) != 0 || tx.Recipient != "Bob" || tx.Amount != 3 {
			t.Errorf("transfer %+v", tx)
		}
	}
}

// TestQueryCommands: status, peers and chain print a summary or, with
// --json, the node's answer as it came.
func TestQueryCommands(t *testing.T) {
	t.Setenv(envAPI, "")
	ctx := t.Context()
	n, url := apiNode(t, chain.RegTest())
	for range 3 {
		if _, err := n.MineOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tip := n.Chain().Tip()
	out := mustGC(t, "status", "--api", url)
	for _, want := range []string{"(network not started)", "regtest (id " + chain.RegTest().NetworkID().String() + ")",
		"height      3\n", tip.Hash.String(), n.WalletAddress(), "mempool     0 transactions"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}
	out = mustGC(t, "status", "--json", "--api", url)
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Height != 3 || st.Tip != tip.Hash.String() {
		t.Errorf("status --json printed %q (%v)", out, err)
	}
	if out := mustGC(t, "peers", "--api", url); out != "no peers connected\n" {
		t.Errorf("peers printed %q", out)
	}
	if out := mustGC(t, "peers", "--json", "--api", url); !strings.Contains(out, `"count":0`) {
		t.Errorf("peers --json printed %q", out)
	}

	heights := func(out string) []string {
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if !strings.HasPrefix(lines[0], "HEIGHT") {
			t.Fatalf("no header line:\n%s", out)
		}
		var hs []string
		for _, l := range lines[1:] {
			hs = append(hs, strings.Fields(l)[0])
		}
		return hs
	}
	out = mustGC(t, "chain", "--api", url)
	if got := strings.Join(heights(out), " "); got != "0 1 2 3" {
		t.Errorf("chain: heights %s:\n%s", got, out)
	}
	b2, err := n.Chain().BlockAt(2)
	if err != nil {
		t.Fatal(err)
	}
	want2 := strings.Join([]string{"2", b2.Hash().Short(), "1", b2.Header.Time().UTC().Format("2006-01-02T15:04:05Z")}, " ")
	if lines := strings.Split(out, "\n"); len(lines) < 4 || strings.Join(strings.Fields(lines[3]), " ") != want2 {
		t.Errorf("chain: no line for block 2 (%s):\n%s", b2.Hash().Short(), out)
	}
	if got := strings.Join(heights(mustGC(t, "chain", "--api", url, "--limit", "2")), " "); got != "2 3" {
		t.Errorf("chain --limit 2: heights %s, want the last two", got)
	}
	if got := strings.Join(heights(mustGC(t, "chain", "--api", url, "--from", "1", "--limit", "2")), " "); got != "1 2" {
		t.Errorf("chain --from 1 --limit 2: heights %s", got)
	}
	if out := mustGC(t, "chain", "--api", url, "--from", "9"); !strings.Contains(out, "no blocks from height 9") {
		t.Errorf("chain past the tip printed %q", out)
	}
	out = mustGC(t, "chain", "--json", "--api", url, "--limit", "1")
	var page api.ChainPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Length != 4 || len(page.Blocks) != 1 || page.Blocks[0].Hash() != tip.Hash {
		t.Errorf("chain --json --limit 1 printed %q (%v)", out, err)
	}

	// A node that is not there: a plain error, exit status 1.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err = gc(t, "status", "--api", srv.URL)
	if err == nil || errors.As(err, new(usageError)) {
		t.Errorf("status of a closed server: %v", err)
	}
}
