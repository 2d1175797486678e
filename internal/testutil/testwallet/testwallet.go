// Package testwallet gives tests signing keys and the addresses and
// transfers that go with them. It is for tests only: no package outside
// _test.go files may import it. It imports chain, so package chain's own
// internal tests cannot use it; its external tests (chain_test) can.
package testwallet

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// Wallet is an ed25519 key and its address.
type Wallet struct {
	Key  ed25519.PrivateKey
	Addr string
}

// New returns the wallet whose key is derived from seed: the same seed
// gives the same key and address in every run.
func New(seed string) *Wallet {
	s := sha256.Sum256([]byte(seed))
	return fromKey(ed25519.NewKeyFromSeed(s[:]))
}

// Random returns a wallet with a fresh random key.
func Random(t testing.TB) *Wallet {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return fromKey(k)
}

func fromKey(k ed25519.PrivateKey) *Wallet {
	return &Wallet{Key: k, Addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
}

// Tx returns a transfer from w signed for p's network.
func (w *Wallet) Tx(p *chain.Params, to string, amount, fee, nonce uint64) *chain.Transaction {
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: w.Addr, Recipient: to, Amount: amount, Fee: fee, Nonce: nonce}
	tx.Sign(p.NetworkID(), w.Key)
	return tx
}

// Ledger is a chain.AccountReader over a map: an address not in it holds
// the zero account.
type Ledger map[string]chain.Account

// Account returns addr's account; it never fails.
func (l Ledger) Account(addr string) (chain.Account, error) { return l[addr], nil }
