package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// TestMempoolSurvivesRestart: transactions waiting when the node stops
// are there again when it starts on the same directory, checked anew;
// one mined meanwhile, or a damaged file, costs only what it must.
func TestMempoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *node.Node {
		n, err := node.New(node.Config{Params: chain.RegTest(), DataDir: dir, Logger: testLogger(t, "n")})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open()
	mine(t, n, 1)
	var ids []chain.Hash
	for range 3 {
		tx, err := n.Send(context.Background(), n.WalletAddress(), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tx.ID())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(context.Background(), n.WalletAddress(), 1, 0); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}

	n = open()
	for _, id := range ids {
		if !n.Mempool().Has(id) {
			t.Fatalf("transaction %s not restored", id.Short())
		}
	}
	// Mined while... the node mines them itself, stops, and the file it
	// writes is empty: nothing comes back.
	mine(t, n, 1)
	if n.Mempool().Len() != 0 {
		t.Fatalf("%d transactions left after mining", n.Mempool().Len())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open()
	if n.Mempool().Len() != 0 {
		t.Fatalf("%d transactions restored after they were mined", n.Mempool().Len())
	}
	// A transfer queued for a nonce gap is kept too, still queued.
	sender := testwallet.Random(t)
	client, key := sender.Addr, sender.Key
	if _, err := n.Send(context.Background(), client, 10, 0); err != nil {
		t.Fatal(err)
	}
	mine(t, n, 1)
	ahead := &chain.Transaction{Version: chain.TxVersion, Sender: client, Recipient: n.WalletAddress(), Amount: 1, Nonce: 1}
	ahead.Sign(n.Chain().Params().NetworkID(), key)
	if err := n.SubmitTx(context.Background(), ahead); !errors.Is(err, chain.ErrTxQueued) {
		t.Fatalf("a transfer one nonce ahead: %v, want ErrTxQueued", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open()
	if n.Mempool().Queued() != 1 || !n.Mempool().Has(ahead.ID()) {
		t.Fatalf("queued %d after the restart, want the transfer ahead", n.Mempool().Queued())
	}
	tx, err := n.Send(context.Background(), n.WalletAddress(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// A damaged file: the node starts, with what could be read.
	path := filepath.Join(dir, "mempool.dat")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, 0x01, 0xff), 0o600); err != nil {
		t.Fatal(err)
	}
	n = open()
	if !n.Mempool().Has(tx.ID()) {
		t.Fatal("the transaction before the damage was not restored")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	n = open()
	defer n.Close()
	if n.Mempool().Len() != 0 {
		t.Fatal("transactions from a file that is not a mempool file")
	}
}
