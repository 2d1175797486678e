package main

import (
	"fmt"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/node/testnet"
)

// TestPresignInterleaves: body i is sender i mod S's transfer with nonce
// i div S, signed for the network, so wrk's threads taking every T-th
// line (S a multiple of T) send each sender's nonces in order.
func TestPresignInterleaves(t *testing.T) {
	p := chain.RegTest()
	senders := make([]*testnet.Wallet, 4)
	for i := range senders {
		senders[i] = testnet.NewWallet(fmt.Sprintf("presign test %d", i))
	}
	const each = 3
	bodies := presign(p, senders, testnet.NewWallet("presign test sink").Addr, each, 2)
	if len(bodies) != len(senders)*each {
		t.Fatalf("%d bodies, want %d", len(bodies), len(senders)*each)
	}
	for i, body := range bodies {
		var tx chain.Transaction
		if err := tx.UnmarshalJSON(body); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if want := senders[i%len(senders)].Addr; tx.Sender != want || tx.Nonce != uint64(i/len(senders)) {
			t.Fatalf("body %d is %s nonce %d, want %s nonce %d", i, tx.Sender, tx.Nonce, want, i/len(senders))
		}
		if tx.Fee != 2 || tx.Amount != 1 {
			t.Fatalf("body %d: fee %d amount %d, want 2 and 1", i, tx.Fee, tx.Amount)
		}
		if err := chain.CheckTxSanity(p, &tx); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
	}
}
