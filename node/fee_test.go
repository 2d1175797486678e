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
