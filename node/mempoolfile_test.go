package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
	"github.com/gossipchain/gossipchain/node"
)

// openRegTest opens a regtest node on dir, not started.
func openRegTest(t *testing.T, dir string) *node.Node {
	t.Helper()
	n, err := node.New(node.Config{Params: chain.RegTest(), DataDir: dir, Logger: testLogger(t, "n")})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMempoolSurvivesRestart: transactions waiting when the node stops
// are there again when it starts on the same directory, checked anew;
// one mined meanwhile, or a damaged file, costs only what it must.
func TestMempoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *node.Node { return openRegTest(t, dir) }
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
		// Still the node's own: a full pool must not evict it after
		// the restart either.
		if !n.Mempool().IsLocal(id) {
			t.Fatalf("transaction %s restored as a peer's", id.Short())
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
	ahead := &chain.Transaction{Version: chain.TxVersion, Sender: client, Recipient: n.WalletAddress(), Amount: 1, Fee: 1, Nonce: 1}
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

// TestMempoolFileAdmissionTimes: mempool.dat keeps when each transaction
// was first admitted, so expiry counts from then across restarts: a
// transaction past the TTL is not read back, in the current format or in
// format 1 (no times: the file's modification time counts).
func TestMempoolFileAdmissionTimes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mempool.dat")
	open := func() *node.Node { return openRegTest(t, dir) }
	n := open()
	mine(t, n, 1)
	tx, err := n.Send(context.Background(), n.WalletAddress(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	admitted, ok := n.Mempool().AdmittedAt(tx.ID())
	if !ok {
		t.Fatal("sent transaction has no admission time")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open()
	if at, ok := n.Mempool().AdmittedAt(tx.ID()); !ok || !at.Equal(admitted.Truncate(time.Millisecond)) {
		t.Fatalf("restored AdmittedAt = %v, %v; want %v", at, ok, admitted)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	tests := []struct {
		name     string
		file     []byte
		modified time.Time
		want     bool
		wantAt   time.Time
	}{
		{"format 2, an hour old", mempoolFileV2(tx, now.Add(-time.Hour)), now, true, now.Add(-time.Hour)},
		{"format 2, two days old", mempoolFileV2(tx, now.Add(-48*time.Hour)), now, false, time.Time{}},
		{"format 1, written an hour ago", mempoolFileV1(tx), now.Add(-time.Hour), true, now.Add(-time.Hour)},
		{"format 1, written two days ago", mempoolFileV1(tx), now.Add(-48 * time.Hour), false, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, tc.modified, tc.modified); err != nil {
				t.Fatal(err)
			}
			n := open()
			defer n.Close()
			at, ok := n.Mempool().AdmittedAt(tx.ID())
			if ok != tc.want {
				t.Fatalf("restored: %v, want %v", ok, tc.want)
			}
			if ok && at.Sub(tc.wantAt).Abs() > time.Second {
				t.Fatalf("AdmittedAt = %v, want %v", at, tc.wantAt)
			}
		})
	}
}

// mempoolFileV2 is a mempool.dat (format 2) holding tx, admitted at.
func mempoolFileV2(tx *chain.Transaction, at time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("gossipchain mempool 2\n")
	b.WriteByte(1)
	b.Write(binary.AppendUvarint(nil, uint64(at.UnixMilli())))
	enc := tx.Encode()
	b.Write(binary.AppendUvarint(nil, uint64(len(enc))))
	b.Write(enc)
	return b.Bytes()
}

// mempoolFileV1 is a mempool.dat in format 1, without admission times,
// as nodes wrote before format 2.
func mempoolFileV1(tx *chain.Transaction) []byte {
	var b bytes.Buffer
	b.WriteString("gossipchain mempool 1\n")
	b.WriteByte(1)
	enc := tx.Encode()
	b.Write(binary.AppendUvarint(nil, uint64(len(enc))))
	b.Write(enc)
	return b.Bytes()
}
