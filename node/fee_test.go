package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// TestSendPicksFee: the node's own transfer without a fee pays the
// mempool's minimum for its size, is admitted and mined, and the
// recipient gets exactly the amount; a zero-fee transfer signed elsewhere
// is refused with ErrFeeTooLow and ErrFeeBelowFloor. --min-relay-fee 0
// is raised to the network's floor: the node's transfer pays it, and the
// free transfer is refused the same.
func TestSendPicksFee(t *testing.T) {
	zero := chain.FeeRate(0)
	tests := []struct {
		name    string
		min     *chain.FeeRate
		wantFee uint64
		// wantRate is what /status reports.
		wantRate chain.FeeRate
	}{
		{"default minimum", nil, chain.DefaultMinRelayFee.Fee(225), chain.DefaultMinRelayFee},
		{"below the network's floor", &zero, chain.RegTest().RelayFeeFloor.Fee(225), chain.RegTest().RelayFeeFloor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := node.New(node.Config{Params: chain.RegTest(), DataDir: t.TempDir(), MinRelayFee: tc.min,
				Logger: testLogger(t, "n")})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			mine(t, n, 1)
			pub, key, err := ed25519.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			to := chain.AddressFromPublicKey(pub)
			tx, err := n.Send(context.Background(), to, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tx.Fee != tc.wantFee || tx.Fee != n.Mempool().MinFee(tx.EncodedSize()) {
				t.Fatalf("fee %d, want %d, the minimum for %d bytes", tx.Fee, tc.wantFee, tx.EncodedSize())
			}
			if got := n.Status().MinRelayFee; got != tc.wantRate {
				t.Fatalf("Status().MinRelayFee = %d, want %d", got, tc.wantRate)
			}
			mine(t, n, 1)
			if loc, err := n.Chain().TxLocation(tx.ID()); err != nil || loc != n.Chain().Tip().Hash {
				t.Fatalf("transfer not mined in the block after it: %v, %v", loc, err)
			}
			if acct, _ := n.Chain().Account(to); acct.Balance != 10 {
				t.Fatalf("recipient has %d, want exactly the amount 10", acct.Balance)
			}

			free := &chain.Transaction{Version: chain.TxVersion, Sender: to, Recipient: n.WalletAddress(), Amount: 1}
			free.Sign(n.Chain().Params().NetworkID(), key)
			err = n.SubmitTx(context.Background(), free)
			if !errors.Is(err, chain.ErrFeeTooLow) || !errors.Is(err, chain.ErrFeeBelowFloor) {
				t.Fatalf("zero-fee transfer from a client: %v, want ErrFeeTooLow and ErrFeeBelowFloor", err)
			}
		})
	}
}

// TestMineTakesChunks: the node mines by chunk (protocol.md §11.3): a
// wallet's transfer at the minimum fee, followed by one paying ten
// times it, goes in before another wallet's paying four times it, the
// pair's mean (5.5 times) being higher; alone, the cheap one would wait
// behind it.
func TestMineTakesChunks(t *testing.T) {
	n, err := node.New(node.Config{Params: chain.RegTest(), DataDir: t.TempDir(), Logger: testLogger(t, "n")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	mine(t, n, 4)
	type wallet struct {
		addr string
		key  ed25519.PrivateKey
	}
	var ws [2]wallet
	for i := range ws {
		pub, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		ws[i] = wallet{chain.AddressFromPublicKey(pub), key}
		if _, err := n.Send(context.Background(), ws[i].addr, 80, 0); err != nil {
			t.Fatal(err)
		}
	}
	mine(t, n, 1)
	p := n.Chain().Params()
	submit := func(w wallet, fee, nonce uint64) *chain.Transaction {
		t.Helper()
		tx := &chain.Transaction{Version: chain.TxVersion, Sender: w.addr, Recipient: n.WalletAddress(), Amount: 1, Fee: fee, Nonce: nonce}
		tx.Sign(p.NetworkID(), w.key)
		if err := n.SubmitTx(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	floor := n.Mempool().MinFee(225)
	cheap, lift := submit(ws[0], floor, 0), submit(ws[0], 10*floor, 1)
	other := submit(ws[1], 4*floor, 0)
	mine(t, n, 1)
	blk, err := n.Chain().Block(n.Chain().Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	var got []chain.Hash
	for _, tx := range blk.Transactions[1:] {
		got = append(got, tx.ID())
	}
	want := []chain.Hash{cheap.ID(), lift.ID(), other.ID()}
	if !slices.Equal(got, want) {
		t.Fatalf("block order %v, want the pair (%s, %s) before %s", got, cheap.ID().Short(), lift.ID().Short(), other.ID().Short())
	}
}
