package testnet

import (
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/gossipchain/gossipchain/chain"
)

// Wallet is a signing key for a test's transfers, derived from a seed so
// a run can be repeated.
type Wallet struct {
	Key  ed25519.PrivateKey
	Addr string
}

// NewWallet derives a wallet from seed.
func NewWallet(seed string) *Wallet {
	s := sha256.Sum256([]byte("gossipchain testnet wallet " + seed))
	k := ed25519.NewKeyFromSeed(s[:])
	return &Wallet{Key: k, Addr: chain.AddressFromPublicKey(k.Public().(ed25519.PublicKey))}
}

// Transfer returns a transfer signed for network p.
func (w *Wallet) Transfer(p *chain.Params, to string, amount, fee, nonce uint64) *chain.Transaction {
	tx := &chain.Transaction{Version: chain.TxVersion, Sender: w.Addr, Recipient: to, Amount: amount, Fee: fee, Nonce: nonce}
	if p.Signed {
		tx.Sign(p.NetworkID(), w.Key)
	}
	return tx
}
