package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node"
)

// TestSendPicksFee: the node's own transfer without a fee pays the
// mempool's minimum for its size, is admitted and mined, and the
// recipient gets exactly the amount; a zero-fee transfer signed elsewhere
// is refused with ErrFeeTooLow. With --min-relay-fee 0 the node's
// transfer stays free.
func TestSendPicksFee(t *testing.T) {
	zero := chain.FeeRate(0)
	tests := []struct {
		name    string
		min     *chain.FeeRate
		wantFee uint64
	}{
		{"default minimum", nil, chain.DefaultMinRelayFee.Fee(225)},
		{"no minimum", &zero, 0},
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
			if got := n.Status().MinRelayFee; tc.min == nil && got != chain.DefaultMinRelayFee {
				t.Fatalf("Status().MinRelayFee = %d, want the default %d", got, chain.DefaultMinRelayFee)
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
			if tc.wantFee > 0 && !errors.Is(err, chain.ErrFeeTooLow) {
				t.Fatalf("zero-fee transfer from a client: %v, want ErrFeeTooLow", err)
			}
			if tc.wantFee == 0 && err != nil {
				t.Fatalf("zero-fee transfer with no minimum: %v", err)
			}
		})
	}
}
