package testwallet_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/internal/testutil/testwallet"
)

func TestNewIsDeterministic(t *testing.T) {
	a, again, b := testwallet.New("alice"), testwallet.New("alice"), testwallet.New("bob")
	if !a.Key.Equal(again.Key) || a.Addr != again.Addr {
		t.Fatal("the same seed gave two keys")
	}
	if a.Key.Equal(b.Key) || a.Addr == b.Addr {
		t.Fatal("two seeds gave the same key")
	}
	if want := chain.AddressFromPublicKey(a.Key.Public().(ed25519.PublicKey)); a.Addr != want || !chain.ValidAddress(a.Addr) {
		t.Fatalf("address %q, want %q, the key's", a.Addr, want)
	}
}

func TestRandom(t *testing.T) {
	a, b := testwallet.Random(t), testwallet.Random(t)
	if a.Key.Equal(b.Key) || a.Addr == b.Addr {
		t.Fatal("two random wallets with the same key")
	}
	if want := chain.AddressFromPublicKey(a.Key.Public().(ed25519.PublicKey)); a.Addr != want {
		t.Fatalf("address %q, want %q, the key's", a.Addr, want)
	}
}

func TestTxIsSignedForTheNetwork(t *testing.T) {
	p := chain.RegTest()
	w := testwallet.New("alice")
	tx := w.Tx(p, "bob", 7, 1, 3)
	if tx.Version != chain.TxVersion || tx.Sender != w.Addr || tx.Recipient != "bob" || tx.Amount != 7 || tx.Fee != 1 || tx.Nonce != 3 {
		t.Fatalf("transaction %+v", tx)
	}
	pub := w.Key.Public().(ed25519.PublicKey)
	if !pub.Equal(ed25519.PublicKey(tx.PublicKey)) || !ed25519.Verify(pub, tx.SigningBytes(p.NetworkID()), tx.Signature) {
		t.Fatal("not signed by the wallet's key for the network")
	}
	if ed25519.Verify(pub, tx.SigningBytes(chain.DevNet().NetworkID()), tx.Signature) {
		t.Fatal("signature also valid on another network")
	}
}
