package chain_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestSmallOrderKeyBlockAndMempool is the regression test for spending
// from the identity key's address: a transfer signed without any private
// key, which crypto/ed25519 accepts, must make its block invalid (and
// remembered as such) and be refused by the mempool, with ErrSmallOrderKey
// both times.
func TestSmallOrderKeyBlockAndMempool(t *testing.T) {
	h := newHarness(t, nil)
	h.extend(h.tipHash(), 2)
	identity := make([]byte, 32)
	identity[0] = 1
	tx, ok := chain.ForgeSmallOrder(h.p, &chain.Transaction{
		Version: chain.TxVersion, Recipient: chain.AddressFromPublicKey(bytes.Repeat([]byte{0x42}, 32)), Amount: 10, Fee: 1,
	}, identity)
	if !ok {
		t.Fatal("crypto/ed25519 accepted no forged signature for the identity key")
	}

	tip := h.tipHash()
	b := h.build(tip, []*chain.Transaction{tx}, nil)
	if _, err := h.process(b); !errors.Is(err, chain.ErrSmallOrderKey) {
		t.Fatalf("block with a forged transfer: %v, want ErrSmallOrderKey", err)
	}
	if h.tipHash() != tip {
		t.Fatal("the tip moved to a block with a forged transfer")
	}
	if _, err := h.process(b); !errors.Is(err, chain.ErrKnownInvalid) {
		t.Fatalf("second submission: %v, want ErrKnownInvalid", err)
	}

	m := chain.NewMempool(h.p)
	if err := m.Add(tx, h.c); !errors.Is(err, chain.ErrSmallOrderKey) {
		t.Fatalf("mempool: %v, want ErrSmallOrderKey", err)
	}
	if m.Has(tx.ID()) {
		t.Fatal("the mempool holds the forged transfer")
	}
}
